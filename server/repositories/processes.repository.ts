import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';

/** What a platform process sets as `application_name` on its long-lived connection, before its id. */
export const PROCESS_APPLICATION_PREFIX = 'tokenpool:';

/**
 * The platform's live processes, as PostgreSQL knows them: each names its long-lived connection
 * `tokenpool:<process id>` (server/tunnel/processes.ts), so the sessions on this database are the
 * live processes, with no table to keep. `pg_stat_activity` shows `application_name` of the same
 * role's sessions, and the platform connects as one role.
 */
export class ProcessesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** The ids of the processes connected to this database now, at most `limit`, in order. */
  async live(limit: number): Promise<string[]> {
    const r = await sql<{ name: string }>`
      SELECT DISTINCT application_name AS name FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE ${`${PROCESS_APPLICATION_PREFIX}%`}
      ORDER BY 1 LIMIT ${limit}`.execute(this.db);
    return r.rows.map((row) => row.name.slice(PROCESS_APPLICATION_PREFIX.length));
  }
}
