/**
 * The cockpit's alerts (views/cockpit/live.ts) from what the API answers: budget alerts, clusters
 * not ready, workloads waiting, and placements failing now or failed in the last hour.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { alerts, FAILED_PLACEMENTS_MS } from '../src/views/cockpit/live';

const get = vi.hoisted(() => vi.fn());
const workloads = vi.hoisted(() => vi.fn());
vi.mock('@/api/client', async (original) => ({ ...(await original<typeof import('../src/api/client')>()), api: { GET: get } }));
vi.mock('@/composables/placements', () => ({ allWorkloads: workloads }));

const NOW = Date.parse('2026-12-07T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const placement = (over: Record<string, unknown>) => ({
  id: 'pl',
  clusterId: 'cl_a',
  state: 'running',
  phase: 'running',
  reason: null,
  failingSince: null,
  failedAt: null,
  ...over,
});
const pool = {
  byCluster: [
    { clusterId: 'cl_a', name: 'nansha-1', state: 'ready' },
    { clusterId: 'cl_b', name: 'tianhe-1', state: 'not_ready' },
  ],
} as never;

describe('the cockpit’s alerts', () => {
  beforeEach(() => {
    get.mockResolvedValue({
      data: { items: [{ createdAt: iso(NOW - 5_000), tenantId: 'tn_1', threshold: 80, costSoFar: '800.00', budget: '1000.00' }] },
      response: new Response(),
    });
  });

  it('names the clusters not ready, counts the workloads waiting and lists budget alerts with the tenant’s name', async () => {
    workloads.mockResolvedValue([
      { name: 'a', state: 'pending', placements: [] },
      { name: 'b', state: 'pending', placements: [] },
      { name: 'c', state: 'running', placements: [placement({})] },
    ]);
    const out = await alerts(pool, new Map([['tn_1', 'Huadu Transit']]), NOW);
    expect(out).toEqual([
      { kind: 'cluster', at: null, name: 'tianhe-1' },
      { kind: 'pending', at: null, count: 2 },
      { kind: 'budget', at: iso(NOW - 5_000), tenant: 'Huadu Transit', threshold: 80, cost: '800.00', budget: '1000.00' },
    ]);
  });

  it('raises a placement failing now, and one failed within the hour, with its cluster and reason; not older ones', async () => {
    workloads.mockResolvedValue([
      { name: 'svc', state: 'running', placements: [placement({ phase: 'failing', reason: 'ImagePullBackOff', failingSince: iso(NOW - 60_000) })] },
      {
        name: 'batch',
        state: 'pending',
        placements: [
          placement({ id: 'p1', clusterId: 'cl_b', state: 'failed', phase: 'failing', reason: 'OOMKilled', failedAt: iso(NOW - 10 * 60_000) }),
          placement({ id: 'p2', state: 'failed', reason: 'Other', failedAt: iso(NOW - FAILED_PLACEMENTS_MS - 1) }),
        ],
      },
    ]);
    const out = (await alerts(pool, new Map(), NOW)).filter((a) => a.kind === 'placement');
    expect(out).toEqual([
      { kind: 'placement', at: iso(NOW - 60_000), failed: false, workload: 'svc', cluster: 'nansha-1', reason: 'ImagePullBackOff' },
      { kind: 'placement', at: iso(NOW - 10 * 60_000), failed: true, workload: 'batch', cluster: 'tianhe-1', reason: 'OOMKilled' },
    ]);
  });
});
