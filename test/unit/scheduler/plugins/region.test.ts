import { expect } from 'chai';

import type { StatusCode } from '../../../../scheduler/framework/status.js';
import { region } from '../../../../scheduler/plugins/region.js';
import { aCluster, aSnapshot, filterContext, qwen7b } from '../builders.js';

describe('plugin region', () => {
  const cases: ReadonlyArray<{ regions: string[] | null; clusterRegion: string; code: StatusCode }> = [
    { regions: null, clusterRegion: 'nansha', code: 'Success' },
    { regions: ['nansha'], clusterRegion: 'nansha', code: 'Success' },
    { regions: ['huangpu', 'nansha'], clusterRegion: 'nansha', code: 'Success' },
    { regions: ['huangpu'], clusterRegion: 'nansha', code: 'UnschedulableAndUnresolvable' },
    { regions: [], clusterRegion: 'nansha', code: 'UnschedulableAndUnresolvable' },
    { regions: ['Nansha'], clusterRegion: 'nansha', code: 'UnschedulableAndUnresolvable' },
  ];
  for (const c of cases) {
    it(`regions ${JSON.stringify(c.regions)}, cluster in ${c.clusterRegion}: ${c.code}`, () => {
      const snapshot = aSnapshot().cluster(aCluster('c1').region(c.clusterRegion)).build();
      const status = region.filter(filterContext(snapshot, qwen7b, c.regions), snapshot.clusters[0]!);
      expect(status.code).to.equal(c.code);
      if (c.code !== 'Success') expect(status.reason).to.equal('no_compatible_device');
    });
  }
});
