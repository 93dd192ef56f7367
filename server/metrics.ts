/**
 * Prometheus metrics: prom-client's default process metrics and the `tokenpool_` families, on
 * one registry per app (no module globals). In a multi-process server the primary adds up the
 * workers' registries; gauges read from the database say `aggregator: 'first'` (each worker
 * reads the same rows), the rest are summed.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from './clock.js';
import type { EventBus } from './events.js';
import type { AuditMetrics } from './services/audit.service.js';
import type { BillingMetrics } from './services/billing.service.js';
import type { PoolView } from './services/cluster-view.js';
import type { RequestLogMetrics } from './services/requests.service.js';
import type { MeteringMetrics } from './jobs/metering-check.js';
import type { MeteringDiscrepancy } from './services/usage.service.js';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly usageLatency: Histogram;
  /** What the period close reports: invoices issued, and their amounts by plan type. */
  readonly billing: BillingMetrics;
  /** Refused requests by reason, and audit entries that could not be written. */
  readonly audit: AuditMetrics;
  /** Request log entries that could not be written. */
  readonly requestLog: RequestLogMetrics;
  /** The metering check's results: checks run, and the discrepant gateway workloads of the last. */
  readonly metering: MeteringMetrics;
}

export interface MetricSources {
  /** The pool as the API answers it; read at most once a second (by `clock`) while scraped. */
  pool(): Promise<PoolView>;
  readonly clock: Clock;
  /** Heartbeats and usage are counted from their events. */
  readonly events: EventBus;
}

/**
 * The `plan_type` label of an invoice's amount: its one plan type, `mixed` when its subscriptions
 * in the month were of different types, `none` when it had none.
 */
export function planTypeLabel(planTypes: readonly string[]): string {
  const kinds = [...new Set(planTypes)];
  return kinds.length === 1 ? kinds[0]! : kinds.length === 0 ? 'none' : 'mixed';
}

/** How long a metering check's discrepancies are shown: three checks' time (server/jobs/metering-check.ts). */
const METERING_FRESH_MS = 15 * 60_000;

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  let cached: { at: number; pool: Promise<PoolView> } | undefined;
  const pool = (): Promise<PoolView> => {
    const now = sources.clock.now().getTime();
    if (!cached || now - cached.at > 1000) cached = { at: now, pool: sources.pool() };
    return cached.pool;
  };

  new Gauge({
    name: 'tokenpool_pool_capacity_std_per_minute',
    aggregator: 'first',
    help: 'Pooled capacity in standard tokens per minute, by vendor and kind (total, allocated, free)',
    labelNames: ['vendor', 'kind'] as const,
    registers: [registry],
    async collect() {
      const p = await pool();
      this.reset();
      for (const v of p.byVendor) {
        this.set({ vendor: v.vendor, kind: 'total' }, v.totalStdPerMin);
        this.set({ vendor: v.vendor, kind: 'allocated' }, v.allocatedStdPerMin);
        this.set({ vendor: v.vendor, kind: 'free' }, v.freeStdPerMin);
      }
    },
  });
  new Gauge({
    name: 'tokenpool_pool_devices',
    aggregator: 'first',
    help: 'Healthy profiled devices in ready and cordoned clusters, by vendor',
    labelNames: ['vendor'] as const,
    registers: [registry],
    async collect() {
      const p = await pool();
      this.reset();
      for (const v of p.byVendor) this.set({ vendor: v.vendor }, v.devices);
    },
  });
  new Gauge({
    name: 'tokenpool_clusters',
    aggregator: 'first',
    help: 'Member clusters by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const c = (await pool()).clusters;
      this.set({ state: 'pending' }, c.pending);
      this.set({ state: 'ready' }, c.ready);
      this.set({ state: 'not_ready' }, c.notReady);
      this.set({ state: 'cordoned' }, c.cordoned);
    },
  });

  new Gauge({
    name: 'tokenpool_server_processes',
    help: 'Server processes behind this address (the workers of a multi-process server, added up)',
    registers: [registry],
  }).set(1);

  const heartbeats = new Counter({
    name: 'tokenpool_agent_heartbeats_total',
    help: 'Agent heartbeats recorded',
    registers: [registry],
  });
  sources.events.on('heartbeat.recorded', () => heartbeats.inc());
  const usageEvents = new Counter({
    name: 'tokenpool_usage_events_total',
    help: 'Usage events reported by agents, by result (accepted, duplicate, rejected)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  sources.events.on('usage.recorded', (e) => {
    usageEvents.inc({ result: 'accepted' }, e.accepted);
    usageEvents.inc({ result: 'duplicate' }, e.duplicates);
    usageEvents.inc({ result: 'rejected' }, e.rejected);
  });
  const invoicesIssued = new Counter({ name: 'tokenpool_invoices_issued_total', help: 'Invoices issued', registers: [registry] });
  const billed = new Counter({
    name: 'tokenpool_billed_amount_cny_total',
    help: 'Amount invoiced in CNY (net of SLA credits, never below 0 per invoice), by plan type (unit, periodic, or mixed within a month)',
    labelNames: ['plan_type'] as const,
    registers: [registry],
  });

  const refusals = new Counter({
    name: 'tokenpool_requests_refused_total',
    help: 'Requests refused, by reason (sign_in_failed, sign_in_throttled, unauthenticated, forbidden, rate_limited)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'tokenpool_audit_write_failures_total',
    help: 'Audit entries that could not be written (the change itself was answered)',
    registers: [registry],
  });
  const requestLogFailures = new Counter({
    name: 'tokenpool_request_log_write_failures_total',
    help: 'Gateway request log entries that could not be written (the request itself was answered)',
    registers: [registry],
  });

  // The last check's discrepancies, shown while fresh: a replica that stopped leading (and checking)
  // stops showing them after a few missed checks, so only the leader's stand.
  let lastCheck: { at: number; discrepancies: readonly MeteringDiscrepancy[] } | undefined;
  const meteringChecks = new Counter({ name: 'tokenpool_metering_checks_total', help: 'Metering cross-checks run', registers: [registry] });
  new Gauge({
    name: 'tokenpool_metering_discrepancy_ratio',
    help:
      '(engine − metered) / max(engine, metered) tokens over the last hour, for the gateway workloads and clusters whose ' +
      'engine counts and metered tokens differ past the tolerance (only those; positive: traffic that bypassed the gateway)',
    labelNames: ['workload_id', 'cluster_id'] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!lastCheck || sources.clock.now().getTime() - lastCheck.at > METERING_FRESH_MS) return;
      for (const d of lastCheck.discrepancies) this.set({ workload_id: d.workloadId, cluster_id: d.clusterId }, d.ratio);
    },
  });

  return {
    registry,
    httpDuration: new Histogram({
      name: 'tokenpool_http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    usageLatency: new Histogram({
      name: 'tokenpool_usage_ingest_duration_seconds',
      help: 'Time to judge and durably commit one usage batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    audit: {
      refused: (reason) => refusals.inc({ reason }),
      writeFailed: (count) => auditFailures.inc(count),
    },
    requestLog: { writeFailed: (count) => requestLogFailures.inc(count) },
    metering: {
      checked(at, discrepancies) {
        meteringChecks.inc();
        lastCheck = { at: at.getTime(), discrepancies };
      },
    },
    billing: {
      invoiceIssued(planTypes, total) {
        invoicesIssued.inc();
        // A counter never decreases: an invoice whose SLA credits exceed the rest (a negative total) adds nothing.
        billed.inc({ plan_type: planTypeLabel(planTypes) }, Math.max(0, Number(total)));
      },
    },
  };
}
