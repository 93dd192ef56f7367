import { expect } from 'chai';

import type { ProfileSnap } from '../../../../scheduler/framework/types.js';
import { energy } from '../../../../scheduler/plugins/energy.js';
import { aCluster, aSnapshot, aWorkload, ascend910b, candidateOf, filterContext, h100, mlu590, scoreContext } from '../builders.js';

describe('plugin energy', () => {
  // Joules per standard token: tdpWatts ÷ stdTokensPerSec.
  const cases: ReadonlyArray<{ profile: ProfileSnap; joules: number }> = [
    { profile: h100, joules: 700 / 3000 },
    { profile: ascend910b, joules: 400 / 1200 },
    { profile: mlu590, joules: 350 / 1100 },
  ];
  for (const c of cases) {
    it(`${c.profile.name}: ${c.joules.toFixed(4)} J per standard token`, () => {
      const ctx = filterContext(
        aSnapshot()
          .cluster(aCluster('c1').slot('dev', c.profile, 8))
          .build(),
      );
      const score = energy.score(scoreContext(aWorkload('w').build(), 1), candidateOf(ctx.state, 'c1', 'dev'));
      expect(score).to.be.closeTo(c.joules, 1e-12);
    });
  }

  it('lower is better', () => {
    expect(energy.direction).to.equal('lower');
  });
});
