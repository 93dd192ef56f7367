import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0031: VAT', () => {
  it('gives existing plans 6 % and the default tax code, and existing invoices rate 0 with totals unchanged', async function () {
    this.timeout(60_000);
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0027_placement_energy')).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind) VALUES ('tn_1', 'T', 'government')`.execute(db);
      await sql`INSERT INTO plans (id, name, type, price_per_million_std, created_at) VALUES ('pl_1', 'payg', 'unit', 2, now())`.execute(db);
      const lines = [
        { kind: 'fee', description: 'f', quantity: '1', unitPrice: '5161.29', amount: '5161.29', subscriptionId: 'sub_1' },
        { kind: 'usage', description: 'u', quantity: '2', unitPrice: '2.00', amount: '4.00', subscriptionId: null },
      ];
      await sql`INSERT INTO invoices (id, number, tenant_id, period, currency, status, total, lines, rating, issued_at)
                VALUES ('inv_1', 'INV-2026-000001', 'tn_1', '2026-10', 'CNY', 'issued', 5165.29, ${JSON.stringify(lines)}::jsonb, '[]', now()),
                       ('inv_2', 'INV-2026-000002', 'tn_1', '2026-09', 'CNY', 'issued', 0, '[]', '[]', now())`.execute(db);
      await migrateToLatest(db);

      const plans = await sql<Record<string, unknown>>`SELECT id, vat_rate, tax_code FROM plans ORDER BY id`.execute(db);
      expect(plans.rows).to.deep.equal([{ id: 'pl_1', vat_rate: '0.0600', tax_code: '3040203000000000000' }]);
      const invoices = await sql<Record<string, unknown>>`SELECT id, total, vat, total_inclusive, lines FROM invoices ORDER BY id`.execute(db);
      const vat0 = { vatRate: '0.00', vat: '0.00', taxCode: '3040203000000000000' };
      expect(invoices.rows).to.deep.equal([
        {
          id: 'inv_1',
          total: '5165.29',
          vat: '0.00',
          total_inclusive: '5165.29',
          lines: lines.map((l) => ({ ...l, ...vat0, amountInclusive: l.amount })),
        },
        { id: 'inv_2', total: '0.00', vat: '0.00', total_inclusive: '0.00', lines: [] },
      ]);
      // New plans must say their VAT terms: the database has no default for them.
      const refused = await sql`INSERT INTO plans (id, name, type, price_per_million_std, created_at) VALUES ('pl_2', 'x', 'unit', 1, now())`.execute(db).then(
        () => null,
        (e: Error) => e,
      );
      expect(refused?.message).to.match(/null value/);
    } finally {
      await database.close();
    }
  });
});
