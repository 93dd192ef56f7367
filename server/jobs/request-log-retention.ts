/**
 * Keeps the gateway's request log to its retention (TOKENPOOL_REQUEST_LOG_RETENTION_DAYS): once
 * an hour the leader drops the monthly partitions past it, deletes the default partition's rows
 * past it, and makes the coming months' partitions (RequestLogService.purge); and it deletes the
 * agents' engine counts of gateway workloads past theirs (TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS,
 * UsageService.purgeEngineCounts). Never twice at once (LeaderJob).
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { RequestLogService } from '../services/requests.service.js';
import { LeaderJob } from './leader-job.js';

/** At minute 23 of every hour. */
export const REQUEST_LOG_RETENTION_SCHEDULE = '23 * * * *';

/**
 * The request log's and the engine counts' retention as a leader job: `run()` purges now (leader
 * only), joining a run in flight. `engineCounts` deletes the counts past their retention and
 * answers how many.
 */
export function requestLogRetentionJob(
  requests: Pick<RequestLogService, 'purge'>,
  engineCounts: () => Promise<number>,
  leader: LeaderElector,
  log: Logger,
): LeaderJob {
  return new LeaderJob({
    name: 'request log retention',
    schedule: REQUEST_LOG_RETENTION_SCHEDULE,
    leader,
    log,
    work: async () => {
      const { dropped, deleted } = await requests.purge();
      if (dropped.length > 0 || deleted > 0) log.info('request log past retention removed', { dropped, deleted });
      const counts = await engineCounts();
      if (counts > 0) log.info('engine counts past retention deleted', { deleted: counts });
    },
  });
}
