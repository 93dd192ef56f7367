import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0028: usage events in commit order, closes as watermarks', () => {
  it('numbers stored events by arrival and turns each stored cutoff into the watermark that covers the same events', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0027_placement_energy')).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind) VALUES ('t', 'Liwan Office', 'government')`.execute(db);
      // Arrivals 10:00, 10:02, 10:01 and 10:03; October closed at 10:01 (e1, e3 billed), then the tenant billed through 10:02 (e2 too).
      await sql`
        INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
        VALUES ('e1', 't', 'w', 'c', 'm', 0, 1, 1, '2026-10-30T00:00:00Z', '2026-11-01T10:00:00Z'),
               ('e2', 't', 'w', 'c', 'm', 0, 2, 2, '2026-10-30T00:00:00Z', '2026-11-01T10:02:00Z'),
               ('e3', 't', 'w', 'c', 'm', 0, 3, 3, '2026-10-30T00:00:00Z', '2026-11-01T10:01:00Z'),
               ('e4', 't', 'w', 'c', 'm', 0, 4, 4, '2026-10-30T00:00:00Z', '2026-11-01T10:03:00Z')`.execute(db);
      await sql`INSERT INTO billing_closes (period, cutoff, closed_at) VALUES ('2026-10', '2026-11-01T10:01:00Z', '2026-11-01T10:02:00Z')`.execute(db);
      await sql`INSERT INTO usage_billing (tenant_id, period, billed_through, rating) VALUES ('t', '2026-10', '2026-11-01T10:02:00Z', '[]')`.execute(db);
      await migrateToLatest(db);

      const events = await sql<{ id: string; seq: number }>`SELECT id, seq FROM usage_events ORDER BY seq`.execute(db);
      expect(events.rows).to.deep.equal([
        { id: 'e1', seq: 1 },
        { id: 'e3', seq: 2 },
        { id: 'e2', seq: 3 },
        { id: 'e4', seq: 4 },
      ]);
      const close = await sql<{ cutoff_seq: number }>`SELECT cutoff_seq FROM billing_closes`.execute(db);
      expect(close.rows).to.deep.equal([{ cutoff_seq: 3 }]);
      const billed = await sql<{ billed_through_seq: number }>`SELECT billed_through_seq FROM usage_billing`.execute(db);
      expect(billed.rows).to.deep.equal([{ billed_through_seq: 4 }]);
      // New events come after every stored one.
      await sql`
        INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
        VALUES ('e5', 't', 'w', 'c', 'm', 0, 5, 5, now(), now())`.execute(db);
      const next = await sql<{ seq: number }>`SELECT seq FROM usage_events WHERE id = 'e5'`.execute(db);
      expect(next.rows).to.deep.equal([{ seq: 5 }]);
    } finally {
      await database.close();
    }
  });
});
