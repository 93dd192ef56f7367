import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The audit log: who changed what, when and from where (MLPS 2.0 security audit). Append-only:
 * the database refuses UPDATE and TRUNCATE always, and DELETE of any row younger than 180 days
 * by the database's own clock — the six months China's Cybersecurity Law (art. 21) asks network
 * logs to be kept. The retention job's deletion of older rows is the one way rows leave; the
 * retention setting cannot go below 180 days, so the job never meets the refusal.
 *
 * No foreign keys: the log outlives the tenants, users and keys it names.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text')
    .addColumn('actor_user_id', 'text')
    .addColumn('actor_key_id', 'text')
    .addColumn('tenant_id', 'text')
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text')
    .addColumn('created_id', 'text')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('changes', 'jsonb')
    .addColumn('address', 'text')
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('audit_log_tenant_idx').on('audit_log').columns(['tenant_id', 'seq']).execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();

  await sql`
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND OLD.at < now() - interval '180 days' THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'restrict_violation';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`.execute(db);
}
