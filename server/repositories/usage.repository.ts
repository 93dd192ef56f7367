import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.js';
import { usageStdSql } from '../../scheduler/capacity.js';

/** A workload named by a usage batch, as the reporting cluster may bill it. */
export interface UsageWorkload {
  readonly id: string;
  readonly tenantId: string;
  readonly modelId: string;
  /** The model's factors as exact decimal text. */
  readonly costFactor: string;
  readonly inputFactor: string;
  /** The workload has, or had, a placement (in any state) on the reporting cluster. */
  readonly onCluster: boolean;
  /**
   * Model tokens per minute of every placement the workload has or had on the reporting cluster,
   * added up (a generous ceiling on what it could have produced there at any moment); 0 if none.
   */
  readonly clusterTokensPerMin: number;
  /**
   * `gateway`: the gateway meters and bills its calls, so what agents report of it is an engine
   * count (a cross-check); `direct`: agents' reports are its usage.
   */
  readonly access: string;
}

/**
 * Valid events of one batch, column by column (entry `i` of every array is event `i`).
 * `workload[i]` indexes `workloads`; times are epoch milliseconds.
 */
export interface UsageBatch {
  readonly clusterId: string;
  readonly receivedAt: Date;
  readonly workloads: readonly UsageWorkload[];
  readonly ids: readonly string[];
  readonly workload: readonly number[];
  readonly inputTokens: readonly number[];
  readonly outputTokens: readonly number[];
  readonly occurredAtMs: readonly number[];
  /**
   * Per event, the calling API key and the serving placement of a call the gateway metered (null:
   * none). Absent, or shorter than `ids`: null for the events past their end (agents' reports).
   */
  readonly apiKeyIds?: readonly (string | null)[];
  readonly placementIds?: readonly (string | null)[];
}

/**
 * Sums of a set of events: token counts as exact integers (a bigint: 10,000 events of up to 10^12
 * tokens a batch pass 2^53 soon), standard tokens as exact decimal text.
 */
export interface UsageSums {
  readonly inputTokens: bigint;
  readonly outputTokens: bigint;
  readonly stdTokens: string;
}

/**
 * Tokens (input + output) of one workload on one cluster in a span: what the gateway metered (its
 * usage events) and what the agents' engines counted. Read as float8: a cross-check compares their
 * ratio, for which a double's precision is ample.
 */
export interface MeteringPair {
  readonly workloadId: string;
  readonly clusterId: string;
  readonly meteredTokens: number;
  readonly engineTokens: number;
}

/**
 * Usage of [from, to): the total, per model (by name), per day of the time zone (`YYYY-MM-DD`),
 * per API key (null: usage made through none — agents' reports and signed-in users' calls; `name`
 * the key's, null when it has none or its row is gone) and per tenant (`name` null when its row is
 * gone).
 */
export interface UsageBreakdown {
  readonly total: UsageSums;
  readonly byModel: readonly (UsageSums & { readonly model: string })[];
  readonly byDay: readonly (UsageSums & { readonly day: string })[];
  readonly byApiKey: readonly (UsageSums & { readonly apiKeyId: string | null; readonly name: string | null })[];
  readonly byTenant: readonly (UsageSums & { readonly tenantId: string; readonly name: string | null })[];
}

/** Which usage a breakdown reads: one tenant's or (undefined) all; one key's or (undefined) any. */
export interface UsageScope {
  readonly tenantId?: string | undefined;
  readonly apiKeyId?: string | undefined;
}

interface BreakdownRow {
  gm: number;
  gd: number;
  gk: number;
  gt: number;
  model: string | null;
  day: string | null;
  api_key_id: string | null;
  key_name: string | null;
  tenant_id: string | null;
  tenant_name: string | null;
  input_tokens: string;
  output_tokens: string;
  std: string;
}

/**
 * The local date (`YYYY-MM-DD`) of `instant` in `timezone`, by PostgreSQL's zone rules: the day
 * that `Calendar.dayOf` (server/billing/periods.ts) answers, which a test holds equal on both
 * databases. Computed in SQL because a report's range is the client's and may span any number of
 * days, so they cannot be listed as bounds.
 */
export function localDaySql(instant: Expression<Date>, timezone: string): RawBuilder<string> {
  return sql<string>`to_char(${instant} AT TIME ZONE ${timezone}, 'YYYY-MM-DD')`;
}

const STD_TOKENS = sql.raw(
  usageStdSql({ inputTokens: 'e.input_tokens', outputTokens: 'e.output_tokens', costFactor: 'w.cost_factor', inputFactor: 'w.input_factor' }),
);

/**
 * The usage watermark lock, an advisory lock key (API.md v2 "Billing": a close bills every usage
 * event committed before it began). Every statement that inserts usage events holds it shared from
 * before it draws their `seq` until it commits; a close holds it exclusively only for the instant
 * it draws its watermark from the same sequence (BillingRepository.watermark). Shared holders never
 * wait for each other, so ingestion runs as before; a close waits for the statements in flight
 * (one batch each), and ingestion arriving meanwhile waits behind it for that long at most.
 */
export const USAGE_WATERMARK_LOCK = 0x75_73_77_6d; // "uswm"
const WATERMARK_LOCK = sql.raw(`${USAGE_WATERMARK_LOCK}::int8`);

/**
 * Usage events: inserted in batches, each event id counted once per reporting cluster, ever (the
 * primary key is (cluster_id, id)); and the engine counts agents report of gateway workloads, kept
 * the same way beside them (migration 0020).
 */
export class UsageRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** The existing workloads among `ids`, with their tenant, model factors and history on the cluster. */
  async workloads(ids: readonly string[], clusterId: string): Promise<UsageWorkload[]> {
    if (ids.length === 0) return [];
    const r = await sql<UsageWorkload>`
      SELECT w.id, w.tenant_id AS "tenantId", w.model_id AS "modelId",
             m.cost_factor::text AS "costFactor", m.input_factor::text AS "inputFactor",
             p.n > 0 AS "onCluster", coalesce(p.tokens_per_min, 0)::float8 AS "clusterTokensPerMin",
             w.access
        FROM workloads w JOIN models m ON m.id = w.model_id
        CROSS JOIN LATERAL (
          SELECT count(*) AS n, sum(p.tokens_per_min) AS tokens_per_min
            FROM placements p WHERE p.workload_id = w.id AND p.cluster_id = ${clusterId}) p
       WHERE w.id = ANY(${ids}::text[])`.execute(this.db);
    return r.rows;
  }

  /**
   * Inserts a batch in one statement and answers how many rows were new; an id already stored for
   * the batch's cluster, or repeated within the batch, is skipped (the same id from another cluster
   * is another event). Standard tokens are computed here in `numeric`, exactly, by the SQL of
   * `usageStdTokens` (scheduler/capacity.ts). The statement takes the usage watermark lock shared
   * ({@link USAGE_WATERMARK_LOCK}), then draws one `seq` for all of its events, and holds the lock
   * until it commits.
   */
  async insert(batch: UsageBatch): Promise<number> {
    if (batch.ids.length === 0) return 0;
    const w = batch.workloads;
    // Rows go in in id order (bytewise), so two requests carrying the same ids wait on each other
    // in one order and cannot deadlock.
    const r = await sql<{ inserted: number }>`
      WITH w AS (
        SELECT * FROM unnest(${w.map((x) => x.id)}::text[], ${w.map((x) => x.tenantId)}::text[], ${w.map((x) => x.modelId)}::text[],
                             ${w.map((x) => x.costFactor)}::numeric[], ${w.map((x) => x.inputFactor)}::numeric[])
          WITH ORDINALITY AS w(id, tenant_id, model_id, cost_factor, input_factor, n)
      ), lk AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared(${WATERMARK_LOCK}) AS held
      ), s AS MATERIALIZED (
        -- Drawn from lk's row, so only once the lock is held; one value for the whole statement,
        -- so that concurrent batches do not queue on the sequence row by row.
        SELECT nextval('usage_event_seq') AS seq FROM lk
      ), ins AS (
        INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at,
                                  api_key_id, placement_id, seq)
        SELECT e.id, w.tenant_id, w.id, ${batch.clusterId}, w.model_id, e.input_tokens, e.output_tokens,
               ${STD_TOKENS},
               timestamptz 'epoch' + e.occurred_ms * interval '1 millisecond', ${batch.receivedAt}::timestamptz,
               e.api_key_id, e.placement_id, s.seq
          -- unnest pads the shorter arrays with NULL: a batch without keys and placements gives none.
          FROM unnest(${textArray(batch.ids)}::text[], ${intArray(batch.workload)}::int8[], ${intArray(batch.inputTokens)}::int8[],
                      ${intArray(batch.outputTokens)}::int8[], ${intArray(batch.occurredAtMs)}::int8[],
                      ${nullableTextArray(batch.apiKeyIds ?? [])}::text[], ${nullableTextArray(batch.placementIds ?? [])}::text[])
            AS e(id, wi, input_tokens, output_tokens, occurred_ms, api_key_id, placement_id)
          JOIN w ON w.n = e.wi + 1
          CROSS JOIN s
         ORDER BY e.id COLLATE "C"
        ON CONFLICT (cluster_id, id) DO NOTHING
        RETURNING 1
      )
      SELECT count(*)::int AS inserted FROM ins`.execute(this.db);
    return r.rows[0]?.inserted ?? 0;
  }

  /**
   * Inserts agents' counts of `gateway` workloads into `engine_counts` in one statement, idempotent
   * as `insert` is (an id already stored for the cluster, or repeated in the batch, is skipped), and
   * answers how many rows were new. Nothing is rated: engine counts are never billed.
   */
  async insertEngineCounts(batch: UsageBatch): Promise<number> {
    if (batch.ids.length === 0) return 0;
    const w = batch.workloads;
    const r = await sql<{ inserted: number }>`
      WITH ins AS (
        INSERT INTO engine_counts (cluster_id, id, workload_id, input_tokens, output_tokens, occurred_at, received_at)
        SELECT ${batch.clusterId}, e.id, (${w.map((x) => x.id)}::text[])[e.wi + 1], e.input_tokens, e.output_tokens,
               timestamptz 'epoch' + e.occurred_ms * interval '1 millisecond', ${batch.receivedAt}::timestamptz
          FROM unnest(${textArray(batch.ids)}::text[], ${intArray(batch.workload)}::int8[], ${intArray(batch.inputTokens)}::int8[],
                      ${intArray(batch.outputTokens)}::int8[], ${intArray(batch.occurredAtMs)}::int8[])
            AS e(id, wi, input_tokens, output_tokens, occurred_ms)
         ORDER BY e.id COLLATE "C"
        ON CONFLICT (cluster_id, id) DO NOTHING
        RETURNING 1
      )
      SELECT count(*)::int AS inserted FROM ins`.execute(this.db);
    return r.rows[0]?.inserted ?? 0;
  }

  /** Deletes the engine counts that occurred before `cutoff` (the retention); answers how many. */
  async deleteEngineCountsBefore(cutoff: Date): Promise<number> {
    const r = await this.db.deleteFrom('engine_counts').where('occurred_at', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * For every `gateway` workload and cluster with metered usage or engine counts that occurred in
   * [from, to): both token sums (input + output), in one statement so both come from one snapshot.
   */
  async meteringPairs(from: Date, to: Date): Promise<MeteringPair[]> {
    const r = await sql<MeteringPair>`
      WITH m AS (
        SELECT workload_id, cluster_id, sum(input_tokens + output_tokens) AS tokens
          FROM usage_events WHERE occurred_at >= ${from} AND occurred_at < ${to}
         GROUP BY workload_id, cluster_id
      ), c AS (
        SELECT workload_id, cluster_id, sum(input_tokens + output_tokens) AS tokens
          FROM engine_counts WHERE occurred_at >= ${from} AND occurred_at < ${to}
         GROUP BY workload_id, cluster_id
      )
      SELECT x.workload_id AS "workloadId", x.cluster_id AS "clusterId",
             coalesce(m.tokens, 0)::float8 AS "meteredTokens", coalesce(c.tokens, 0)::float8 AS "engineTokens"
        FROM (SELECT workload_id, cluster_id FROM m UNION SELECT workload_id, cluster_id FROM c) x
        JOIN workloads w ON w.id = x.workload_id AND w.access = 'gateway'
        LEFT JOIN m ON m.workload_id = x.workload_id AND m.cluster_id = x.cluster_id
        LEFT JOIN c ON c.workload_id = x.workload_id AND c.cluster_id = x.cluster_id
       ORDER BY 1, 2`.execute(this.db);
    return r.rows;
  }

  /** Whether a tenant exists (usage reports of an unknown tenant are not found). */
  async tenantExists(id: string): Promise<boolean> {
    return (await this.db.selectFrom('tenants').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /**
   * Usage that occurred in [from, to) in `scope`, in one statement so the total, the models, the
   * days, the keys and the tenants are read from the same snapshot and always add up. Keys in id
   * order, the usage made through none last; tenants in id order.
   */
  async breakdown(scope: UsageScope, from: Date, to: Date, timezone: string): Promise<UsageBreakdown> {
    const r = await sql<BreakdownRow>`
      SELECT grouping(u.model)::int AS gm, grouping(u.day)::int AS gd, grouping(u.api_key_id, u.key_name)::int AS gk,
             grouping(u.tenant_id, u.tenant_name)::int AS gt,
             u.model, u.day, u.api_key_id, u.key_name, u.tenant_id, u.tenant_name,
             coalesce(sum(u.input_tokens), 0)::text AS input_tokens, coalesce(sum(u.output_tokens), 0)::text AS output_tokens,
             coalesce(sum(u.std_tokens), 0)::text AS std
        FROM (
          SELECT coalesce(m.name, e.model_id) AS model, ${localDaySql(sql.ref<Date>('e.occurred_at'), timezone)} AS day,
                 e.api_key_id, k.name AS key_name, e.tenant_id, t.name AS tenant_name, e.input_tokens, e.output_tokens, e.std_tokens
            FROM usage_events e LEFT JOIN models m ON m.id = e.model_id LEFT JOIN api_keys k ON k.id = e.api_key_id
                 LEFT JOIN tenants t ON t.id = e.tenant_id
           WHERE e.occurred_at >= ${from} AND e.occurred_at < ${to}
             ${scope.tenantId === undefined ? sql`` : sql`AND e.tenant_id = ${scope.tenantId}`}
             ${scope.apiKeyId === undefined ? sql`` : sql`AND e.api_key_id = ${scope.apiKeyId}`}
        ) u
       GROUP BY GROUPING SETS ((), (u.model), (u.day), (u.api_key_id, u.key_name), (u.tenant_id, u.tenant_name))
       ORDER BY gm, gd, gk, gt, u.model, u.day, u.api_key_id COLLATE "C" NULLS LAST, u.tenant_id COLLATE "C"`.execute(this.db);
    // Sums of int8 are numeric in SQL, read as text: exact past int8's range too.
    const sums = (x: BreakdownRow): UsageSums => ({ inputTokens: BigInt(x.input_tokens), outputTokens: BigInt(x.output_tokens), stdTokens: x.std });
    let total: UsageSums = { inputTokens: 0n, outputTokens: 0n, stdTokens: '0' };
    const byModel: (UsageSums & { model: string })[] = [];
    const byDay: (UsageSums & { day: string })[] = [];
    const byApiKey: (UsageSums & { apiKeyId: string | null; name: string | null })[] = [];
    const byTenant: (UsageSums & { tenantId: string; name: string | null })[] = [];
    for (const row of r.rows) {
      if (row.gm === 0) byModel.push({ model: row.model!, ...sums(row) });
      else if (row.gd === 0) byDay.push({ day: row.day!, ...sums(row) });
      else if (row.gk === 0) byApiKey.push({ apiKeyId: row.api_key_id, name: row.key_name, ...sums(row) });
      else if (row.gt === 0) byTenant.push({ tenantId: row.tenant_id!, name: row.tenant_name, ...sums(row) });
      else total = sums(row);
    }
    return { total, byModel, byDay, byApiKey, byTenant };
  }
}

// The event columns go as array literals built here: pg's serializer escapes element by element,
// which cost about a tenth of the server's time per batch.

/** A `text[]` literal; every element quoted, so none reads as NULL. */
function textArray(values: readonly string[]): string {
  if (values.length === 0) return '{}';
  const joined = values.join('","');
  if (!/["\\]/.test(joined)) return `{"${joined}"}`;
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** A `text[]` literal whose null elements are NULL. */
function nullableTextArray(values: readonly (string | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
}

/** An `int8[]` literal of safe integers. */
function intArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}
