import { expect } from 'chai';

import { bestFit } from '../../../../scheduler/plugins/best-fit.js';
import { aCluster, aSnapshot, aWorkload, candidateOf, filterContext, h100, scoreContext } from '../builders.js';

describe('plugin best-fit', () => {
  const cases: ReadonlyArray<{ free: number; replicas: number; n: number; left: number }> = [
    { free: 8, replicas: 2, n: 4, left: 0 },
    { free: 16, replicas: 2, n: 4, left: 8 },
    { free: 5, replicas: 1, n: 4, left: 1 },
    { free: 64, replicas: 3, n: 1, left: 61 },
  ];
  for (const c of cases) {
    it(`${c.free} free, taking ${c.replicas} × ${c.n}: ${c.left} left`, () => {
      const ctx = filterContext(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 64))
          .build(),
      );
      const candidate = candidateOf(ctx.state, 'c1', 'H100', { free: c.free, replicas: c.replicas, devicesPerReplica: c.n });
      expect(bestFit.score(scoreContext(aWorkload('w').build(), 1), candidate)).to.equal(c.left);
    });
  }

  it('lower is better', () => {
    expect(bestFit.direction).to.equal('lower');
  });
});
