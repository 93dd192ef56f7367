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
  it('runs PreFilter, static filters and static scorers once per request shape, dynamic ones on every nomination', () => {
    const calls = { preFilter: 0, staticCluster: 0, staticSlot: 0, dynamic: 0, score: 0, staticScore: 0 };
    const staticCluster: ClusterFilterPlugin = {
      name: 'count-cluster',
      reason: 'no_compatible_device',
      level: 'cluster',
      static: true,
      filter: () => (calls.staticCluster++, SUCCESS),
    };
    const staticSlot: SlotFilterPlugin = {
      name: 'count-slot',
      reason: 'no_compatible_device',
      level: 'slot',
      static: true,
      preFilter: () => (calls.preFilter++, SUCCESS),
      filter: () => (calls.staticSlot++, SUCCESS),
    };
    const dynamic: SlotFilterPlugin = {
      name: 'count-dynamic',
      reason: 'capacity',
      level: 'slot',
      static: false,
      filter: () => (calls.dynamic++, SUCCESS),
    };
    const scorer: ScorePlugin = { name: 'count-score', direction: 'higher', score: () => calls.score++ };
    const staticScorer: ScorePlugin = { name: 'count-static-score', direction: 'higher', static: true, score: () => calls.staticScore++ };
    const plugins: PluginSet = {
      filters: [staticCluster, staticSlot, dynamic],
      scorers: [
        { plugin: scorer, weight: 1 },
        { plugin: staticScorer, weight: 1 },
      ],
    };
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('a', h100, 8).slot('b', h100, 8), aCluster('c2').slot('a', h100, 8))
      .build();
    const runtime = new FrameworkRuntime(plugins, buildWorkingState(snapshot));

    for (let i = 0; i < 3; i++) {
      const shape = runtime.shapeFor(qwen7b, null);
      expect(runtime.nominate(shape, aWorkload(`w${i}`).build(), 1).ok).to.equal(true);
    }
    runtime.nominate(runtime.shapeFor(qwen7b, ['nansha']), aWorkload('other-shape').build(), 1);
    expect(calls).to.deep.equal({ preFilter: 2, staticCluster: 4, staticSlot: 6, dynamic: 12, score: 12, staticScore: 6 });
  });

  it('reports the least lasting obstacle: capacity when a compatible slot is merely full', () => {
    const full: SlotFilterPlugin = {
      name: 'always-full',
      reason: 'capacity',
      level: 'slot',
      static: false,
      filter: () => unschedulable('capacity', 'full'),
    };
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 8))
      .build();
    const runtime = new FrameworkRuntime({ filters: [...DEFAULT_FILTERS, full], scorers: [] }, buildWorkingState(snapshot));
    const nomination = runtime.nominate(runtime.shapeFor(qwen72b, null), aWorkload('w').build(), 1);
    expect(nomination.ok).to.equal(false);
    if (!nomination.ok) expect(nomination.status).to.include({ code: 'Unschedulable', reason: 'capacity' });
  });

  it('leaves out a filter that has nothing to judge in the cycle (relevant: false), and runs it where it has', () => {
    let calls = 0;
    const onlyWithNodes: SlotFilterPlugin = {
      name: 'only-with-nodes',
      reason: 'capacity',
      level: 'slot',
      static: false,
      relevant: (state) => state.nodes !== null,
      filter: () => {
        calls++;
        return SUCCESS;
      },
    };
    const plugins = { filters: [...DEFAULT_FILTERS, onlyWithNodes], scorers: [] };
    const plain = new FrameworkRuntime(
      plugins,
      buildWorkingState(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8))
          .build(),
      ),
    );
    expect(plain.nominate(plain.shapeFor(qwen72b, null), aWorkload('w').build(), 1).ok).to.equal(true);
    expect(calls).to.equal(0);
    const withNodes = new FrameworkRuntime(
      plugins,
      buildWorkingState(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8).nodes([8]))
          .build(),
      ),
    );
    expect(withNodes.nominate(withNodes.shapeFor(qwen72b, null), aWorkload('w').build(), 1).ok).to.equal(true);
    expect(calls).to.equal(1);
  });

  describe('weights decide between candidates', () => {
    // c1: 4 Ascend (one 72b replica, leaves none); c2: 64 H100 (efficient, leaves 60).
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('910B', ascend910b, 4), aCluster('c2').slot('H100', h100, 64))
      .build();
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

  describe("how many candidates a round scores (kube-scheduler's percentageOfNodesToScore)", () => {
    const runtime = new FrameworkRuntime(
      defaultPlugins(),
      buildWorkingState(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8))
          .build(),
      ),
    );
    const cases: ReadonlyArray<readonly [total: number, scored: number]> = [
      [1, 1],
      [100, 100],
      [101, 100],
      [1000, 420],
      [3000, 780],
      [5000, 500],
      [100_000, 5000],
    ];
    for (const [total, scored] of cases) it(`${total} candidates: at least ${scored}`, () => expect(runtime.candidatesToScore(total)).to.equal(scored));
    it('a fixed percentage, never below 100', () => {
      const fixed = (p: number) => new FrameworkRuntime(defaultPlugins(), runtime.state, p);
      expect(fixed(100).candidatesToScore(3000)).to.equal(3000);
      expect(fixed(10).candidatesToScore(3000)).to.equal(300);
      expect(fixed(1).candidatesToScore(3000)).to.equal(100);
      expect(() => fixed(101)).to.throw(RangeError);
      expect(() => fixed(0.5)).to.throw(RangeError);
    });

    // 1,000 clusters of one H100 slot each; 7b needs one device per replica.
    const city = (devices: (i: number) => number) =>
      aSnapshot()
        .cluster(...Array.from({ length: 1000 }, (_, i) => aCluster(`c${String(i).padStart(4, '0')}`).slot('H100', h100, devices(i))))
        .build();
    const counting = () => {
      const calls = { score: 0 };
      const scorer: ScorePlugin = { name: 'count-score', direction: 'higher', score: () => (calls.score++, 0) };
      return { calls, plugins: { filters: DEFAULT_FILTERS, scorers: [{ plugin: scorer, weight: 1 }] } satisfies PluginSet };
    };

    it('stops once enough feasible candidates are scored, or scores all when told to', () => {
      const sampled = counting();
      const r1 = new FrameworkRuntime(sampled.plugins, buildWorkingState(city(() => 8)));
      expect(r1.nominate(r1.shapeFor(qwen7b, null), aWorkload('w').build(), 1).ok).to.equal(true);
      expect(sampled.calls.score).to.equal(420);
      const all = counting();
      const r2 = new FrameworkRuntime(all.plugins, buildWorkingState(city(() => 8)), 100);
      expect(r2.nominate(r2.shapeFor(qwen7b, null), aWorkload('w').build(), 1).ok).to.equal(true);
      expect(all.calls.score).to.equal(1000);
    });

    it('keeps looking past the first candidates until their free devices can carry the request', () => {
      // Every cluster has one free H100: 420 scored candidates carry 420 replicas, not 700.
      const snapshot = city(() => 1);
      const replica = 180_000; // one H100 replica of qwen7b (cost factor 1): 3,000 std tokens/s × 60
      const { decisions } = scheduleCycle({
        snapshot,
        pending: [
          aWorkload('w')
            .tokensPerMin(700 * replica)
            .build(),
        ],
      });
      const d = decisions[0]!;
      expect(d.kind).to.equal('place');
      expect(d.kind === 'place' && d.placements.reduce((s, p) => s + p.replicas, 0)).to.equal(700);
      // One more replica than there is: a complete scan, and the shortfall names all that is free.
      const short = scheduleCycle({
        snapshot,
        pending: [
          aWorkload('w')
            .tokensPerMin(1001 * replica)
            .build(),
        ],
      }).decisions[0]!;
      expect(short).to.include({ kind: 'pending', reason: 'capacity' });
      expect(short.kind === 'pending' && short.message).to.include(`carry ${1000 * replica} tokens/min`);
    });

    it('scores every kind of device even when one kind fills the head of the city', () => {
      // 900 clusters of Ascend, then 100 of H100: the 420 candidates scored include H100s.
      const snapshot = aSnapshot()
        .cluster(
          ...Array.from({ length: 1000 }, (_, i) => aCluster(`c${String(i).padStart(4, '0')}`).slot(i < 900 ? '910B' : 'H100', i < 900 ? ascend910b : h100, 8)),
        )
        .build();
      const pending = [aWorkload('w').tokensPerMin(1000).build()];
      const sampled = scheduleCycle({ snapshot, pending }).decisions[0]!;
      const whole = scheduleCycle({ snapshot, pending, options: { scorePercentage: 100 } }).decisions[0]!;
      expect(whole.kind === 'place' && whole.placements.map((p) => `${p.clusterId}/${p.deviceModel}`)).to.deep.equal(['c0900/H100']);
      expect(sampled).to.deep.equal(whole);
    });

    it('the most efficient device wins within the scored candidates, as with every candidate scored', () => {
      const snapshot = aSnapshot()
        .cluster(
          ...Array.from({ length: 300 }, (_, i) =>
            aCluster(`c${String(i).padStart(3, '0')}`)
              .slot('910B', ascend910b, 8)
              .slot('H100', h100, 8),
          ),
        )
        .build();
      const pending = [aWorkload('w').model(qwen72b).tokensPerMin(1000).build()];
      const sampled = scheduleCycle({ snapshot, pending }).decisions[0]!;
      const whole = scheduleCycle({ snapshot, pending, options: { scorePercentage: 100 } }).decisions[0]!;
      expect(sampled.kind === 'place' && sampled.placements.map((p) => p.deviceModel)).to.deep.equal(['H100']);
      expect(whole.kind === 'place' && whole.placements.map((p) => p.deviceModel)).to.deep.equal(['H100']);
    });
  });

  it('refuses a negative or non-finite weight', () => {
    expect(() => defaultPlugins({ energy: -1 })).to.throw(RangeError);
    expect(() => defaultPlugins({ bestFit: Number.NaN })).to.throw(RangeError);
    expect(defaultPlugins({ energy: undefined }).scorers.map((s) => s.weight)).to.deep.equal([1, 2, 1]);
  });
});
