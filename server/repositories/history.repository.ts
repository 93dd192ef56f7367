import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { BucketSums } from '../domain/history.js';

/** The pool's figures a minute's row keeps, read when the minute is first sampled. */
export interface HistoryGauges {
  readonly totalStdPerMin: number;
  readonly allocatedStdPerMin: number;
  readonly freeStdPerMin: number;
  readonly clustersReady: number;
  readonly clustersNotReady: number;
  readonly clustersCordoned: number;
}

/** Measured energy of one minute, as the energy figures count it; null figures when nothing was measured. */
export interface MinuteEnergyTotals {
  readonly joules: number | null;
  readonly seconds: number;
  /** Standard tokens served in the measured placement-minutes, a decimal text; null with `joules`. */
  readonly measuredStdTokens: string | null;
}

const MINUTE_MS = 60_000;

/** The city's totals per minute (migration 0034): gauges written once per minute, flows counted and counted again. */
export class HistoryRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Writes the gauges of `minute` unless the minute already has a row (another replica, or an
   * earlier run, sampled it first). True when this call wrote it.
   */
  async sample(minute: Date, sampledAt: Date, g: HistoryGauges): Promise<boolean> {
    const r = await this.db
      .insertInto('history_minutes')
      .values({
        minute,
        sampled_at: sampledAt,
        total_std_per_min: g.totalStdPerMin,
        allocated_std_per_min: g.allocatedStdPerMin,
        free_std_per_min: g.freeStdPerMin,
        clusters_ready: g.clustersReady,
        clusters_not_ready: g.clustersNotReady,
        clusters_cordoned: g.clustersCordoned,
        counted_at: null,
        energy_joules: null,
        measured_std_tokens: null,
      })
      .onConflict((oc) => oc.column('minute').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /**
   * The sampled minutes whose flows are to be counted now: `latest` (the minute that just ended)
   * once more, and the minutes since `floor` never counted, or not counted since `settleMs` after
   * they ended, once that time has passed (the final count, which takes in late usage).
   */
  async toCount(latest: Date, floor: Date, now: Date, settleMs: number): Promise<Date[]> {
    const r = await sql<{ minute: Date }>`
      SELECT minute FROM history_minutes
       WHERE minute = ${latest}
          OR (minute >= ${floor} AND minute < ${latest}
              AND (counted_at IS NULL
                   OR (minute + ${MINUTE_MS + settleMs}::int * interval '1 millisecond' <= ${now}
                       AND counted_at < minute + ${MINUTE_MS + settleMs}::int * interval '1 millisecond')))
       ORDER BY minute`.execute(this.db);
    return r.rows.map((x) => x.minute);
  }

  /**
   * Counts the flows of `minute`'s row over [minute, minute + 1 min), in one statement: standard
   * tokens metered (the gateway's calls, which name their placement, apart from the agents'
   * reports), model tokens in and out, the gateway's requests (those answered 5xx apart), and the
   * energy given.
   */
  async count(minute: Date, now: Date, energy: MinuteEnergyTotals): Promise<void> {
    const end = new Date(minute.getTime() + MINUTE_MS);
    await sql`
      UPDATE history_minutes h
         SET counted_at = ${now},
             gateway_std_tokens = u.gateway_std, agent_std_tokens = u.agent_std,
             input_tokens = u.input_tokens, output_tokens = u.output_tokens,
             requests = r.requests, failed_requests = r.failed,
             energy_joules = ${energy.joules}::float8, energy_seconds = ${energy.seconds}::float8,
             measured_std_tokens = ${energy.measuredStdTokens}::numeric
        FROM (SELECT coalesce(sum(std_tokens) FILTER (WHERE placement_id IS NOT NULL), 0) AS gateway_std,
                     coalesce(sum(std_tokens) FILTER (WHERE placement_id IS NULL), 0) AS agent_std,
                     coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens
                FROM usage_events WHERE occurred_at >= ${minute} AND occurred_at < ${end}) u,
             (SELECT count(*) AS requests, count(*) FILTER (WHERE status >= 500) AS failed
                FROM request_log WHERE started_at >= ${minute} AND started_at < ${end}) r
       WHERE h.minute = ${minute}`.execute(this.db);
  }

  /**
   * Sums of the sampled minutes in [starts[0], end), per bucket (keyed by its start, epoch ms):
   * gauges averaged (and their most), clusters at their worst minute, flows summed over the
   * minutes counted (null when none was).
   */
  async buckets(starts: readonly number[], end: Date): Promise<Map<number, BucketSums>> {
    if (starts.length === 0) return new Map();
    const r = await sql<{
      b: number;
      minutes: number;
      counted: number;
      total: number;
      total_max: number;
      allocated: number;
      allocated_max: number;
      free: number;
      ready: number;
      not_ready: number;
      cordoned: number;
      gateway_std: string | null;
      agent_std: string | null;
      input_tokens: string | null;
      output_tokens: string | null;
      requests: string | null;
      failed: string | null;
      joules: number | null;
      energy_minutes: number;
      measured_std: string | null;
    }>`
      SELECT width_bucket(minute, ${starts.map((s) => new Date(s).toISOString())}::timestamptz[]) AS b,
             count(*)::int AS minutes, count(counted_at)::int AS counted,
             avg(total_std_per_min) AS total, max(total_std_per_min) AS total_max,
             avg(allocated_std_per_min) AS allocated, max(allocated_std_per_min) AS allocated_max,
             avg(free_std_per_min) AS free,
             min(clusters_ready)::int AS ready, max(clusters_not_ready)::int AS not_ready, max(clusters_cordoned)::int AS cordoned,
             (sum(gateway_std_tokens) FILTER (WHERE counted_at IS NOT NULL))::text AS gateway_std,
             (sum(agent_std_tokens) FILTER (WHERE counted_at IS NOT NULL))::text AS agent_std,
             (sum(input_tokens) FILTER (WHERE counted_at IS NOT NULL))::text AS input_tokens,
             (sum(output_tokens) FILTER (WHERE counted_at IS NOT NULL))::text AS output_tokens,
             (sum(requests) FILTER (WHERE counted_at IS NOT NULL))::text AS requests,
             (sum(failed_requests) FILTER (WHERE counted_at IS NOT NULL))::text AS failed,
             sum(energy_joules) AS joules, count(energy_joules)::int AS energy_minutes,
             sum(measured_std_tokens)::text AS measured_std
        FROM history_minutes
       WHERE minute >= ${new Date(starts[0]!)} AND minute < ${end}
       GROUP BY 1
       ORDER BY 1`.execute(this.db);
    const out = new Map<number, BucketSums>();
    const count = (t: string | null) => (t === null ? null : Number(t));
    for (const x of r.rows) {
      const start = starts[Number(x.b) - 1];
      if (start === undefined) continue;
      out.set(start, {
        minutes: Number(x.minutes),
        countedMinutes: Number(x.counted),
        totalStdPerMin: Number(x.total),
        totalStdPerMinMax: Number(x.total_max),
        allocatedStdPerMin: Number(x.allocated),
        allocatedStdPerMinMax: Number(x.allocated_max),
        freeStdPerMin: Number(x.free),
        clustersReady: Number(x.ready),
        clustersNotReady: Number(x.not_ready),
        clustersCordoned: Number(x.cordoned),
        gatewayStdTokens: x.gateway_std,
        agentStdTokens: x.agent_std,
        inputTokens: count(x.input_tokens),
        outputTokens: count(x.output_tokens),
        requests: count(x.requests),
        failedRequests: count(x.failed),
        energyJoules: x.joules === null ? null : Number(x.joules),
        energyMinutes: Number(x.energy_minutes),
        measuredStdTokens: x.measured_std,
      });
    }
    return out;
  }

  /** Deletes the minutes before `cutoff`; answers how many. */
  async deleteBefore(cutoff: Date): Promise<number> {
    const r = await this.db.deleteFrom('history_minutes').where('minute', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
