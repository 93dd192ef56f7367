import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';
import { IdGenerator } from '../../server/auth/tokens.js';
import { EnginesRepository } from '../../server/repositories/engines.repository.js';
import { SettingsRepository } from '../../server/repositories/settings.repository.js';
import { EnginesService } from '../../server/services/engines.service.js';
import { FakeClock } from '../fake-clock.js';

describe('migration 0023: the engine catalog', () => {
  it('gives existing models an empty engine map, and a platform seeded before it gets the built-in engines once', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0022_usage_attribution')).error).to.equal(undefined);
      await sql`INSERT INTO models (id, name, min_memory_gib, cost_factor, input_factor, created_at, updated_at) VALUES ('md_old', 'old-model', 16, 1, 0.25, now(), now())`.execute(
        db,
      );
      await sql`INSERT INTO settings (key, value) VALUES ('builtin_catalog_seeded', '2026-01-01T00:00:00.000Z')`.execute(db);
      await migrateToLatest(db);
      const model = (await sql<{ engines: Record<string, string> }>`SELECT engines FROM models WHERE id = 'md_old'`.execute(db)).rows[0];
      expect(model?.engines).to.deep.equal({});

      const clock = new FakeClock();
      const engines = new EnginesService(new EnginesRepository(db), new SettingsRepository(db), clock, new IdGenerator(clock));
      expect(await engines.seedBuiltins()).to.equal(true);
      expect(await engines.seedBuiltins()).to.equal(false);
      const rows = (await sql<{ name: string; builtin: boolean }>`SELECT name, builtin FROM engines ORDER BY seq`.execute(db)).rows;
      expect(rows.map((r) => r.name)).to.include.members(['vllm', 'vllm-ascend', 'sglang', 'mindie']);
      expect(rows.every((r) => r.builtin)).to.equal(true);
      const defaults = (
        await sql<{
          vendor: string;
          name: string;
        }>`SELECT d.vendor, e.name FROM engine_defaults d JOIN engines e ON e.id = d.engine_id ORDER BY d.vendor`.execute(db)
      ).rows;
      expect(defaults).to.deep.include({ vendor: 'nvidia', name: 'vllm' });
      expect(defaults).to.deep.include({ vendor: 'huawei', name: 'vllm-ascend' });
      expect(defaults).to.have.length(8);
    } finally {
      await database.close();
    }
  });
});
