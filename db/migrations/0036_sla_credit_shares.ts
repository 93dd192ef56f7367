import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * An SLA credit's parts by responsible cluster (issue 15, "the same event lowers the responsible
 * provider's statement"). Before, a credit was charged whole to the cluster of its longest counted
 * spell (`sla_credits.cluster_id`), so a provider could carry another's failures. Now each cluster
 * whose spells made the month's minutes short carries a share in proportion to its short minutes
 * (server/billing/sla.ts `creditShares`), and `statement_id` says which statement took it off.
 *
 * Credits made before keep their one cluster: each becomes one share of the whole amount, with the
 * statement that carried it, and `short_minutes` null (not measured per cluster then).
 * `sla_credits.statement_id` stays as history; shares are what statements read from now on, so the
 * index that found credits on no statement yet goes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE sla_credit_shares (
      workload_id text NOT NULL,
      period text NOT NULL,
      subscription_id text NOT NULL,
      cluster_id text NOT NULL,
      short_minutes integer CHECK (short_minutes > 0),
      amount numeric(20, 2) NOT NULL CHECK (amount < 0),
      statement_id text,
      PRIMARY KEY (workload_id, period, subscription_id, cluster_id),
      FOREIGN KEY (workload_id, period, subscription_id) REFERENCES sla_credits (workload_id, period, subscription_id)
    )`.execute(db);
  await sql`DROP INDEX sla_credits_unstated_idx`.execute(db);
  await sql`CREATE INDEX sla_credit_shares_unstated_idx ON sla_credit_shares (cluster_id) WHERE statement_id IS NULL`.execute(db);
  await sql`
    INSERT INTO sla_credit_shares (workload_id, period, subscription_id, cluster_id, amount, statement_id)
    SELECT workload_id, period, subscription_id, cluster_id, amount, statement_id FROM sla_credits WHERE cluster_id IS NOT NULL AND amount < 0`.execute(db);
}
