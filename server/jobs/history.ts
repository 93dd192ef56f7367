/**
 * The platform's history as leader jobs (server/services/history.service.ts): the sampler, every
 * minute and at once when this replica starts or takes the lead, and the retention
 * (TOKENPOOL_HISTORY_RETENTION_DAYS), once an hour. Sampling twice is harmless (a minute is
 * written once, its counts are the same whoever makes them); the lead only saves the work.
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { HistoryService } from '../services/history.service.js';
import { LeaderJob } from './leader-job.js';

/** Five seconds into every minute: the minute before has ended, and most of its usage is in. */
export const HISTORY_SAMPLE_SCHEDULE = '5 * * * * *';
/** At minute 41 of every hour. */
export const HISTORY_RETENTION_SCHEDULE = '41 * * * *';

/** The sampler: `run()` samples now (leader only), joining a run in flight; `start()` also samples at once and on taking the lead. */
export class HistorySampleJob {
  private readonly job: LeaderJob;

  constructor(
    history: Pick<HistoryService, 'sample'>,
    private readonly leader: LeaderElector,
    log: Logger,
  ) {
    this.job = new LeaderJob({
      name: 'history sample',
      schedule: HISTORY_SAMPLE_SCHEDULE,
      leader,
      log,
      work: async () => {
        await history.sample();
      },
    });
  }

  run(): Promise<void> {
    return this.job.run();
  }

  start(): void {
    this.job.start();
    this.leader.onChange((leader) => {
      if (leader) void this.run();
    });
    void this.run();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }
}

/** The history retention as a leader job: `run()` deletes the minutes past retention now (leader only). */
export function historyRetentionJob(history: Pick<HistoryService, 'purge'>, leader: LeaderElector, log: Logger): LeaderJob {
  return new LeaderJob({
    name: 'history retention',
    schedule: HISTORY_RETENTION_SCHEDULE,
    leader,
    log,
    work: async () => {
      const removed = await history.purge();
      if (removed > 0) log.info('history minutes past retention deleted', { removed });
    },
  });
}
