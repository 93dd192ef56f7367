import { expect } from 'chai';

import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { nodeFit } from '../../../../scheduler/plugins/node-fit.js';
import { admit } from '../../../../scheduler/snapshot.js';
import { aCluster, aSnapshot, aWorkload, candidateOf, filterContext, h100 } from '../builders.js';

describe('plugin node-fit', () => {
  const cases: ReadonlyArray<{ name: string; free: readonly number[] | null; lws?: boolean; takenThisCycle?: number; n: number; code: StatusCode }> = [
    { name: 'a node with room', free: [2, 4], n: 4, code: 'Success' },
    { name: 'enough devices, no node with room', free: [2, 2, 2, 2], n: 4, code: 'Unschedulable' },
    { name: 'the node with room was taken earlier in the cycle', free: [4, 2], takenThisCycle: 4, n: 4, code: 'Unschedulable' },
    { name: 'a spanning replica needs a node with its pod share', free: [8, 0], lws: true, n: 16, code: 'Success' },
    { name: 'no nodes reported: not judged', free: null, n: 4, code: 'Success' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      let cluster = aCluster('c1').slot('H100', h100, 64);
      if (c.free) cluster = cluster.nodes(c.free, 8);
      if (c.lws) cluster = cluster.leaderWorkerSet();
      const ctx = filterContext(aSnapshot().cluster(cluster).build());
      const candidate = candidateOf(ctx.state, 'c1', 'H100', { devicesPerReplica: c.n });
      if (c.takenThisCycle)
        admit(ctx.state, aWorkload('earlier').build(), 0, [{ slot: candidate.slotIndex, replicas: 1, devicesPerReplica: c.takenThisCycle }]);
      const status = nodeFit.filter(ctx, candidate);
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') {
        expect(status.reason).to.equal('capacity');
        expect(status.message).to.equal(`no node has ${c.n} free devices for one replica's pod`);
      }
    });
  }

  it('is dynamic and monotone', () => {
    expect(nodeFit).to.include({ static: false, monotone: true, level: 'slot' });
  });
});
