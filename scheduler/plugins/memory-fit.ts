import { devicesPerReplica } from '../capacity.js';
import { DEVICES_PER_REPLICA } from '../framework/cycle-state.js';
import type { SlotFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable } from '../framework/status.js';
import type { ProfileSnap } from '../framework/types.js';

const TOO_SMALL = unresolvable('no_compatible_device', 'the model does not fit in 64 devices of this kind');

/**
 * Keeps devices on which a replica of the model fits (API.md "Formulas": the smallest power of
 * two `n ≤ 64` with `n × 0.9 × memoryGiB ≥ minMemoryGiB`). PreFilter works out `n` for every slot
 * of the working state (0 where it does not fit) and writes it to the cycle state as
 * `DEVICES_PER_REPLICA`, which the runtime gives the filters and scorers after it as
 * `candidate.devicesPerReplica`. Unresolvable: freeing devices does not make them larger.
 */
export const memoryFit: SlotFilterPlugin = {
  name: 'memory-fit',
  reason: 'no_compatible_device',
  level: 'slot',
  static: true,
  preFilter(ctx) {
    const slots = ctx.state.slots;
    const sizes = new Int32Array(slots.length);
    const byProfile = new Map<ProfileSnap, number>();
    for (let i = 0; i < slots.length; i++) {
      const profile = slots[i]!.profile;
      let n = byProfile.get(profile);
      if (n === undefined) byProfile.set(profile, (n = devicesPerReplica(ctx.model.minMemoryGiB, profile.memoryGiB) ?? 0));
      sizes[i] = n;
    }
    ctx.cycle.write(DEVICES_PER_REPLICA, sizes);
    return SUCCESS;
  },
  filter(ctx, c) {
    const sizes = ctx.cycle.read(DEVICES_PER_REPLICA);
    const n = sizes ? sizes[c.slotIndex]! : devicesPerReplica(ctx.model.minMemoryGiB, c.slot.profile.memoryGiB);
    return n ? SUCCESS : TOO_SMALL;
  },
};
