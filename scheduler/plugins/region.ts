import type { ClusterFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';

const OUTSIDE = unresolvable('no_compatible_device', 'cluster is outside the allowed regions');

/** Keeps clusters in the workload's allowed regions; `regions: null` allows any. Unresolvable. */
export const region: ClusterFilterPlugin = {
  name: 'region',
  reason: 'no_compatible_device',
  level: 'cluster',
  static: true,
  filter: (ctx, cluster) => (ctx.regions === null || ctx.regions.includes(cluster.region) ? SUCCESS : OUTSIDE),
};
