import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Chinese VAT (README "VAT and e-fapiao").
 * - `plans.vat_rate` and `plans.tax_code`: existing plans get 6 % and 3040203000000000000
 *   (信息系统服务), the defaults of this release; new plans get theirs from the server.
 * - `invoices.vat` and `invoices.total_inclusive`; each line of `invoices.lines` gains `vatRate`,
 *   `vat`, `amountInclusive` and `taxCode`. Invoices issued before VAT keep what they said: rate 0,
 *   tax 0.00, inclusive = exclusive (their totals are already in the ledger and an issued
 *   invoice is never edited); their lines carry the default tax code.
 * - `tenant_invoicing`: a tenant's invoicing details as the buyer of an e-fapiao (address and
 *   phone, bank and account); its unified social credit code is `tenants.uscc`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE plans ADD COLUMN vat_rate numeric(5, 4) NOT NULL DEFAULT 0.06`.execute(db);
  await sql`ALTER TABLE plans ADD COLUMN tax_code text NOT NULL DEFAULT '3040203000000000000'`.execute(db);
  await sql`ALTER TABLE plans ALTER COLUMN vat_rate DROP DEFAULT`.execute(db);
  await sql`ALTER TABLE plans ALTER COLUMN tax_code DROP DEFAULT`.execute(db);

  await sql`ALTER TABLE invoices ADD COLUMN vat numeric(20, 2) NOT NULL DEFAULT 0`.execute(db);
  await sql`ALTER TABLE invoices ADD COLUMN total_inclusive numeric(20, 2)`.execute(db);
  await sql`
    UPDATE invoices SET total_inclusive = total, lines = (
      SELECT coalesce(jsonb_agg(l || jsonb_build_object('vatRate', '0.00', 'vat', '0.00', 'amountInclusive', l -> 'amount',
                                                        'taxCode', '3040203000000000000') ORDER BY n), '[]'::jsonb)
        FROM jsonb_array_elements(lines) WITH ORDINALITY AS t(l, n))`.execute(db);
  await sql`ALTER TABLE invoices ALTER COLUMN total_inclusive SET NOT NULL`.execute(db);
  await sql`ALTER TABLE invoices ALTER COLUMN vat DROP DEFAULT`.execute(db);

  await db.schema
    .createTable('tenant_invoicing')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('phone', 'text', (c) => c.notNull())
    .addColumn('bank', 'text', (c) => c.notNull())
    .addColumn('bank_account', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
}
