import type { SlotFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';
import type { Status } from '../framework/status.js';

/**
 * Keeps a model off device slots where one replica is larger than the largest node (a replica's
 * pod runs on one node), unless the cluster serves LeaderWorkerSets, where a replica may span
 * nodes (node-fit.ts). Slots whose cluster reported no nodes pass: their node sizes are unknown.
 * Static and unresolvable: no eviction makes a node larger; reason `no_compatible_device`.
 */
export const nodeSize: SlotFilterPlugin = {
  name: 'node-size',
  reason: 'no_compatible_device',
  level: 'slot',
  static: true,
  relevant: (state) => state.nodes !== null,
  filter(_ctx, c) {
    const nodes = c.slot.nodes;
    if (!nodes || c.devicesPerReplica <= nodes.largest || c.cluster.leaderWorkerSet === true) return SUCCESS;
    return tooLarge(c.devicesPerReplica, nodes.largest);
  },
};

const tooLargeCache = new Map<string, Status>();

function tooLarge(n: number, largest: number): Status {
  const key = `${n}/${largest}`;
  let status = tooLargeCache.get(key);
  if (!status) {
    status = unresolvable('no_compatible_device', `needs ${n} devices per replica; the largest node has ${largest}`);
    if (tooLargeCache.size < 1024) tooLargeCache.set(key, status);
  }
  return status;
}
