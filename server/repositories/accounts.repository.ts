import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, SessionsTable, UsersTable } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;

/** How failed sign-ins against one key slow the next attempt. */
export interface BackOff {
  /** Failures after which the next attempt must wait. */
  readonly free: number;
  /** The wait after failure number `free`; it doubles with each further one. */
  readonly baseMs: number;
  /** The longest wait. */
  readonly capMs: number;
}

/** How many expired throttle rows one failure prunes at most. */
const PRUNE_BATCH = 100;

/** Users who sign in to the console and portal, and their sessions. */
export class AccountsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  insertUser(row: Omit<UserRow, 'seq' | 'disabled_at'>): Promise<UserRow> {
    return this.db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findUser(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  getUser(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Changes a user; disabling it or changing its password also ends its sessions, in the same
   * transaction. Undefined for an unknown user.
   */
  updateUser(id: string, changes: { disabledAt?: Date | null; passwordHash?: string }): Promise<UserRow | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .updateTable('users')
        .set({
          ...(changes.disabledAt === undefined ? {} : { disabled_at: changes.disabledAt }),
          ...(changes.passwordHash === undefined ? {} : { password_hash: changes.passwordHash }),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (row && (changes.disabledAt || changes.passwordHash !== undefined)) await tx.deleteFrom('sessions').where('user_id', '=', id).execute();
      return row;
    });
  }

  /** Deletes a user and (by cascade) its sessions; false for an unknown user. */
  async deleteUser(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  listUsers(filter: { tenantId?: string }, page: PageRequest): Promise<UserRow[]> {
    let q = this.db.selectFrom('users').selectAll();
    if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
    return q.$call(onePage(page)).execute();
  }

  async insertSession(row: SessionRow): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute();
  }

  /**
   * A session not expired at `now`; one made with an API key only while the key is not revoked
   * nor expired, one of a user only while the user is not disabled.
   */
  findSession(idHash: string, now: Date): Promise<SessionRow | undefined> {
    return this.db
      .selectFrom('sessions')
      .selectAll('sessions')
      .where('id_hash', '=', idHash)
      .where('expires_at', '>', now)
      .where((eb) =>
        eb.or([
          eb('user_id', 'is', null),
          eb.exists(eb.selectFrom('users').select('users.id').whereRef('users.id', '=', 'sessions.user_id').where('users.disabled_at', 'is', null)),
        ]),
      )
      .where((eb) =>
        eb.or([
          eb('api_key_id', 'is', null),
          eb.exists(
            eb
              .selectFrom('api_keys')
              .select('api_keys.id')
              .whereRef('api_keys.id', '=', 'sessions.api_key_id')
              .where('api_keys.revoked_at', 'is', null)
              .where((k) => k.or([k('api_keys.expires_at', 'is', null), k('api_keys.expires_at', '>', now)])),
          ),
        ]),
      )
      .executeTakeFirst();
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  /** Updates a user's hash to a stronger one of the same password, unless it changed meanwhile; sessions stay. */
  async rehashPassword(id: string, from: string, to: string): Promise<void> {
    await this.db.updateTable('users').set({ password_hash: to }).where('id', '=', id).where('password_hash', '=', from).execute();
  }

  /** Ends the sessions made with the built-in admin token (not users' or API keys'). */
  async deleteAdminTokenSessions(): Promise<void> {
    await this.db.deleteFrom('sessions').where('kind', '=', 'operator').where('user_id', 'is', null).where('api_key_id', 'is', null).execute();
  }

  /** The latest time, after `now`, until which any of `keys` must wait; undefined: none must. */
  async blockedUntil(keys: readonly string[], now: Date): Promise<Date | undefined> {
    const row = await this.db
      .selectFrom('sign_in_failures')
      .select((eb) => eb.fn.max('blocked_until').as('until'))
      .where('key', 'in', keys)
      .where('blocked_until', '>', now)
      .executeTakeFirst();
    return row?.until ?? undefined;
  }

  /**
   * Counts one failed sign-in against `key` at `now`, in one statement (parallel failures on any
   * process all count), and sets when the next attempt may come. A key whose last failure is
   * before `forgetBefore` starts again from one. Answers the count and the wait's end.
   */
  async recordFailure(key: string, now: Date, forgetBefore: Date, b: BackOff): Promise<{ failures: number; blockedUntil: Date }> {
    // The count after this failure, in the update's terms; the wait once it is past `free`.
    const count = sql<number>`(CASE WHEN f.last_failed_at < ${forgetBefore}::timestamptz THEN 1 ELSE f.failures + 1 END)`;
    const wait = (n: ReturnType<typeof sql<number>>) =>
      sql<Date>`CASE WHEN ${n} >= ${b.free}::int
        THEN ${now}::timestamptz + make_interval(secs => least(${b.capMs / 1000}::float8, ${b.baseMs / 1000}::float8 * power(2::float8, least(${n} - ${b.free}::int, 40))))
        ELSE ${now}::timestamptz END`;
    const first = sql<number>`1`;
    const r = await sql<{ failures: number; blocked_until: Date }>`
      INSERT INTO sign_in_failures AS f (key, failures, blocked_until, last_failed_at)
      VALUES (${key}, 1, ${wait(first)}, ${now}::timestamptz)
      ON CONFLICT (key) DO UPDATE SET
        failures = ${count},
        blocked_until = ${wait(count)},
        last_failed_at = ${now}::timestamptz
      RETURNING failures, blocked_until`.execute(this.db);
    const row = r.rows[0]!;
    return { failures: row.failures, blockedUntil: row.blocked_until };
  }

  /** Clears `key`'s failures (a success for a name). */
  async clearFailures(key: string): Promise<void> {
    await this.db.deleteFrom('sign_in_failures').where('key', '=', key).execute();
  }

  /**
   * Deletes up to PRUNE_BATCH rows whose last failure is before `forgetBefore`; rows another
   * statement holds are left for a later prune. Every failure prunes, so rows of random names
   * leave as fast as they come once they are old enough.
   */
  async pruneFailures(forgetBefore: Date): Promise<number> {
    const r = await sql`
      DELETE FROM sign_in_failures WHERE key IN (
        SELECT key FROM sign_in_failures WHERE last_failed_at < ${forgetBefore}::timestamptz
        ORDER BY last_failed_at LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n);
  }

  async deleteExpiredSessions(now: Date): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }
}
