import { type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Failed sign-ins, counted in the database so that every process and replica sees the same
 * counts: one row per throttled key (a name, a token's hash, a client address). `blocked_until`
 * is when the next attempt may come; a row whose last failure is old enough is forgotten (its
 * count starts again) and pruned, by last_failed_at.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sign_in_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('blocked_until', 'timestamptz', (c) => c.notNull())
    .addColumn('last_failed_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sign_in_failures_last_idx').on('sign_in_failures').column('last_failed_at').execute();
}
