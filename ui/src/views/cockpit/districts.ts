/**
 * Guangzhou's 11 districts, and which one a cluster's `region` names: its pinyin (`nansha`,
 * `Nansha`, `nansha-2`) or its Chinese name with or without 区 (`南沙区`, `南沙`).
 * The polygons are in ../../geo/guangzhou.json, keyed by the Chinese name.
 */
export const DISTRICTS = {
  liwan: '荔湾区',
  yuexiu: '越秀区',
  haizhu: '海珠区',
  tianhe: '天河区',
  baiyun: '白云区',
  huangpu: '黄埔区',
  panyu: '番禺区',
  huadu: '花都区',
  nansha: '南沙区',
  conghua: '从化区',
  zengcheng: '增城区',
} as const;

export type District = keyof typeof DISTRICTS;

/** The small central districts: on the map, named on hover only, as their names would overlap. */
export const CENTRAL: readonly District[] = ['liwan', 'yuexiu', 'haizhu', 'tianhe'];

/** Cluster states on the map and in the legend. */
export const STATE_COLOURS: Readonly<Record<string, string>> = { ready: '#2ee6a0', cordoned: '#7aa2ff', not_ready: '#ff4d4f', pending: '#ffc53d' };

/** The district a region names, or undefined. */
export function districtOf(region: string): District | undefined {
  const r = region.trim().toLowerCase();
  for (const [pinyin, zh] of Object.entries(DISTRICTS) as [District, string][]) {
    if (r === pinyin || r.startsWith(`${pinyin}-`) || r.startsWith(`${pinyin}_`) || r === zh || r === zh.slice(0, -1) || r.startsWith(zh.slice(0, -1)))
      return pinyin;
  }
  return undefined;
}

/** A cluster as the pool reports it (GET /api/v1/pool `byCluster`). */
export interface MapCluster {
  readonly clusterId: string;
  readonly name: string;
  readonly region: string;
  readonly state: string;
  readonly totalStdPerMin: number;
  readonly allocatedStdPerMin: number;
}

export interface ClusterPoint {
  readonly cluster: MapCluster;
  readonly district: District;
  /** [longitude, latitude]: the district's centre, spread on a small circle when it holds several clusters. */
  readonly coord: [number, number];
  /** allocated ÷ total (0 when it has no capacity). */
  readonly utilization: number;
}

export interface DistrictLoad {
  readonly district: District;
  readonly clusters: number;
  readonly totalStdPerMin: number;
  readonly allocatedStdPerMin: number;
  /** allocated ÷ total over the district's clusters that count in the pool (ready, cordoned); null: none. */
  readonly utilization: number | null;
}

const util = (allocated: number, total: number) => (total > 0 ? Math.min(1, allocated / total) : 0);

/**
 * Places each cluster at its district (`centres`: district → [lng, lat]) and sums the districts.
 * Clusters whose region names no district come back in `unmapped`.
 */
export function layoutClusters(clusters: readonly MapCluster[], centres: ReadonlyMap<District, readonly [number, number]>) {
  const byDistrict = new Map<District, MapCluster[]>();
  const unmapped: MapCluster[] = [];
  for (const c of clusters) {
    const d = districtOf(c.region);
    if (d && centres.has(d)) byDistrict.set(d, [...(byDistrict.get(d) ?? []), c]);
    else unmapped.push(c);
  }
  const points: ClusterPoint[] = [];
  const loads: DistrictLoad[] = [];
  for (const [district, list] of byDistrict) {
    const [lng, lat] = centres.get(district)!;
    const sorted = [...list].sort((a, b) => a.name.localeCompare(b.name));
    sorted.forEach((cluster, i) => {
      const r = sorted.length > 1 ? 0.025 : 0;
      const a = (2 * Math.PI * i) / sorted.length;
      points.push({
        cluster,
        district,
        coord: [lng + r * Math.cos(a), lat + r * Math.sin(a)],
        utilization: util(cluster.allocatedStdPerMin, cluster.totalStdPerMin),
      });
    });
    const counted = list.filter((c) => c.state === 'ready' || c.state === 'cordoned');
    const total = counted.reduce((s, c) => s + c.totalStdPerMin, 0);
    const allocated = counted.reduce((s, c) => s + c.allocatedStdPerMin, 0);
    loads.push({
      district,
      clusters: list.length,
      totalStdPerMin: total,
      allocatedStdPerMin: allocated,
      utilization: counted.length ? util(allocated, total) : null,
    });
  }
  return { points, loads, unmapped };
}
