/**
 * Closes the previous month shortly after midnight on the 1st in the billing time zone, and at
 * start if a finished month was never closed. Runs only on the scheduling leader, never twice at
 * once (node-cron's noOverlap, and the close itself is idempotent).
 */
import cron, { type ScheduledTask } from 'node-cron';
import { periodOf, previousPeriod } from '../billing/periods.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { BillingRepository } from '../repositories/billing.repository.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { BillingService } from '../services/billing.service.js';

export class PeriodCloseJob {
  private task: ScheduledTask | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly billing: BillingService,
    private readonly repo: BillingRepository,
    private readonly leader: LeaderElector,
    private readonly clock: Clock,
    private readonly timezone: string,
    private readonly log: Logger,
  ) {}

  /** Closes the month before now's month if it was never closed (leader only). */
  async closePrevious(): Promise<void> {
    if (!this.leader.isLeader()) return;
    if (this.running) return this.running;
    const period = previousPeriod(periodOf(this.clock.now(), this.timezone));
    this.running = (async () => {
      if (await this.repo.isClosed(period)) return;
      const invoices = await this.billing.close(period);
      this.log.info('previous month closed', { period, invoices: invoices.length });
    })()
      .catch((err: unknown) => this.log.error('period close failed', { period, error: String(err) }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  start(): void {
    // 00:05 on the 1st, in the billing time zone.
    this.task = cron.schedule('5 0 1 * *', () => this.closePrevious(), { timezone: this.timezone, noOverlap: true, name: 'period-close' });
    this.leader.onChange((leader) => {
      if (leader) void this.closePrevious();
    });
    void this.closePrevious();
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    await this.running;
  }
}
