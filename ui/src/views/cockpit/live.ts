/**
 * The cockpit's live figures, each read from the public API:
 * - capacity, allocation and the clusters: GET /api/v1/pool;
 * - standard tokens served per minute: all metered usage (gateway and agents) of the last five
 *   minutes (GET /api/v1/usage?from=…), a fifth of it;
 * - requests per second: the gateway's request log of the last minute (GET /api/v1/requests?from=…);
 * - tokens per joule: GET /api/v1/energy over the last 15 minutes (measured energy only);
 * - top tenants and models this billing period: GET /api/v1/usage (byTenant and byModel of one report);
 * - alerts: budget alerts (GET /api/v1/alerts), clusters not ready, workloads waiting, and
 *   placements failing now or failed in the last hour (from every workload's placements).
 * The trend opens with the last 24 hours of GET /api/v1/history (views/ops/history.ts, series.seed).
 */
import { api, unwrap, type Get } from '@/api/client';
import { allPages } from '@/composables/cursor-pages';
import { allWorkloads } from '@/composables/placements';

export type Pool = Get<'/api/v1/pool'>;

export interface Rates {
  /** Model tokens (prompt + completion) the gateway served in the last minute. */
  readonly tokensPerMin: number;
  readonly requestsPerSec: number;
  /** true when the minute held more requests than were read (the figures are then lower bounds). */
  readonly partial: boolean;
}

const MINUTE = 60_000;
const MAX_PAGES = 5;

/** Standard tokens served per minute over the last five minutes, every tenant (usage may arrive late: a floor). */
export async function servedPerMinute(now: number): Promise<number> {
  const u = await unwrap(api.GET('/api/v1/usage', { params: { query: { from: new Date(now - 5 * MINUTE).toISOString(), to: new Date(now).toISOString() } } }));
  return Number(u.stdTokens) / 5;
}

export async function gatewayRates(now: number): Promise<Rates> {
  const from = new Date(now - MINUTE).toISOString();
  let cursor: string | undefined;
  let tokens = 0;
  let requests = 0;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await unwrap(api.GET('/api/v1/requests', { params: { query: { from, limit: '1000', ...(cursor ? { cursor } : {}) } } }));
    for (const r of page.items) {
      requests += 1;
      tokens += (r.promptTokens ?? 0) + (r.completionTokens ?? 0);
    }
    if (page.nextCursor === null) return { tokensPerMin: tokens, requestsPerSec: requests / 60, partial: false };
    cursor = page.nextCursor;
  }
  return { tokensPerMin: tokens, requestsPerSec: requests / 60, partial: true };
}

/** Standard tokens per joule measured over the last 15 minutes; null when no energy was measured. */
export async function tokensPerJoule(now: number): Promise<number | null> {
  const window = { from: new Date(now - 15 * MINUTE).toISOString(), to: new Date(now).toISOString() };
  const e = await unwrap(api.GET('/api/v1/energy', { params: { query: { groupBy: 'vendor', ...window } } }));
  let joules = 0;
  let std = 0;
  for (const i of e.items) {
    if (i.stdTokensPerJoule === null) continue;
    joules += i.joules;
    std += Number(i.stdTokens);
  }
  return joules > 0 ? std / joules : null;
}

export interface Ranked {
  readonly name: string;
  /** Standard tokens this period, an exact decimal string. */
  readonly stdTokens: string;
}

export type Tenant = Get<'/api/v1/tenants'>['items'][number];

export async function listTenants(): Promise<Tenant[]> {
  return allPages((cursor) => unwrap(api.GET('/api/v1/tenants', { params: { query: { limit: '1000', ...(cursor ? { cursor } : {}) } } })), 2);
}

/** Tenants and models by standard tokens this period, most first (the first `limit` of each), from one report. */
export async function topUsage(limit = 5): Promise<{ tenants: Ranked[]; models: Ranked[] }> {
  const u = await unwrap(api.GET('/api/v1/usage'));
  return {
    tenants: rank(
      u.byTenant.map((x) => ({ name: x.name ?? x.tenantId, stdTokens: x.stdTokens })),
      limit,
    ),
    models: rank(
      u.byModel.map((m) => ({ name: m.model, stdTokens: m.stdTokens })),
      limit,
    ),
  };
}

/** Largest first, by the decimal value (compared exactly on the integer part, then the fraction). */
export function rank(items: readonly Ranked[], limit: number): Ranked[] {
  return [...items]
    .filter((i) => compareDecimal(i.stdTokens, '0') > 0)
    .sort((a, b) => compareDecimal(b.stdTokens, a.stdTokens))
    .slice(0, limit);
}

export function compareDecimal(a: string, b: string): number {
  const [ai = '0', af = ''] = a.split('.');
  const [bi = '0', bf = ''] = b.split('.');
  const d = BigInt(ai) - BigInt(bi);
  if (d !== 0n) return d > 0n ? 1 : -1;
  const w = Math.max(af.length, bf.length);
  const x = BigInt(af.padEnd(w, '0') || '0') - BigInt(bf.padEnd(w, '0') || '0');
  return x === 0n ? 0 : x > 0n ? 1 : -1;
}

export type Alert =
  | { readonly kind: 'cluster'; readonly at: string | null; readonly name: string }
  | { readonly kind: 'pending'; readonly at: string | null; readonly count: number }
  | {
      readonly kind: 'placement';
      readonly at: string;
      /** Given up on (its workload placed again), else failing now. */
      readonly failed: boolean;
      readonly workload: string;
      readonly cluster: string;
      readonly reason: string | null;
    }
  | { readonly kind: 'budget'; readonly at: string; readonly tenant: string; readonly threshold: number; readonly cost: string; readonly budget: string };

/** How long a failed placement stays among the alerts. */
export const FAILED_PLACEMENTS_MS = 60 * 60_000;

export async function alerts(pool: Pool | undefined, tenantNames: ReadonlyMap<string, string>, now = Date.now()): Promise<Alert[]> {
  const [budget, workloads] = await Promise.all([unwrap(api.GET('/api/v1/alerts', { params: { query: { limit: '20' } } })), allWorkloads()]);
  const out: Alert[] = [];
  for (const c of pool?.byCluster ?? []) if (c.state === 'not_ready') out.push({ kind: 'cluster', at: null, name: c.name });
  const waiting = workloads.filter((w) => w.state === 'pending').length;
  if (waiting) out.push({ kind: 'pending', at: null, count: waiting });
  // Placements whose pods cannot run now, and those the platform gave up on in the last hour (while
  // their workload waits to be placed again: once it is, the failed one is history).
  const clusterName = new Map((pool?.byCluster ?? []).map((c) => [c.clusterId, c.name]));
  const since = now - FAILED_PLACEMENTS_MS;
  for (const w of workloads)
    for (const p of w.placements) {
      const failed = p.state === 'failed' && p.failedAt !== null && Date.parse(p.failedAt) >= since;
      if (!failed && !(p.phase === 'failing' && p.state !== 'failed')) continue;
      const at = failed ? p.failedAt! : (p.failingSince ?? new Date(now).toISOString());
      out.push({ kind: 'placement', at, failed, workload: w.name, cluster: clusterName.get(p.clusterId) ?? p.clusterId, reason: p.reason });
    }
  for (const a of budget.items)
    out.push({
      kind: 'budget',
      at: a.createdAt,
      tenant: tenantNames.get(a.tenantId) ?? a.tenantId,
      threshold: a.threshold,
      cost: a.costSoFar,
      budget: a.budget,
    });
  return out;
}
