/**
 * createApp: the platform service as an Express app over an open database. Builds every
 * repository and service from its dependencies; holds no module-level state.
 */
import { sql } from 'kysely';
import type { Database } from '../db/connect.js';
import { migrateToLatest, readinessProbe } from '../db/migrate.js';
import { resolveAdminToken, type AdminToken } from './auth/admin-token.js';
import { createAuthenticator } from './auth/authenticate.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { catalogRoutes } from './http/catalog.routes.js';
import { clusterRoutes } from './http/clusters.routes.js';
import { openApiDocument } from './http/openapi.js';
import type { AnyRoute } from './http/route.js';
import { createHttpServer } from './http/server.js';
import { tenantRoutes } from './http/tenants.routes.js';
import { sessionRoutes } from './http/session.routes.js';
import { AccountsRepository } from './repositories/accounts.repository.js';
import { AccountsService } from './services/accounts.service.js';
import { TtlSweeper } from './jobs/ttl-sweeper.js';
import { jsonLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { CatalogRepository } from './repositories/catalog.repository.js';
import { ClustersRepository } from './repositories/clusters.repository.js';
import { SettingsRepository } from './repositories/settings.repository.js';
import { TenantsRepository } from './repositories/tenants.repository.js';
import { CatalogService } from './services/catalog.service.js';
import { ClustersService } from './services/clusters.service.js';
import { TenantsService } from './services/tenants.service.js';
import { WorkloadsService } from './services/workloads.service.js';
import { WorkloadsRepository } from './repositories/workloads.repository.js';
import { workloadRoutes } from './http/workloads.routes.js';
import { AdvisoryLockElector, alwaysLeader, WAKE_CHANNEL, type LeaderElector } from './scheduling/leader.js';
import { Scheduler } from './scheduling/scheduler.js';
import { PlansRepository } from './repositories/plans.repository.js';
import { PlansService } from './services/plans.service.js';
import { planRoutes } from './http/plans.routes.js';
import { billingRoutes } from './http/billing.routes.js';
import { BillingRepository } from './repositories/billing.repository.js';
import { BillingService } from './services/billing.service.js';
import { PeriodCloseJob } from './jobs/period-close.js';
import type { RequestListener } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { meRoutes } from './http/me.routes.js';
import { usageRoutes } from './http/usage.routes.js';
import { UsageRepository } from './repositories/usage.repository.js';
import { UsageService } from './services/usage.service.js';
import { BudgetsRepository } from './repositories/budgets.repository.js';
import { BudgetsService } from './services/budgets.service.js';
import { budgetRoutes } from './http/budgets.routes.js';

export const API_VERSION = '1.0.0';
/** The shortest time between two wake-ups a replica that does not lead sends the leader. */
const WAKE_INTERVAL_MS = 20;

export interface AppDeps {
  readonly database: Database;
  readonly config: Config;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** In a worker of a multi-process server: shares `registry` with the primary, returns all workers' metrics. */
  readonly shareMetrics?: (registry: Registry) => () => Promise<string>;
}

export interface App {
  /** The HTTP request listener (server/http/server.ts). */
  readonly handler: RequestListener;
  /** The same requests with every route answered through Express (the dispatch parity test compares the two). */
  readonly express: RequestListener;
  readonly context: AppContext;
  readonly adminToken: AdminToken;
  readonly routes: readonly AnyRoute[];
  readonly sweeper: TtlSweeper;
  readonly scheduler: Scheduler;
  readonly leader: LeaderElector;
  /** Starts background work (leader election, the scheduler, the TTL sweeper). */
  start(): void;
  /** Stops background work; the database stays open (its owner closes it). */
  stop(): Promise<void>;
}

/** Migrates the database, seeds the built-in catalog once, and builds the app. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { database, config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? jsonLogger();
  const db = database.db;

  await migrateToLatest(db);

  const settings = new SettingsRepository(db);
  const catalogRepo = new CatalogRepository(db);
  const clustersRepo = new ClustersRepository(db);
  const tenantsRepo = new TenantsRepository(db);
  const ttlMs = config.clusterTtlSeconds * 1000;

  const catalog = new CatalogService(catalogRepo, settings, clock);
  await catalog.seedBuiltins();
  const workloadsRepo = new WorkloadsRepository(db);
  const plansRepo = new PlansRepository(db);
  const plans = new PlansService(plansRepo, tenantsRepo, settings, clock);
  await plans.seedDefault();
  const tenants = new TenantsService(tenantsRepo, clock, (keyId) => auth.forget((p) => p.kind === 'tenant' && p.apiKeyId === keyId));
  const adminToken = await resolveAdminToken(settings, config.adminToken);

  // Several replicas may share a PostgreSQL: one, elected by an advisory lock, schedules.
  const leader = database.kind === 'postgres' && database.url ? new AdvisoryLockElector(database.url, log) : alwaysLeader();
  let clusters: ClustersService | undefined;
  const metrics = createMetrics({ pool: () => clusters!.pool() });
  const billingRepo = new BillingRepository(db);
  const invoicesIssued = new Counter({ name: 'tokenpool_invoices_issued_total', help: 'Invoices issued', registers: [metrics.registry] });
  const billed = new Counter({
    name: 'tokenpool_billed_amount_cny_total', help: 'Amount invoiced in CNY, by plan type (unit, periodic, or mixed within a month)',
    labelNames: ['plan_type'] as const, registers: [metrics.registry],
  });
  const billing = new BillingService(billingRepo, plansRepo, clock, config.timezone, log, {
    invoiceIssued(types, total) {
      invoicesIssued.inc();
      const kinds = [...new Set(types)];
      billed.inc({ plan_type: kinds.length === 1 ? kinds[0]! : kinds.length === 0 ? 'none' : 'mixed' }, Number(total));
    },
  });

  // A replica that does not lead asks the leader for a cycle by NOTIFY: at most one in flight and
  // one per WAKE_INTERVAL_MS, with one more for whatever happened meanwhile. A burst of creates
  // then costs the database a few notifications, not one per create; the leader's cycle would
  // take them together anyway.
  let waking = false;
  let wakeAgain = false;
  let lastWake = 0;
  const wakeLeader = (): void => {
    if (database.kind !== 'postgres') return;
    if (waking) {
      wakeAgain = true;
      return;
    }
    waking = true;
    const wait = Math.max(0, lastWake + WAKE_INTERVAL_MS - Date.now());
    setTimeout(() => {
      lastWake = Date.now();
      sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(db).then(() => undefined, (err: unknown) => log.warn('could not wake the scheduler leader', { error: String(err) }))
        .finally(() => {
          waking = false;
          if (wakeAgain) {
            wakeAgain = false;
            wakeLeader();
          }
        });
    }, wait);
  };
  const scheduler = new Scheduler({
    wakeLeader,
    clusters: clustersRepo, catalog: catalogRepo, tenants: tenantsRepo, workloads: workloadsRepo, plans: plansRepo, tenantsRepo,
    ttlMs, halfLifeMs: config.fairShareHalfLifeSeconds * 1000, clock, log, leader, registry: metrics.registry,
    exhausted: (known) => billing.exhaustedTenants(known),
  });
  clusters = new ClustersService(clustersRepo, catalog, clock, ttlMs, {
    held: (ids) => workloadsRepo.heldDevices(ids),
    desired: (id) => workloadsRepo.desiredFor(id),
    onTokenRevoked: (clusterId) => auth.forget((p) => p.kind === 'agent' && p.clusterId === clusterId),
    onHeartbeat: async (hb) => {
      await workloadsRepo.recordReady(hb.clusterId, hb.running, clock.now());
      if (hb.inventoryChanged || hb.previousLiveness !== 'ready') scheduler.trigger();
    },
  });
  const workloads = new WorkloadsService(workloadsRepo, catalogRepo, tenantsRepo, scheduler, clock);
  const usage = new UsageService(new UsageRepository(db), clock, config.timezone);
  const budgets = new BudgetsService(new BudgetsRepository(db), tenantsRepo, billing, clock, log);
  const periodClose = new PeriodCloseJob(billing, billingRepo, leader, clock, config.timezone, log);
  const accounts = new AccountsService(new AccountsRepository(db), tenantsRepo, (token) => auth.identify(token), clock);
  const context: AppContext = { config, clock, log, database, metrics, scheduler, services: { catalog, clusters, tenants, workloads, plans, billing, usage, budgets, accounts } };
  const auth = createAuthenticator({
    adminTokenHashes: () => [adminToken.hash],
    findApiKey: (hash) => tenantsRepo.findActiveKey(hash),
    findAgent: (hash) => clustersRepo.findByTokenHash(hash),
    findSession: (hash) => accounts.sessionOf(hash),
  });
  const routes = [...catalogRoutes(context), ...clusterRoutes(context), ...tenantRoutes(context), ...workloadRoutes(context), ...planRoutes(context), ...billingRoutes(context), ...meRoutes(context), ...usageRoutes(context), ...budgetRoutes(context), ...sessionRoutes(context)];
  const sweeper = new TtlSweeper({ repo: clustersRepo, clock, ttlMs, log, onNotReady: () => scheduler.trigger() });

  const http = createHttpServer({
    routes, auth, log, metrics,
    // In a multi-process server every worker's metrics, added up by the primary; else this process's.
    metricsText: deps.shareMetrics ? deps.shareMetrics(metrics.registry) : () => metrics.registry.metrics(),
    ready: readinessProbe(db),
    openapi: openApiDocument(routes, API_VERSION),
  });

  let budgetTimer: NodeJS.Timeout | undefined;
  let budgetRun: Promise<unknown> | undefined;
  return {
    express: http.viaExpress,
    handler: http.handler,
    context,
    adminToken,
    routes,
    sweeper,
    scheduler,
    leader,
    start: () => {
      leader.start();
      scheduler.start();
      sweeper.start();
      periodClose.start();
      // Budget thresholds are checked every 30 s by the leader.
      budgetTimer = setInterval(() => {
        if (!leader.isLeader() || budgetRun) return;
        budgetRun = budgets.evaluate().catch((err: unknown) => log.error('budget check failed', { error: String(err) })).finally(() => (budgetRun = undefined));
      }, 30_000);
      budgetTimer.unref();
    },
    stop: async () => {
      clearInterval(budgetTimer);
      await budgetRun;
      await periodClose.stop();
      await sweeper.stop();
      await scheduler.stop();
      await leader.stop();
    },
  };
}
