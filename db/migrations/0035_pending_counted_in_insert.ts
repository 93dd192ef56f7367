import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * A create's insert counts its own workloads into `pending_in` (migration 0017), under the tenants'
 * count rows it locks in tenant order before it decides what fits, so the statement-level trigger
 * is left to every other insert of pending workloads. The trigger's own cost (a PL/pgSQL call and
 * its two statements on a transition table) was paid per statement, and creates are many small
 * statements: 10–25 µs of PostgreSQL's time per create.
 *
 * The insert says it counted itself with the transaction-local setting `tokenpool.pending_counted`
 * = `on`, which the trigger's `WHEN` reads when the statement ends. Any other insert (no setting)
 * is counted, and checked against `tokenpool.max_pending` when set, by the trigger as before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER workloads_pending_inserted ON workloads`.execute(db);
  await sql`
    CREATE TRIGGER workloads_pending_inserted AFTER INSERT ON workloads REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT
      WHEN (current_setting('tokenpool.pending_counted', true) IS DISTINCT FROM 'on')
      EXECUTE FUNCTION pending_inserted()`.execute(db);
}
