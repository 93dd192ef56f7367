import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, RequestLogTable } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type RequestLogRow = Selectable<RequestLogTable>;

/** What the gateway asked of the serving engine. */
export type RequestEndpoint = 'chat.completions' | 'completions' | 'embeddings';

/** One call to the gateway, as logged. */
export interface RequestLogEntry {
  /** The `x-request-id` answered; a second entry with the same id and start is not written. */
  readonly requestId: string;
  readonly startedAt: Date;
  readonly tenantId: string;
  /** The calling API key; null when a signed-in user called. */
  readonly apiKeyId: string | null;
  /** The calling user of a session; null for an API key. */
  readonly userId: string | null;
  /** The platform model name asked for. */
  readonly model: string;
  /** Where it was served: null when it was refused before a placement was chosen. */
  readonly workloadId: string | null;
  readonly placementId: string | null;
  readonly clusterId: string | null;
  readonly endpoint: RequestEndpoint;
  /** The HTTP status answered. */
  readonly status: number;
  /** OpenAI's error `code` of a refusal or failure (`rate_limit_exceeded`, …). */
  readonly errorCode: string | null;
  /** As the engine reported them; null when unknown. */
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  /** Milliseconds from the request to the first byte of the answer's body; null when none went out. */
  readonly ttftMs: number | null;
  /** Milliseconds from the request to the end of the answer. */
  readonly durationMs: number;
  readonly streamed: boolean;
  /** Upstream tries; 0 when refused before routing. */
  readonly attempts: number;
}

export interface RequestLogFilter {
  readonly tenantId?: string | undefined;
  readonly apiKeyId?: string | undefined;
  readonly userId?: string | undefined;
  readonly model?: string | undefined;
  readonly status?: number | undefined;
  /** Started from this instant (inclusive). */
  readonly from?: Date | undefined;
  /** Started before this instant (exclusive). */
  readonly to?: Date | undefined;
}

/** A monthly partition: its table name and the UTC month it holds, [from, to). */
export interface RequestLogPartition {
  readonly name: string;
  readonly from: Date;
  readonly to: Date;
}

const PARTITION_NAME = /^request_log_y(\d{4})m(\d{2})$/;
/** Serializes partition changes of every process on the database (an advisory lock key). */
const PARTITION_LOCK = 0x72_65_71_6c; // "reql"

/** The UTC month `offset` months after the one `at` is in. */
export function monthPartition(at: Date, offset = 0): RequestLogPartition {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1));
  const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
  const name = `request_log_y${String(from.getUTCFullYear()).padStart(4, '0')}m${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
  return { name, from, to };
}

function partitionOf(name: string): RequestLogPartition | undefined {
  const m = PARTITION_NAME.exec(name);
  return m ? monthPartition(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1))) : undefined;
}

/** The request log (migration 0019): batched inserts, pages, and its monthly partitions. */
export class RequestsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Writes entries in one statement, one array parameter per column (the same SQL text whatever
   * the batch's size). An entry whose (startedAt, requestId) is already there is skipped, so a
   * retried batch writes nothing twice. Answers how many rows were new.
   */
  async insertMany(entries: readonly RequestLogEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const column = <K extends keyof RequestLogEntry>(k: K): RequestLogEntry[K][] => entries.map((e) => e[k]);
    const r = await sql`
      INSERT INTO request_log (request_id, started_at, tenant_id, api_key_id, user_id, model, workload_id, placement_id, cluster_id,
                               endpoint, status, error_code, prompt_tokens, completion_tokens, ttft_ms, duration_ms, streamed, attempts)
      SELECT request_id, started_at, tenant_id, api_key_id, user_id, model, workload_id, placement_id, cluster_id,
             endpoint, status, error_code, prompt_tokens, completion_tokens, ttft_ms, duration_ms, streamed, attempts
        FROM unnest(${column('requestId')}::text[], ${column('startedAt')}::timestamptz[], ${column('tenantId')}::text[],
                    ${column('apiKeyId')}::text[], ${column('userId')}::text[], ${column('model')}::text[], ${column('workloadId')}::text[],
                    ${column('placementId')}::text[], ${column('clusterId')}::text[], ${column('endpoint')}::text[], ${column('status')}::int4[],
                    ${column('errorCode')}::text[], ${column('promptTokens')}::int8[], ${column('completionTokens')}::int8[],
                    ${column('ttftMs')}::int4[], ${column('durationMs')}::int4[], ${column('streamed')}::bool[], ${column('attempts')}::int4[])
             WITH ORDINALITY
             AS e(request_id, started_at, tenant_id, api_key_id, user_id, model, workload_id, placement_id, cluster_id,
                  endpoint, status, error_code, prompt_tokens, completion_tokens, ttft_ms, duration_ms, streamed, attempts, n)
       ORDER BY n
          ON CONFLICT (started_at, request_id) DO NOTHING`.execute(this.db);
    return Number(r.numAffectedRows ?? 0);
  }

  /** A page of rows in the order written (by `seq`), narrowed by `filter`. */
  list(filter: RequestLogFilter, page: PageRequest): Promise<RequestLogRow[]> {
    let q = this.db.selectFrom('request_log').selectAll();
    if (filter.tenantId !== undefined) q = q.where('tenant_id', '=', filter.tenantId);
    if (filter.apiKeyId !== undefined) q = q.where('api_key_id', '=', filter.apiKeyId);
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    if (filter.model !== undefined) q = q.where('model', '=', filter.model);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    if (filter.from !== undefined) q = q.where('started_at', '>=', filter.from);
    if (filter.to !== undefined) q = q.where('started_at', '<', filter.to);
    return q.$call(onePage(page)).execute();
  }

  /** The monthly partitions there are, oldest first. */
  async partitions(): Promise<RequestLogPartition[]> {
    const r = await sql<{ name: string }>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'request_log'::regclass`.execute(this.db);
    return r.rows
      .map((row) => partitionOf(row.name))
      .filter((p) => p !== undefined)
      .sort((a, b) => a.from.getTime() - b.from.getTime());
  }

  /**
   * Makes the partitions of the month `now` is in and of the `monthsAhead` months after it, those
   * missing; answers the names made. Safe to call from several processes at once (an advisory
   * lock). Rows the DEFAULT partition holds for such a month (written while it had none) move into it.
   */
  async ensurePartitions(now: Date, monthsAhead: number): Promise<string[]> {
    const wanted = Array.from({ length: monthsAhead + 1 }, (_, i) => monthPartition(now, i));
    const have = new Set((await this.partitions()).map((p) => p.name));
    const missing = wanted.filter((p) => !have.has(p.name));
    const made: string[] = [];
    for (const p of missing) {
      await this.db.transaction().execute(async (tx) => {
        await sql`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`.execute(tx);
        const exists = await sql<{ r: string | null }>`SELECT to_regclass(${p.name})::text AS r`.execute(tx);
        if (exists.rows[0]?.r) return;
        const name = sql.id(p.name);
        const from = sql.lit(p.from.toISOString());
        const to = sql.lit(p.to.toISOString());
        // Made alone, filled from DEFAULT, then attached: attaching checks that DEFAULT holds no
        // row of the month, which it no longer does in this transaction.
        await sql`CREATE TABLE ${name} (LIKE request_log INCLUDING DEFAULTS)`.execute(tx);
        await sql`
          WITH moved AS (DELETE FROM request_log_default WHERE started_at >= ${from}::timestamptz AND started_at < ${to}::timestamptz RETURNING *)
          INSERT INTO ${name} SELECT * FROM moved`.execute(tx);
        await sql`ALTER TABLE request_log ATTACH PARTITION ${name} FOR VALUES FROM (${from}) TO (${to})`.execute(tx);
        made.push(p.name);
      });
    }
    return made;
  }

  /**
   * Drops the monthly partitions that end at or before `cutoff` (each whole, at once, leaving no
   * dead rows), and deletes the DEFAULT partition's rows that started before it. Answers the
   * partitions dropped and the rows deleted from DEFAULT.
   */
  async dropBefore(cutoff: Date): Promise<{ dropped: string[]; deleted: number }> {
    const old = (await this.partitions()).filter((p) => p.to.getTime() <= cutoff.getTime());
    for (const p of old) await sql`DROP TABLE IF EXISTS ${sql.id(p.name)}`.execute(this.db);
    const r = await sql`DELETE FROM request_log_default WHERE started_at < ${cutoff}`.execute(this.db);
    return { dropped: old.map((p) => p.name), deleted: Number(r.numAffectedRows ?? 0) };
  }
}
