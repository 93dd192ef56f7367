import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Providers and settlement (issue 15): the operators of member clusters, what the city pays them
 * (rate cards with validity dates), and their monthly statements (payables).
 *
 * - `providers`: name and unified social credit code (GB 32100-2015, checked by the service) are unique.
 * - `clusters.provider_id`: a cluster belongs to at most one provider.
 * - `provider_rate_cards`: `terms` holds the card's prices as decimal strings (JSON), by `kind`;
 *   `[valid_from, valid_to)` never overlap for one provider (the service checks it under the
 *   provider's row lock: no exclusion constraint, which would need btree_gist).
 * - `provider_statements`: one per provider and period, numbered `PST-YYYY-NNNNNN` per year from
 *   `statement_counters`. `lines` carry their own keys so that late usage can be paid as a difference.
 *   `cutoff` is when the close that issued it ran, `cutoff_seq` that close's usage watermark (0028).
 * - `provider_billing`: per provider and usage period, usage events with a `seq` below
 *   `billed_through_seq` (the watermark of the close at `billed_through`) have been paid, and `paid`
 *   maps each line key to the amount paid for it so far (decimal text).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE providers (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      name text NOT NULL UNIQUE,
      uscc text NOT NULL UNIQUE,
      bank_name text NOT NULL,
      bank_account text NOT NULL,
      contact_name text NOT NULL,
      contact_phone text NOT NULL,
      contact_email text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
  await sql`ALTER TABLE clusters ADD COLUMN provider_id text REFERENCES providers (id)`.execute(db);
  await sql`CREATE INDEX clusters_provider_idx ON clusters (provider_id) WHERE provider_id IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE provider_rate_cards (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      provider_id text NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('flat', 'device_class', 'revenue_share')),
      terms jsonb NOT NULL,
      valid_from timestamptz NOT NULL,
      valid_to timestamptz,
      created_at timestamptz NOT NULL,
      CHECK (valid_to IS NULL OR valid_to > valid_from)
    )`.execute(db);
  await sql`CREATE INDEX provider_rate_cards_provider_idx ON provider_rate_cards (provider_id, valid_from)`.execute(db);
  await sql`
    CREATE TABLE provider_statements (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      number text NOT NULL UNIQUE,
      provider_id text NOT NULL REFERENCES providers (id),
      period text NOT NULL,
      currency text NOT NULL,
      total numeric(20, 2) NOT NULL,
      lines jsonb NOT NULL,
      cutoff timestamptz NOT NULL,
      cutoff_seq bigint NOT NULL,
      issued_at timestamptz NOT NULL,
      UNIQUE (provider_id, period)
    )`.execute(db);
  await sql`CREATE INDEX provider_statements_period_idx ON provider_statements (period)`.execute(db);
  await sql`CREATE TABLE statement_counters (year integer PRIMARY KEY, last integer NOT NULL)`.execute(db);
  await sql`
    CREATE TABLE provider_billing (
      provider_id text NOT NULL REFERENCES providers (id),
      period text NOT NULL,
      billed_through timestamptz NOT NULL,
      billed_through_seq bigint NOT NULL,
      paid jsonb NOT NULL,
      PRIMARY KEY (provider_id, period)
    )`.execute(db);
}
