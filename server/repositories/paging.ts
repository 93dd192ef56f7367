/**
 * Cursor paging over a table's `seq` column: the cursor is the last row's seq, opaque to clients.
 */
import { sql, type SelectQueryBuilder } from 'kysely';
import { AppError } from '../errors.js';

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface PageRequest {
  readonly limit: number;
  /** The seq after which the page starts, decoded from the client's cursor. */
  readonly after: number;
}

export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^s(\d{1,15})$/.exec(text);
  if (!m) throw new AppError('invalid', 'The cursor is not valid.', [{ path: 'query.cursor', message: 'not a cursor from a previous page' }]);
  return Number(m[1]);
}

/** Turns `limit + 1` fetched rows into a page and the cursor of the next one. */
export function toPage<R extends { seq: number }, T>(rows: readonly R[], limit: number, map: (r: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? encodeCursor(kept[kept.length - 1]!.seq) : null };
}

/**
 * Narrows a select to one page: the rows whose `column` (the table's `seq`) comes after the
 * cursor, in that order, one more than the limit so that {@link toPage} can tell whether another
 * page follows. Used with `$call`: `db.selectFrom('tenants').selectAll().$call(onePage(page))`.
 */
export function onePage(page: PageRequest, column = 'seq') {
  return <DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> =>
    q
      .where(sql.ref(column), '>', page.after)
      .orderBy(sql.ref(column))
      .limit(page.limit + 1);
}
