/**
 * The demo city of `npm start`: the simulated member clusters of adapters/simulated, registered
 * on first start, each driven by an in-process agent that calls the server over HTTP exactly as
 * a real agent does, and a few tenants with workloads, last month's usage and the last day's, and
 * their applications calling the gateway (demo-traffic.ts).
 */
import { DEMO_CITY, startSimulatedCity, type SimulatedCity } from '../adapters/simulated/city.js';
import { PlatformClient } from '../adapters/platform-client.js';
import { startDemoTraffic } from './demo-traffic.js';
import type { Priority } from '../scheduler/framework/types.js';
import { previousPeriod } from '../server/billing/periods.js';
import type { AppContext } from '../server/context.js';
import type { Companion } from '../server/main.js';
import { decodeCursor } from '../server/repositories/paging.js';
import type { TenantKind } from '../server/services/tenants.service.js';
import type { WorkloadAccess } from '../server/services/workloads.service.js';

interface DemoTenant {
  readonly name: string;
  readonly kind: TenantKind;
  readonly workloads: readonly {
    name: string;
    model: string;
    tokensPerMin: number;
    priority: Priority;
    regions?: string[];
    ha?: boolean;
    access?: WorkloadAccess;
  }[];
}

/** A few government and enterprise tenants with workloads, so the pool shows allocation. */
export const DEMO_TENANTS: readonly DemoTenant[] = [
  {
    name: 'Guangzhou Transport Bureau',
    kind: 'government',
    workloads: [
      { name: 'traffic-assistant', model: 'qwen2.5-72b-instruct', tokensPerMin: 300_000, priority: 'high', ha: true },
      // The signal control system calls its replicas directly, as the records batch below does.
      {
        name: 'signal-timing-advisor',
        model: 'qwen2.5-32b-instruct',
        tokensPerMin: 400_000,
        priority: 'normal',
        regions: ['tianhe', 'haizhu'],
        access: 'direct',
      },
    ],
  },
  {
    name: 'Guangzhou Health Commission',
    kind: 'government',
    workloads: [
      { name: 'triage-assistant', model: 'deepseek-v3', tokensPerMin: 200_000, priority: 'high' },
      // A batch job that calls its replicas directly: billed from the agents' counters.
      { name: 'records-summariser', model: 'qwen2.5-7b-instruct', tokensPerMin: 1_500_000, priority: 'normal', access: 'direct' },
    ],
  },
  {
    name: 'Nansha Port Logistics',
    kind: 'enterprise',
    workloads: [{ name: 'customs-docs', model: 'qwen2.5-32b-instruct', tokensPerMin: 250_000, priority: 'normal', regions: ['nansha'] }],
  },
  {
    name: 'Pearl River Smart Manufacturing',
    kind: 'enterprise',
    workloads: [
      { name: 'quality-inspection-copilot', model: 'qwen2.5-7b-instruct', tokensPerMin: 900_000, priority: 'low', access: 'direct' },
      { name: 'supplier-chat', model: 'deepseek-r1-distill-qwen-32b', tokensPerMin: 150_000, priority: 'low' },
    ],
  },
];

/** The demo city's operator, the seller on its invoices (a fictitious company; a valid code). */
export const DEMO_SELLER = {
  name: '广州城市算力网运营有限公司',
  uscc: '91440101MA5TKPL03U',
  address: '广州市天河区珠江新城华夏路 10 号',
  phone: '020-38880000',
  bank: '中国工商银行广州天河支行',
  bankAccount: '3602000109200088888',
} as const;

/** The operator's shared workloads: every tenant's key can call them through the gateway (README "Token gateway"). */
export const DEMO_SHARED: readonly { name: string; model: string; tokensPerMin: number; priority: Priority }[] = [
  { name: 'city-qwen-7b', model: 'qwen2.5-7b-instruct', tokensPerMin: 600_000, priority: 'normal' },
];

/**
 * Creates the demo tenants and their workloads on the first start (later starts find them by
 * name and leave them as the operator left them). Answers the API keys of tenants made now.
 */
export async function seedDemoTenants(ctx: AppContext): Promise<{ name: string; apiKey: string }[]> {
  const { tenants, workloads, plans } = ctx.services;
  const operator = { kind: 'operator', name: 'admin' } as const;
  const made: { name: string; apiKey: string }[] = [];
  if (await tenants.findByName(DEMO_TENANTS[0]!.name)) return made;
  // Government departments on a monthly package with a reserved throughput; enterprises pay as they go.
  const gov = await plans.create({
    name: 'gov-standard',
    type: 'periodic',
    period: 'month',
    fee: '10000.00',
    includedStd: 50_000_000_000,
    overagePricePerMillionStd: '0.80',
    reservedStdPerMin: 6_000_000,
  });
  const metered = await plans.create({ name: 'enterprise-metered', type: 'unit', pricePerMillionStd: '1.20' });
  // Subscribed since the start of last month, so that last month can be invoiced.
  const monthStart = ctx.calendar.monthBounds(previousPeriod(ctx.calendar.periodOf(ctx.clock.now()))).start;
  for (const t of DEMO_TENANTS) {
    if (await tenants.findByName(t.name)) continue;
    const tenant = await tenants.create({ name: t.name, kind: t.kind });
    made.push({ name: t.name, apiKey: tenant.apiKey });
    // Priority is granted by the operator: the tenants whose services run `high` are granted it.
    if (t.workloads.some((w) => w.priority === 'high')) await tenants.update(tenant.id, { maxPriority: 'high' });
    await plans.subscribe(tenant.id, { planId: t.kind === 'government' ? gov.id : metered.id, startsAt: monthStart });
    // Enterprises prepay (their default billing mode): a balance for the demo's traffic and history.
    if (tenant.billingMode === 'prepaid') {
      await ctx.services.ledger.topUp(tenant.id, { amount: '200000.00', reference: `demo-top-up-${tenant.id}`, receivedAt: monthStart });
    }
    for (const w of t.workloads) {
      await workloads.create(operator, { kind: 'service', ha: false, ...w, tenantId: tenant.id }, undefined);
    }
  }
  for (const w of DEMO_SHARED) await workloads.create(operator, { kind: 'service', ha: false, ...w, shared: true }, undefined);
  // The city operator's invoicing details (销售方), so that invoices have their PDF and e-fapiao.
  await ctx.services.invoicing.putSeller(DEMO_SELLER);
  return made;
}

/**
 * Last month's history for the demo, sent once on the first start: each demo workload's cluster
 * agent reports a day of usage for every day of last month through the agent usage API (events
 * may be up to 90 days old), then last month is closed, so invoices can be seen a minute or two
 * after the first start.
 */
export async function seedDemoHistory(ctx: AppContext, baseUrl: string, agentTokens: ReadonlyMap<string, string>): Promise<void> {
  const { workloads, clusters, billing } = ctx.services;
  const operator = { kind: 'operator', name: 'admin' } as const;
  const deadline = Date.now() + 60_000;
  let placed: Awaited<ReturnType<typeof workloads.list>>['items'] = [];
  // Wait for the scheduler to place the demo workloads (the agents' first heartbeats come first).
  while (Date.now() < deadline) {
    const all = (await workloads.list(operator, {}, { limit: 100, after: 0 })).items;
    placed = all.filter((w) => w.placements.length > 0);
    if (all.length > 0 && placed.length === all.length) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const period = previousPeriod(ctx.calendar.periodOf(ctx.clock.now()));
  const { start, end } = ctx.calendar.monthBounds(period);
  const days = Math.round((end.getTime() - start.getTime()) / 86_400_000);
  for (const w of placed) {
    const placement = w.placements[0]!;
    const cluster = await clusters.get(placement.clusterId);
    const token = agentTokens.get(cluster.name);
    if (!token) continue;
    // A day at about 60% of the workload's requested throughput; 3 prompt tokens per output token.
    const outputPerDay = Math.round((w.tokensPerMin * 60 * 24 * 0.6) / 4);
    const events = Array.from({ length: days }, (_, d) => ({
      id: `demo-history:${w.id}:${period}:${d}`,
      workloadId: w.id,
      inputTokens: outputPerDay * 3,
      outputTokens: outputPerDay,
      occurredAt: new Date(start.getTime() + d * 86_400_000 + 12 * 3_600_000).toISOString(),
    }));
    await new PlatformClient({ baseUrl, token }).usage({ events });
  }
  // The close bills every event committed before it began: the history above, no wait needed.
  const invoices = await billing.close(period);
  ctx.log.info('demo history: last month invoiced', { period, invoices: invoices.length });
  await seedDemoLastDay(ctx, baseUrl, agentTokens, placed);
}

/** Share of its throughput a demo workload serves at `hour` (0–23, local): busy by day, quiet at night. */
export function demoLoad(hour: number): number {
  const day = Math.max(0, Math.sin((Math.PI * (hour - 7)) / 14));
  return 0.2 + 0.6 * day;
}

/**
 * The last 24 hours for the demo's trends, sent on the first start: each placed demo workload's
 * agent reports a minute of usage for every minute of the last day, following {@link demoLoad} in
 * the billing time zone, and the history records those minutes (HistoryService.recordPast, with
 * the pool as it is now), so the overview's and the cockpit's charts open with a day behind them.
 */
async function seedDemoLastDay(
  ctx: AppContext,
  baseUrl: string,
  agentTokens: ReadonlyMap<string, string>,
  placed: readonly { id: string; model: string; tokensPerMin: number; placements: readonly { clusterId: string }[] }[],
): Promise<void> {
  const MINUTE = 60_000;
  const end = Math.floor(ctx.clock.now().getTime() / MINUTE) * MINUTE;
  const minutes = Array.from({ length: 24 * 60 }, (_, i) => new Date(end - (24 * 60 - i) * MINUTE));
  const hourOf = new Intl.DateTimeFormat('en-US', { timeZone: ctx.config.timezone, hour: 'numeric', hourCycle: 'h23' });
  const load = minutes.map((m) => demoLoad(Number(hourOf.format(m))));
  const models = new Map((await ctx.services.catalog.listModels({ limit: 500, after: 0 })).items.map((m) => [m.name, m]));
  for (const w of placed) {
    const cluster = await ctx.services.clusters.get(w.placements[0]!.clusterId);
    const token = agentTokens.get(cluster.name);
    const model = models.get(w.model);
    if (!token || !model) continue;
    // Three prompt tokens per output token, so that the standard tokens a minute come to
    // load × tokensPerMin × costFactor.
    const perOutput = 1 + 3 * Number(model.inputFactor);
    const events = minutes.map((m, i) => {
      const output = Math.round((w.tokensPerMin * load[i]!) / perOutput);
      return { id: `demo-day:${w.id}:${m.getTime()}`, workloadId: w.id, inputTokens: 3 * output, outputTokens: output, occurredAt: m.toISOString() };
    });
    await new PlatformClient({ baseUrl, token }).usage({ events });
  }
  await ctx.services.history.recordPast(minutes);
  ctx.log.info('demo history: the last day recorded', { minutes: minutes.length });
}

export async function startDemoCity(ctx: AppContext, baseUrl: string): Promise<SimulatedCity & { agentTokens: ReadonlyMap<string, string> }> {
  const { clusters } = ctx.services;
  const withTokens = [];
  for (const spec of DEMO_CITY) {
    const existing = await clusters.findByName(spec.name);
    // Tokens are stored hashed, so a restarted demo issues its agents new ones.
    const agentToken = existing
      ? (await clusters.rotateAgentToken(existing.id)).agentToken
      : (await clusters.register({ name: spec.name, region: spec.region, labels: { ...spec.labels } })).agentToken;
    withTokens.push({ spec, agentToken });
  }
  const intervalMs = Math.min(10_000, Math.floor((ctx.config.clusterTtlSeconds * 1000) / 3));
  ctx.log.info('demo city started', { clusters: withTokens.length, heartbeatMs: intervalMs });
  // The serving pods' background load stands for the own clients of direct workloads; gateway
  // workloads serve only what is called through the gateway, or the platform would see traffic
  // that bypassed it. The ids of direct workloads are read again every heartbeat interval.
  let direct = new Set<string>();
  // The simulated devices draw power by the catalog's TDP, so the Energy view has measurements.
  let watts = new Map<string, number>();
  const refresh = async () => {
    direct = await directWorkloadIds(ctx);
    watts = await ratedWatts(ctx);
  };
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => ctx.log.warn('demo: direct workloads not read', { error: String(err) }));
  }, intervalMs);
  timer.unref();
  const city = startSimulatedCity({
    baseUrl,
    clusters: withTokens,
    intervalMs,
    log: (msg, fields) => ctx.log.warn(`demo agent: ${msg}`, fields),
    backgroundLoad: (workloadId) => direct.has(workloadId),
    cluster: { deviceWatts: (deviceModel) => watts.get(deviceModel) },
  });
  const stopCity = city.stop.bind(city);
  return Object.assign(city, {
    agentTokens: new Map(withTokens.map((w) => [w.spec.name, w.agentToken])),
    async stop() {
      clearInterval(timer);
      await stopCity();
    },
  });
}

/** The catalog's TDP of each device name (profile names and aliases), in watts. */
async function ratedWatts(ctx: AppContext): Promise<Map<string, number>> {
  const watts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof ctx.services.catalog.listProfiles>> = await ctx.services.catalog.listProfiles({
      limit: 500,
      after: decodeCursor(cursor ?? undefined),
    });
    for (const p of page.items) for (const name of [p.name, ...p.aliases]) watts.set(name, p.tdpWatts);
    cursor = page.nextCursor;
  } while (cursor);
  return watts;
}

async function directWorkloadIds(ctx: AppContext): Promise<Set<string>> {
  const operator = { kind: 'operator', name: 'admin' } as const;
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof ctx.services.workloads.list>> = await ctx.services.workloads.list(
      operator,
      {},
      { limit: 500, after: decodeCursor(cursor ?? undefined) },
    );
    for (const w of page.items) if (w.access === 'direct') ids.add(w.id);
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/**
 * The demo as `npm start` runs it beside the platform: starts the city, seeds the tenants on the
 * first start (printing each one's API key once) and, then, last month's history in the background,
 * and starts the tenants' callers of the gateway (bin/demo-traffic.ts).
 */
export async function startDemo(ctx: AppContext, baseUrl: string): Promise<Companion> {
  const city = await startDemoCity(ctx, baseUrl);
  const made = await seedDemoTenants(ctx);
  for (const t of made) process.stdout.write(`demo tenant "${t.name}": API key (shown once) ${t.apiKey}\n`);
  if (made.length > 0) {
    void seedDemoHistory(ctx, baseUrl, city.agentTokens).catch((err: unknown) => ctx.log.error('demo history failed', { error: String(err) }));
  }
  const traffic = await startDemoTraffic(
    ctx,
    baseUrl,
    DEMO_TENANTS.map((t) => t.name),
  );
  return {
    async stop() {
      await traffic.stop();
      await city.stop();
    },
  };
}
