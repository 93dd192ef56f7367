/**
 * Keeps the audit log to its retention (TOKENPOOL_AUDIT_RETENTION_DAYS): once an hour the leader
 * deletes the entries older than that (AuditService.purge). Never twice at once (LeaderJob).
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { AuditService } from '../services/audit.service.js';
import { LeaderJob } from './leader-job.js';

/** At minute 17 of every hour. */
export const AUDIT_RETENTION_SCHEDULE = '17 * * * *';

/** The audit retention as a leader job: `run()` purges now (leader only), joining a run in flight. */
export function auditRetentionJob(audit: Pick<AuditService, 'purge'>, leader: LeaderElector, log: Logger): LeaderJob {
  return new LeaderJob({
    name: 'audit retention',
    schedule: AUDIT_RETENTION_SCHEDULE,
    leader,
    log,
    work: async () => {
      const removed = await audit.purge();
      if (removed > 0) log.info('audit entries past retention deleted', { removed });
    },
  });
}
