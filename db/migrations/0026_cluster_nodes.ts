import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Node-level inventory (issue 14): what a cluster's agent last reported of its nodes, one row per
 * cluster. `nodes` is the report as sent (`[{ name, deviceModel, total, free }]`, at most 5,000)
 * for the operator's view; `fit` is what the scheduler reads of it, per device model the free
 * devices of each node and the largest node's total (`{ "<deviceModel>": { "free": [..],
 * "largest": n } }`), so a cycle does not walk every node of every cluster. `leader_worker_set`:
 * the cluster serves LeaderWorkerSets (replicas may span nodes). `reported_at` is touched by every
 * heartbeat that carries the report, so a report an agent stopped sending ages out (the scheduler
 * ignores one older than the cluster TTL). Clusters without a row never reported nodes: the
 * scheduler judges them by device counts alone.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE cluster_nodes (
      cluster_id text PRIMARY KEY REFERENCES clusters (id) ON DELETE CASCADE,
      nodes jsonb,
      fit jsonb,
      leader_worker_set boolean NOT NULL DEFAULT false,
      reported_at timestamptz NOT NULL
    )`.execute(db);
}
