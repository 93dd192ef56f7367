/**
 * Keeps measured energy to its retention (TOKENPOOL_ENERGY_RETENTION_DAYS): once an hour the
 * leader deletes the placement-minutes older than that, and the counter readings of placements
 * not reported since (EnergyService.purge). Never twice at once (LeaderJob).
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { EnergyService } from '../services/energy.service.js';
import { LeaderJob } from './leader-job.js';

/** At minute 29 of every hour. */
export const ENERGY_RETENTION_SCHEDULE = '29 * * * *';

/** The energy retention as a leader job: `run()` purges now (leader only), joining a run in flight. */
export function energyRetentionJob(energy: Pick<EnergyService, 'purge'>, leader: LeaderElector, log: Logger): LeaderJob {
  return new LeaderJob({
    name: 'energy retention',
    schedule: ENERGY_RETENTION_SCHEDULE,
    leader,
    log,
    work: async () => {
      const { minutes, readings } = await energy.purge();
      if (minutes > 0 || readings > 0) log.info('measured energy past retention deleted', { minutes, readings });
    },
  });
}
