import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Shared workloads (API.md v2 "Token gateway"): the operator runs them for every tenant to call
 * through the gateway, pay-as-you-go. They belong to the platform's own tenant, made on the first
 * shared create (so a platform that has none lists no such tenant), and are always called through
 * the gateway: their callers are metered there, each under its own plan.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE workloads
      ADD COLUMN shared boolean NOT NULL DEFAULT false,
      ADD CONSTRAINT workloads_shared_through_gateway CHECK (NOT shared OR access = 'gateway')`.execute(db);
}
