import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Quality of service on the bill (issue 15): per-model prices and SLA credits.
 *
 * `plans.model_prices` (jsonb, null: none): model name → `{ "multiplier": "1.5" }` or
 * `{ "pricePerMillionStd": "12.00" }`. `plans.sla` (jsonb, null: no promise): the availability a
 * periodic plan promises, its grace and its credit table.
 *
 * `sla_spells`: one row per spell in which a workload that has run delivered less throughput than
 * it reserves, written by the code paths that change placements' readiness. `placement_id` and
 * `cluster_id` name the placement that started it (null when no placement is responsible, e.g. a
 * preemption), `reason` says how (lost | failed | under_replicated | unplaced); `ended_at` is null
 * while it lasts. At most one open spell per workload (partial unique index).
 *
 * `sla_credits`: the credit of one workload for one measured month under one subscription, computed
 * once at that month's close (unique per workload, period and subscription), and carried onto the tenant's next invoice
 * (`invoice_id`, set in the transaction that issues it). `amount` is negative CNY, two decimals.
 *
 * `provider_rate_cards.sla_credits`: whether SLA credits lower the statement of the provider whose
 * cluster was responsible; `sla_credits.statement_id` is the statement that carries the credit (as a
 * negative `sla_credit` line), set in the transaction that issues it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE plans ADD COLUMN model_prices jsonb, ADD COLUMN sla jsonb`.execute(db);
  await sql`
    CREATE TABLE sla_spells (
      id bigserial PRIMARY KEY,
      workload_id text NOT NULL,
      tenant_id text NOT NULL,
      placement_id text,
      cluster_id text,
      reason text NOT NULL CHECK (reason IN ('lost', 'failed', 'under_replicated', 'unplaced')),
      started_at timestamptz NOT NULL,
      ended_at timestamptz,
      CHECK (ended_at IS NULL OR ended_at >= started_at)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX sla_spells_open_idx ON sla_spells (workload_id) WHERE ended_at IS NULL`.execute(db);
  await sql`CREATE INDEX sla_spells_tenant_idx ON sla_spells (tenant_id, started_at)`.execute(db);
  await sql`
    CREATE TABLE sla_credits (
      workload_id text NOT NULL,
      period text NOT NULL,
      tenant_id text NOT NULL,
      subscription_id text NOT NULL,
      cluster_id text,
      availability text NOT NULL,
      credit_percent numeric NOT NULL,
      amount numeric(20, 2) NOT NULL CHECK (amount <= 0),
      description text NOT NULL,
      invoice_id text,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (workload_id, period, subscription_id)
    )`.execute(db);
  await sql`CREATE INDEX sla_credits_pending_idx ON sla_credits (tenant_id) WHERE invoice_id IS NULL`.execute(db);
  // The provider side (0029): a rate card may say that SLA credits lower its provider's statement;
  // a credit carried by an invoice is then carried by one statement too.
  await sql`ALTER TABLE provider_rate_cards ADD COLUMN sla_credits boolean NOT NULL DEFAULT false`.execute(db);
  await sql`ALTER TABLE sla_credits ADD COLUMN statement_id text`.execute(db);
  await sql`CREATE INDEX sla_credits_unstated_idx ON sla_credits (cluster_id) WHERE invoice_id IS NOT NULL AND statement_id IS NULL`.execute(db);
}
