import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Serving through the token gateway (API.md v2 "Token gateway"):
 * - each placement has a `serving_key`, the secret its agent gives the serving engine as its API
 *   key and the gateway presents when it calls a replica. PostgreSQL draws it (gen_random_uuid,
 *   from the operating system's strong random source), so every path that inserts a placement —
 *   and every placement that exists already — has one;
 * - `endpoints`: the base URLs of a placement's ready replicas, as its agent last reported them;
 * - a workload's `access`: `gateway` (called through the gateway, which meters every call) or
 *   `direct` (called on the cluster's own endpoints; billed from the agents' usage reports).
 *   Workloads that exist already were called directly (there was no gateway) and are billed from
 *   their agents' reports: they are `direct`; new ones default to `gateway`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE placements
      ADD COLUMN serving_key text NOT NULL DEFAULT ('tp_serve_' || replace(gen_random_uuid()::text, '-', '')),
      ADD COLUMN endpoints text[] NOT NULL DEFAULT '{}'`.execute(db);
  await sql`
    ALTER TABLE workloads
      ADD COLUMN access text NOT NULL DEFAULT 'direct' CONSTRAINT workloads_access CHECK (access IN ('gateway', 'direct'))`.execute(db);
  await sql`ALTER TABLE workloads ALTER COLUMN access SET DEFAULT 'gateway'`.execute(db);
}
