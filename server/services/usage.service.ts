import type { Principal } from '../auth/authenticate.js';
import type { Calendar } from '../billing/periods.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { MeteringPair, UsageBreakdown, UsageRepository, UsageSums, UsageWorkload } from '../repositories/usage.repository.js';
import { scopeTenant } from '../auth/policy.js';

/** One usage event as the route validated it. */
export interface UsageEventInput {
  readonly id: string;
  readonly workloadId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** RFC 3339 with an offset (already validated). */
  readonly occurredAt: string;
}

/**
 * Why an event was not counted: its time lies outside the window, its workload does not exist,
 * its workload never had a placement on the reporting agent's cluster, or it claims more tokens
 * than the workload's placements there could have produced (`plausibleTokens`).
 */
export type RejectReason = 'out_of_window' | 'unknown_workload' | 'not_placed_on_this_cluster' | 'implausible';

/** The answer to a batch: `accepted + duplicates + rejected.length` is the number of events sent. */
export interface IngestAnswer {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: readonly { readonly id: string; readonly reason: RejectReason }[];
}

/** How far back and ahead of now an event may have occurred, both ends included (API.md "Usage"). */
export const USAGE_WINDOW = { pastMs: 90 * 86_400_000, futureMs: 5 * 60_000 } as const;

/** The window's length in minutes (90 days and 5 minutes): the span the plausibility bound allows. */
export const USAGE_WINDOW_MINUTES = (USAGE_WINDOW.pastMs + USAGE_WINDOW.futureMs) / 60_000;

/**
 * The most model tokens (`outputTokens + inputFactor × inputTokens`, the unit of a placement's
 * `tokensPerMin`) one event may claim: every placement the workload has or had on the reporting
 * cluster, at full throughput, for the whole window an event may lie in (90 days and 5 minutes).
 * Generous on purpose: an honest event covers seconds or minutes of serving, so it sits orders of
 * magnitude below; an event past it could not have been produced there and is `implausible`.
 */
export function plausibleTokens(clusterTokensPerMin: number): number {
  return clusterTokensPerMin * USAGE_WINDOW_MINUTES;
}

/** A numeric's text without trailing zeros: "12.500000000000" → "12.5", "3.000" → "3". */
export function canonicalDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** Valid events of a batch, column by column, as `UsageBatch` holds them. */
function newColumns() {
  return { ids: [] as string[], workload: [] as number[], inputTokens: [] as number[], outputTokens: [] as number[], occurredAtMs: [] as number[] };
}

/** `GET /api/v1/usage`: sums of [from, to), by model, by day in the billing time zone, by API key and by tenant. */
export interface UsageReport extends UsageSums {
  readonly from: string;
  readonly to: string;
  readonly tenantId?: string;
  readonly apiKeyId?: string;
  readonly byModel: UsageBreakdown['byModel'];
  readonly byDay: UsageBreakdown['byDay'];
  readonly byApiKey: UsageBreakdown['byApiKey'];
  readonly byTenant: UsageBreakdown['byTenant'];
}

function canonical<T extends UsageSums>(s: T): T {
  return { ...s, stdTokens: canonicalDecimal(s.stdTokens) };
}

/**
 * One call the token gateway served, metered as one usage event (API.md v2 "Token gateway"): its
 * id is the request id, its cluster the one that served it, its tenant the caller (who may differ
 * from the workload's owner on a shared workload).
 */
export interface MeteredCall {
  readonly requestId: string;
  readonly tenantId: string;
  /** The calling key; null for a signed-in user's call. */
  readonly apiKeyId: string | null;
  readonly workloadId: string;
  readonly placementId: string;
  readonly clusterId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly occurredAt: Date;
  /** The workload's model and factors, when the caller has them (the gateway's routing table): then not read again. */
  readonly model?: { readonly modelId: string; readonly costFactor: string; readonly inputFactor: string };
}

/**
 * The span the metering check compares: the hour that ended `settleMs` ago, so that the agents'
 * reports of its last minutes (sent every 10 s by default) have arrived.
 */
export const METERING_WINDOW = { spanMs: 3_600_000, settleMs: 120_000 } as const;

/** How far engine counts may stray from metered tokens (Config.meteringTolerance). */
export interface MeteringTolerance {
  /** Of the larger of the two sums. */
  readonly fraction: number;
  /** A difference below this many tokens is never a discrepancy. */
  readonly minTokens: number;
}

/** A gateway workload on a cluster whose engines counted other than the gateway metered. */
export interface MeteringDiscrepancy extends MeteringPair {
  /** {@link meteringRatio}: above 0, the engines counted more (traffic that bypassed the gateway). */
  readonly ratio: number;
}

/** One metering check: when it ran, the span it compared, how many (workload, cluster) pairs, and the discrepant ones. */
export interface MeteringCheck {
  readonly at: Date;
  readonly from: Date;
  readonly to: Date;
  readonly pairs: number;
  readonly discrepancies: readonly MeteringDiscrepancy[];
}

/**
 * `(engine − metered) / max(engine, metered)`, from −1 to 1; 0 when both are 0. Positive: the
 * engines served tokens the gateway did not meter (callers reaching the replicas around it);
 * negative: the gateway metered tokens the engines did not count (an engine or agent misreporting,
 * or an agent that reports no counts at all).
 */
export function meteringRatio(meteredTokens: number, engineTokens: number): number {
  const larger = Math.max(meteredTokens, engineTokens);
  return larger === 0 ? 0 : (engineTokens - meteredTokens) / larger;
}

/** Whether the two sums differ by more than `tolerance` allows: past its fraction and at least its token floor. */
export function isMeteringDiscrepancy(meteredTokens: number, engineTokens: number, tolerance: MeteringTolerance): boolean {
  const difference = Math.abs(engineTokens - meteredTokens);
  return difference >= tolerance.minTokens && difference > tolerance.fraction * Math.max(meteredTokens, engineTokens);
}

/** Token usage from the agents and the gateway, and the usage views of tenants and the operator. Emits `usage.recorded`. */
export class UsageService {
  constructor(
    private readonly repo: UsageRepository,
    private readonly clock: Clock,
    private readonly calendar: Calendar,
    private readonly events: EventBus,
    /** Resolves once the gateway's events of answers this process ended are committed (Metering.settled), so a report that follows a call counts it. */
    private readonly meteredBefore: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /**
   * Ingests one agent's batch in two round trips: every workload of the batch is looked up at
   * once, each event is judged (window, then ownership, then plausibility), and the valid ones go
   * in as one statement per kind, both committed when this resolves: events of `direct` workloads
   * are usage, billed; those of `gateway` workloads are engine counts, a cross-check of what the
   * gateway metered and billed (API.md v2: a token is billed once). An id this cluster sent
   * before, or repeated in the batch, is a duplicate; a rejected event leaves no trace, so its id
   * may be sent again.
   */
  async ingest(clusterId: string, events: readonly UsageEventInput[]): Promise<IngestAnswer> {
    const now = this.clock.now();
    const earliest = now.getTime() - USAGE_WINDOW.pastMs;
    const latest = now.getTime() + USAGE_WINDOW.futureMs;

    const names = new Set<string>();
    for (const e of events) names.add(e.workloadId);
    const found = await this.repo.workloads([...names], clusterId);
    // Per workload id: its index in `owned`, or why its events are refused.
    const verdict = new Map<string, number | RejectReason>();
    const owned: UsageWorkload[] = [];
    // Per index in `owned`: the input factor as a number and the plausibility bound. Judged in
    // binary floating point: the bound is far above real use, so rounding at its edge is moot.
    const inputFactor: number[] = [];
    const ceiling: number[] = [];
    for (const w of found) {
      if (w.onCluster) {
        verdict.set(w.id, owned.push(w) - 1);
        inputFactor.push(Number(w.inputFactor));
        ceiling.push(plausibleTokens(w.clusterTokensPerMin));
      } else verdict.set(w.id, 'not_placed_on_this_cluster');
    }

    const rejected: { id: string; reason: RejectReason }[] = [];
    // Usage of direct workloads, billed; engine counts of gateway workloads, kept as a cross-check
    // (the gateway bills their calls itself, and a token is billed once).
    const billed = newColumns();
    const counted = newColumns();
    for (const e of events) {
      const at = Date.parse(e.occurredAt);
      if (!(at >= earliest && at <= latest)) {
        rejected.push({ id: e.id, reason: 'out_of_window' });
        continue;
      }
      const v = verdict.get(e.workloadId) ?? 'unknown_workload';
      if (typeof v !== 'number') {
        rejected.push({ id: e.id, reason: v });
        continue;
      }
      if (e.outputTokens + inputFactor[v]! * e.inputTokens > ceiling[v]!) {
        rejected.push({ id: e.id, reason: 'implausible' });
        continue;
      }
      const to = owned[v]!.access === 'gateway' ? counted : billed;
      to.ids.push(e.id);
      to.workload.push(v);
      to.inputTokens.push(e.inputTokens);
      to.outputTokens.push(e.outputTokens);
      to.occurredAtMs.push(at);
    }
    const [accepted1, accepted2] = await Promise.all([
      this.repo.insert({ clusterId, receivedAt: now, workloads: owned, ...billed }),
      this.repo.insertEngineCounts({ clusterId, receivedAt: now, workloads: owned, ...counted }),
    ]);
    const accepted = accepted1 + accepted2;
    const duplicates = billed.ids.length + counted.ids.length - accepted;
    this.events.emit('usage.recorded', { clusterId, accepted, duplicates, rejected: rejected.length });
    return { accepted, duplicates, rejected };
  }

  /**
   * Writes the gateway's metered calls through the same idempotent insert as agents' reports (one
   * statement per serving cluster; an id already stored for its cluster is a duplicate, so a
   * retried batch never bills twice). Not judged for plausibility: the platform measured them
   * itself. A workload deleted meanwhile still exists as a row, so no call is dropped. Answers how
   * many were new.
   */
  async meter(calls: readonly MeteredCall[]): Promise<number> {
    const byCluster = new Map<string, MeteredCall[]>();
    for (const c of calls) {
      const list = byCluster.get(c.clusterId);
      if (list) list.push(c);
      else byCluster.set(c.clusterId, [c]);
    }
    const now = this.clock.now();
    let accepted = 0;
    for (const [clusterId, list] of byCluster) {
      // Calls that bring their model's factors (the gateway's) need no look-up: one round trip, not two.
      const unknown = [...new Set(list.filter((c) => !c.model).map((c) => c.workloadId))];
      const found = new Map(unknown.length ? (await this.repo.workloads(unknown, clusterId)).map((w) => [w.id, w]) : []);
      for (const c of list) {
        if (c.model && !found.has(c.workloadId)) {
          const { modelId, costFactor, inputFactor } = c.model;
          found.set(c.workloadId, {
            id: c.workloadId,
            tenantId: c.tenantId,
            modelId,
            costFactor,
            inputFactor,
            onCluster: true,
            clusterTokensPerMin: 0,
            access: 'gateway',
          });
        }
      }
      // One entry per (workload, calling tenant): usage is the caller's, whoever owns the workload.
      const entries: UsageWorkload[] = [];
      const entryOf = new Map<string, number>();
      const batch = { ...newColumns(), apiKeyIds: [] as (string | null)[], placementIds: [] as string[] };
      for (const c of list) {
        const w = found.get(c.workloadId);
        if (!w) continue;
        const key = `${c.workloadId}\n${c.tenantId}`;
        let i = entryOf.get(key);
        if (i === undefined) entryOf.set(key, (i = entries.push({ ...w, tenantId: c.tenantId }) - 1));
        batch.ids.push(c.requestId);
        batch.workload.push(i);
        batch.inputTokens.push(c.inputTokens);
        batch.outputTokens.push(c.outputTokens);
        batch.occurredAtMs.push(c.occurredAt.getTime());
        batch.apiKeyIds.push(c.apiKeyId);
        batch.placementIds.push(c.placementId);
      }
      const n = await this.repo.insert({ clusterId, receivedAt: now, workloads: entries, ...batch });
      accepted += n;
      this.events.emit('usage.recorded', { clusterId, accepted: n, duplicates: batch.ids.length - n, rejected: list.length - batch.ids.length });
    }
    return accepted;
  }

  /**
   * Deletes the engine counts that occurred more than `retentionDays` ago (by the clock) and answers
   * how many. With at least 91 days (Config.engineCountsRetentionDays), an agent can no longer send
   * a deleted count again (it is past the 90-day window, `out_of_window`), so none is counted twice.
   */
  purgeEngineCounts(retentionDays: number): Promise<number> {
    return this.repo.deleteEngineCountsBefore(new Date(this.clock.now().getTime() - retentionDays * 86_400_000));
  }

  /**
   * Compares, for every `gateway` workload and cluster with traffic in {@link METERING_WINDOW},
   * the tokens its engines counted with those the gateway metered, and answers the pairs that
   * differ by more than `tolerance` allows.
   */
  async crossCheck(tolerance: MeteringTolerance): Promise<MeteringCheck> {
    const at = this.clock.now();
    const to = new Date(at.getTime() - METERING_WINDOW.settleMs);
    const from = new Date(to.getTime() - METERING_WINDOW.spanMs);
    const pairs = await this.repo.meteringPairs(from, to);
    const discrepancies = pairs
      .filter((p) => isMeteringDiscrepancy(p.meteredTokens, p.engineTokens, tolerance))
      .map((p) => ({ ...p, ratio: meteringRatio(p.meteredTokens, p.engineTokens) }));
    return { at, from, to, pairs: pairs.length, discrepancies };
  }

  /**
   * Usage of [from, to) (default: the current calendar month in the billing time zone). A tenant
   * sees only its own: naming another tenant is 404, as is an operator naming no tenant at all.
   * Without `tenantId` the operator gets every tenant's usage. `apiKeyId` narrows it to the usage
   * made through that key: a filter on what the caller may see, as the request log's is, so a key
   * that is not the caller's tenant's (or none at all) has no usage there and the sums are 0; a
   * revoked key's usage stays there under its id.
   */
  async report(
    principal: Principal,
    q: { from?: Date | undefined; to?: Date | undefined; tenantId?: string | undefined; apiKeyId?: string | undefined },
  ): Promise<UsageReport> {
    const tenantId = scopeTenant(principal, q.tenantId);
    if (q.tenantId !== undefined && (tenantId !== q.tenantId || !(await this.repo.tenantExists(q.tenantId)))) {
      throw new AppError('not_found', `No tenant has id "${q.tenantId}".`);
    }
    const bounds = this.calendar.monthBounds(this.calendar.periodOf(this.clock.now()));
    const from = q.from ?? bounds.start;
    const to = q.to ?? bounds.end;
    if (from.getTime() >= to.getTime()) {
      throw new AppError('invalid', '"from" must be before "to".', [{ path: q.from ? 'query.from' : 'query.to', message: 'must be before to' }]);
    }
    await this.meteredBefore();
    const usage = await this.repo.breakdown({ tenantId, apiKeyId: q.apiKeyId }, from, to, this.calendar.timezone);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(q.apiKeyId !== undefined ? { apiKeyId: q.apiKeyId } : {}),
      ...canonical(usage.total),
      byModel: usage.byModel.map(canonical),
      byDay: usage.byDay.map(canonical),
      byApiKey: usage.byApiKey.map(canonical),
      byTenant: usage.byTenant.map(canonical),
    };
  }
}
