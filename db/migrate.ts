import { inspect } from 'node:util';
import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import { MIGRATIONS } from './migrations/index.js';

/**
 * Applies every pending migration. Safe when several replicas start at once: Kysely takes a
 * PostgreSQL advisory lock around the run. Throws with the failing migration's name.
 */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const message = result.error instanceof Error ? result.error.message : inspect(result.error);
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${message}`, { cause: result.error });
  }
}

/** True when every known migration has been applied (for /readyz). */
export async function migrationsApplied<DB>(db: Kysely<DB>): Promise<boolean> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
  const list = await migrator.getMigrations();
  return list.every((m) => m.executedAt !== undefined);
}

/**
 * The readiness check of /readyz: true when the database answers and every migration is applied
 * (once applied, only the database's answer is checked again). Never throws.
 */
export function readinessProbe<DB>(db: Kysely<DB>): () => Promise<boolean> {
  let migrated = false;
  return async () => {
    try {
      await sql`select 1`.execute(db);
      migrated ||= await migrationsApplied(db);
      return migrated;
    } catch {
      return false;
    }
  };
}
