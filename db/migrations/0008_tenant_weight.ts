import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * A tenant's fair-share weight, set by the operator (default 1): within a priority, a tenant of
 * weight 2 is entitled to twice the share of one of weight 1 before it waits behind it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE tenants ADD COLUMN weight double precision NOT NULL DEFAULT 1
      CONSTRAINT tenants_weight_positive CHECK (weight > 0)`.execute(db);
}
