import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The gateway's request log: one row per call to `/v1`, served or refused.
 *
 * Partitioned by month of `started_at` (UTC), because a gateway's log is the table that grows
 * without bound: keeping it to a retention by DELETE leaves dead tuples to vacuum and bloated
 * indexes, while dropping a whole month's partition is instant and leaves nothing behind. The
 * monthly partitions are made ahead of time by the application (RequestsRepository.ensurePartitions,
 * at start-up and by the retention job), named `request_log_yYYYYmMM`; the DEFAULT partition takes
 * what falls outside them, so that an insert never fails for want of a partition.
 *
 * The primary key includes the partition key, as every unique key of a partitioned table must:
 * (started_at, request_id) makes a retried insert of the same request a no-op. Pages follow
 * `seq` (server/repositories/paging.ts), so the indexes lead with the filters and end with seq;
 * a time filter prunes to the months it spans.
 *
 * No foreign keys: the log outlives the tenants, keys and workloads it names, and every insert
 * would check them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE request_log (
      seq bigserial NOT NULL,
      request_id text NOT NULL,
      started_at timestamptz NOT NULL,
      tenant_id text NOT NULL,
      api_key_id text,
      user_id text,
      model text NOT NULL,
      workload_id text,
      placement_id text,
      cluster_id text,
      endpoint text NOT NULL,
      status integer NOT NULL,
      error_code text,
      prompt_tokens bigint,
      completion_tokens bigint,
      ttft_ms integer,
      duration_ms integer NOT NULL,
      streamed boolean NOT NULL,
      attempts integer NOT NULL,
      PRIMARY KEY (started_at, request_id)
    ) PARTITION BY RANGE (started_at)`.execute(db);
  await sql`CREATE INDEX request_log_seq_idx ON request_log (seq)`.execute(db);
  await sql`CREATE INDEX request_log_tenant_idx ON request_log (tenant_id, seq)`.execute(db);
  await sql`CREATE INDEX request_log_tenant_time_idx ON request_log (tenant_id, started_at)`.execute(db);
  await sql`CREATE INDEX request_log_key_idx ON request_log (api_key_id, seq)`.execute(db);
  await sql`CREATE TABLE request_log_default PARTITION OF request_log DEFAULT`.execute(db);
}
