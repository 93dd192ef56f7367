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
  builtin: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
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
  /** Last state the TTL sweeper or a heartbeat recorded: `pending | ready | not_ready`. */
  liveness: Generated<string>;
  created_at: CreatedAt;
}

export interface ClusterInventoryTable {
  cluster_id: string;
  device_model: string;
  total: number;
  healthy: number;
}

export interface TenantsTable {
  id: string;
  seq: Generated<number>;
  name: string;
  kind: string;
  max_std_per_min: number | null;
  created_at: CreatedAt;
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
}

export interface DB {
  settings: SettingsTable;
  device_profiles: DeviceProfilesTable;
  device_names: DeviceNamesTable;
  models: ModelsTable;
  clusters: ClustersTable;
  cluster_inventory: ClusterInventoryTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
}
