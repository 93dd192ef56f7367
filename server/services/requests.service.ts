/**
 * The gateway's request log: every call to `/v1` leaves a row that the operator and the tenant
 * can read (`GET /api/v1/requests`). The gateway hands each finished request to `record`, which
 * never waits and never throws: entries are written in batches (group commit), one insert per
 * batch, and an entry that cannot be written is logged and counted, never the caller's error.
 *
 * The table is partitioned by month (migration 0019); `ensurePartitions` makes the coming months'
 * partitions, and `purge` keeps the log to its retention by dropping whole months.
 */
import type { Principal } from '../auth/authenticate.js';
import { BatchWriter } from './batch-writer.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { RequestEndpoint, RequestLogEntry, RequestLogFilter, RequestLogRow, RequestsRepository } from '../repositories/requests.repository.js';

export interface RequestLogMetrics {
  /** Entries that could not be written. */
  writeFailed(count: number): void;
}

/** A logged request as the API answers it. */
export interface RequestView {
  readonly requestId: string;
  readonly startedAt: string;
  readonly tenantId: string;
  readonly apiKeyId: string | null;
  readonly userId: string | null;
  readonly model: string;
  readonly endpoint: RequestEndpoint;
  readonly workloadId: string | null;
  readonly placementId: string | null;
  readonly clusterId: string | null;
  readonly status: number;
  readonly errorCode: string | null;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  readonly ttftMs: number | null;
  readonly durationMs: number;
  readonly streamed: boolean;
  readonly attempts: number;
}

/** What a reader may ask for; who may see which rows is the service's rule. */
export type RequestQuery = Omit<RequestLogFilter, 'userId'>;

/** Months whose partitions are made ahead of the current one. */
export const REQUEST_LOG_MONTHS_AHEAD = 2;
const DAY_MS = 86_400_000;
/** How long an entry waits for others to be written with it. */
const LINGER_MS = 100;
/** Most entries in one insert: a full batch is written without waiting for the linger. */
const BATCH = 1000;
/** The largest value of an `integer` column; longer durations are kept as this. */
const INT4_MAX = 2_147_483_647;

export class RequestLogService {
  private readonly entries = new BatchWriter<RequestLogEntry>({
    write: (batch) => this.repo.insertMany(batch),
    lingerMs: LINGER_MS,
    maxBatch: BATCH,
    failed: (count, err) => this.failed(count, err),
  });

  constructor(
    private readonly repo: RequestsRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: RequestLogMetrics,
    private readonly retentionDays: number,
  ) {}

  /** Logs a finished request, in the next batch. Never waits, never throws. */
  record(entry: RequestLogEntry): void {
    try {
      this.entries.add({ ...entry, ttftMs: millis(entry.ttftMs), durationMs: millis(entry.durationMs) ?? 0 });
    } catch (err) {
      this.failed(1, err);
    }
  }

  /** Waits for the entries already recorded to be written (or to have failed). */
  settled(): Promise<void> {
    return this.entries.settled();
  }

  /**
   * A page of logged requests in the order written. The operator sees every tenant's (or the one
   * `tenantId` names); a tenant admin its tenant's; a tenant member only its own: the requests of
   * its API key, or, signed in, of its user. Agents are refused (403).
   */
  async list(principal: Principal, query: RequestQuery, page: PageRequest): Promise<Page<RequestView>> {
    let filter: RequestLogFilter;
    if (principal.kind === 'operator') {
      filter = query;
    } else if (principal.kind === 'tenant') {
      filter = { ...query, tenantId: principal.tenantId };
      if (principal.admin !== true) {
        if (principal.apiKeyId !== undefined) filter = { ...filter, apiKeyId: principal.apiKeyId };
        else if (principal.userId !== undefined) filter = { ...filter, userId: principal.userId };
        else throw new AppError('forbidden', 'Only the requests of your own key or user are yours to read.');
        // A member naming another key gets nothing rather than a hint of whose requests exist.
        if (query.apiKeyId !== undefined && query.apiKeyId !== principal.apiKeyId) return { items: [], nextCursor: null };
      }
    } else {
      throw new AppError('forbidden', `The request log is not for ${principal.kind} credentials.`);
    }
    // What this process has recorded is there to read, as a caller who just made a request expects.
    await this.settled();
    const rows = await this.repo.list(filter, page);
    return toPage(rows, page.limit, view);
  }

  /** Makes the partitions of this month (by the clock) and of the months ahead, those missing. */
  ensurePartitions(): Promise<string[]> {
    return this.repo.ensurePartitions(this.clock.now(), REQUEST_LOG_MONTHS_AHEAD);
  }

  /**
   * Keeps the log to its retention: drops the months that ended more than `retentionDays` ago
   * and deletes older rows from the default partition; then makes the coming months' partitions.
   */
  async purge(): Promise<{ dropped: string[]; deleted: number }> {
    const now = this.clock.now();
    const removed = await this.repo.dropBefore(new Date(now.getTime() - this.retentionDays * DAY_MS));
    await this.ensurePartitions();
    return removed;
  }

  private failed(count: number, err: unknown): void {
    this.metrics.writeFailed(count);
    this.log.error('request log entry not written', { error: String(err instanceof Error ? err.message : err) });
  }
}

/** A duration as whole milliseconds an `integer` column holds. */
function millis(ms: number | null): number | null {
  return ms === null || !Number.isFinite(ms) ? null : Math.min(Math.max(Math.round(ms), 0), INT4_MAX);
}

function view(r: RequestLogRow): RequestView {
  return {
    requestId: r.request_id,
    startedAt: r.started_at.toISOString(),
    tenantId: r.tenant_id,
    apiKeyId: r.api_key_id,
    userId: r.user_id,
    model: r.model,
    endpoint: r.endpoint as RequestEndpoint,
    workloadId: r.workload_id,
    placementId: r.placement_id,
    clusterId: r.cluster_id,
    status: r.status,
    errorCode: r.error_code,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    ttftMs: r.ttft_ms,
    durationMs: r.duration_ms,
    streamed: r.streamed,
    attempts: r.attempts,
  };
}
