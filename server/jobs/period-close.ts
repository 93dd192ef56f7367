/**
 * Closes the previous month shortly after midnight on the 1st in the billing time zone, and at
 * start (or on taking the lead) if a finished month was never closed. Runs only on the scheduling
 * leader, never twice at once (LeaderJob, and the close itself is idempotent).
 */
import { previousPeriod, type Calendar } from '../billing/periods.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { BillingRepository } from '../repositories/billing.repository.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { BillingService } from '../services/billing.service.js';
import { LeaderJob } from './leader-job.js';

export class PeriodCloseJob {
  private readonly job: LeaderJob;

  constructor(
    private readonly billing: BillingService,
    private readonly repo: BillingRepository,
    private readonly leader: LeaderElector,
    private readonly clock: Clock,
    private readonly calendar: Calendar,
    private readonly log: Logger,
  ) {
    // 00:05 on the 1st, in the billing time zone.
    this.job = new LeaderJob({ name: 'period close', schedule: '5 0 1 * *', timezone: calendar.timezone, leader, log, work: () => this.closeIfOpen() });
  }

  /** Closes the month before now's month if it was never closed (leader only). */
  closePrevious(): Promise<void> {
    return this.job.run();
  }

  private async closeIfOpen(): Promise<void> {
    const period = previousPeriod(this.calendar.periodOf(this.clock.now()));
    if (await this.repo.isClosed(period)) return;
    const invoices = await this.billing.close(period);
    this.log.info('previous month closed', { period, invoices: invoices.length });
  }

  start(): void {
    this.job.start();
    this.leader.onChange((leader) => {
      if (leader) void this.closePrevious();
    });
    void this.closePrevious();
  }

  async stop(): Promise<void> {
    await this.job.stop();
  }
}
