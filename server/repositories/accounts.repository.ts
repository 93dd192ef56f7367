import type { Kysely, Selectable } from 'kysely';
import type { DB, SessionsTable, UsersTable } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;

/** Users who sign in to the console and portal, and their sessions. */
export class AccountsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  insertUser(row: Omit<UserRow, 'seq'>): Promise<UserRow> {
    return this.db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findUser(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  listUsers(filter: { tenantId?: string }, page: PageRequest): Promise<UserRow[]> {
    let q = this.db.selectFrom('users').selectAll();
    if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
    return q.$call(onePage(page)).execute();
  }

  async insertSession(row: SessionRow): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute();
  }

  /** A session not expired at `now`; one made with an API key only while the key is not revoked. */
  findSession(idHash: string, now: Date): Promise<SessionRow | undefined> {
    return this.db
      .selectFrom('sessions')
      .selectAll('sessions')
      .where('id_hash', '=', idHash)
      .where('expires_at', '>', now)
      .where((eb) =>
        eb.or([
          eb('api_key_id', 'is', null),
          eb.exists(
            eb.selectFrom('api_keys').select('api_keys.id').whereRef('api_keys.id', '=', 'sessions.api_key_id').where('api_keys.revoked_at', 'is', null),
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
