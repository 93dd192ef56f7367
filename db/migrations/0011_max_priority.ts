import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The highest workload priority a tenant may ask for, granted by the operator (default `normal`):
 * priority is granted, not self-declared, so a tenant cannot preempt others by calling its own
 * workloads `high`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE tenants ADD COLUMN max_priority text NOT NULL DEFAULT 'normal'
      CONSTRAINT tenants_max_priority_known CHECK (max_priority IN ('high', 'normal', 'low'))`.execute(db);
}
