import type { ScorePlugin } from '../framework/plugin.js';

/**
 * Prefers efficient silicon: raw score `tdpWatts ÷ stdTokensPerSec`, the joules one standard
 * token costs on the device at full load; lower is better.
 */
export const energy: ScorePlugin = {
  name: 'energy',
  direction: 'lower',
  static: true,
  score: (_ctx, c) => c.slot.profile.tdpWatts / c.slot.profile.stdTokensPerSec,
};
