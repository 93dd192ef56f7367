import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Engine counts: the usage agents report for `access = 'gateway'` workloads (API.md v2 "Token
 * gateway"). The gateway meters and bills every call of such a workload itself, so its serving
 * engines' counters are kept here as a cross-check, never billed: the metering check compares them
 * with the metered usage of each workload and cluster.
 *
 * Idempotent as usage events are: an event id counted once per reporting cluster, ever (primary
 * key (cluster_id, id)). Append-only: a count once written is never changed (the database refuses
 * UPDATE); rows may be deleted by a retention.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE engine_counts (
      cluster_id text NOT NULL,
      id text NOT NULL,
      workload_id text NOT NULL,
      input_tokens bigint NOT NULL,
      output_tokens bigint NOT NULL,
      occurred_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL,
      PRIMARY KEY (cluster_id, id)
    )`.execute(db);
  await sql`CREATE INDEX engine_counts_occurred ON engine_counts (occurred_at)`.execute(db);
  await sql`
    CREATE FUNCTION engine_counts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'engine_counts is append-only: % is not allowed', TG_OP USING ERRCODE = 'restrict_violation';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER engine_counts_no_update BEFORE UPDATE ON engine_counts
      FOR EACH ROW EXECUTE FUNCTION engine_counts_append_only()`.execute(db);
}
