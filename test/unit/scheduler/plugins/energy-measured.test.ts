import { expect } from 'chai';

import type { Snapshot } from '../../../../scheduler/framework/types.js';
import { energy, joulesPerStdToken } from '../../../../scheduler/plugins/energy.js';
import { scheduleCycle } from '../../../../scheduler/schedule.js';
import { aCluster, aSnapshot, aWorkload, ascend910b, candidateOf, filterContext, h100, qwen72b, scoreContext } from '../builders.js';

/** The snapshot with measured joules per standard token set on (cluster, device model) slots. */
function measured(snapshot: Snapshot, figures: Record<string, number>): Snapshot {
  return {
    ...snapshot,
    clusters: snapshot.clusters.map((c) => ({
      ...c,
      devices: c.devices.map((d) => {
        const m = figures[`${c.id}/${d.deviceModel}`];
        return m === undefined ? d : { ...d, measuredJoulesPerStdToken: m };
      }),
    })),
  };
}

describe('plugin energy: measured figures', () => {
  it('scores a slot by its measured joules per standard token where it has one, else by the TDP estimate', () => {
    const snapshot = measured(
      aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8), aCluster('c2').slot('H100', h100, 8))
        .build(),
      { 'c1/H100': 0.05 },
    );
    const ctx = filterContext(snapshot);
    const score = (cluster: string) => energy.score(scoreContext(aWorkload('w').build(), 1), candidateOf(ctx.state, cluster, 'H100'));
    expect(score('c1')).to.equal(0.05);
    expect(score('c2')).to.be.closeTo(700 / 3000, 1e-12);
    expect(joulesPerStdToken(snapshot.clusters[1]!.devices[0]!)).to.be.closeTo(700 / 3000, 1e-12);
  });

  const cases: ReadonlyArray<{ name: string; figures: Record<string, number>; want: string }> = [
    // Same profile on c1 and c2: without measurements the first wins the tie (see the last case); a measurement decides it.
    { name: 'a cluster measured as more efficient than its TDP estimate wins over the same profile elsewhere', figures: { 'c2/H100': 0.1 }, want: 'c2' },
    { name: 'a cluster measured as less efficient loses to the same profile estimated elsewhere', figures: { 'c1/H100': 0.5 }, want: 'c2' },
    // Ascend's TDP estimate (400 ÷ 1200 = 0.333 J) is worse than H100's (0.233 J); measured at 0.15 J it wins.
    { name: 'measured Ascend that beats the H100 estimate is preferred to it', figures: { 'c3/910B': 0.15 }, want: 'c3' },
    { name: 'without measurements: the TDP estimate, and of equals the first', figures: {}, want: 'c1' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const snapshot = measured(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8), aCluster('c2').slot('H100', h100, 8), aCluster('c3').slot('910B', ascend910b, 8))
          .build(),
        c.figures,
      );
      // Energy alone decides (weights of the other scorers 0), so the test shows what the measurement changes.
      const { decisions } = scheduleCycle({
        snapshot,
        pending: [aWorkload('w').model(qwen72b).tokensPerMin(20_000).build()],
        options: { weights: { energy: 1, consolidation: 0, bestFit: 0 } },
      });
      const placed = decisions.flatMap((d) => ('placements' in d ? d.placements : []));
      expect(placed.map((p) => p.clusterId)).to.deep.equal([c.want]);
    });
  }
});
