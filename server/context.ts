import type { AccountsService } from './services/accounts.service.js';
import type { Database } from '../db/connect.js';
import type { Calendar } from './billing/periods.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { CatalogService } from './services/catalog.service.js';
import type { ClustersService } from './services/clusters.service.js';
import type { EnginesService } from './services/engines.service.js';
import type { TenantsService } from './services/tenants.service.js';
import type { WorkloadsService } from './services/workloads.service.js';
import type { PlansService } from './services/plans.service.js';
import type { BillingService } from './services/billing.service.js';
import type { HistoryService } from './services/history.service.js';
import type { InvoicingService } from './services/invoicing.service.js';
import type { LedgerService } from './services/ledger.service.js';
import type { UsageService } from './services/usage.service.js';
import type { BudgetsService } from './services/budgets.service.js';
import type { Scheduler } from './scheduling/scheduler.js';

/** Everything a route needs, built once by createApp and passed down; nothing is global. */
export interface AppContext {
  readonly config: Config;
  readonly clock: Clock;
  /** The billing time zone's calendar (TOKENPOOL_TIMEZONE). */
  readonly calendar: Calendar;
  readonly log: Logger;
  readonly database: Database;
  readonly metrics: Metrics;
  readonly services: {
    readonly catalog: CatalogService;
    readonly engines: EnginesService;
    readonly clusters: ClustersService;
    readonly tenants: TenantsService;
    readonly workloads: WorkloadsService;
    readonly plans: PlansService;
    readonly billing: BillingService;
    readonly invoicing: InvoicingService;
    readonly ledger: LedgerService;
    readonly usage: UsageService;
    readonly budgets: BudgetsService;
    readonly accounts: AccountsService;
    readonly history: HistoryService;
  };
  readonly scheduler: Scheduler;
}
