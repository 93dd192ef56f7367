import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0033: provider VAT', () => {
  it('gives existing rate cards 6 % and the default tax code, keeps issued statements at rate 0 with totals and ledger unchanged, and adds vat_input', async function () {
    this.timeout(60_000);
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0032_sla_model_prices')).error).to.equal(undefined);
      await sql`INSERT INTO providers (id, name, uscc, bank_name, bank_account, contact_name, contact_phone, contact_email, created_at, updated_at)
                VALUES ('pv_1', 'P', '91440101MA59ABCD1D', 'B', '6222 0000', 'C', '020 1234', 'c@example.com', now(), now())`.execute(db);
      await sql`INSERT INTO provider_rate_cards (id, provider_id, kind, terms, valid_from, created_at)
                VALUES ('rc_1', 'pv_1', 'flat', '{"pricePerMillionStd": "1.00"}', now(), now())`.execute(db);
      const lines = [
        { kind: 'usage', key: 'k', clusterId: 'cl_1', model: 'm', basis: 'flat', rateCardId: 'rc_1', amount: '23.40', quantity: '23.4', unitPrice: '1.00' },
      ];
      await sql`INSERT INTO provider_statements (id, number, provider_id, period, currency, total, lines, cutoff, cutoff_seq, issued_at)
                VALUES ('pst_1', 'PST-2026-000001', 'pv_1', '2026-10', 'CNY', 23.40, ${JSON.stringify(lines)}::jsonb, now(), 1, now())`.execute(db);
      await migrateToLatest(db);

      const cards = await sql<Record<string, unknown>>`SELECT id, vat_rate, tax_code FROM provider_rate_cards`.execute(db);
      expect(cards.rows).to.deep.equal([{ id: 'rc_1', vat_rate: '0.0600', tax_code: '3040203000000000000' }]);
      const statements = await sql<Record<string, unknown>>`SELECT id, total, vat, total_inclusive, lines FROM provider_statements`.execute(db);
      expect(statements.rows).to.deep.equal([
        {
          id: 'pst_1',
          total: '23.40',
          vat: '0.00',
          total_inclusive: '23.40',
          lines: lines.map((l) => ({ ...l, vatRate: '0.00', vat: '0.00', amountInclusive: '23.40', taxCode: '3040203000000000000' })),
        },
      ]);
      const vatInput = await sql<Record<string, unknown>>`SELECT id, kind FROM ledger_accounts WHERE id = 'vat_input'`.execute(db);
      expect(vatInput.rows).to.deep.equal([{ id: 'vat_input', kind: 'vat_input' }]);
      // New cards must say their VAT terms; an unknown account kind is still refused.
      const refused = await sql`INSERT INTO provider_rate_cards (id, provider_id, kind, terms, valid_from, created_at)
                                VALUES ('rc_2', 'pv_1', 'flat', '{}', now(), now())`
        .execute(db)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(refused?.message).to.match(/null value/);
      const badKind = await sql`INSERT INTO ledger_accounts (id, kind) VALUES ('vat_other', 'vat_other')`.execute(db).then(
        () => null,
        (e: Error) => e,
      );
      expect(badKind?.message).to.match(/check constraint/);
    } finally {
      await database.close();
    }
  });
});
