import type { ScorePlugin } from '../framework/plugin.js';

/**
 * Prefers placing a workload on few clusters: raw score is the share of the remaining request the
 * candidate can carry alone (capped at 1, so every candidate that can carry all of it ties at the
 * top), plus 1 when the workload already has replicas on the candidate's cluster — except for
 * `ha` workloads, which are meant to spread. Higher is better.
 */
export const consolidation: ScorePlugin = {
  name: 'consolidation',
  direction: 'higher',
  score(ctx, c) {
    const carry = c.replicas * c.replicaStdMicro;
    const share = ctx.remainingMicro <= 0 || carry >= ctx.remainingMicro ? 1 : carry / ctx.remainingMicro;
    return c.clusterPlacedMicro > 0 && !ctx.workload.ha ? share + 1 : share;
  },
};
