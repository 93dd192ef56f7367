import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Usage event ids are scoped to the reporting cluster: an id is counted once per cluster, ever, so
 * one cluster's agent cannot shadow another's events by reusing their ids. Every stored row keeps
 * its id and cluster, and ids were unique before, so the existing rows satisfy the new key.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey`.execute(db);
  await sql`ALTER TABLE usage_events ADD CONSTRAINT usage_events_pkey PRIMARY KEY (cluster_id, id)`.execute(db);
}
