import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Roles that hold: an API key is a tenant `admin` (manages the tenant's keys, users and budget) or a
 * `member` (everything else). Keys made before roles existed could do all of that, and a tenant's
 * first key is its only credential until it makes users, so they become `admin`: nothing that
 * works today stops working. New keys get the role the service gives them. And a user may be
 * disabled: it can no longer sign in, and its sessions end.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
      CONSTRAINT api_keys_role CHECK (role IN ('admin', 'member'))`.execute(db);
  await sql`ALTER TABLE users ADD COLUMN disabled_at timestamptz`.execute(db);
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
}
