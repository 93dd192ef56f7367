import { expect } from 'chai';

import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { clusterSchedulable } from '../../../../scheduler/plugins/cluster-schedulable.js';
import { aCluster, aSnapshot, filterContext, h100 } from '../builders.js';

describe('plugin cluster-schedulable', () => {
  const cases: ReadonlyArray<{ name: string; cluster: ReturnType<typeof aCluster>; code: StatusCode }> = [
    { name: 'ready', cluster: aCluster('c1').slot('H100', h100, 8), code: 'Success' },
    { name: 'not ready', cluster: aCluster('c1').slot('H100', h100, 8).notReady(), code: 'UnschedulableAndUnresolvable' },
    { name: 'cordoned', cluster: aCluster('c1').slot('H100', h100, 8).cordoned(), code: 'UnschedulableAndUnresolvable' },
    { name: 'cordoned and not ready', cluster: aCluster('c1').notReady().cordoned(), code: 'UnschedulableAndUnresolvable' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      const snapshot = aSnapshot().cluster(c.cluster).build();
      const status = clusterSchedulable.filter(filterContext(snapshot), snapshot.clusters[0]!);
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') expect(status.reason).to.equal('capacity');
    });
  }

  it('is a static cluster-level filter whose rejections mean capacity', () => {
    expect(clusterSchedulable).to.include({ name: 'cluster-schedulable', level: 'cluster', static: true, reason: 'capacity' });
  });
});
