import type { Kysely } from 'kysely';

// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('usage_events')
    // The event id is the idempotency key: counted once, ever.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('workload_id', 'text', (c) => c.notNull())
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('model_id', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'bigint', (c) => c.notNull())
    .addColumn('output_tokens', 'bigint', (c) => c.notNull())
    .addColumn('std_tokens', 'numeric(38, 12)', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('usage_events_tenant_occurred').on('usage_events').columns(['tenant_id', 'occurred_at']).execute();
  await db.schema.createIndex('usage_events_occurred').on('usage_events').column('occurred_at').execute();
  // Usage that arrived after a cutoff (late usage, after an invoice was issued): rows are appended
  // in order of arrival, so a BRIN index finds them at a fraction of a btree's cost per insert.
  await db.schema.createIndex('usage_events_received_brin').on('usage_events').using('brin').column('received_at').execute();
}
