import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * A double-entry ledger (issue 15, "A ledger that means something"), replacing `ledger_entries`.
 *
 * `ledger_accounts`: one row per account, keyed by a text id that says what it is —
 * `receivable:<tenant>` (what a tenant owes; debit balance), `prepaid:<tenant>` (money a prepaid
 * tenant paid in advance; credit balance), `revenue`, `vat_output` (output VAT; nothing is posted
 * to it until VAT lands), `provider_costs` (what the city owes providers for the tokens they served:
 * an expense, debited by their statements), `payable:<provider>` (what the city owes a provider;
 * keyed by the provider's text id, no foreign key), and `cash`.
 *
 * `journal_entries` and `postings`: each entry's postings sum to exactly zero (debits positive,
 * credits negative) and there are at least two. The database enforces it with DEFERRED constraint
 * triggers, checked at commit: a transaction that leaves any entry unbalanced, or an entry without
 * postings, fails whole. All three tables, `payments`, `credit_notes` and `provider_payouts` are append-only (UPDATE,
 * DELETE and TRUNCATE are refused); balances, invoice states and ageing are derived from postings.
 *
 * `payments`: money the operator recorded — `payment` (tenant pays receivables), `top_up` (a
 * prepaid tenant's balance), `refund` (money paid back) — unique by `reference` (idempotent).
 * `credit_notes`: negative documents referencing an invoice; an invoice is never edited.
 * `provider_payouts`: money the operator paid a provider (its payable debited, cash credited),
 * unique by `reference`. A provider's statement posts in the transaction that issues it
 * (`journal_entries.statement_id`), a payout in the one that records it (`payout_id`).
 * `document_counters`: sequential numbers per series and year (credit notes: `CN-YYYY-NNNNNN`).
 * `tenants.billing_mode`: `prepaid | postpaid`; tenants made before stay postpaid (what they were).
 * `tenants.uscc`: the unified social credit code, by which a bank statement's payer is recognized.
 *
 * The old ledger's rows (one per invoice: its total) become one `invoice` entry each — debit the
 * tenant's receivable, credit revenue — and `ledger_entries` is dropped: one ledger, not two.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE tenants ADD COLUMN billing_mode text NOT NULL DEFAULT 'postpaid' CHECK (billing_mode IN ('prepaid', 'postpaid'))`.execute(db);
  await sql`ALTER TABLE tenants ADD COLUMN uscc text`.execute(db);
  await sql`CREATE UNIQUE INDEX tenants_uscc_idx ON tenants (uscc) WHERE uscc IS NOT NULL`.execute(db);

  await sql`
    CREATE TABLE ledger_accounts (
      id text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('receivable', 'prepaid', 'revenue', 'vat_output', 'provider_costs', 'payable', 'cash')),
      tenant_id text REFERENCES tenants (id),
      provider_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((kind IN ('receivable', 'prepaid')) = (tenant_id IS NOT NULL)),
      CHECK ((kind = 'payable') = (provider_id IS NOT NULL))
    )`.execute(db);
  await sql`
    INSERT INTO ledger_accounts (id, kind)
    VALUES ('revenue', 'revenue'), ('vat_output', 'vat_output'), ('provider_costs', 'provider_costs'), ('cash', 'cash')`.execute(db);

  await sql`
    CREATE TABLE payments (
      id text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('payment', 'top_up', 'refund')),
      account text NOT NULL CHECK (account IN ('receivable', 'prepaid')),
      tenant_id text NOT NULL REFERENCES tenants (id),
      amount numeric(20, 2) NOT NULL CHECK (amount > 0),
      received_at timestamptz NOT NULL,
      reference text NOT NULL UNIQUE,
      invoice_id text REFERENCES invoices (id),
      source text NOT NULL CHECK (source IN ('api', 'import')),
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX payments_tenant_idx ON payments (tenant_id, received_at)`.execute(db);

  await sql`
    CREATE TABLE document_counters (
      series text NOT NULL,
      year integer NOT NULL,
      last integer NOT NULL,
      PRIMARY KEY (series, year)
    )`.execute(db);
  await sql`
    CREATE TABLE credit_notes (
      id text PRIMARY KEY,
      number text NOT NULL UNIQUE,
      invoice_id text NOT NULL REFERENCES invoices (id),
      tenant_id text NOT NULL REFERENCES tenants (id),
      total numeric(20, 2) NOT NULL CHECK (total < 0),
      reason text NOT NULL,
      issued_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX credit_notes_invoice_idx ON credit_notes (invoice_id)`.execute(db);
  await sql`
    CREATE TABLE provider_payouts (
      id text PRIMARY KEY,
      provider_id text NOT NULL REFERENCES providers (id),
      amount numeric(20, 2) NOT NULL CHECK (amount > 0),
      paid_at timestamptz NOT NULL,
      reference text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX provider_payouts_provider_idx ON provider_payouts (provider_id, paid_at)`.execute(db);

  await sql`
    CREATE TABLE journal_entries (
      id text PRIMARY KEY,
      seq bigserial UNIQUE,
      kind text NOT NULL CHECK (kind IN ('invoice', 'payment', 'credit_note', 'refund', 'top_up', 'prepaid_draw', 'statement', 'payout')),
      tenant_id text REFERENCES tenants (id),
      invoice_id text REFERENCES invoices (id),
      payment_id text REFERENCES payments (id),
      credit_note_id text REFERENCES credit_notes (id),
      statement_id text REFERENCES provider_statements (id),
      payout_id text REFERENCES provider_payouts (id),
      description text NOT NULL,
      booked_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX journal_invoice_idx ON journal_entries (invoice_id) WHERE invoice_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX journal_tenant_idx ON journal_entries (tenant_id, seq)`.execute(db);
  await sql`
    CREATE TABLE postings (
      id bigserial PRIMARY KEY,
      entry_id text NOT NULL REFERENCES journal_entries (id),
      account_id text NOT NULL REFERENCES ledger_accounts (id),
      amount numeric(20, 2) NOT NULL CHECK (amount <> 0)
    )`.execute(db);
  await sql`CREATE INDEX postings_entry_idx ON postings (entry_id)`.execute(db);
  await sql`CREATE INDEX postings_account_idx ON postings (account_id)`.execute(db);

  await sql`
    CREATE FUNCTION journal_entry_check(entry text) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      total numeric;
      n bigint;
    BEGIN
      SELECT coalesce(sum(amount), 0), count(*) INTO total, n FROM postings WHERE entry_id = entry;
      IF total <> 0 OR n < 2 THEN
        RAISE EXCEPTION 'journal entry % does not balance: % postings summing to %', entry, n, total USING ERRCODE = 'check_violation';
      END IF;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION postings_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM journal_entry_check(NEW.entry_id);
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION journal_entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM journal_entry_check(NEW.id);
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER postings_balance AFTER INSERT ON postings
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION postings_balance()`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER journal_entries_balance AFTER INSERT ON journal_entries
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entries_balance()`.execute(db);

  await sql`
    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
    END $$`.execute(db);
  for (const table of ['ledger_accounts', 'journal_entries', 'postings', 'payments', 'credit_notes', 'provider_payouts']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_change`)} BEFORE UPDATE OR DELETE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()`.execute(db);
  }

  // The old ledger: one row per invoice, its total. Zero totals post nothing (a posting is never 0).
  await sql`
    INSERT INTO ledger_accounts (id, kind, tenant_id)
    SELECT DISTINCT 'receivable:' || tenant_id, 'receivable', tenant_id FROM ledger_entries WHERE amount <> 0`.execute(db);
  await sql`
    INSERT INTO journal_entries (id, kind, tenant_id, invoice_id, description, booked_at, created_at)
    SELECT 'je_migrated_' || id, 'invoice', tenant_id, invoice_id, description, created_at, created_at
      FROM ledger_entries WHERE amount <> 0 ORDER BY id`.execute(db);
  await sql`
    INSERT INTO postings (entry_id, account_id, amount)
    SELECT 'je_migrated_' || id, v.account, v.amount
      FROM ledger_entries e,
           LATERAL (VALUES ('receivable:' || e.tenant_id, e.amount, 1), ('revenue', -e.amount, 2)) AS v(account, amount, n)
     WHERE e.amount <> 0
     ORDER BY e.id, v.n`.execute(db);
  await sql`DROP TABLE ledger_entries`.execute(db);
  await sql`DROP FUNCTION ledger_entries_append_only()`.execute(db);
}
