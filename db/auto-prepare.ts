/**
 * Prepared statements without asking for them, as pgJDBC's `prepareThreshold` does: a statement
 * text the pool has run `prepareAfter` times is from then on sent as a named statement, which
 * PostgreSQL parses and plans once per connection and afterwards only binds and executes. The
 * platform's hot statements (a create's insert, a heartbeat's upsert, the scheduler's reads) are
 * fixed texts run thousands of times a minute; parsing and planning was a tenth of a millisecond
 * of the database's CPU each time.
 *
 * At most `maxPrepared` texts are ever named (each connection keeps a plan per name), so texts
 * that vary (lists of ids, say) cannot fill a connection's memory.
 */
import { createHash } from 'node:crypto';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';

export interface AutoPrepareOptions {
  /** Runs of one text before it is prepared; default 5 (pgJDBC's default). */
  readonly prepareAfter?: number;
  /** Most texts ever prepared; default 100. */
  readonly maxPrepared?: number;
}

/** A pool for Kysely's PostgresDialect over `pool`, preparing the statements it runs often. */
export function autoPreparing(pool: pg.Pool, opts: AutoPrepareOptions = {}): PostgresPool & { readonly prepared: () => number } {
  const prepareAfter = opts.prepareAfter ?? 5;
  const maxPrepared = opts.maxPrepared ?? 100;
  const runs = new Map<string, number>();
  const names = new Map<string, string>();

  const nameOf = (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= maxPrepared) return known;
    const n = (runs.get(text) ?? 0) + 1;
    if (n < prepareAfter) {
      if (runs.size >= 10_000) runs.clear();
      runs.set(text, n);
      return undefined;
    }
    runs.delete(text);
    const name = `tp_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
    return name;
  };

  return {
    prepared: () => names.size,
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query<R>(sql: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
        if (typeof sql !== 'string') return client.query(sql as never);
        const name = nameOf(sql);
        const values = parameters as unknown[];
        return (name === undefined ? client.query(sql, values) : client.query({ name, text: sql, values })) as unknown as Promise<PostgresQueryResult<R>>;
      }
      return { query, release: (destroy?: boolean) => client.release(destroy) };
    },
    end: () => pool.end(),
  };
}
