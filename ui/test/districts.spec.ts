import { describe, expect, it } from 'vitest';
import guangzhou from '../src/geo/guangzhou.json';
import { DISTRICTS, districtOf, layoutClusters, type District } from '../src/views/cockpit/districts';

const centres = new Map<District, [number, number]>(
  (Object.entries(DISTRICTS) as [District, string][]).map(([d, zh]) => [
    d,
    guangzhou.features.find((f) => f.properties.name === zh)!.properties.cp as [number, number],
  ]),
);
const c = (name: string, region: string, state = 'ready', total = 100, allocated = 25) => ({
  clusterId: name,
  name,
  region,
  state,
  totalStdPerMin: total,
  allocatedStdPerMin: allocated,
});

describe('the district map', () => {
  it('ships a polygon for each of the 11 districts', () => {
    expect(guangzhou.features).toHaveLength(11);
    for (const zh of Object.values(DISTRICTS)) {
      const f = guangzhou.features.find((x) => x.properties.name === zh);
      expect(f, zh).toBeDefined();
      expect(['Polygon', 'MultiPolygon']).toContain(f!.geometry.type);
    }
  });

  it('reads a region as a district in pinyin or Chinese', () => {
    expect(districtOf('nansha')).toBe('nansha');
    expect(districtOf('Tianhe')).toBe('tianhe');
    expect(districtOf('huangpu-2')).toBe('huangpu');
    expect(districtOf('南沙区')).toBe('nansha');
    expect(districtOf('番禺')).toBe('panyu');
    expect(districtOf('shenzhen')).toBeUndefined();
  });

  it('puts clusters at their districts, apart when several share one, and sums the districts', () => {
    const { points, loads, unmapped } = layoutClusters(
      [c('nansha-1', 'nansha'), c('nansha-2', 'nansha', 'not_ready', 100, 0), c('sz-1', 'shenzhen'), c('tianhe-1', 'tianhe', 'ready', 200, 200)],
      centres,
    );
    expect(unmapped.map((x) => x.name)).toEqual(['sz-1']);
    expect(points).toHaveLength(3);
    const [a, b] = points.filter((p) => p.district === 'nansha');
    expect(a!.coord).not.toEqual(b!.coord);
    const nansha = loads.find((l) => l.district === 'nansha')!;
    // The not-ready cluster does not count in the pool's utilization.
    expect(nansha).toMatchObject({ clusters: 2, totalStdPerMin: 100, allocatedStdPerMin: 25, utilization: 0.25 });
    expect(loads.find((l) => l.district === 'tianhe')!.utilization).toBe(1);
  });
});
