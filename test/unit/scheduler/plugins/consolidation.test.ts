import { expect } from 'chai';

import { consolidation } from '../../../../scheduler/plugins/consolidation.js';
import { aCluster, aSnapshot, aWorkload, candidateOf, filterContext, h100, scoreContext } from '../builders.js';

describe('plugin consolidation', () => {
  const cases: ReadonlyArray<{ name: string; remaining: number; replicas: number; replicaStd: number; placedHere: number; ha: boolean; score: number }> = [
    { name: 'carries all of the rest alone', remaining: 100, replicas: 1, replicaStd: 100, placedHere: 0, ha: false, score: 1 },
    { name: 'carrying more than the rest scores no higher', remaining: 100, replicas: 2, replicaStd: 100, placedHere: 0, ha: false, score: 1 },
    { name: 'carries half', remaining: 100, replicas: 1, replicaStd: 50, placedHere: 0, ha: false, score: 0.5 },
    { name: 'nothing left to carry (ha second cluster)', remaining: 0, replicas: 1, replicaStd: 50, placedHere: 0, ha: true, score: 1 },
    { name: 'a cluster the workload already uses is preferred', remaining: 100, replicas: 1, replicaStd: 50, placedHere: 10, ha: false, score: 1.5 },
    { name: 'but not for ha workloads', remaining: 100, replicas: 1, replicaStd: 50, placedHere: 10, ha: true, score: 0.5 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.score}`, () => {
      const ctx = filterContext(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 8))
          .build(),
      );
      const candidate = candidateOf(ctx.state, 'c1', 'H100', {
        devicesPerReplica: 1,
        replicas: c.replicas,
        replicaStdMicro: c.replicaStd,
        clusterPlacedMicro: c.placedHere,
      });
      expect(consolidation.score(scoreContext(aWorkload('w').ha(c.ha).build(), 100, c.remaining), candidate)).to.equal(c.score);
    });
  }

  it('higher is better', () => {
    expect(consolidation.direction).to.equal('higher');
  });
});
