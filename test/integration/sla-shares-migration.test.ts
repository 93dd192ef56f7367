import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0036: SLA credit shares', () => {
  it('gives each credit made before its one cluster’s share of the whole amount, with the statement that carried it', async function () {
    this.timeout(60_000);
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0035_pending_counted_in_insert')).error).to.equal(undefined);
      const credit = (workload: string, cluster: string | null, amount: string, statement: string | null) => sql`
        INSERT INTO sla_credits (workload_id, period, tenant_id, subscription_id, cluster_id, availability, credit_percent, amount, description,
                                 invoice_id, created_at, statement_id)
        VALUES (${workload}, '2026-10', 'tn_1', 'sub_1', ${cluster}, '99.000', 10, ${amount}, 'd', 'inv_1', now(), ${statement})`;
      await credit('wl_stated', 'cl_1', '-1000.00', 'pst_1').execute(db);
      await credit('wl_unstated', 'cl_2', '-12.34', null).execute(db);
      await credit('wl_nobody', null, '-5.00', null).execute(db);
      await migrateToLatest(db);

      const shares = await sql<Record<string, unknown>>`
        SELECT workload_id, cluster_id, short_minutes, amount, statement_id FROM sla_credit_shares ORDER BY workload_id`.execute(db);
      expect(shares.rows).to.deep.equal([
        { workload_id: 'wl_stated', cluster_id: 'cl_1', short_minutes: null, amount: '-1000.00', statement_id: 'pst_1' },
        { workload_id: 'wl_unstated', cluster_id: 'cl_2', short_minutes: null, amount: '-12.34', statement_id: null },
      ]);
      // A share belongs to a credit, and takes something off.
      const orphan = await sql`
        INSERT INTO sla_credit_shares (workload_id, period, subscription_id, cluster_id, short_minutes, amount)
        VALUES ('wl_none', '2026-10', 'sub_1', 'cl_1', 10, -1.00)`
        .execute(db)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(orphan?.message).to.match(/foreign key/);
      const zero = await sql`
        INSERT INTO sla_credit_shares (workload_id, period, subscription_id, cluster_id, short_minutes, amount)
        VALUES ('wl_unstated', '2026-10', 'sub_1', 'cl_3', 10, 0.00)`
        .execute(db)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(zero?.message).to.match(/check constraint/);
    } finally {
      await database.close();
    }
  });
});
