import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_workloads.js';
import * as m0003 from './0003_billing.js';
import * as m0004 from './0004_usage.js';
import * as m0005 from './0005_budgets.js';
import * as m0006 from './0006_placement_epoch.js';
import * as m0007 from './0007_users_sessions.js';
import * as m0008 from './0008_tenant_weight.js';
import * as m0009 from './0009_ledger_append_only.js';
import * as m0010 from './0010_usage_event_scope.js';
import * as m0011 from './0011_max_priority.js';
import * as m0012 from './0012_audit_log.js';
import * as m0013 from './0013_key_roles.js';
import * as m0014 from './0014_key_limits.js';
import * as m0015 from './0015_sign_in_throttle.js';
import * as m0016 from './0016_pending_by_tenant.js';
import * as m0017 from './0017_pending_counts.js';
import * as m0018 from './0018_serving.js';
import * as m0019 from './0019_request_log.js';
import * as m0020 from './0020_engine_counts.js';
import * as m0021 from './0021_shared_workloads.js';
import * as m0022 from './0022_usage_attribution.js';
import * as m0023 from './0023_engines.js';
import * as m0024 from './0024_placement_health.js';
import * as m0025 from './0025_weights.js';
import * as m0026 from './0026_cluster_nodes.js';
import * as m0027 from './0027_placement_energy.js';
import * as m0028 from './0028_usage_watermark.js';
import * as m0029 from './0029_providers.js';
import * as m0030 from './0030_double_entry_ledger.js';
import * as m0031 from './0031_vat.js';
import * as m0032 from './0032_sla_model_prices.js';
import * as m0033 from './0033_provider_vat.js';
import * as m0034 from './0034_history.js';
import * as m0035 from './0035_pending_counted_in_insert.js';
import * as m0036 from './0036_sla_credit_shares.js';

/** Every migration, by name; names sort in the order they apply. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_foundation': m0001,
  '0002_workloads': m0002,
  '0003_billing': m0003,
  '0004_usage': m0004,
  '0005_budgets': m0005,
  '0006_placement_epoch': m0006,
  '0007_users_sessions': m0007,
  '0008_tenant_weight': m0008,
  '0009_ledger_append_only': m0009,
  '0010_usage_event_scope': m0010,
  '0011_max_priority': m0011,
  '0012_audit_log': m0012,
  '0013_key_roles': m0013,
  '0014_key_limits': m0014,
  '0015_sign_in_throttle': m0015,
  '0016_pending_by_tenant': m0016,
  '0017_pending_counts': m0017,
  '0018_serving': m0018,
  '0019_request_log': m0019,
  '0020_engine_counts': m0020,
  '0021_shared_workloads': m0021,
  '0022_usage_attribution': m0022,
  '0023_engines': m0023,
  '0024_placement_health': m0024,
  '0025_weights': m0025,
  '0026_cluster_nodes': m0026,
  '0027_placement_energy': m0027,
  '0028_usage_watermark': m0028,
  '0029_providers': m0029,
  '0030_double_entry_ledger': m0030,
  '0031_vat': m0031,
  '0032_sla_model_prices': m0032,
  '0033_provider_vat': m0033,
  '0034_history': m0034,
  '0035_pending_counted_in_insert': m0035,
  '0036_sla_credit_shares': m0036,
};
