import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/** People who sign in to the console and portal, and their browser sessions. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    // `scrypt$N$r$p$salt$hash`, base64url parts.
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('operator', 'tenant')`))
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('cascade'))
    .addColumn('admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('users_tenant_kind', sql`(kind = 'tenant') = (tenant_id IS NOT NULL)`)
    .execute();

  await db.schema
    .createTable('sessions')
    // SHA-256 of the cookie's value; the value itself is never stored.
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('cascade'))
    .addColumn('api_key_id', 'text')
    .addColumn('tenant_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
}
