import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';

describe('migration 0024: placement health', () => {
  it('leaves health unknown, counts active placements made before as started, and history as it was', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0022_usage_attribution')).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind) VALUES ('tn_1', 'T', 'enterprise')`.execute(db);
      const modelId = (await sql<{ id: string }>`SELECT id FROM models LIMIT 1`.execute(db)).rows[0]?.id ?? 'md_1';
      if (modelId === 'md_1')
        await sql`INSERT INTO models (id, name, min_memory_gib, cost_factor, input_factor, created_at, updated_at) VALUES ('md_1', 'm', 16, 1, 0.25, now(), now())`.execute(
          db,
        );
      await sql`INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, ha, state, created_at, updated_at)
                VALUES ('wl_1', 'tn_1', 'w', 'service', ${modelId}, 1000, 'normal', false, 'placed', now(), now())`.execute(db);
      await sql`INSERT INTO clusters (id, name, region, agent_token_hash) VALUES ('cl_1', 'c', 'nansha', 'h')`.execute(db);
      const placement = (id: string, state: string, createdAt: string) =>
        sql`INSERT INTO placements (id, workload_id, cluster_id, device_model, profile_id, profile_name, resource_name, replicas, devices_per_replica, tokens_per_min, state, created_at)
            VALUES (${id}, 'wl_1', 'cl_1', 'd', 'p', 'p', 'nvidia.com/gpu', 1, 1, 1000, ${state}, ${createdAt}::timestamptz)`.execute(db);
      await placement('pl_placed', 'placed', '2026-11-01T00:00:00Z');
      await placement('pl_running', 'running', '2026-11-02T00:00:00Z');
      await placement('pl_released', 'released', '2026-10-01T00:00:00Z');
      await migrateToLatest(db);
      const rows = await sql<Record<string, unknown>>`
        SELECT id, phase, health_reason, health_message, desired_replicas, failing_since, failed_at, ready_at::text AS ready_at
          FROM placements ORDER BY id`.execute(db);
      const unknown = { phase: null, health_reason: null, health_message: null, desired_replicas: null, failing_since: null, failed_at: null };
      expect(rows.rows).to.deep.equal([
        { id: 'pl_placed', ...unknown, ready_at: '2026-11-01 00:00:00+00' },
        { id: 'pl_released', ...unknown, ready_at: null },
        { id: 'pl_running', ...unknown, ready_at: '2026-11-02 00:00:00+00' },
      ]);
    } finally {
      await database.close();
    }
  });
});
