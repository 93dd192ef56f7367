import type { SlotFilterPlugin } from '../framework/plugin.js';
import { errorStatus, SUCCESS, unschedulable } from '../framework/status.js';

const TOO_FEW = unschedulable('capacity', 'fewer free devices than one replica needs');
const NO_SHAPE = errorStatus('capacity', 'the candidate has no replica size (devicesPerReplica < 1)');

/**
 * Keeps slots with room for at least one replica: healthy − held (which includes the devices
 * taken earlier in this cycle) ≥ devicesPerReplica. Unschedulable, not unresolvable: preemption
 * frees devices here. Monotone: taking devices never turns a rejection into a pass; only a release can.
 */
export const freeDevices: SlotFilterPlugin = {
  name: 'free-devices',
  reason: 'capacity',
  level: 'slot',
  static: false,
  monotone: true,
  filter(ctx, c) {
    const n = c.devicesPerReplica;
    if (n < 1) return NO_SHAPE;
    const i = c.slotIndex;
    return (ctx.state.healthy[i] ?? 0) - (ctx.state.held[i] ?? 0) >= n ? SUCCESS : TOO_FEW;
  },
};
