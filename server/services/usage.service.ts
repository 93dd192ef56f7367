import { parseMicro, usageStdTokens } from '../../scheduler/capacity.js';
import type { Principal } from '../auth/authenticate.js';
import { monthBounds, periodOf } from '../billing/periods.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { UsageRepository, UsageRow, UsageTotals } from '../repositories/usage.repository.js';

export interface UsageEventInput {
  readonly id: string;
  readonly workloadId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly occurredAt: Date;
}

export type RejectReason = 'out_of_window' | 'unknown_workload' | 'not_placed_on_this_cluster';

export interface IngestAnswer {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: readonly { id: string; reason: RejectReason }[];
}

/** How far back and ahead of now an event may have occurred (API.md "Usage"). */
export const USAGE_WINDOW = { pastMs: 90 * 86_400_000, futureMs: 5 * 60_000 } as const;

/** A numeric's text without trailing zeros: "12.500000000000" → "12.5". */
export function canonicalDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function totals(t: UsageTotals) {
  return { inputTokens: t.input_tokens, outputTokens: t.output_tokens, stdTokens: canonicalDecimal(t.std) };
}

/** Token usage from the agents, and the usage views of tenants and the operator. */
export class UsageService {
  constructor(
    private readonly repo: UsageRepository,
    private readonly clock: Clock,
    private readonly timezone: string,
  ) {}

  /**
   * Ingests one agent's batch: each event is judged (window, ownership), the valid ones are
   * inserted in one statement, and the answer comes once they are committed. An id seen before,
   * or twice in the batch, is a duplicate; a rejected id is not remembered.
   */
  async ingest(clusterId: string, events: readonly UsageEventInput[]): Promise<IngestAnswer> {
    const now = this.clock.now();
    const earliest = now.getTime() - USAGE_WINDOW.pastMs;
    const latest = now.getTime() + USAGE_WINDOW.futureMs;
    const workloads = new Map((await this.repo.workloads([...new Set(events.map((e) => e.workloadId))], clusterId)).map((w) => [w.id, w]));
    const rejected: { id: string; reason: RejectReason }[] = [];
    const rows: UsageRow[] = [];
    const seen = new Set<string>();
    let repeated = 0;
    for (const e of events) {
      const t = e.occurredAt.getTime();
      if (t < earliest || t > latest) {
        rejected.push({ id: e.id, reason: 'out_of_window' });
        continue;
      }
      const w = workloads.get(e.workloadId);
      if (!w) {
        rejected.push({ id: e.id, reason: 'unknown_workload' });
        continue;
      }
      if (!w.on_cluster) {
        rejected.push({ id: e.id, reason: 'not_placed_on_this_cluster' });
        continue;
      }
      if (seen.has(e.id)) {
        repeated++;
        continue;
      }
      seen.add(e.id);
      rows.push({
        id: e.id, tenantId: w.tenant_id, workloadId: w.id, modelId: w.model_id, inputTokens: e.inputTokens, outputTokens: e.outputTokens,
        stdTokens: usageStdTokens(e.inputTokens, e.outputTokens, parseMicro(w.cost_factor), parseMicro(w.input_factor)), occurredAt: e.occurredAt,
      });
    }
    const accepted = await this.repo.insert(rows, clusterId, now);
    return { accepted, duplicates: rows.length - accepted + repeated, rejected };
  }

  async report(principal: Principal, q: { from?: Date | undefined; to?: Date | undefined; tenantId?: string | undefined }) {
    const tenantId = principal.kind === 'tenant' ? principal.tenantId : q.tenantId;
    const bounds = monthBounds(periodOf(this.clock.now(), this.timezone), this.timezone);
    const from = q.from ?? bounds.start;
    const to = q.to ?? bounds.end;
    if (from.getTime() >= to.getTime()) throw new AppError('invalid', '"from" must be before "to".', [{ path: 'query.from', message: 'must be before to' }]);
    const [all, models, days] = await Promise.all([
      this.repo.totals(tenantId, from, to),
      this.repo.byModel(tenantId, from, to),
      this.repo.byDay(tenantId, from, to, this.timezone),
    ]);
    return {
      from: from.toISOString(), to: to.toISOString(), ...(tenantId ? { tenantId } : {}),
      ...totals(all),
      byModel: models.map((m) => ({ model: m.model, ...totals(m) })),
      byDay: days.map((d) => ({ day: d.day, ...totals(d) })),
    };
  }
}
