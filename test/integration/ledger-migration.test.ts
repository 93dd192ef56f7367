import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0030: the double-entry ledger', () => {
  it('turns each old ledger row into a balanced invoice entry, keeps tenants postpaid, and drops the old table', async function () {
    this.timeout(120_000);
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0027_placement_energy')).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind) VALUES ('tn_gov', 'Gov', 'government'), ('tn_ent', 'Firm', 'enterprise')`.execute(db);
      const invoice = (id: string, tenant: string, number: string, period: string, total: string) =>
        sql`INSERT INTO invoices (id, number, tenant_id, period, currency, status, total, lines, rating, issued_at)
            VALUES (${id}, ${number}, ${tenant}, ${period}, 'CNY', 'issued', ${total}, '[]', '[]', '2026-11-01T00:30:00+08:00')`.execute(db);
      await invoice('inv_1', 'tn_gov', 'INV-2026-000001', '2026-10', '10632.26');
      await invoice('inv_2', 'tn_ent', 'INV-2026-000002', '2026-10', '2.50');
      await invoice('inv_3', 'tn_ent', 'INV-2026-000003', '2026-09', '0.00');
      await sql`
        INSERT INTO ledger_entries (tenant_id, kind, invoice_id, amount, description, created_at) VALUES
          ('tn_gov', 'invoice', 'inv_1', 10632.26, 'invoice INV-2026-000001 for 2026-10', '2026-11-01T00:30:00+08:00'),
          ('tn_ent', 'invoice', 'inv_2', 2.50, 'invoice INV-2026-000002 for 2026-10', '2026-11-01T00:30:00+08:00'),
          ('tn_ent', 'invoice', 'inv_3', 0.00, 'invoice INV-2026-000003 for 2026-09', '2026-11-01T00:30:00+08:00')`.execute(db);
      await migrateToLatest(db);

      const entries = await sql<Record<string, unknown>>`
        SELECT j.kind, j.tenant_id, j.invoice_id, j.description, p.account_id, p.amount::text AS amount
          FROM journal_entries j JOIN postings p ON p.entry_id = j.id ORDER BY j.seq, p.id`.execute(db);
      const entry = (tenant: string, invoiceId: string, number: string) => ({
        kind: 'invoice',
        tenant_id: tenant,
        invoice_id: invoiceId,
        description: `invoice ${number} for 2026-10`,
      });
      expect(entries.rows).to.deep.equal([
        { ...entry('tn_gov', 'inv_1', 'INV-2026-000001'), account_id: 'receivable:tn_gov', amount: '10632.26' },
        { ...entry('tn_gov', 'inv_1', 'INV-2026-000001'), account_id: 'revenue', amount: '-10632.26' },
        { ...entry('tn_ent', 'inv_2', 'INV-2026-000002'), account_id: 'receivable:tn_ent', amount: '2.50' },
        { ...entry('tn_ent', 'inv_2', 'INV-2026-000002'), account_id: 'revenue', amount: '-2.50' },
      ]);
      const accounts = await sql<{ id: string; kind: string; tenant_id: string | null }>`SELECT id, kind, tenant_id FROM ledger_accounts ORDER BY id`.execute(
        db,
      );
      expect(accounts.rows).to.deep.equal([
        { id: 'cash', kind: 'cash', tenant_id: null },
        { id: 'provider_costs', kind: 'provider_costs', tenant_id: null },
        { id: 'receivable:tn_ent', kind: 'receivable', tenant_id: 'tn_ent' },
        { id: 'receivable:tn_gov', kind: 'receivable', tenant_id: 'tn_gov' },
        { id: 'revenue', kind: 'revenue', tenant_id: null },
        // Migration 0033's input VAT account (the test migrates to the latest).
        { id: 'vat_input', kind: 'vat_input', tenant_id: null },
        { id: 'vat_output', kind: 'vat_output', tenant_id: null },
      ]);
      // Tenants made before keep being invoiced monthly, whatever their kind.
      const modes = await sql<{ id: string; billing_mode: string }>`SELECT id, billing_mode FROM tenants ORDER BY id`.execute(db);
      expect(modes.rows).to.deep.equal([
        { id: 'tn_ent', billing_mode: 'postpaid' },
        { id: 'tn_gov', billing_mode: 'postpaid' },
      ]);
      const old = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'ledger_entries'`.execute(db);
      expect(old.rows[0]!.n).to.equal(0);
      // The migrated entries are as append-only as new ones.
      const err = await sql`DELETE FROM postings`.execute(db).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.match(/postings is append-only/);
    } finally {
      await database.close();
    }
  });
});
