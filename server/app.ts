/**
 * createApp: the platform service as an Express app over an open database. Builds every
 * repository and service from its dependencies; holds no module-level state.
 */
import type { Database } from '../db/connect.js';
import { migrateToLatest, readinessProbe } from '../db/migrate.js';
import { adminTokenHashes, resolveAdminToken, type AdminToken } from './auth/admin-token.js';
import { createAuthenticator } from './auth/authenticate.js';
import { shareRevocations } from './auth/revocation.js';
import { IdGenerator } from './auth/tokens.js';
import { Calendar } from './billing/periods.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { EventBus } from './events.js';
import { catalogRoutes } from './http/catalog.routes.js';
import { engineRoutes } from './http/engines.routes.js';
import { weightRoutes } from './http/weights.routes.js';
import { EnginesRepository } from './repositories/engines.repository.js';
import { EnginesService } from './services/engines.service.js';
import { clusterRoutes } from './http/clusters.routes.js';
import { openApiDocument } from './http/openapi.js';
import type { AnyRoute } from './http/route.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { requestRates } from './http/rate-limit.js';
import { createLimitStore } from './limits/fallback.js';
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
import { AdvisoryLockElector, alwaysLeader, type LeaderElector } from './scheduling/leader.js';
import { PgNotifier, pgNotify } from './scheduling/notifier.js';
import { Scheduler } from './scheduling/scheduler.js';
import { PlansRepository } from './repositories/plans.repository.js';
import { PlansService } from './services/plans.service.js';
import { planRoutes } from './http/plans.routes.js';
import { billingRoutes } from './http/billing.routes.js';
import { invoicingRoutes } from './http/invoicing.routes.js';
import { InvoicingRepository } from './repositories/invoicing.repository.js';
import { InvoicingService } from './services/invoicing.service.js';
import { InvoicePdf } from './documents/invoice-pdf.js';
import { BillingRepository } from './repositories/billing.repository.js';
import { BillingService } from './services/billing.service.js';
import { ProvidersRepository } from './repositories/providers.repository.js';
import { ProvidersService } from './services/providers.service.js';
import { SettlementService } from './services/settlement.service.js';
import { providerRoutes } from './http/providers.routes.js';
import { ledgerRoutes } from './http/ledger.routes.js';
import { LedgerRepository } from './repositories/ledger.repository.js';
import { LedgerService } from './services/ledger.service.js';
import { budgetCheckJob } from './jobs/budget-check.js';
import { PeriodCloseJob } from './jobs/period-close.js';
import type { LeaderJob } from './jobs/leader-job.js';
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import { meRoutes } from './http/me.routes.js';
import { usageRoutes } from './http/usage.routes.js';
import { UsageRepository } from './repositories/usage.repository.js';
import { UsageService } from './services/usage.service.js';
import { BudgetsRepository } from './repositories/budgets.repository.js';
import { BudgetsService } from './services/budgets.service.js';
import { budgetRoutes } from './http/budgets.routes.js';
import { auditRoutes } from './http/audit.routes.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { AuditService } from './services/audit.service.js';
import { auditRetentionJob } from './jobs/audit-retention.js';
import { requestRoutes } from './http/requests.routes.js';
import { gatewayRoutes } from './http/gateway.routes.js';
import { GatewayService } from './gateway/gateway.service.js';
import { Upstream } from './gateway/upstream.js';
import { Tunnels } from './tunnel/tunnels.js';
import { tunnelRoutes } from './http/tunnel.routes.js';
import { LiveProcesses, newProcessId } from './tunnel/processes.js';
import { PROCESS_APPLICATION_PREFIX, ProcessesRepository } from './repositories/processes.repository.js';
import { MeterJournal } from './gateway/meter-journal.js';
import { Metering } from './gateway/metering.js';
import { RequestsRepository } from './repositories/requests.repository.js';
import { RequestLogService } from './services/requests.service.js';
import { requestLogRetentionJob } from './jobs/request-log-retention.js';
import { meteringCheckJob } from './jobs/metering-check.js';
import { energyRoutes } from './http/energy.routes.js';
import { EnergyRepository } from './repositories/energy.repository.js';
import { EnergyService } from './services/energy.service.js';
import { energyRetentionJob } from './jobs/energy-retention.js';
import { historyRoutes } from './http/history.routes.js';
import { HistoryRepository } from './repositories/history.repository.js';
import { HistoryService } from './services/history.service.js';
import { HistorySampleJob, historyRetentionJob } from './jobs/history.js';

export const API_VERSION = '1.0.0';

export interface AppDeps {
  readonly database: Database;
  readonly config: Config;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** In a worker of a multi-process server: shares `registry` with the primary, returns all workers' metrics. */
  readonly shareMetrics?: (registry: Registry) => () => Promise<string>;
  /**
   * `gateway`: a gateway-only process (`npm run gateway`) — the token gateway's routes (`/v1/*`)
   * beside /healthz, /readyz and /metrics, no background work, never the scheduler's leader (it
   * still hears other replicas' notices, such as revoked keys). Default `all`: the whole platform.
   */
  readonly role?: 'all' | 'gateway';
}

export interface App {
  /** The HTTP request listener (server/http/server.ts). */
  readonly handler: RequestListener;
  /** The same requests with every route answered through Express (the dispatch parity test compares the two). */
  readonly express: RequestListener;
  /** node:http's `upgrade` listener (the agents' tunnels); a server that serves `handler` listens with it too. */
  readonly upgrade: HttpServer['upgrade'];
  /** The agents' tunnels this process holds (server/tunnel/tunnels.ts). */
  readonly tunnels: Tunnels;
  readonly context: AppContext;
  readonly adminToken: AdminToken;
  readonly routes: readonly AnyRoute[];
  readonly sweeper: TtlSweeper;
  readonly scheduler: Scheduler;
  readonly leader: LeaderElector;
  readonly jobs: {
    readonly periodClose: PeriodCloseJob;
    readonly budgetCheck: LeaderJob;
    readonly auditRetention: LeaderJob;
    readonly requestLogRetention: LeaderJob;
    /** Compares gateway workloads' engine counts with their metered tokens (server/jobs/metering-check.ts). */
    readonly meteringCheck: LeaderJob;
    /** Deletes measured energy past its retention (server/jobs/energy-retention.ts). */
    readonly energyRetention: LeaderJob;
    /** Samples the city's totals every minute, and at start (server/jobs/history.ts). */
    readonly historySample: HistorySampleJob;
    /** Deletes history past its retention (server/jobs/history.ts). */
    readonly historyRetention: LeaderJob;
  };
  /** The audit trail (server/services/audit.service.ts). */
  readonly audit: AuditService;
  /** The gateway's request log (server/services/requests.service.ts): the gateway records each request there. */
  readonly requests: RequestLogService;
  /** The city's totals per minute (server/services/history.service.ts). */
  readonly history: HistoryService;
  /** The token gateway (server/gateway/gateway.service.ts). */
  readonly gateway: GatewayService;
  /** The gateway's metering: its journal and batches (server/gateway/metering.ts). */
  readonly metering: Metering;
  /** Starts background work (leader election, the scheduler, the TTL sweeper, the period close, the budget check, the history sampler, the retentions). */
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
  const ids = new IdGenerator(clock);
  const calendar = new Calendar(config.timezone);
  const events = new EventBus(log);

  const engines = new EnginesService(new EnginesRepository(db), settings, clock, ids);
  await engines.seedBuiltins();
  const catalog = new CatalogService(catalogRepo, settings, clock, ids, (m) => engines.checkModelEngines(m));
  await catalog.seedBuiltins();
  const workloadsRepo = new WorkloadsRepository(db);
  const plansRepo = new PlansRepository(db);
  const plans = new PlansService(plansRepo, tenantsRepo, settings, clock, ids, config.vat.defaultRate);
  await plans.seedDefault();
  const tenants = new TenantsService(tenantsRepo, clock, ids, events, async () => (await catalogRepo.allModels()).map((m) => m.name));
  const adminToken = await resolveAdminToken(settings, config.adminToken);

  // This process among the platform's: agents keep a tunnel to each live one (server/tunnel/processes.ts).
  const processId = newProcessId();
  // Several replicas may share a PostgreSQL: one, elected by an advisory lock, schedules; the
  // others wake it through the notifier, which listens on the elector's lock connection.
  const notifier = database.kind === 'postgres' && database.url ? new PgNotifier({ send: pgNotify(db), clock, log }) : undefined;
  const gatewayOnly = deps.role === 'gateway';
  const leader: LeaderElector =
    notifier && database.url
      ? new AdvisoryLockElector({
          url: database.url,
          log,
          onConnect: (client) => notifier.listen(client),
          candidate: !gatewayOnly,
          applicationName: `${PROCESS_APPLICATION_PREFIX}${processId}`,
        })
      : alwaysLeader();
  const energy = new EnergyService(new EnergyRepository(db), clock, { retentionDays: config.energyRetentionDays });
  const clusters = new ClustersService(clustersRepo, catalog, clock, ids, events, ttlMs, {
    recordEnergy: (id, running, now) => energy.record(id, running, now),
    held: (clusterIds) => workloadsRepo.heldDevices(clusterIds),
    desired: (id) => engines.desired(id),
    recordReady: (id, running, now) => workloadsRepo.recordReady(id, running, now),
  });
  const metrics = createMetrics({ pool: () => clusters.pool(), clock, events });
  const billingRepo = new BillingRepository(db);
  const billing = new BillingService(billingRepo, plansRepo, clock, ids, calendar, log, metrics.billing, undefined, config.vat.defaultRate);
  const invoicing = new InvoicingService(new InvoicingRepository(db), settings, billing, new InvoicePdf(config.vat.invoiceFont), clock);
  const providersRepo = new ProvidersRepository(db);
  const providers = new ProvidersService(providersRepo, clock, ids, config.vat.defaultRate);
  const settlement = new SettlementService(providersRepo, clock, ids, calendar, log, undefined, config.vat.defaultRate);
  // The providers' statements are made by the billing close, after its invoices (a revenue share needs them).
  billing.onClose((period, through, closedBefore) => settlement.closeStatements(period, through, closedBefore));
  const ledger = new LedgerService(new LedgerRepository(db), clock, ids, calendar, { costSoFar: (tenantIds) => billing.periodsSoFar(tenantIds) });
  const scheduler = new Scheduler({
    clusters: clustersRepo,
    catalog: catalogRepo,
    tenants: tenantsRepo,
    workloads: workloadsRepo,
    plans: plansRepo,
    tenantsRepo,
    ttlMs,
    halfLifeMs: config.fairShareHalfLifeSeconds * 1000,
    healthDeadlines: { failAfterMs: config.placementHealth.failAfterSeconds * 1000, startupMs: config.placementHealth.startupSeconds * 1000 },
    avoidFailedMs: config.placementHealth.avoidSeconds * 1000,
    measuredEnergy: (now) => energy.measured(now),
    clock,
    log,
    leader,
    registry: metrics.registry,
    ids,
    events,
    notifier,
    exhausted: (known) => billing.exhaustedTenants(known),
    cycleOptions: { weights: config.schedulerWeights, scorePercentage: config.schedulerScorePercentage },
  });
  const workloads = new WorkloadsService(workloadsRepo, catalogRepo, tenantsRepo, scheduler, clock, ids, events, {
    maxPendingPerTenant: config.maxPendingPerTenant,
    maxConcurrentDryRuns: config.maxConcurrentDryRuns,
  });
  // Reports wait for the gateway's metering (made below) to commit what this process answered.
  const usage: UsageService = new UsageService(new UsageRepository(db), clock, calendar, events, (): Promise<void> => metering.settled());
  const budgets = new BudgetsService(new BudgetsRepository(db), tenantsRepo, billing, clock, ids, log);
  const periodClose = new PeriodCloseJob(billing, billingRepo, leader, clock, calendar, log);
  const budgetCheck = budgetCheckJob(budgets, leader, log);
  const meteringCheck = meteringCheckJob(usage, config.meteringTolerance, metrics.metering, leader, log);
  const audit = new AuditService(new AuditRepository(db), clock, log, metrics.audit, config.auditRetentionDays);
  const auditRetention = auditRetentionJob(audit, leader, log);
  const requests = new RequestLogService(new RequestsRepository(db), clock, log, metrics.requestLog, config.requestLogRetentionDays);
  await requests.ensurePartitions();
  const energyRetention = energyRetentionJob(energy, leader, log);
  const history = new HistoryService(
    new HistoryRepository(db),
    clock,
    calendar,
    { pool: () => clusters.pool(), energy: async (from, to) => (await energy.figures({ from, to }, 'cluster')).items },
    { retentionDays: config.historyRetentionDays },
  );
  const historySample = new HistorySampleJob(history, leader, log);
  const historyRetention = historyRetentionJob(history, leader, log);
  const requestLogRetention = requestLogRetentionJob(requests, () => usage.purgeEngineCounts(config.engineCountsRetentionDays), leader, log);
  // rpm, tpm and maxConcurrent: in this process's memory, or in Redis shared by every process (server/limits/).
  const limitStore = await createLimitStore({
    redisUrl: config.redis.url,
    timeoutMs: config.redis.timeoutMs,
    prefix: config.redis.prefix,
    now: () => clock.now().getTime(),
    log,
    registry: metrics.registry,
  });
  const metering: Metering = new Metering({ meter: (calls) => usage.meter(calls), journal: openJournal(config.meteringJournal, log), log });
  // The agents' tunnels this process holds, for clusters that accept no inbound connection.
  const tunnels = new Tunnels({ log, registry: metrics.registry });
  const processesRepo = new ProcessesRepository(db);
  const processes = new LiveProcesses({
    self: processId,
    ...(notifier ? { list: (limit: number) => processesRepo.live(limit) } : {}),
    now: () => clock.now().getTime(),
    log,
  });
  const upstream = new Upstream({ now: () => performance.now(), connectionsPerEndpoint: config.gatewayConnectionsPerEndpoint, tunnels });
  const gateway = new GatewayService({
    clock,
    log,
    upstream,
    targets: (model) => workloadsRepo.servingTargets(model),
    modelNames: async () => (await catalogRepo.allModels()).map((m) => m.name),
    limits: (tenantId, apiKeyId) => tenants.requestRates(tenantId, apiKeyId),
    metering,
    record: (entry) => requests.record(entry),
    // One rule, one cache: a used-up hard cap and a used-up prepaid balance both answer insufficient_quota.
    exhausted: async () => {
      const [capped, prepaid] = await Promise.all([billing.exhaustedTenants(), ledger.exhaustedPrepaid()]);
      return new Set([...capped, ...prepaid]);
    },
    registry: metrics.registry,
    limitStore,
    tunnels,
  });
  const accounts = new AccountsService(new AccountsRepository(db), tenantsRepo, (token) => auth.identify(token), clock, ids);
  const context: AppContext = {
    config,
    clock,
    calendar,
    log,
    database,
    metrics,
    scheduler,
    services: { catalog, engines, clusters, tenants, workloads, plans, billing, invoicing, ledger, usage, budgets, accounts, history },
  };
  const auth = createAuthenticator(
    {
      adminTokenHashes: adminTokenHashes(adminToken, settings),
      findApiKey: (hash) => tenantsRepo.findActiveKey(hash),
      findAgent: (hash) => clustersRepo.findByTokenHash(hash),
      findSession: (hash) => accounts.sessionOf(hash),
    },
    () => clock.now().getTime(),
  );
  // A credential that stopped working leaves this process's cache at once, and every other replica's.
  // An agent's tunnel ends with its token (replaced, or its cluster removed).
  shareRevocations(events, auth, notifier, log, (c) => {
    if (c.kind === 'agent') tunnels.drop(c.clusterId);
  });
  const routes = gatewayOnly
    ? [...gatewayRoutes(gateway), ...tunnelRoutes(tunnels, processes)]
    : [
        ...catalogRoutes(context),
        ...engineRoutes(context),
        ...clusterRoutes(context),
        ...weightRoutes(context),
        ...tenantRoutes(context),
        ...workloadRoutes(context),
        ...planRoutes(context),
        ...billingRoutes(context),
        ...invoicingRoutes(context),
        ...providerRoutes(providers, settlement),
        ...ledgerRoutes(context),
        ...meRoutes(context),
        ...usageRoutes(context),
        ...budgetRoutes(context),
        ...sessionRoutes(context),
        ...auditRoutes(audit),
        ...requestRoutes(requests),
        ...energyRoutes(energy),
        ...historyRoutes(history),
        ...gatewayRoutes(gateway),
        ...tunnelRoutes(tunnels, processes),
      ];
  const sweeper = new TtlSweeper({ repo: clustersRepo, clock, ttlMs, log, events });

  const http = createHttpServer({
    routes,
    auth,
    clock,
    log,
    metrics,
    // In a multi-process server every worker's metrics, added up by the primary; else this process's.
    metricsText: deps.shareMetrics ? deps.shareMetrics(metrics.registry) : () => metrics.registry.metrics(),
    ready: readinessProbe(db),
    openapi: openApiDocument(routes, API_VERSION),
    audit: audit.observe,
    admit: requestRates({
      store: limitStore,
      defaults: config.requestRates,
      ratesOf: (tenantId, apiKeyId) => tenants.requestRates(tenantId, apiKeyId),
    }),
    bodies: { concurrency: config.http.bodyConcurrency, queue: config.http.bodyQueue },
    trustedProxies: config.http.trustedProxies,
  });

  return {
    express: http.viaExpress,
    handler: http.handler,
    upgrade: http.upgrade,
    tunnels,
    context,
    adminToken,
    routes,
    sweeper,
    scheduler,
    leader,
    jobs: { periodClose, budgetCheck, auditRetention, requestLogRetention, meteringCheck, energyRetention, historySample, historyRetention },
    audit,
    history,
    requests,
    gateway,
    metering,
    start: () => {
      leader.start();
      metering.start();
      // A gateway process runs no jobs and never schedules (it hears notices on the elector's connection).
      if (gatewayOnly) return;
      scheduler.start();
      sweeper.start();
      periodClose.start();
      budgetCheck.start();
      auditRetention.start();
      requestLogRetention.start();
      energyRetention.start();
      historySample.start();
      historyRetention.start();
      meteringCheck.start();
    },
    stop: async () => {
      await meteringCheck.stop();
      await requestLogRetention.stop();
      await energyRetention.stop();
      await historySample.stop();
      await historyRetention.stop();
      await auditRetention.stop();
      await budgetCheck.stop();
      await audit.settled();
      await requests.settled();
      await tunnels.close();
      await upstream.close();
      await metering.stop();
      await periodClose.stop();
      await sweeper.stop();
      await scheduler.stop();
      await notifier?.stop();
      await leader.stop();
      await limitStore.close();
      // prom-client's GC observer (default metrics) lives as long as the process and holds the
      // registry: emptied, the registry no longer holds this app (its gauges' callbacks do).
      metrics.registry.clear();
    },
  };
}

/** The metering journal in `dir`; none when off, or when `dir` cannot be written (logged: answers then wait for their commit). */
function openJournal(dir: string | undefined, log: Logger): MeterJournal | undefined {
  if (dir === undefined) return undefined;
  try {
    return new MeterJournal(dir);
  } catch (err) {
    log.error('the metering journal cannot be opened; answers wait for their usage to be committed', { dir, error: String(err) });
    return undefined;
  }
}
