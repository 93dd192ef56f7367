import type { SlotFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';
import type { Status } from '../framework/status.js';
import { podShare } from '../node-fit.js';

/**
 * Keeps slots where some node has room for one pod of a replica now: its free devices as the
 * agent reported them, less what this cycle placed there (node-fit.ts), so successive replicas
 * use up nodes, not just the slot's device count. Slots whose cluster reported no nodes pass (the
 * free-devices filter judges them as before). Unschedulable (evicting could free a node), reason
 * `capacity`. Monotone: taking devices never makes a node larger.
 */
export const nodeFit: SlotFilterPlugin = {
  name: 'node-fit',
  reason: 'capacity',
  level: 'slot',
  static: false,
  monotone: true,
  relevant: (state) => state.nodes !== null,
  filter(ctx, c) {
    const nodes = ctx.state.nodes;
    if (nodes === null) return SUCCESS;
    const i = c.slotIndex;
    const largest = nodes.largest[i]!;
    if (largest < 0) return SUCCESS;
    const n = c.devicesPerReplica;
    const pod = n <= largest ? n : podShare(n, largest, nodes.leaderWorkerSet[i] === 1);
    if (pod > 0 && nodes.maxFree[i]! >= pod) return SUCCESS;
    return noNode(pod > 0 ? pod : n);
  },
};

const noNodeCache = new Map<number, Status>();

function noNode(pod: number): Status {
  let status = noNodeCache.get(pod);
  if (!status) {
    status = unschedulable('capacity', `no node has ${pod} free devices for one replica's pod`);
    noNodeCache.set(pod, status);
  }
  return status;
}
