import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Placement health (issue 14): what an agent last reported of a placement's pods — its `phase`
 * (pending | starting | running | failing), the `health_reason` and `health_message` of a failing
 * one, the replicas its Deployment wants — and the times the platform judges it by:
 * `failing_since` (the first report of the current failing spell; null when not failing),
 * `ready_at` (when all its replicas were first ready; null: never yet) and `failed_at` (when the
 * platform gave up on it: the placement became `failed` and its workload was placed again).
 *
 * Rows stored before keep null health: a placement whose agent never reported a phase is judged
 * by the cluster TTL alone, as before. Active placements made before count as started
 * (`ready_at` = their creation): once their agent is upgraded, one that happens to be restarting
 * must not be failed at once for a startup deadline that passed long ago; the failing deadline
 * still applies to them. Only active rows are touched; history keeps null.
 *
 * Two partial indexes, each over the few rows it is for: recent failures (which clusters failed a
 * model lately, for the scheduler's filter), and the active placements a health deadline may catch
 * (failing, or never yet ready), which the scheduler looks at every few seconds. Neither covers a
 * column a heartbeat writes on every ready count (`ready_replicas`, `endpoints`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE placements
      ADD COLUMN phase text,
      ADD COLUMN health_reason text,
      ADD COLUMN health_message text,
      ADD COLUMN desired_replicas integer,
      ADD COLUMN failing_since timestamptz,
      ADD COLUMN ready_at timestamptz,
      ADD COLUMN failed_at timestamptz`.execute(db);
  await sql`UPDATE placements SET ready_at = created_at WHERE state IN ('placed', 'running')`.execute(db);
  await sql`CREATE INDEX placements_failed_at_idx ON placements (failed_at) WHERE failed_at IS NOT NULL`.execute(db);
  await sql`
    CREATE INDEX placements_unhealthy_idx ON placements (id)
     WHERE state IN ('placed', 'running') AND phase IS NOT NULL AND (failing_since IS NOT NULL OR ready_at IS NULL)`.execute(db);
}
