import { devicesPerReplica } from '../capacity.js';
import type { SlotFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';

const TOO_SMALL = unresolvable('no_compatible_device', 'the model does not fit in 64 devices of this kind');

/**
 * Keeps devices on which a replica of the model fits (API.md "Formulas": the smallest power of
 * two `n ≤ 64` with `n × 0.9 × memoryGiB ≥ minMemoryGiB`) and sets `candidate.devicesPerReplica`
 * to that `n` for the filters and scorers after it.
 */
export const memoryFit: SlotFilterPlugin = {
  name: 'memory-fit',
  reason: 'no_compatible_device',
  level: 'slot',
  static: true,
  filter(ctx, c) {
    const n = devicesPerReplica(ctx.model.minMemoryGiB, c.slot.profile.memoryGiB);
    if (n === null) return TOO_SMALL;
    c.devicesPerReplica = n;
    return SUCCESS;
  },
};
