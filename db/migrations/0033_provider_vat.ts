import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Providers' VAT (issue 15): providers invoice the city for the tokens their clusters served, and
 * they are VAT payers too.
 * - `provider_rate_cards.vat_rate` and `tax_code`: a rate card carries its VAT terms as a plan does
 *   (migration 0031) — the card is the provider's price list, as a plan is the tenant's. Existing
 *   cards get 6 % and 3040203000000000000 (信息系统服务), the defaults of this release, for the
 *   statements still to come; new cards get theirs from the server.
 * - `provider_statements.vat` and `total_inclusive`; each line of `provider_statements.lines`
 *   gains `vatRate`, `vat`, `amountInclusive` and `taxCode`. Statements issued before keep what
 *   they said: rate 0, tax 0.00, inclusive = exclusive. They were posted to the ledger without VAT
 *   (provider costs debited, the payable credited by the exclusive total) and payouts have settled
 *   against those payables, so giving them a tax now would either edit posted, append-only
 *   journal entries or leave the statements disagreeing with the ledger.
 * - `vat_input`: the ledger's input VAT account (进项税额), debited by statements' tax. The kind
 *   check of `ledger_accounts` admits it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE provider_rate_cards ADD COLUMN vat_rate numeric(5, 4) NOT NULL DEFAULT 0.06`.execute(db);
  await sql`ALTER TABLE provider_rate_cards ADD COLUMN tax_code text NOT NULL DEFAULT '3040203000000000000'`.execute(db);
  await sql`ALTER TABLE provider_rate_cards ALTER COLUMN vat_rate DROP DEFAULT`.execute(db);
  await sql`ALTER TABLE provider_rate_cards ALTER COLUMN tax_code DROP DEFAULT`.execute(db);

  await sql`ALTER TABLE provider_statements ADD COLUMN vat numeric(20, 2) NOT NULL DEFAULT 0`.execute(db);
  await sql`ALTER TABLE provider_statements ADD COLUMN total_inclusive numeric(20, 2)`.execute(db);
  await sql`
    UPDATE provider_statements SET total_inclusive = total, lines = (
      SELECT coalesce(jsonb_agg(l || jsonb_build_object('vatRate', '0.00', 'vat', '0.00', 'amountInclusive', l -> 'amount',
                                                        'taxCode', '3040203000000000000') ORDER BY n), '[]'::jsonb)
        FROM jsonb_array_elements(lines) WITH ORDINALITY AS t(l, n))`.execute(db);
  await sql`ALTER TABLE provider_statements ALTER COLUMN total_inclusive SET NOT NULL`.execute(db);
  await sql`ALTER TABLE provider_statements ALTER COLUMN vat DROP DEFAULT`.execute(db);

  await sql`ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check`.execute(db);
  await sql`
    ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
      CHECK (kind IN ('receivable', 'prepaid', 'revenue', 'vat_output', 'vat_input', 'provider_costs', 'payable', 'cash'))`.execute(db);
  await sql`INSERT INTO ledger_accounts (id, kind) VALUES ('vat_input', 'vat_input')`.execute(db);
}
