import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Measured energy and load per placement (issue 14, "Measured tokens per watt").
 *
 * `placement_minutes`: one row per placement and UTC minute in which its agent reported it with a
 * ready replica. `joules` is the energy its devices used in that minute as measured by the
 * cluster's power exporter (the increase of the agent's `energyJoules` counter, spread evenly over
 * the minutes between two reports), `energy_seconds` the part of the minute the measurement covers
 * (0: no energy measured, the row only records replicas), `ready_replicas` the fewest ready
 * replicas reported in the minute. Minutes are what tokens are joined on: a placement's metered
 * tokens count towards tokens per joule only in minutes whose energy was measured.
 *
 * `placement_energy_state`: the last counter reading of each placement whose agent reports
 * energy, against which the next report's increase is taken (a lower reading is a reset).
 *
 * No foreign keys: a placement that ended keeps its measurements, and heartbeats must not pay for
 * the checks. The minute index serves window reads; the primary key serves the heartbeats' upserts.
 * Rows are small (about 60 bytes); a retention job is left for later.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE placement_minutes (
      placement_id text NOT NULL,
      minute timestamptz NOT NULL,
      cluster_id text NOT NULL,
      joules double precision NOT NULL DEFAULT 0 CHECK (joules >= 0),
      energy_seconds double precision NOT NULL DEFAULT 0 CHECK (energy_seconds >= 0 AND energy_seconds <= 60.001),
      ready_replicas integer NOT NULL CHECK (ready_replicas >= 0),
      PRIMARY KEY (placement_id, minute)
    )`.execute(db);
  await sql`CREATE INDEX placement_minutes_minute_idx ON placement_minutes (minute)`.execute(db);
  await sql`
    CREATE TABLE placement_energy_state (
      placement_id text PRIMARY KEY,
      cluster_id text NOT NULL,
      counter_joules double precision NOT NULL CHECK (counter_joules >= 0),
      power_watts double precision CHECK (power_watts >= 0),
      reported_at timestamptz NOT NULL
    )`.execute(db);
}
