import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Usage events name the API key and the placement of a call the gateway served (API.md v2 "Token
 * gateway": attributed to tenant, API key, workload, placement and cluster). Both are null where
 * there is none: agents' reports name neither, and a signed-in user's call through the gateway has
 * no key. Rows stored before keep null in both (no default, so adding them rewrites nothing).
 *
 * No foreign keys: a revoked or deleted key's usage stays billable and stays attributed to the id
 * it was made with, and a placement that ended keeps its usage; a reference would either block
 * those deletions or (ON DELETE SET NULL) erase the attribution, and every insert on the gateway's
 * path would pay for the check.
 *
 * No index: every read by key is bounded by a time range (and, for a tenant, by its tenant), which
 * usage_events_tenant_occurred and usage_events_occurred already serve, and a key belongs to one
 * tenant; an index would be paid for by every metered call.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE usage_events ADD COLUMN api_key_id text, ADD COLUMN placement_id text`.execute(db);
}
