import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The platform's history (issue 16, "Foundation"): one row per UTC minute of the city's totals,
 * so that every chart opens with history.
 *
 * Two kinds of figure share a row. Gauges, read once when the minute is first sampled (the first
 * sampler to insert the minute wins; others change nothing, so replicas never double a minute):
 * the pool's capacity, allocation and free capacity in standard tokens per minute, and the
 * clusters by state. Flows, counted over the minute [minute, minute + 1 min) and counted again
 * while late usage may still arrive (`counted_at` says when they were last counted): standard
 * tokens served (the gateway's metered calls and the agents' reports apart), model tokens in and
 * out, the gateway's requests, and measured energy with the standard tokens served in the measured
 * placement-minutes. `energy_joules` and `measured_std_tokens` are null when no energy was
 * measured in the minute: a figure nobody measured is never written as 0.
 *
 * About 150 bytes a row, 1,440 rows a day: the primary key on `minute` serves range reads and the
 * retention's deletes. No foreign keys: history outlives clusters and tenants.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE history_minutes (
      minute timestamptz PRIMARY KEY,
      sampled_at timestamptz NOT NULL,
      total_std_per_min double precision NOT NULL CHECK (total_std_per_min >= 0),
      allocated_std_per_min double precision NOT NULL CHECK (allocated_std_per_min >= 0),
      free_std_per_min double precision NOT NULL CHECK (free_std_per_min >= 0),
      clusters_ready integer NOT NULL CHECK (clusters_ready >= 0),
      clusters_not_ready integer NOT NULL CHECK (clusters_not_ready >= 0),
      clusters_cordoned integer NOT NULL CHECK (clusters_cordoned >= 0),
      counted_at timestamptz,
      gateway_std_tokens numeric(38, 12) NOT NULL DEFAULT 0,
      agent_std_tokens numeric(38, 12) NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_tokens bigint NOT NULL DEFAULT 0,
      requests bigint NOT NULL DEFAULT 0,
      failed_requests bigint NOT NULL DEFAULT 0,
      energy_joules double precision CHECK (energy_joules >= 0),
      energy_seconds double precision NOT NULL DEFAULT 0 CHECK (energy_seconds >= 0),
      measured_std_tokens numeric(38, 12)
    )`.execute(db);
}
