import { expect } from 'chai';

import { memoryFit } from '../../../../scheduler/plugins/memory-fit.js';
import { aCluster, aModel, aProfile, aSnapshot, candidateOf, filterContext } from '../builders.js';

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
      const snapshot = aSnapshot().cluster(aCluster('c1').slot('dev', profile, 8)).build();
      const ctx = filterContext(snapshot, aModel('m').minMemoryGiB(c.minMemoryGiB).build());
      const candidate = candidateOf(ctx.state, 'c1', 'dev');
      const status = memoryFit.filter(ctx, candidate);
      if (c.n === null) {
        expect(status).to.include({ code: 'UnschedulableAndUnresolvable', reason: 'no_compatible_device' });
        expect(candidate.devicesPerReplica).to.equal(0);
      } else {
        expect(status.code).to.equal('Success');
        expect(candidate.devicesPerReplica).to.equal(c.n);
      }
    });
  }
});
