import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('plans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('price_per_million_std', 'numeric(20, 6)')
    .addColumn('period', 'text')
    .addColumn('fee', 'numeric(20, 6)')
    .addColumn('included_std', 'numeric(30, 0)')
    .addColumn('overage_price_per_million_std', 'numeric(20, 6)')
    .addColumn('reserved_std_per_min', 'bigint')
    .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`CREATE UNIQUE INDEX plans_one_default ON plans (is_default) WHERE is_default`.execute(db);

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('plan_id', 'text', (c) => c.notNull().references('plans.id'))
    .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ends_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subscriptions_tenant_idx').on('subscriptions').columns(['tenant_id', 'starts_at']).unique().execute();

  await db.schema
    .createTable('invoices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('number', 'text', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('total', 'numeric(20, 2)', (c) => c.notNull())
    .addColumn('lines', 'jsonb', (c) => c.notNull())
    // What the period was rated on (per subscription: plan terms, days, standard tokens), so that
    // late usage can be billed as exactly what this invoice would have grown by.
    .addColumn('rating', 'jsonb', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('invoices_tenant_period').on('invoices').columns(['tenant_id', 'period']).unique().execute();

  await db.schema
    .createTable('invoice_counters')
    .addColumn('year', 'integer', (c) => c.primaryKey())
    .addColumn('last', 'integer', (c) => c.notNull())
    .execute();

  // Periods that have been closed, and the received-time cutoff of their first close.
  await db.schema
    .createTable('billing_closes')
    .addColumn('period', 'text', (c) => c.primaryKey())
    .addColumn('cutoff', 'timestamptz', (c) => c.notNull())
    .addColumn('closed_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // Per tenant and period: usage received up to `billed_through` has been billed, and `rating`
  // is what the period has been rated on so far (so late usage is billed as the difference).
  await db.schema
    .createTable('usage_billing')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('billed_through', 'timestamptz', (c) => c.notNull())
    .addColumn('rating', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_billing_pk', ['tenant_id', 'period'])
    .execute();

  // Append-only: balances are derived from it.
  await db.schema
    .createTable('ledger_entries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('invoice_id', 'text', (c) => c.references('invoices.id'))
    .addColumn('amount', 'numeric(20, 2)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ledger_tenant_idx').on('ledger_entries').columns(['tenant_id', 'id']).execute();
}
