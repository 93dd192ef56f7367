import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0010: usage event ids scoped to their cluster', () => {
  it('keeps every stored event and makes (cluster_id, id) the key', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0009_ledger_append_only')).error).to.equal(undefined);
      await sql`
        INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
        VALUES ('e1', 't', 'w', 'c1', 'm', 1, 2, 3, now(), now()), ('e2', 't', 'w', 'c2', 'm', 4, 5, 6, now(), now())`.execute(db);
      await migrateToLatest(db);
      const rows = await sql<{ id: string; cluster_id: string }>`SELECT id, cluster_id FROM usage_events ORDER BY id`.execute(db);
      expect(rows.rows).to.deep.equal([
        { id: 'e1', cluster_id: 'c1' },
        { id: 'e2', cluster_id: 'c2' },
      ]);
      // The same id from another cluster is another event; from the same cluster it is refused.
      const insert = (cluster: string) =>
        sql`INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
            VALUES ('e1', 't', 'w', ${cluster}, 'm', 1, 1, 1, now(), now()) ON CONFLICT (cluster_id, id) DO NOTHING RETURNING id`.execute(db);
      expect((await insert('c2')).rows).to.have.length(1);
      expect((await insert('c1')).rows).to.have.length(0);
    } finally {
      await database.close();
    }
  });
});
