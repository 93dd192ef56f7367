/**
 * Kysely table types. Conventions, normalized in `connect.ts`:
 * `int8` → JS number (safe integers only), `numeric` → decimal string, `timestamptz` → Date.
 */
import type { ColumnType, Generated } from 'kysely';

/** A PostgreSQL `numeric` value: always read as its exact decimal text. */
export type Numeric = ColumnType<string, string | number, string | number>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface SettingsTable {
  key: string;
  value: string;
}

export interface DeviceProfilesTable {
  id: string;
  seq: Generated<number>;
  name: string;
  vendor: string;
  memory_gib: Numeric;
  tdp_watts: Numeric;
  std_tokens_per_sec: Numeric;
  resource_name: string;
  aliases: ColumnType<string[], string[], string[]>;
  builtin: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** Every name an agent may report for a profile (its name and its aliases), unique across all. */
export interface DeviceNamesTable {
  name: string;
  profile_id: string;
}

export interface ModelsTable {
  id: string;
  seq: Generated<number>;
  name: string;
  min_memory_gib: Numeric;
  cost_factor: Numeric;
  input_factor: Numeric;
  vendors: ColumnType<string[], string[], string[]>;
  /** Vendor → engine id (migration 0023); a vendor not named: its default engine. */
  engines: ColumnType<Record<string, string>, string | undefined, string>;
  /** Where the weights come from (migration 0025, a WeightSource as JSON); null: none set. */
  source: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** The name the engine serves the model under; null: the model's name. */
  served_name: ColumnType<string | null, string | null | undefined, string | null>;
  builtin: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** A serving engine of the catalog (migration 0023). */
export interface EnginesTable {
  id: string;
  seq: Generated<number>;
  name: string;
  vendors: ColumnType<string[], string[], string[]>;
  /** Empty: not configured. */
  image: string;
  args: ColumnType<string[], string[], string[]>;
  env: Json<Record<string, string>>;
  api_key_env: string | null;
  port: number;
  shm_size: string;
  cpu_per_device: string;
  memory_per_device: string;
  health_path: string;
  metrics_path: string;
  metrics_dialect: string;
  startup_seconds: number;
  run_as_non_root: boolean;
  builtin: Generated<boolean>;
  basis: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** The engine a vendor's placements get when their model names none; one per vendor. */
export interface EngineDefaultsTable {
  vendor: string;
  engine_id: string;
}

/** A cluster's own weights source for a model (migration 0025), instead of the model's. */
export interface ModelClusterSourcesTable {
  model_id: string;
  cluster_id: string;
  source: ColumnType<Record<string, unknown>, string, string>;
  updated_at: Generated<Date>;
}

/** An engine's image on one cluster (a private registry's copy), instead of the engine's own. */
export interface EngineClusterImagesTable {
  engine_id: string;
  cluster_id: string;
  image: string;
}

export interface ClustersTable {
  id: string;
  seq: Generated<number>;
  name: string;
  region: string;
  labels: Json<Record<string, string>>;
  agent_token_hash: string;
  cordoned: Generated<boolean>;
  last_heartbeat_at: Timestamp | null;
  /** What its agent last reported it can load weights from (`{ kinds, claims }`, migration 0025); null: never reported. */
  weight_sources: ColumnType<{ kinds: string[]; claims: string[] } | null, string | null | undefined, string | null>;
  /** Last state the TTL sweeper or a heartbeat recorded: `pending | ready | not_ready`. */
  liveness: Generated<string>;
  created_at: CreatedAt;
  /** The provider that owns the cluster (migration 0029); null: none. */
  provider_id: Generated<string | null>;
}

export interface ClusterInventoryTable {
  cluster_id: string;
  device_model: string;
  total: number;
  healthy: number;
}

/** What a cluster's agent last reported of its nodes (migration 0026); no row: never reported. */
export interface ClusterNodesTable {
  cluster_id: string;
  /** The report as sent: `[{ name, deviceModel, total, free }]`; null: capabilities only. */
  nodes: ColumnType<NodeReportRow[] | null, string | null, string | null>;
  /** Per device model: free devices of each node and the largest node's total. */
  fit: ColumnType<Record<string, { free: number[]; largest: number }> | null, string | null, string | null>;
  leader_worker_set: Generated<boolean>;
  reported_at: Date;
}

export interface NodeReportRow {
  name: string;
  deviceModel: string;
  total: number;
  free: number;
}

export interface TenantsTable {
  id: string;
  seq: Generated<number>;
  name: string;
  kind: string;
  max_std_per_min: number | null;
  /** Fair-share weight, > 0 (operator-set; default 1). */
  weight: Generated<number>;
  /** Highest workload priority the tenant may use: `high | normal | low` (operator-set; default `normal`). */
  max_priority: Generated<string>;
  fair_share_std_per_min: Generated<number>;
  fair_share_at: Timestamp | null;
  created_at: CreatedAt;
  /** Operator-set requests per minute across the tenant's credentials; null: the platform default. */
  rpm: number | null;
  /** Operator-set model tokens per minute at the token gateway; null: none. */
  tpm: number | null;
  /** `prepaid` (draws on a topped-up balance; the gateway stops it at zero) or `postpaid` (invoiced monthly). */
  billing_mode: Generated<string>;
  /** Unified social credit code (GB 32100-2015); recognizes the payer on a bank statement. */
  uscc: Generated<string | null>;
}

export interface ApiKeysTable {
  id: string;
  seq: Generated<number>;
  tenant_id: string;
  key_hash: string;
  /** The first characters of the key, safe to show so a user can tell keys apart. */
  key_prefix: string;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
  /** `admin` manages the tenant's keys, users and budget; `member` does the rest. */
  role: Generated<'admin' | 'member'>;
  name: string | null;
  /** Model names the key may call at the token gateway; null: every model. */
  allowed_models: string[] | null;
  /** After this the key no longer authenticates; null: never. */
  expires_at: Timestamp | null;
  /** Requests per minute; null: the platform default only. */
  rpm: number | null;
  /** Model tokens per minute at the token gateway; null: none. */
  tpm: number | null;
  /** Requests in flight at once at the token gateway; null: none. */
  max_concurrent: number | null;
}

export interface WorkloadsTable {
  id: string;
  seq: Generated<number>;
  tenant_id: string;
  name: string;
  kind: string;
  model_id: string;
  tokens_per_min: number;
  priority: string;
  regions: ColumnType<string[] | null, string[] | null, string[] | null>;
  ha: boolean;
  /** pending | placed | running | deleted */
  state: string;
  reason: string | null;
  message: string | null;
  /** Bumped on every change a scheduling cycle must not overwrite (rescale, delete). */
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Timestamp | null;
  /** gateway (called through the token gateway, metered there) | direct (billed from agents' reports) */
  access: Generated<string>;
  /** Run by the operator for every tenant to call through the gateway (migration 0021). */
  shared: Generated<boolean>;
}

export interface PlacementsTable {
  id: string;
  seq: Generated<number>;
  workload_id: string;
  cluster_id: string;
  device_model: string;
  profile_id: string;
  profile_name: string;
  resource_name: string;
  replicas: number;
  devices_per_replica: number;
  tokens_per_min: number;
  ready_replicas: Generated<number>;
  /** placed | running (hold devices) · lost | failed | released (history) */
  state: string;
  created_at: Timestamp;
  ended_at: Timestamp | null;
  /** The secret the agent gives the serving engine as its API key; the gateway presents it. */
  serving_key: Generated<string>;
  /** Base URLs of the ready replicas' OpenAI-compatible servers, as the agent last reported them. */
  endpoints: Generated<string[]>;
  /** What its agent last reported (migration 0024): pending | starting | running | failing; null: never. */
  phase: string | null;
  /** Why it is failing (Unschedulable, ImagePullBackOff, ErrImagePull, CrashLoopBackOff, OOMKilled, WeightsUnavailable, Other). */
  health_reason: string | null;
  /** The kubelet's or scheduler's words about it, at most 1,024 characters. */
  health_message: string | null;
  /** Replicas its Deployment wants, as the agent reported. */
  desired_replicas: number | null;
  /** Start of the current failing spell; null when not failing. */
  failing_since: Timestamp | null;
  /** When all its replicas were first ready; null: never yet. */
  ready_at: Timestamp | null;
  /** When the platform marked it failed and placed its workload again. */
  failed_at: Timestamp | null;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  request_hash: string;
  status: number;
  response: Json<unknown>;
  created_at: Timestamp;
}

export interface PlansTable {
  id: string;
  seq: Generated<number>;
  name: string;
  /** unit | periodic */
  type: string;
  price_per_million_std: Numeric | null;
  period: string | null;
  fee: Numeric | null;
  included_std: Numeric | null;
  overage_price_per_million_std: Numeric | null;
  reserved_std_per_min: number | null;
  is_default: Generated<boolean>;
  created_at: Timestamp;
  /** Model name → `{ multiplier }` or `{ pricePerMillionStd }` (migration 0032); null: none. */
  model_prices: ColumnType<unknown, string | null | undefined, string | null>;
  /** The availability a periodic plan promises and its credit table (migration 0032); null: none. */
  sla: ColumnType<unknown, string | null | undefined, string | null>;
  /** VAT rate of the plan's lines, 0 ≤ rate < 1 (migration 0031). */
  vat_rate: Numeric;
  /** Tax classification code of the plan's service, 19 digits. */
  tax_code: string;
}

export interface SubscriptionsTable {
  id: string;
  seq: Generated<number>;
  tenant_id: string;
  plan_id: string;
  starts_at: Timestamp;
  ends_at: Timestamp | null;
  created_at: Timestamp;
}

export interface InvoicesTable {
  id: string;
  seq: Generated<number>;
  number: string;
  tenant_id: string;
  period: string;
  currency: string;
  status: string;
  total: Numeric;
  /** Σ of the lines' VAT (migration 0031). */
  vat: Numeric;
  /** `total + vat`. */
  total_inclusive: Numeric;
  lines: Json<unknown>;
  rating: Json<unknown>;
  issued_at: Timestamp;
}

/** A tenant's invoicing details as the buyer of an e-fapiao (its USCC is on `tenants`). */
export interface TenantInvoicingTable {
  tenant_id: string;
  address: string;
  phone: string;
  bank: string;
  bank_account: string;
  updated_at: Timestamp;
}

export interface InvoiceCountersTable {
  year: number;
  last: number;
}

/** Accounts of the double-entry ledger (migration 0030), keyed by a text id such as `receivable:<tenant>`. */
export interface LedgerAccountsTable {
  id: string;
  kind: string;
  tenant_id: string | null;
  provider_id: string | null;
  created_at: CreatedAt;
}

/** A journal entry: its postings sum to zero (the database checks it at commit). Append-only. */
export interface JournalEntriesTable {
  id: string;
  seq: Generated<number>;
  kind: string;
  tenant_id: string | null;
  invoice_id: string | null;
  payment_id: string | null;
  credit_note_id: string | null;
  /** The provider statement it posts (kind `statement`). */
  statement_id: string | null;
  /** The provider payout it posts (kind `payout`). */
  payout_id: string | null;
  description: string;
  booked_at: Timestamp;
  created_at: Timestamp;
}

/** One side of a journal entry: debit positive, credit negative, never 0. Append-only. */
export interface PostingsTable {
  id: Generated<number>;
  entry_id: string;
  account_id: string;
  amount: Numeric;
}

/** Money the operator recorded: payments, top-ups and refunds, unique by reference. Append-only. */
export interface PaymentsTable {
  id: string;
  kind: string;
  account: string;
  tenant_id: string;
  amount: Numeric;
  received_at: Timestamp;
  reference: string;
  invoice_id: string | null;
  source: string;
  created_at: Timestamp;
}

/** A credit note: a negative document referencing an invoice (`total` < 0). Append-only. */
export interface CreditNotesTable {
  id: string;
  number: string;
  invoice_id: string;
  tenant_id: string;
  total: Numeric;
  reason: string;
  issued_at: Timestamp;
}

/** Money the operator paid a provider, unique by reference. Append-only. */
export interface ProviderPayoutsTable {
  id: string;
  provider_id: string;
  amount: Numeric;
  paid_at: Timestamp;
  reference: string;
  created_at: Timestamp;
}

export interface DocumentCountersTable {
  series: string;
  year: number;
  last: number;
}

export interface BillingClosesTable {
  period: string;
  /** When the first close ran. */
  cutoff: Timestamp;
  /** The first close's watermark: usage events with a smaller `seq` were billed by it (migration 0028). */
  cutoff_seq: number;
  closed_at: Timestamp;
}

export interface UsageBillingTable {
  tenant_id: string;
  period: string;
  /** When the close that last billed this tenant's period ran. */
  billed_through: Timestamp;
  /** That close's watermark: the tenant's usage events of the period with a smaller `seq` are billed (migration 0028). */
  billed_through_seq: number;
  rating: Json<unknown>;
}

/** A member clusters' operator, paid for the tokens its clusters serve (migration 0029). */
export interface ProvidersTable {
  id: string;
  seq: Generated<number>;
  name: string;
  uscc: string;
  bank_name: string;
  bank_account: string;
  contact_name: string;
  contact_phone: string;
  contact_email: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface ProviderRateCardsTable {
  id: string;
  seq: Generated<number>;
  provider_id: string;
  kind: string;
  terms: Json<unknown>;
  valid_from: Timestamp;
  valid_to: Timestamp | null;
  created_at: CreatedAt;
  /** Whether SLA credits lower the provider's statement (migration 0032). */
  sla_credits: Generated<boolean>;
  /** VAT rate of the statement lines it prices, and their tax classification code (migration 0033). */
  vat_rate: Numeric;
  tax_code: string;
}

export interface ProviderStatementsTable {
  id: string;
  seq: Generated<number>;
  number: string;
  provider_id: string;
  period: string;
  currency: string;
  /** Σ line amounts, exclusive of VAT. */
  total: Numeric;
  /** Σ line VAT, and `total + vat` (migration 0033). */
  vat: Numeric;
  total_inclusive: Numeric;
  lines: Json<unknown>;
  /** When the close that issued it ran. */
  cutoff: Timestamp;
  /** That close's usage watermark: events with a smaller `seq` are paid on this statement or an earlier one. */
  cutoff_seq: number;
  issued_at: Timestamp;
}

export interface StatementCountersTable {
  year: number;
  last: number;
}

export interface ProviderBillingTable {
  provider_id: string;
  period: string;
  /** When the close that last paid for this provider's period ran. */
  billed_through: Timestamp;
  /** That close's watermark: the period's usage events with a smaller `seq` are paid for. */
  billed_through_seq: number;
  paid: Json<Record<string, string>>;
}

export interface UsageEventsTable {
  /** Unique per cluster: the primary key is (cluster_id, id) (migration 0010). */
  id: string;
  tenant_id: string;
  workload_id: string;
  cluster_id: string;
  model_id: string;
  input_tokens: number;
  output_tokens: number;
  std_tokens: Numeric;
  occurred_at: Timestamp;
  received_at: Timestamp;
  /** The calling key of a call the gateway served (migration 0022); null for agents' reports and signed-in users. */
  api_key_id: string | null;
  /** The placement that served a gateway call (migration 0022); null for agents' reports. */
  placement_id: string | null;
  /**
   * Commit order against closes (migration 0028): drawn, one value per inserting statement, while
   * that statement holds the usage watermark lock shared, so an event below a close's watermark was
   * committed before it.
   */
  seq: Generated<number>;
}

/**
 * What agents reported for `access = 'gateway'` workloads (migration 0020): their engines' counts,
 * a cross-check of the gateway's metering, never billed. Append-only; unique per cluster like
 * usage events (primary key (cluster_id, id)).
 */
export interface EngineCountsTable {
  cluster_id: string;
  id: string;
  workload_id: string;
  input_tokens: number;
  output_tokens: number;
  occurred_at: Timestamp;
  received_at: Timestamp;
}

export interface BudgetsTable {
  tenant_id: string;
  monthly_cny: Numeric;
  thresholds: ColumnType<number[], number[], number[]>;
  updated_at: Timestamp;
}

export interface AlertsTable {
  id: string;
  seq: Generated<number>;
  tenant_id: string;
  kind: string;
  period: string;
  threshold: number;
  amount: Numeric;
  budget: Numeric;
  created_at: Timestamp;
}

/** One row: moves whenever the active placements change (migration 0006). */
export interface PlacementEpochTable {
  id: Generated<boolean>;
  epoch: number;
}

export interface UsersTable {
  id: string;
  seq: Generated<number>;
  username: string;
  password_hash: string;
  kind: string;
  tenant_id: string | null;
  admin: Generated<boolean>;
  created_at: Date;
  /** Set while the user is disabled: no sign-in, no session. */
  disabled_at: Generated<Date | null>;
}

export interface SessionsTable {
  id_hash: string;
  kind: string;
  name: string;
  user_id: string | null;
  tenant_id: string | null;
  api_key_id: string | null;
  tenant_admin: Generated<boolean>;
  csrf_token: string;
  created_at: Date;
  expires_at: Date;
}

/** Failed sign-ins per name, token or client address (migration 0015). */
export interface SignInFailuresTable {
  key: string;
  failures: number;
  blocked_until: Date;
  last_failed_at: Date;
}

/**
 * One side of a tenant's count of pending workloads (migration 0017): `pending_in` counts the
 * workloads inserted pending (by a create's insert itself, any other insert by a trigger; migration
 * 0035), `pending_out` those that left pending since, net (by triggers).
 */
export interface PendingCountTable {
  tenant_id: string;
  n: number;
}

/** One change by an operator or a tenant (migration 0012); append-only. */
export interface AuditLogTable {
  seq: Generated<number>;
  at: Date;
  /** `operator | tenant`. */
  actor_kind: string;
  actor_name: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  /** The acting tenant's id (null for the operator). */
  tenant_id: string | null;
  method: string;
  /** The route's template, e.g. `/api/v1/tenants/:id`. */
  route: string;
  /** The path's `:id`, when the route has one. */
  resource_id: string | null;
  /** The id of what a create made (from its answer). */
  created_id: string | null;
  status: number;
  /** The request body with secrets redacted. */
  changes: ColumnType<unknown, string | null, never>;
  address: string | null;
  request_id: string | null;
}

/** The gateway's request log (migration 0019), partitioned by month of `started_at`. */
export interface RequestLogTable {
  seq: Generated<number>;
  /** The `x-request-id` of the call; with `started_at`, the primary key. */
  request_id: string;
  started_at: Date;
  tenant_id: string;
  /** The calling API key; null when a signed-in user called. */
  api_key_id: string | null;
  /** The calling user, when a session called. */
  user_id: string | null;
  /** The platform model name asked for. */
  model: string;
  /** Where it was served; null when refused before routing. */
  workload_id: string | null;
  placement_id: string | null;
  cluster_id: string | null;
  /** `chat.completions | completions | embeddings`. */
  endpoint: string;
  /** The HTTP status answered. */
  status: number;
  /** OpenAI's error `code` of a refusal or failure. */
  error_code: string | null;
  /** As the serving engine reported; null when unknown. */
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** Milliseconds to the first byte of the answer's body; null when none was sent. */
  ttft_ms: number | null;
  duration_ms: number;
  streamed: boolean;
  /** Upstream tries (0 when refused before routing). */
  attempts: number;
}

/** Measured energy and ready replicas of a placement per UTC minute (migration 0027). */
export interface PlacementMinutesTable {
  placement_id: string;
  /** The minute's start. */
  minute: Date;
  cluster_id: string;
  /** Energy its devices used in the minute, as the cluster's power exporter measured it. */
  joules: Generated<number>;
  /** Seconds of the minute the energy measurement covers; 0: none (the row records replicas only). */
  energy_seconds: Generated<number>;
  /** The fewest ready replicas reported in the minute. */
  ready_replicas: number;
}

/** The last energy counter reading of a placement (migration 0027). */
export interface PlacementEnergyStateTable {
  placement_id: string;
  cluster_id: string;
  counter_joules: number;
  power_watts: number | null;
  reported_at: Date;
}

/** A spell in which a workload delivered less than it reserves (migration 0032). */
export interface SlaSpellsTable {
  id: Generated<string>;
  workload_id: string;
  tenant_id: string;
  placement_id: string | null;
  cluster_id: string | null;
  /** lost | failed | under_replicated | unplaced */
  reason: string;
  started_at: Timestamp;
  ended_at: Timestamp | null;
}

/** The SLA credit of one workload for one measured month, and the invoice that carries it (migration 0032). */
export interface SlaCreditsTable {
  workload_id: string;
  period: string;
  tenant_id: string;
  subscription_id: string;
  cluster_id: string | null;
  availability: string;
  credit_percent: Numeric;
  amount: Numeric;
  description: string;
  invoice_id: string | null;
  created_at: Timestamp;
  /** The provider statement that carried it, for credits made before migration 0036 (shares since). */
  statement_id: Generated<string | null>;
}

/** A responsible cluster's share of an SLA credit (migration 0036). */
export interface SlaCreditSharesTable {
  workload_id: string;
  period: string;
  subscription_id: string;
  cluster_id: string;
  /** Its counted spells' short minutes in the month; null for credits made before migration 0036. */
  short_minutes: number | null;
  /** Negative CNY, two decimals. */
  amount: Numeric;
  /** The provider statement that takes it off, when the provider's rate card says so. */
  statement_id: Generated<string | null>;
}

/** The city's totals per UTC minute (migration 0034): gauges sampled at the minute, flows counted over it. */
export interface HistoryMinutesTable {
  /** The minute's start. */
  minute: Date;
  /** When the gauges were read. */
  sampled_at: Date;
  total_std_per_min: number;
  allocated_std_per_min: number;
  free_std_per_min: number;
  clusters_ready: number;
  clusters_not_ready: number;
  clusters_cordoned: number;
  /** When the flows were last counted; null: not yet. */
  counted_at: Date | null;
  gateway_std_tokens: Generated<Numeric>;
  agent_std_tokens: Generated<Numeric>;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  requests: Generated<number>;
  failed_requests: Generated<number>;
  /** Null: no energy measured in the minute. */
  energy_joules: number | null;
  energy_seconds: Generated<number>;
  measured_std_tokens: Numeric | null;
}

export interface DB {
  settings: SettingsTable;
  device_profiles: DeviceProfilesTable;
  device_names: DeviceNamesTable;
  models: ModelsTable;
  engines: EnginesTable;
  engine_defaults: EngineDefaultsTable;
  engine_cluster_images: EngineClusterImagesTable;
  model_cluster_sources: ModelClusterSourcesTable;
  clusters: ClustersTable;
  cluster_inventory: ClusterInventoryTable;
  cluster_nodes: ClusterNodesTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  workloads: WorkloadsTable;
  placements: PlacementsTable;
  idempotency_keys: IdempotencyKeysTable;
  plans: PlansTable;
  subscriptions: SubscriptionsTable;
  invoices: InvoicesTable;
  tenant_invoicing: TenantInvoicingTable;
  invoice_counters: InvoiceCountersTable;
  ledger_accounts: LedgerAccountsTable;
  journal_entries: JournalEntriesTable;
  postings: PostingsTable;
  payments: PaymentsTable;
  credit_notes: CreditNotesTable;
  provider_payouts: ProviderPayoutsTable;
  document_counters: DocumentCountersTable;
  billing_closes: BillingClosesTable;
  usage_billing: UsageBillingTable;
  providers: ProvidersTable;
  provider_rate_cards: ProviderRateCardsTable;
  provider_statements: ProviderStatementsTable;
  statement_counters: StatementCountersTable;
  provider_billing: ProviderBillingTable;
  usage_events: UsageEventsTable;
  engine_counts: EngineCountsTable;
  budgets: BudgetsTable;
  alerts: AlertsTable;
  placement_epoch: PlacementEpochTable;
  users: UsersTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
  sign_in_failures: SignInFailuresTable;
  pending_in: PendingCountTable;
  pending_out: PendingCountTable;
  request_log: RequestLogTable;
  placement_minutes: PlacementMinutesTable;
  placement_energy_state: PlacementEnergyStateTable;
  sla_spells: SlaSpellsTable;
  sla_credits: SlaCreditsTable;
  sla_credit_shares: SlaCreditSharesTable;
  history_minutes: HistoryMinutesTable;
}
