/**
 * Placement health per cluster, from the workloads' placements (GET /api/v1/workloads, every page):
 * how many placements each cluster holds, and how many are running, starting (placed) or lost.
 */
import { api, unwrap, type Get } from '@/api/client';
import { allPages } from './cursor-pages';

export type Workload = Get<'/api/v1/workloads'>['items'][number];

export interface PlacementHealth {
  running: number;
  placed: number;
  lost: number;
  failed: number;
}

export async function allWorkloads(): Promise<Workload[]> {
  return allPages((cursor) => unwrap(api.GET('/api/v1/workloads', { params: { query: { limit: '1000', ...(cursor ? { cursor } : {}) } } })));
}

export function healthByCluster(workloads: readonly Workload[]): Map<string, PlacementHealth> {
  const out = new Map<string, PlacementHealth>();
  for (const w of workloads) {
    for (const p of w.placements) {
      const h = out.get(p.clusterId) ?? { running: 0, placed: 0, lost: 0, failed: 0 };
      h[p.state] += 1;
      out.set(p.clusterId, h);
    }
  }
  return out;
}
