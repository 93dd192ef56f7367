import type { ScorePlugin } from '../framework/plugin.js';

/**
 * Bin packing: raw score is the free devices the slot would be left with after the replicas the
 * workload would take from it (`free − replicas × devicesPerReplica`); lower is better, so large
 * free blocks stay whole for large workloads.
 */
export const bestFit: ScorePlugin = {
  name: 'best-fit',
  direction: 'lower',
  score: (_ctx, c) => c.free - c.replicas * c.devicesPerReplica,
};
