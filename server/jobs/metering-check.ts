/**
 * The cross-check of the gateway's metering (issue 13, API.md v2 "Token gateway"): every five
 * minutes the leader compares, per `gateway` workload and cluster, the tokens the agents' engines
 * counted over the last hour with those the gateway metered (UsageService.crossCheck). A pair past
 * the tolerance (TOKENPOOL_METERING_TOLERANCE, TOKENPOOL_METERING_MIN_TOKENS) is logged as a
 * `metering discrepancy` warning and shown by `tokenpool_metering_discrepancy_ratio` until a check
 * finds it fine again. Never twice at once (LeaderJob).
 */
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';
import type { MeteringCheck, MeteringDiscrepancy, MeteringTolerance, UsageService } from '../services/usage.service.js';
import { LeaderJob } from './leader-job.js';

/** Every five minutes, at second 40 (off the minute, where other jobs run). */
export const METERING_CHECK_SCHEDULE = '40 */5 * * * *';

/** Where the check's results go (server/metrics.ts). */
export interface MeteringMetrics {
  /** A check ran at `at`; its discrepancies replace the previous check's. */
  checked(at: Date, discrepancies: readonly MeteringDiscrepancy[]): void;
}

/** The metering check as a leader job: `run()` checks now (leader only), joining a check in flight. */
export function meteringCheckJob(
  usage: Pick<UsageService, 'crossCheck'>,
  tolerance: MeteringTolerance,
  metrics: MeteringMetrics,
  leader: LeaderElector,
  log: Logger,
): LeaderJob {
  return new LeaderJob({
    name: 'metering check',
    schedule: METERING_CHECK_SCHEDULE,
    leader,
    log,
    work: async () => report(await usage.crossCheck(tolerance), metrics, log),
  });
}

function report(check: MeteringCheck, metrics: MeteringMetrics, log: Logger): void {
  metrics.checked(check.at, check.discrepancies);
  for (const d of check.discrepancies) {
    log.warn('metering discrepancy', {
      workloadId: d.workloadId,
      clusterId: d.clusterId,
      meteredTokens: d.meteredTokens,
      engineTokens: d.engineTokens,
      ratio: d.ratio,
      from: check.from.toISOString(),
      to: check.to.toISOString(),
    });
  }
}
