import { expect } from 'chai';

import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { freeDevices } from '../../../../scheduler/plugins/free-devices.js';
import { admit } from '../../../../scheduler/snapshot.js';
import { aCluster, aSnapshot, aWorkload, candidateOf, filterContext, h100 } from '../builders.js';

describe('plugin free-devices', () => {
  const cases: ReadonlyArray<{ name: string; healthy: number; held: number; takenThisCycle: number; n: number; code: StatusCode }> = [
    { name: 'room for one replica', healthy: 8, held: 4, takenThisCycle: 0, n: 4, code: 'Success' },
    { name: 'one device short', healthy: 8, held: 5, takenThisCycle: 0, n: 4, code: 'Unschedulable' },
    { name: 'devices taken earlier in the cycle count', healthy: 8, held: 2, takenThisCycle: 4, n: 4, code: 'Unschedulable' },
    { name: 'held beyond healthy (an agent lost devices)', healthy: 4, held: 6, takenThisCycle: 0, n: 1, code: 'Unschedulable' },
    { name: 'no healthy devices', healthy: 0, held: 0, takenThisCycle: 0, n: 1, code: 'Unschedulable' },
    { name: 'devicesPerReplica not set: an error, not a pass', healthy: 8, held: 0, takenThisCycle: 0, n: 0, code: 'Error' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      const snapshot = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, c.healthy, c.held))
        .build();
      const ctx = filterContext(snapshot);
      const candidate = candidateOf(ctx.state, 'c1', 'H100', { devicesPerReplica: c.n });
      if (c.takenThisCycle > 0)
        admit(ctx.state, aWorkload('earlier').build(), 0, [{ slot: candidate.slotIndex, replicas: 1, devicesPerReplica: c.takenThisCycle }]);
      const status = freeDevices.filter(ctx, candidate);
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') expect(status.reason).to.equal('capacity');
    });
  }

  it('is dynamic and monotone', () => {
    expect(freeDevices).to.include({ static: false, monotone: true, level: 'slot' });
  });
});
