import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0018: serving keys, endpoints and access', () => {
  it('keeps existing workloads billed from their agents (direct), makes new ones gateway, and gives every placement a serving key', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0017_pending_counts')).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind) VALUES ('tn_1', 'T', 'enterprise')`.execute(db);
      const model = (await sql<{ id: string }>`SELECT id FROM models LIMIT 1`.execute(db)).rows[0];
      const modelId = model?.id ?? 'md_1';
      if (!model)
        await sql`INSERT INTO models (id, name, min_memory_gib, cost_factor, input_factor, created_at, updated_at) VALUES ('md_1', 'm', 16, 1, 0.25, now(), now())`.execute(
          db,
        );
      const workload = (id: string) =>
        sql`INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, ha, state, created_at, updated_at)
            VALUES (${id}, 'tn_1', ${id}, 'service', ${modelId}, 1000, 'normal', false, 'pending', now(), now())`.execute(db);
      await workload('wl_old');
      await sql`INSERT INTO clusters (id, name, region, agent_token_hash) VALUES ('cl_1', 'c', 'nansha', 'h')`.execute(db);
      const placement = (id: string) =>
        sql`INSERT INTO placements (id, workload_id, cluster_id, device_model, profile_id, profile_name, resource_name, replicas, devices_per_replica, tokens_per_min, state, created_at)
            VALUES (${id}, 'wl_old', 'cl_1', 'd', 'p', 'p', 'nvidia.com/gpu', 1, 1, 1000, 'placed', now())`.execute(db);
      await placement('pl_1');
      await placement('pl_2');
      await migrateToLatest(db);
      await workload('wl_new');
      const rows = await sql<{ id: string; access: string }>`SELECT id, access FROM workloads ORDER BY id`.execute(db);
      expect(rows.rows).to.deep.equal([
        { id: 'wl_new', access: 'gateway' },
        { id: 'wl_old', access: 'direct' },
      ]);
      const keys = (await sql<{ serving_key: string; endpoints: string[] }>`SELECT serving_key, endpoints FROM placements ORDER BY id`.execute(db)).rows;
      for (const k of keys) expect(k.serving_key).to.match(/^tp_serve_[0-9a-f]{32}$/);
      expect(keys[0]!.serving_key).to.not.equal(keys[1]!.serving_key);
      expect(keys.map((k) => k.endpoints)).to.deep.equal([[], []]);
    } finally {
      await database.close();
    }
  });
});
