import { expect } from 'chai';

import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { nodeSize } from '../../../../scheduler/plugins/node-size.js';
import { aCluster, aSnapshot, candidateOf, filterContext, h100 } from '../builders.js';

describe('plugin node-size', () => {
  const cases: ReadonlyArray<{ name: string; largest: number | null; lws: boolean; n: number; code: StatusCode }> = [
    { name: 'fits the largest node', largest: 8, lws: false, n: 8, code: 'Success' },
    { name: 'larger than any node', largest: 8, lws: false, n: 16, code: 'UnschedulableAndUnresolvable' },
    { name: 'larger than any node, with LeaderWorkerSet', largest: 8, lws: true, n: 16, code: 'Success' },
    { name: 'no nodes reported: not judged', largest: null, lws: false, n: 64, code: 'Success' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      let cluster = aCluster('c1').slot('H100', h100, 64);
      if (c.largest !== null) cluster = cluster.nodes([c.largest], c.largest);
      if (c.lws) cluster = cluster.leaderWorkerSet();
      const ctx = filterContext(aSnapshot().cluster(cluster).build());
      const status = nodeSize.filter(ctx, candidateOf(ctx.state, 'c1', 'H100', { devicesPerReplica: c.n }));
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') {
        expect(status.reason).to.equal('no_compatible_device');
        expect(status.message).to.equal(`needs ${c.n} devices per replica; the largest node has ${c.largest}`);
      }
    });
  }

  it('is static', () => {
    expect(nodeSize).to.include({ static: true, level: 'slot' });
  });
});
