import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { energyIncrease, minuteOf, spreadOverMinutes, type LoadMinute, type PlacementEnergy } from '../domain/energy.js';

/** What an agent reported of one placement in a heartbeat, as far as energy and load go. */
export interface EnergyReport {
  readonly id: string;
  readonly readyReplicas: number;
  readonly energyJoules?: number | undefined;
  readonly powerWatts?: number | undefined;
}

/** How recent a power reading must be to count as the placement's power now, in ms. */
const POWER_FRESH_MS = 120_000;

/**
 * Measured energy and load per placement and minute (migration 0027), and the windowed reads that
 * join them with metered tokens (usage events, migration 0022) and the request log.
 */
export class EnergyRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Records a heartbeat's placement reports for the cluster's own placements: energy counter
   * increases spread over the minutes they cover (energy.ts), the fewest ready replicas of the
   * current minute, and each counter's new reading. Reports of placements on other clusters are
   * ignored. Only reports with a ready replica or an energy reading write anything.
   */
  async record(clusterId: string, reports: readonly EnergyReport[], now: Date): Promise<void> {
    // A placement named twice counts once (its last report): one upsert may not touch a row twice.
    const useful = [...new Map(reports.map((r) => [r.id, r])).values()].filter((r) => r.readyReplicas > 0 || r.energyJoules !== undefined);
    if (useful.length === 0) return;
    const nowMs = now.getTime();
    if (!useful.some((r) => r.energyJoules !== undefined)) {
      // The common heartbeat (an agent without power exporters): one statement, ready replicas only.
      await sql`
        INSERT INTO placement_minutes (placement_id, minute, cluster_id, ready_replicas)
        SELECT r.id, ${new Date(minuteOf(nowMs))}::timestamptz, ${clusterId}, r.ready
          FROM unnest(${useful.map((r) => r.id)}::text[], ${useful.map((r) => r.readyReplicas)}::int[]) AS r(id, ready)
          JOIN placements p ON p.id = r.id AND p.cluster_id = ${clusterId}
        ON CONFLICT (placement_id, minute) DO UPDATE SET ready_replicas = excluded.ready_replicas
         WHERE excluded.ready_replicas < placement_minutes.ready_replicas`.execute(this.db);
      return;
    }
    await this.db.transaction().execute(async (tx) => {
      const owned = await sql<{ id: string }>`
        SELECT id FROM placements WHERE cluster_id = ${clusterId} AND id = ANY(${useful.map((r) => r.id)}::text[])`.execute(tx);
      const mine = new Set(owned.rows.map((r) => r.id));
      const metered = useful.filter((r) => mine.has(r.id) && r.energyJoules !== undefined).map((r) => r.id);
      const states =
        metered.length === 0
          ? []
          : (
              await sql<{ placement_id: string; counter_joules: number; reported_at: Date }>`
                SELECT placement_id, counter_joules, reported_at FROM placement_energy_state
                 WHERE placement_id = ANY(${metered}::text[]) ORDER BY placement_id FOR UPDATE`.execute(tx)
            ).rows;
      const previous = new Map(states.map((s) => [s.placement_id, { counterJoules: Number(s.counter_joules), atMs: s.reported_at.getTime() }]));

      const ids: string[] = [];
      const minutes: Date[] = [];
      const joules: number[] = [];
      const seconds: number[] = [];
      const ready: number[] = [];
      const current = minuteOf(nowMs);
      for (const r of useful) {
        if (!mine.has(r.id)) continue;
        const spread =
          r.energyJoules === undefined ? [] : spreadOverMinutes(energyIncrease(previous.get(r.id), r.energyJoules, nowMs) ?? { joules: 0, fromMs: 0, toMs: 0 });
        const rows = spread.length > 0 ? spread : r.readyReplicas > 0 ? [{ minuteMs: current, joules: 0, seconds: 0 }] : [];
        for (const m of rows) {
          ids.push(r.id);
          minutes.push(new Date(m.minuteMs));
          joules.push(m.joules);
          seconds.push(m.seconds);
          ready.push(r.readyReplicas);
        }
      }
      if (ids.length > 0) {
        // A minute already written is rewritten only when this report adds energy or fewer ready replicas.
        await sql`
          INSERT INTO placement_minutes (placement_id, minute, cluster_id, joules, energy_seconds, ready_replicas)
          SELECT id, minute, ${clusterId}, joules, seconds, ready
            FROM unnest(${ids}::text[], ${minutes.map((d) => d.toISOString())}::timestamptz[], ${joules}::float8[], ${seconds}::float8[], ${ready}::int[])
                 AS r(id, minute, joules, seconds, ready)
          ON CONFLICT (placement_id, minute) DO UPDATE
             SET joules = placement_minutes.joules + excluded.joules,
                 energy_seconds = least(60, placement_minutes.energy_seconds + excluded.energy_seconds),
                 ready_replicas = least(placement_minutes.ready_replicas, excluded.ready_replicas)
           WHERE excluded.energy_seconds > 0 OR excluded.ready_replicas < placement_minutes.ready_replicas`.execute(tx);
      }
      // A reading no later than the last one keeps the last as the baseline: energy cannot have been used in no time.
      const readings = useful.filter((r) => {
        const prev = previous.get(r.id);
        return mine.has(r.id) && r.energyJoules !== undefined && !(prev && nowMs <= prev.atMs);
      });
      if (readings.length > 0) {
        await sql`
          INSERT INTO placement_energy_state (placement_id, cluster_id, counter_joules, power_watts, reported_at)
          SELECT id, ${clusterId}, counter, power, ${now}::timestamptz
            FROM unnest(${readings.map((r) => r.id)}::text[], ${readings.map((r) => r.energyJoules!)}::float8[], ${readings.map((r) => r.powerWatts ?? null)}::float8[])
                 AS r(id, counter, power)
          ON CONFLICT (placement_id) DO UPDATE
             SET counter_joules = excluded.counter_joules, power_watts = excluded.power_watts, reported_at = excluded.reported_at`.execute(tx);
      }
    });
  }

  /** Deletes the placement-minutes before `cutoff`, and the readings of placements not reported since. */
  async deleteBefore(cutoff: Date): Promise<{ minutes: number; readings: number }> {
    const minutes = await this.db.deleteFrom('placement_minutes').where('minute', '<', cutoff).executeTakeFirst();
    const readings = await this.db.deleteFrom('placement_energy_state').where('reported_at', '<', cutoff).executeTakeFirst();
    return { minutes: Number(minutes.numDeletedRows), readings: Number(readings.numDeletedRows) };
  }

  /**
   * Each placement with energy measured in minutes of [from, to): its joules and measured
   * seconds, and the standard tokens it served in those minutes — gateway calls named by
   * placement, and agents' reports of `direct` workloads (named by workload and cluster only)
   * shared among the workload's placements on that cluster by their ready replicas in the minute.
   */
  async placementEnergy(from: Date, to: Date, now: Date): Promise<PlacementEnergy[]> {
    const r = await sql<{
      placement_id: string;
      cluster_id: string;
      cluster_name: string;
      vendor: string;
      model: string;
      profile: string;
      tdp_watts: string;
      std_tokens_per_sec: string;
      joules: number;
      seconds: number;
      std: string;
      power_watts: number | null;
      reported_at: Date | null;
    }>`
      WITH minutes AS (
        SELECT pm.placement_id, pm.minute, pm.joules, pm.energy_seconds, p.cluster_id, p.workload_id,
               CASE WHEN sum(pm.ready_replicas) OVER w = 0 THEN 1.0 / count(*) OVER w
                    ELSE pm.ready_replicas::numeric / sum(pm.ready_replicas) OVER w END AS share
          FROM placement_minutes pm JOIN placements p ON p.id = pm.placement_id
         WHERE pm.minute >= ${from} AND pm.minute < ${to}
        WINDOW w AS (PARTITION BY p.cluster_id, p.workload_id, pm.minute)
      ),
      gateway AS (
        SELECT placement_id, date_trunc('minute', occurred_at) AS minute, sum(std_tokens) AS std
          FROM usage_events
         WHERE occurred_at >= ${from} AND occurred_at < ${to} AND placement_id IS NOT NULL
         GROUP BY 1, 2
      ),
      agent AS (
        SELECT cluster_id, workload_id, date_trunc('minute', occurred_at) AS minute, sum(std_tokens) AS std
          FROM usage_events
         WHERE occurred_at >= ${from} AND occurred_at < ${to} AND placement_id IS NULL
         GROUP BY 1, 2, 3
      ),
      per AS (
        SELECT m.placement_id, sum(m.joules) AS joules, sum(m.energy_seconds) AS seconds,
               coalesce(sum(g.std), 0) + coalesce(sum(a.std * m.share), 0) AS std
          FROM minutes m
          LEFT JOIN gateway g ON g.placement_id = m.placement_id AND g.minute = m.minute
          LEFT JOIN agent a ON a.cluster_id = m.cluster_id AND a.workload_id = m.workload_id AND a.minute = m.minute
         WHERE m.energy_seconds > 0
         GROUP BY m.placement_id
      )
      SELECT per.placement_id, p.cluster_id, c.name AS cluster_name, dp.vendor, mo.name AS model, p.profile_name AS profile,
             dp.tdp_watts::text AS tdp_watts, dp.std_tokens_per_sec::text AS std_tokens_per_sec,
             per.joules, per.seconds, round(per.std, 12)::text AS std, s.power_watts, s.reported_at
        FROM per
        JOIN placements p ON p.id = per.placement_id
        JOIN clusters c ON c.id = p.cluster_id
        JOIN workloads w ON w.id = p.workload_id
        JOIN models mo ON mo.id = w.model_id
        JOIN device_profiles dp ON dp.id = p.profile_id
        LEFT JOIN placement_energy_state s ON s.placement_id = per.placement_id
       ORDER BY p.cluster_id, per.placement_id`.execute(this.db);
    const fresh = now.getTime() - POWER_FRESH_MS;
    return r.rows.map((x) => ({
      placementId: x.placement_id,
      clusterId: x.cluster_id,
      clusterName: x.cluster_name,
      vendor: x.vendor,
      model: x.model,
      profile: x.profile,
      tdpWatts: Number(x.tdp_watts),
      stdTokensPerSec: Number(x.std_tokens_per_sec),
      // Spreading increases over minutes leaves float dust; no exporter measures below a millijoule.
      joules: Math.round(Number(x.joules) * 1000) / 1000,
      measuredSeconds: Math.round(Number(x.seconds) * 1000) / 1000,
      stdTokens: x.std,
      powerWatts: x.power_watts !== null && x.reported_at !== null && x.reported_at.getTime() >= fresh ? Number(x.power_watts) : null,
    }));
  }

  /**
   * Every placement-minute of [from, to) with a ready replica: its standard tokens (as in
   * {@link placementEnergy}) and the seconds its logged requests that started in the minute took.
   */
  async loadMinutes(from: Date, to: Date): Promise<LoadMinute[]> {
    const r = await sql<{
      profile: string;
      vendor: string;
      std_tokens_per_sec: string;
      cluster_id: string;
      ready_replicas: number;
      devices_per_replica: number;
      std: string;
      request_ms: string;
    }>`
      WITH minutes AS (
        SELECT pm.placement_id, pm.minute, pm.ready_replicas, p.cluster_id, p.workload_id,
               pm.ready_replicas::numeric / nullif(sum(pm.ready_replicas) OVER (PARTITION BY p.cluster_id, p.workload_id, pm.minute), 0) AS share
          FROM placement_minutes pm JOIN placements p ON p.id = pm.placement_id
         WHERE pm.minute >= ${from} AND pm.minute < ${to}
      ),
      gateway AS (
        SELECT placement_id, date_trunc('minute', occurred_at) AS minute, sum(std_tokens) AS std
          FROM usage_events
         WHERE occurred_at >= ${from} AND occurred_at < ${to} AND placement_id IS NOT NULL
         GROUP BY 1, 2
      ),
      agent AS (
        SELECT cluster_id, workload_id, date_trunc('minute', occurred_at) AS minute, sum(std_tokens) AS std
          FROM usage_events
         WHERE occurred_at >= ${from} AND occurred_at < ${to} AND placement_id IS NULL
         GROUP BY 1, 2, 3
      ),
      requests AS (
        SELECT placement_id, date_trunc('minute', started_at) AS minute, sum(duration_ms) AS ms
          FROM request_log
         WHERE started_at >= ${from} AND started_at < ${to} AND placement_id IS NOT NULL
         GROUP BY 1, 2
      )
      SELECT p.profile_name AS profile, dp.vendor, dp.std_tokens_per_sec::text AS std_tokens_per_sec, m.cluster_id, m.ready_replicas,
             p.devices_per_replica, (coalesce(g.std, 0) + coalesce(a.std * m.share, 0))::text AS std, coalesce(q.ms, 0)::text AS request_ms
        FROM minutes m
        JOIN placements p ON p.id = m.placement_id
        JOIN device_profiles dp ON dp.id = p.profile_id
        LEFT JOIN gateway g ON g.placement_id = m.placement_id AND g.minute = m.minute
        LEFT JOIN agent a ON a.cluster_id = m.cluster_id AND a.workload_id = m.workload_id AND a.minute = m.minute
        LEFT JOIN requests q ON q.placement_id = m.placement_id AND q.minute = m.minute
       WHERE m.ready_replicas > 0
       ORDER BY p.profile_name, m.placement_id, m.minute`.execute(this.db);
    return r.rows.map((x) => ({
      profile: x.profile,
      vendor: x.vendor,
      catalogStdTokensPerSec: Number(x.std_tokens_per_sec),
      clusterId: x.cluster_id,
      readyReplicas: Number(x.ready_replicas),
      devicesPerReplica: Number(x.devices_per_replica),
      stdTokens: Number(x.std),
      requestSeconds: Number(x.request_ms) / 1000,
    }));
  }
}
