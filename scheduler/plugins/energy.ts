import type { ScorePlugin } from '../framework/plugin.js';
import type { DeviceSlot } from '../framework/types.js';

/**
 * The joules one standard token costs on a slot's devices: measured on this cluster where there
 * is enough measurement (`measuredJoulesPerStdToken`), else the catalog's TDP estimate
 * `tdpWatts ÷ stdTokensPerSec` (the device at full load and full rated power). Both are joules per
 * standard token, so measured and estimated slots compare directly.
 */
export function joulesPerStdToken(slot: DeviceSlot): number {
  return slot.measuredJoulesPerStdToken ?? slot.profile.tdpWatts / slot.profile.stdTokensPerSec;
}

/** Prefers efficient silicon: raw score {@link joulesPerStdToken}; lower is better. */
export const energy: ScorePlugin = {
  name: 'energy',
  direction: 'lower',
  static: true,
  score: (_ctx, c) => joulesPerStdToken(c.slot),
};
