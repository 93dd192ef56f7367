import type { ClusterFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';

const FAILED_HERE = unresolvable('capacity', 'a placement of this model failed on this cluster recently (its pods could not run)');

/**
 * Keeps a model off the clusters where one of its placements failed recently
 * (`snapshot.recentFailures`, filled for the configured window, 30 minutes by default): the same
 * image, weights or memory would most likely fail there again and hold the devices for another
 * deadline. A filter, not a score: a score would still send the workload back whenever no other
 * cluster had room, and it would fail and come back on every deadline; filtered, it waits as
 * `pending` (reason `capacity`, this message) until another cluster has room or the window ends.
 * Unresolvable: evicting workloads there does not make the model run there.
 */
export const recentFailure: ClusterFilterPlugin = {
  name: 'recent-failure',
  reason: 'capacity',
  level: 'cluster',
  static: true,
  filter: (ctx, cluster) => (ctx.state.snapshot.recentFailures?.get(ctx.model.id)?.has(cluster.id) ? FAILED_HERE : SUCCESS),
};
