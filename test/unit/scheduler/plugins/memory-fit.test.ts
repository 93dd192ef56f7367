import { expect } from 'chai';

import { DEVICES_PER_REPLICA } from '../../../../scheduler/framework/cycle-state.js';
import { memoryFit } from '../../../../scheduler/plugins/memory-fit.js';
import { aCluster, aModel, aProfile, aSnapshot, candidateOf, deepFreeze, filterContext } from '../builders.js';

describe('plugin memory-fit', () => {
  // n is the smallest power of two with n × 0.9 × memoryGiB ≥ minMemoryGiB (API.md "Formulas").
  const cases: ReadonlyArray<{ minMemoryGiB: string; memoryGiB: string; n: number | null }> = [
    { minMemoryGiB: '20', memoryGiB: '80', n: 1 },
    { minMemoryGiB: '72', memoryGiB: '80', n: 1 },
    { minMemoryGiB: '72.000001', memoryGiB: '80', n: 2 },
    { minMemoryGiB: '80', memoryGiB: '80', n: 2 },
    { minMemoryGiB: '160', memoryGiB: '80', n: 4 },
    { minMemoryGiB: '160', memoryGiB: '64', n: 4 },
    { minMemoryGiB: '4608', memoryGiB: '80', n: 64 },
    { minMemoryGiB: '4608.000001', memoryGiB: '80', n: null },
  ];
  for (const c of cases) {
    it(`${c.minMemoryGiB} GiB on ${c.memoryGiB} GiB devices: ${c.n ?? 'does not fit'}`, () => {
      const profile = aProfile('dev').memoryGiB(c.memoryGiB).build();
      const snapshot = aSnapshot()
        .cluster(aCluster('c1').slot('dev', profile, 8))
        .build();
      const ctx = filterContext(snapshot, aModel('m').minMemoryGiB(c.minMemoryGiB).build());
      // The candidate is read-only: what the plugin works out goes to the cycle state.
      const candidate = deepFreeze(candidateOf(ctx.state, 'c1', 'dev'));
      expect(memoryFit.preFilter!(ctx).code).to.equal('Success');
      const status = memoryFit.filter(ctx, candidate);
      expect(ctx.cycle.read(DEVICES_PER_REPLICA)?.[candidate.slotIndex]).to.equal(c.n ?? 0);
      if (c.n === null) {
        expect(status).to.include({ code: 'UnschedulableAndUnresolvable', reason: 'no_compatible_device' });
      } else {
        expect(status.code).to.equal('Success');
      }
    });
  }

  it('answers the same without PreFilter, and refuses to write once the cycle state is sealed', () => {
    const small = aProfile('small').memoryGiB('16').build();
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', aProfile('H100').build(), 8).slot('small', small, 8))
      .build();
    const ctx = filterContext(snapshot, aModel('m').minMemoryGiB('2000').build());
    expect(memoryFit.filter(ctx, candidateOf(ctx.state, 'c1', 'H100')).code).to.equal('Success');
    expect(memoryFit.filter(ctx, candidateOf(ctx.state, 'c1', 'small')).code).to.equal('UnschedulableAndUnresolvable');
    ctx.cycle.seal();
    expect(() => memoryFit.preFilter!(ctx)).to.throw(/read-only after PreFilter/);
  });
});
