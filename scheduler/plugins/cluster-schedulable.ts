import type { ClusterFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';

const NOT_SCHEDULABLE = unresolvable('capacity', 'cluster is not ready or is cordoned');

/**
 * Rejects clusters that take no new placements (not ready, or cordoned). Unresolvable: evicting
 * workloads there does not make the cluster take placements, so preemption skips it.
 */
export const clusterSchedulable: ClusterFilterPlugin = {
  name: 'cluster-schedulable',
  reason: 'capacity',
  level: 'cluster',
  static: true,
  filter: (_ctx, cluster) => (cluster.schedulable ? SUCCESS : NOT_SCHEDULABLE),
};
