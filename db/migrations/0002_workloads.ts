import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workloads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
    .addColumn('tokens_per_min', 'bigint', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('regions', sql`text[]`)
    .addColumn('ha', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('workloads_state_seq_idx').on('workloads').columns(['state', 'seq']).execute();
  await db.schema.createIndex('workloads_tenant_seq_idx').on('workloads').columns(['tenant_id', 'seq']).execute();

  await db.schema
    .createTable('placements')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('workload_id', 'text', (c) => c.notNull().references('workloads.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('device_model', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('profile_name', 'text', (c) => c.notNull())
    .addColumn('resource_name', 'text', (c) => c.notNull())
    .addColumn('replicas', 'integer', (c) => c.notNull())
    .addColumn('devices_per_replica', 'integer', (c) => c.notNull())
    .addColumn('tokens_per_min', 'double precision', (c) => c.notNull())
    .addColumn('ready_replicas', 'integer', (c) => c.notNull().defaultTo(0))
    // placed | running hold devices; lost | released are history.
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('placements_workload_idx').on('placements').column('workload_id').execute();
  await sql`CREATE INDEX placements_active_cluster_idx ON placements (cluster_id) WHERE state IN ('placed', 'running')`.execute(db);

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant_id', 'key'])
    .execute();

  // Fair share: each tenant's past use, decayed with a half-life, as of `fair_share_at`.
  await db.schema
    .alterTable('tenants')
    .addColumn('fair_share_std_per_min', 'double precision', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('tenants').addColumn('fair_share_at', 'timestamptz').execute();
}
