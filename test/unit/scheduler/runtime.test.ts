import { expect } from 'chai';

import type { ClusterFilterPlugin, PluginSet, ScorePlugin, SlotFilterPlugin } from '../../../scheduler/framework/plugin.js';
import { DEFAULT_FILTERS, defaultPlugins } from '../../../scheduler/framework/registry.js';
import { FrameworkRuntime } from '../../../scheduler/framework/runtime.js';
import { SUCCESS, unschedulable } from '../../../scheduler/framework/status.js';
import type { ScoreWeights } from '../../../scheduler/framework/types.js';
import { scheduleCycle } from '../../../scheduler/schedule.js';
import { buildWorkingState } from '../../../scheduler/snapshot.js';
import { aCluster, aSnapshot, aWorkload, ascend910b, h100, qwen72b, qwen7b } from './builders.js';

describe('framework runtime', () => {
  it('runs static filters once per request shape, dynamic filters and scorers on every nomination', () => {
    const calls = { staticCluster: 0, staticSlot: 0, dynamic: 0, score: 0 };
    const staticCluster: ClusterFilterPlugin = {
      name: 'count-cluster', reason: 'no_compatible_device', level: 'cluster', static: true,
      filter: () => (calls.staticCluster++, SUCCESS),
    };
    const staticSlot: SlotFilterPlugin = {
      name: 'count-slot', reason: 'no_compatible_device', level: 'slot', static: true,
      filter: (_ctx, c) => (calls.staticSlot++, (c.devicesPerReplica = 1), SUCCESS),
    };
    const dynamic: SlotFilterPlugin = {
      name: 'count-dynamic', reason: 'capacity', level: 'slot', static: false,
      filter: () => (calls.dynamic++, SUCCESS),
    };
    const scorer: ScorePlugin = { name: 'count-score', direction: 'higher', score: () => calls.score++ };
    const plugins: PluginSet = { filters: [staticCluster, staticSlot, dynamic], scorers: [{ plugin: scorer, weight: 1 }] };
    const snapshot = aSnapshot().cluster(aCluster('c1').slot('a', h100, 8).slot('b', h100, 8), aCluster('c2').slot('a', h100, 8)).build();
    const runtime = new FrameworkRuntime(plugins, buildWorkingState(snapshot));

    for (let i = 0; i < 3; i++) {
      const shape = runtime.shapeFor(qwen7b, null);
      expect(runtime.nominate(shape, aWorkload(`w${i}`).build(), 1).ok).to.equal(true);
    }
    runtime.nominate(runtime.shapeFor(qwen7b, ['nansha']), aWorkload('other-shape').build(), 1);
    expect(calls).to.deep.equal({ staticCluster: 4, staticSlot: 6, dynamic: 12, score: 12 });
  });

  it('reports the least lasting obstacle: capacity when a compatible slot is merely full', () => {
    const full: SlotFilterPlugin = {
      name: 'always-full', reason: 'capacity', level: 'slot', static: false,
      filter: () => unschedulable('capacity', 'full'),
    };
    const snapshot = aSnapshot().cluster(aCluster('c1').slot('H100', h100, 8)).build();
    const runtime = new FrameworkRuntime({ filters: [...DEFAULT_FILTERS, full], scorers: [] }, buildWorkingState(snapshot));
    const nomination = runtime.nominate(runtime.shapeFor(qwen72b, null), aWorkload('w').build(), 1);
    expect(nomination.ok).to.equal(false);
    if (!nomination.ok) expect(nomination.status).to.include({ code: 'Unschedulable', reason: 'capacity' });
  });

  describe('weights decide between candidates', () => {
    // c1: 4 Ascend (one 72b replica, leaves none); c2: 64 H100 (efficient, leaves 60).
    const snapshot = aSnapshot().cluster(aCluster('c1').slot('910B', ascend910b, 4), aCluster('c2').slot('H100', h100, 64)).build();
    const cases: ReadonlyArray<{ weights: Partial<ScoreWeights>; cluster: string }> = [
      { weights: { energy: 0, consolidation: 0, bestFit: 1 }, cluster: 'c1' },
      { weights: { energy: 1, consolidation: 0, bestFit: 0 }, cluster: 'c2' },
      { weights: { energy: 3, consolidation: 1, bestFit: 1 }, cluster: 'c2' },
    ];
    for (const c of cases) {
      it(`${JSON.stringify(c.weights)}: ${c.cluster}`, () => {
        const { decisions } = scheduleCycle({
          snapshot,
          pending: [aWorkload('w').model(qwen72b).tokensPerMin(28_800).build()],
          options: { weights: c.weights },
        });
        const d = decisions[0]!;
        expect(d.kind === 'place' && d.placements.map((p) => p.clusterId)).to.deep.equal([c.cluster]);
      });
    }
  });

  it('refuses a negative or non-finite weight', () => {
    expect(() => defaultPlugins({ energy: -1 })).to.throw(RangeError);
    expect(() => defaultPlugins({ bestFit: Number.NaN })).to.throw(RangeError);
    expect(defaultPlugins({ energy: undefined }).scorers.map((s) => s.weight)).to.deep.equal([1, 2, 1]);
  });
});
