import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * A tenant's pending workloads in arrival order, without its history: the pending cap counts
 * them at every create, and a tenant's placed and deleted workloads (which only grow) are not in
 * this index, so the count costs what is pending, never what was.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX workloads_pending_tenant_seq_idx ON workloads (tenant_id, seq) WHERE state = 'pending'`.execute(db);
}
