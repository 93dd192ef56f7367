import { expect } from 'chai';

import { recentFailure } from '../../../../scheduler/plugins/recent-failure.js';
import { scheduleCycle } from '../../../../scheduler/schedule.js';
import type { Snapshot } from '../../../../scheduler/framework/types.js';
import { aCluster, aSnapshot, aWorkload, filterContext, h100, qwen72b, qwen7b } from '../builders.js';

/** The snapshot with `failed` as its recent failures: model id → cluster ids. */
function withFailures(snapshot: Snapshot, failed: Record<string, string[]>): Snapshot {
  return { ...snapshot, recentFailures: new Map(Object.entries(failed).map(([model, clusters]) => [model, new Set(clusters)])) };
}

describe('plugin recent-failure', () => {
  const pool = () =>
    aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 8), aCluster('c2').slot('H100', h100, 8))
      .build();

  const cases: ReadonlyArray<{ name: string; failed: Record<string, string[]> | undefined; cluster: number; code: string }> = [
    { name: 'no failures known', failed: undefined, cluster: 0, code: 'Success' },
    { name: 'the model failed on this cluster', failed: { [qwen7b.id]: ['c1'] }, cluster: 0, code: 'UnschedulableAndUnresolvable' },
    { name: 'the model failed on another cluster', failed: { [qwen7b.id]: ['c1'] }, cluster: 1, code: 'Success' },
    { name: 'another model failed on this cluster', failed: { [qwen72b.id]: ['c1'] }, cluster: 0, code: 'Success' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      const snapshot = c.failed ? withFailures(pool(), c.failed) : pool();
      const status = recentFailure.filter(filterContext(snapshot, qwen7b), snapshot.clusters[c.cluster]!);
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success')
        expect(status)
          .to.include({ reason: 'capacity' })
          .and.have.property('message')
          .that.matches(/failed on this cluster recently/);
    });
  }

  it('is a static cluster-level filter whose rejections mean capacity', () => {
    expect(recentFailure).to.include({ name: 'recent-failure', level: 'cluster', static: true, reason: 'capacity' });
  });

  describe('in a cycle', () => {
    it('places the model on another cluster than the one the scorers like best', () => {
      const clusterOf = (snapshot: Snapshot) => {
        const d = scheduleCycle({ snapshot, pending: [aWorkload('w').tokensPerMin(1000).build()] }).decisions[0]!;
        return d.kind === 'place' ? d.placements.map((p) => p.clusterId) : d.reason;
      };
      // c1 is fuller: best-fit picks it when nothing failed.
      const uneven = () =>
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8, 6), aCluster('c2').slot('H100', h100, 8))
          .build();
      expect(clusterOf(uneven())).to.deep.equal(['c1']);
      expect(clusterOf(withFailures(uneven(), { [qwen7b.id]: ['c1'] }))).to.deep.equal(['c2']);
    });

    it('leaves it pending with the reason when only the failed cluster has room, and other models are unaffected', () => {
      const snapshot = withFailures(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8))
          .build(),
        { [qwen7b.id]: ['c1'] },
      );
      const { decisions } = scheduleCycle({
        snapshot,
        pending: [aWorkload('w').tokensPerMin(1000).build(), aWorkload('big').model(qwen72b).tokensPerMin(1000).build()],
      });
      const byId = new Map(decisions.map((d) => [d.workloadId, d]));
      expect(byId.get('w')).to.include({ kind: 'pending', reason: 'capacity' });
      expect(byId.get('big')).to.include({ kind: 'place' });
    });
  });
});
