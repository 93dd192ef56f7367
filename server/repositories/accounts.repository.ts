import type { Kysely, Selectable } from 'kysely';
import type { DB, SessionsTable, UsersTable } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;

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

  async deleteExpiredSessions(now: Date): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }
}
