/**
 * The default plugin set and score weights. Filters run in the order listed; static filters
 * (whose answer depends only on the snapshot and the request's model and regions) are cached per
 * request shape by the runtime, so their order matters for clarity, not speed.
 */
import { bestFit } from '../plugins/best-fit.js';
import { clusterSchedulable } from '../plugins/cluster-schedulable.js';
import { consolidation } from '../plugins/consolidation.js';
import { energy } from '../plugins/energy.js';
import { freeDevices } from '../plugins/free-devices.js';
import { memoryFit } from '../plugins/memory-fit.js';
import { nodeFit } from '../plugins/node-fit.js';
import { nodeSize } from '../plugins/node-size.js';
import { recentFailure } from '../plugins/recent-failure.js';
import { region } from '../plugins/region.js';
import { vendorCompatible } from '../plugins/vendor-compatible.js';
import { weightsAvailable } from '../plugins/weights-available.js';
import type { FilterPlugin, PluginSet } from './plugin.js';
import type { ScoreWeights } from './types.js';

/**
 * Consolidation weighs double: carrying a request on one candidate (few clusters, few agents
 * involved) matters more than a few percent of energy or a tidier bin.
 */
export const DEFAULT_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({ energy: 1, consolidation: 2, bestFit: 1 });

/**
 * The {@link ScoreWeights} field that weighs each default scorer, by the scorer's plugin name (the
 * name configuration uses: `best-fit=2,energy=1`).
 */
export const WEIGHT_BY_SCORER: Readonly<Record<string, keyof ScoreWeights>> = Object.freeze({
  [energy.name]: 'energy',
  [consolidation.name]: 'consolidation',
  [bestFit.name]: 'bestFit',
});

export const DEFAULT_FILTERS: readonly FilterPlugin[] = Object.freeze([
  region,
  clusterSchedulable,
  recentFailure,
  vendorCompatible,
  weightsAvailable,
  memoryFit,
  nodeSize,
  freeDevices,
  nodeFit,
]);

/**
 * The default plugins with `weights` over {@link DEFAULT_WEIGHTS}.
 * Throws RangeError on a negative or non-finite weight (a configuration error, not a scheduling
 * outcome).
 */
export function defaultPlugins(weights: Partial<ScoreWeights> = {}): PluginSet {
  const w: ScoreWeights = { ...DEFAULT_WEIGHTS, ...stripUndefined(weights) };
  for (const [name, value] of Object.entries(w)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`score weight ${name} must be a finite number ≥ 0`);
  }
  return {
    filters: DEFAULT_FILTERS,
    scorers: [
      { plugin: energy, weight: w.energy },
      { plugin: consolidation, weight: w.consolidation },
      { plugin: bestFit, weight: w.bestFit },
    ],
  };
}

function stripUndefined(weights: Partial<ScoreWeights>): Partial<ScoreWeights> {
  return Object.fromEntries(Object.entries(weights).filter(([, v]) => v !== undefined));
}
