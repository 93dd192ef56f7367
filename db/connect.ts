/**
 * One Kysely instance over PostgreSQL (`pg`) or the embedded PGlite, with the same value types
 * from both: `int8` as a JS number, `numeric` as its decimal text, `timestamptz` as a Date.
 */
import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { autoPreparing } from './auto-prepare.js';
import type { DB } from './schema.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface Database {
  readonly db: Kysely<DB>;
  readonly kind: DatabaseKind;
  /** The connection string of a PostgreSQL database (for connections outside the pool). */
  readonly url?: string;
  /** Closes every connection; the instance is unusable afterwards. */
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Reads `int8` as a number; refuses values a JS number cannot hold exactly. */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value out of the safe range: ${text}`);
  return value;
}

export interface ConnectOptions {
  /** `postgres://…`, `postgresql://…`, `pglite://memory`, or undefined for PGlite in `dataDir`. */
  readonly url: string | undefined;
  /** Folder of the persisted embedded database when `url` is undefined. */
  readonly dataDir?: string;
  /** Pool size for PostgreSQL. */
  readonly poolSize?: number;
}

export async function connectDatabase(opts: ConnectOptions): Promise<Database> {
  const url = opts.url;
  if (url !== undefined && /^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? parseInt8 : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) as never,
      },
    });
    // An idle connection the server ends (a restart, a failover, an administrator) is dropped by
    // the pool, which then emits 'error': without a listener that would end the process. The next
    // query opens a new connection; a query in flight gets its own error.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: autoPreparing(pool) }) });
    return { db, kind: 'postgres', url, close: () => db.destroy() };
  }
  if (url !== undefined && url !== 'pglite://memory') {
    throw new Error(`unsupported database URL (use postgres://…, postgresql://… or pglite://memory)`);
  }
  let dataDir: string | undefined;
  if (url === undefined) {
    dataDir = opts.dataDir ?? './.tokenpool';
    mkdirSync(dataDir, { recursive: true });
  }
  const lite = await PGlite.create(dataDir ? `${dataDir}/pgdata` : undefined, {
    parsers: { [INT8_OID]: parseInt8, [NUMERIC_OID]: (text: string) => text },
  });
  return wrapPGlite(lite);
}

/** Wraps an open PGlite (for tests that clone a migrated template). */
export function wrapPGlite(lite: PGlite): Database {
  const db = new Kysely<DB>({ dialect: new PGliteDialect(lite) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}
