/**
 * The period close: one invoice per tenant that had a subscription or usage in the month, rated
 * by the pure rating code (billing/rating.ts), issued in batches that each commit atomically.
 * Idempotent per tenant and period. A close bills every usage event committed before it began
 * (its watermark, BillingRepository.watermark); usage committed after its period was billed goes
 * onto the tenant's next invoice as a `late_usage` line.
 */
import { Decimal } from 'decimal.js';
import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import { daysInMonth, parsePeriod, type Calendar } from '../billing/periods.js';
import {
  isHardCap,
  planExhausted,
  ratePeriod,
  rateLateUsage,
  rateSubscription,
  roundHalfUpToFen,
  type InvoiceLine,
  type SubscriptionUsage,
} from '../billing/rating.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BillingRepository, InvoiceRow, NewInvoice, SlaCreditRow, Watermark } from '../repositories/billing.repository.js';
import type { InvoiceLedgerRow } from '../repositories/ledger.repository.js';
import { invoiceStatus, type InvoiceStatus } from '../billing/ledger.js';
import { creditAmount, creditFor, creditShares, shortMinutes, windowMinutes } from '../billing/sla.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { PlanRow, PlansRepository, SubscriptionRow } from '../repositories/plans.repository.js';
import { SHARED_TENANT } from '../repositories/tenants.repository.js';
import { slaOf, termsOf, vatOf } from './plans.service.js';
import { DEFAULT_TAX_CODE, DEFAULT_VAT_RATE, vatTotals, withVat, type VatLine, type VatTerms } from '../billing/vat.js';
import { owns, scopeTenant } from '../auth/policy.js';

const BATCH = 500;
/**
 * How long a close waits for the usage watermark lock: for the usage insert statements in flight
 * (one batch each, at most 10,000 events) to commit. Ingestion that arrives meanwhile waits behind
 * the close, so this also bounds that wait; past it the close tries again.
 */
export const WATERMARK_LOCK_TIMEOUT_MS = 5_000;
const WATERMARK_ATTEMPTS = 3;

export interface Invoice {
  readonly id: string;
  readonly number: string;
  readonly tenantId: string;
  readonly period: string;
  readonly currency: 'CNY';
  /** Derived from the ledger: `issued → partially_paid | paid | void` (void: credit notes cancel it whole). */
  readonly status: InvoiceStatus;
  readonly issuedAt: string;
  readonly lines: readonly Omit<VatLine, 'subscriptionId'>[];
  /** Σ line amounts, exclusive of VAT (API.md). */
  readonly total: string;
  /** Σ line VAT. */
  readonly vat: string;
  /** `total + vat`: what the tenant owes, and what the ledger posts to its receivable. */
  readonly totalInclusive: string;
  /** CNY, two decimals, from the ledger: payments (and prepaid draws) allocated to it. */
  readonly paid: string;
  /** CNY, two decimals, from the ledger: its credit notes' amounts (positive, inclusive of VAT). */
  readonly credited: string;
  /** totalInclusive − paid − credited. */
  readonly outstanding: string;
}

/**
 * An invoice as the API shows it, its state from what the ledger holds for it (`ledger`; none:
 * nothing posted). Its state and what is outstanding are of the inclusive total: what the tenant owes.
 */
export function toInvoice(r: InvoiceRow, ledger?: InvoiceLedgerRow): Invoice {
  const owed = new Decimal(r.total_inclusive);
  const credited = new Decimal(ledger?.credited ?? 0);
  const paid = new Decimal(ledger?.paid ?? 0);
  const lines = (r.lines as VatLine[]).map(({ kind, description, quantity, unitPrice, amount, vatRate, vat, amountInclusive, taxCode }) => ({
    kind,
    description,
    quantity,
    unitPrice,
    amount,
    vatRate,
    vat,
    amountInclusive,
    taxCode,
  }));
  return {
    id: r.id,
    number: r.number,
    tenantId: r.tenant_id,
    period: r.period,
    currency: 'CNY',
    status: invoiceStatus(owed, { invoiced: owed, credited, paid }),
    issuedAt: r.issued_at.toISOString(),
    lines,
    total: roundHalfUpToFen(r.total),
    vat: roundHalfUpToFen(r.vat),
    totalInclusive: roundHalfUpToFen(r.total_inclusive),
    paid: roundHalfUpToFen(paid),
    credited: roundHalfUpToFen(credited),
    outstanding: roundHalfUpToFen(owed.minus(paid).minus(credited)),
  };
}

/** A tenant's current month so far (`BillingService.periodSoFar`). */
export interface PeriodSoFar {
  readonly period: string;
  /** Exact at any size (past 2^53). */
  readonly inputTokens: bigint;
  readonly outputTokens: bigint;
  /** Exact decimal text. */
  readonly stdTokens: string;
  /** CNY, two decimals: what the month's invoice would total if it were closed now (its `total`, exclusive of VAT). */
  readonly costSoFar: string;
  /**
   * CNY, two decimals: that invoice's `totalInclusive` — each line taxed at its plan's rate, as the
   * close would (`withVat`, `vatTotals`): what the tenant will really pay for the month so far.
   */
  readonly costSoFarInclusive: string;
}

/** A tenant's balance derived from the ledger (`BillingService.balances`). */
export interface Balance {
  readonly tenantId: string;
  /** CNY, two decimals: the sum of the tenant's ledger entries. */
  readonly balance: string;
  readonly entries: number;
}

export interface BillingMetrics {
  invoiceIssued(planTypes: readonly string[], total: string): void;
}

/**
 * A step the close runs once the period's invoices are all issued, with the same watermark
 * (`through`) and the periods closed before (the providers' statements, settlement.service.ts).
 */
export type CloseStep = (period: string, through: Watermark, closedBefore: readonly string[]) => Promise<unknown>;

export class BillingService {
  private readonly closeSteps: CloseStep[] = [];

  constructor(
    private readonly repo: BillingRepository,
    private readonly plans: PlansRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly calendar: Calendar,
    private readonly log: Logger,
    private readonly metrics?: BillingMetrics,
    /** Invoices issued per transaction. */
    private readonly batchSize = BATCH,
    /** The VAT rate of lines whose plan is unknown (no default plan): TOKENPOOL_VAT_RATE. */
    private readonly defaultVatRate = DEFAULT_VAT_RATE,
  ) {}

  /** Closes a calendar month (409 if it has not ended) and answers all of its invoices. */
  async close(period: string): Promise<Invoice[]> {
    try {
      parsePeriod(period);
    } catch {
      throw new AppError('invalid', 'The period must be a month such as "2026-10".', [{ path: 'period', message: 'must be YYYY-MM' }]);
    }
    const now = this.clock.now();
    if (!this.calendar.periodHasEnded(period, now)) throw new AppError('conflict', `The period ${period} has not ended yet.`);
    // Everything committed before this line is billed now; later closes of the same period (a
    // backdated subscription) draw their own, further on.
    const through = await this.watermark(now);
    await this.repo.markClosed(period, through);
    const { start, end } = this.calendar.monthBounds(period);
    const earlier = (await this.repo.closedPeriods()).filter((p) => p < period).map((p) => ({ period: p, ...this.calendar.monthBounds(p) }));

    await this.recordSlaCredits(period, start, end, now);
    // Another close may issue some of the same invoices first: go again for what is left.
    for (let attempt = 0; !(await this.issueMissing(period, start, end, through, now, earlier)); attempt++) {
      if (attempt >= 3) throw new Error(`The close of ${period} kept racing another close`);
    }
    for (const step of this.closeSteps)
      await step(
        period,
        through,
        earlier.map((e) => e.period),
      );
    return this.withStates(await this.repo.periodInvoices(period));
  }

  /** The close's watermark; a wait for the lock that timed out is tried again a few times. */
  private async watermark(now: Date): Promise<Watermark> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.repo.watermark(now, WATERMARK_LOCK_TIMEOUT_MS);
      } catch (err) {
        if ((err as { code?: unknown }).code !== '55P03' || attempt >= WATERMARK_ATTEMPTS) throw err;
        this.log.warn('a close waited too long for usage ingestion to let it draw its watermark; trying again', { attempt });
      }
    }
  }

  /** Adds a step to every close, run in order after the period's invoices are issued. */
  onClose(step: CloseStep): void {
    this.closeSteps.push(step);
  }

  /** Issues the invoices the period still lacks; false if another close issued one of them first. */
  private async issueMissing(
    period: string,
    start: Date,
    end: Date,
    through: Watermark,
    now: Date,
    earlier: readonly { period: string; start: Date; end: Date }[],
  ): Promise<boolean> {
    const days = daysInMonth(period);
    const [invoiced, subs, planRows, usage, late] = await Promise.all([
      this.repo.invoicedTenants(period),
      this.plans.overlapping(start, end),
      this.plans.all(),
      this.repo.periodUsage(period, start, end, through),
      this.repo.lateUsage(earlier, through),
    ]);
    const plans = new Map(planRows.map((p) => [p.id, p]));
    const defaultPlan = planRows.find((p) => p.is_default);
    const subsOf = group(subs, (s) => s.tenant_id);
    const usageOf = group(usage, (u) => u.tenant_id);
    const lateOf = group(late, (u) => u.tenant_id);
    const priorRatings = await this.repo.ratings(late.map((l) => ({ tenantId: l.tenant_id, period: l.period })));
    const earlierSubsOf = group(late.length > 0 ? await this.plans.overlapping(new Date(0), start) : [], (s) => s.tenant_id);

    const creditsOf = group(await this.repo.pendingSlaCredits(period), (c) => c.tenantId);
    const vatOfSub = this.subscriptionVat([...subs, ...[...earlierSubsOf.values()].flat()], plans, defaultPlan);

    // The platform's own tenant pays nobody: its traffic is served and paid to providers, never invoiced.
    const tenants = [...new Set([...subsOf.keys(), ...usageOf.keys(), ...lateOf.keys(), ...creditsOf.keys()])]
      .filter((t) => !invoiced.has(t) && t !== SHARED_TENANT.id)
      .sort();
    const invoices: NewInvoice[] = [];
    for (const tenantId of tenants) {
      const spans = this.spans(period, subsOf.get(tenantId) ?? [], usageOf.get(tenantId) ?? [], plans, defaultPlan);
      const lines: VatLine[] = rateWithVat(period, days, spans, vatOfSub);
      const billed: { period: string; rating: unknown }[] = spans.length > 0 ? [{ period, rating: spans }] : [];
      for (const [latePeriod, rows] of group(lateOf.get(tenantId) ?? [], (l) => l.period)) {
        const before = (priorRatings.get(`${tenantId}/${latePeriod}`) as SubscriptionUsage[] | undefined) ?? [];
        const lateSubs = (earlierSubsOf.get(tenantId) ?? []).filter((s) => rows.some((r) => r.subscription_id === s.id));
        const { rating, line } = rateLateUsage(latePeriod, daysInMonth(latePeriod), before, this.spans(latePeriod, lateSubs, rows, plans, defaultPlan));
        if (line)
          lines.push(
            withVat(
              line,
              lateVat(
                line,
                rows.map((r) => r.subscription_id),
                vatOfSub,
              ),
            ),
          );
        billed.push({ period: latePeriod, rating });
      }
      // Issue 15: SLA credits of earlier months, on the next invoice, once.
      const credits = creditsOf.get(tenantId) ?? [];
      for (const c of credits) {
        // A credit lowers the tax with the amount: its VAT is the credited subscription's rate on it (negative).
        const line = {
          kind: 'sla_credit',
          description: c.description,
          quantity: '1',
          unitPrice: c.amount,
          amount: c.amount,
          subscriptionId: c.subscriptionId,
        } as const;
        lines.push(withVat(line, vatOfSub(c.subscriptionId)));
      }
      if (lines.length === 0 && spans.length === 0) continue;
      invoices.push({
        id: this.ids.next('inv'),
        tenantId,
        lines,
        rating: spans,
        ...vatTotals(lines),
        billed,
        ...(credits.length > 0 ? { slaCredits: credits.map((c) => ({ workloadId: c.workloadId, period: c.period, subscriptionId: c.subscriptionId })) } : {}),
      });
    }
    for (let i = 0; i < invoices.length; i += this.batchSize) {
      const batch = invoices.slice(i, i + this.batchSize);
      if (!(await this.repo.issue(period, batch, through, now))) return false;
      for (const inv of batch)
        this.metrics?.invoiceIssued(
          (inv.rating as SubscriptionUsage[]).map((s) => s.terms.type),
          inv.total,
        );
    }
    if (invoices.length > 0) this.log.info('period closed', { period, invoices: invoices.length });
    return true;
  }

  /**
   * The VAT terms of a line by the subscription it bills: its plan's, else (the default plan's
   * usage, or a subscription not among `subs`) the default plan's, else TOKENPOOL_VAT_RATE.
   */
  private subscriptionVat(subs: readonly SubscriptionRow[], plans: ReadonlyMap<string, PlanRow>, defaultPlan: PlanRow | undefined): VatOfSubscription {
    const planOfSub = new Map(subs.map((s) => [s.id, plans.get(s.plan_id)!]));
    const defaultVat: VatTerms = defaultPlan ? vatOf(defaultPlan) : { vatRate: this.defaultVatRate, taxCode: DEFAULT_TAX_CODE };
    return (id) => {
      const plan = id === null ? undefined : planOfSub.get(id);
      return plan ? vatOf(plan) : defaultVat;
    };
  }

  /**
   * Issue 15: the SLA credits `period` earned (billing/sla.ts), recorded once per workload and
   * subscription for the tenant's next invoice. A subscription's plan must promise an SLA (and be
   * periodic); its workloads are measured from when they first ran (and while they existed) within
   * the subscription's part of the month, their spells up to `now`.
   */
  private async recordSlaCredits(period: string, start: Date, end: Date, now: Date): Promise<void> {
    const [subs, planRows] = await Promise.all([this.plans.overlapping(start, end), this.plans.all()]);
    const plans = new Map(planRows.map((p) => [p.id, p]));
    const promised = subs.flatMap((s) => {
      const plan = plans.get(s.plan_id)!;
      const sla = plan.type === 'periodic' ? slaOf(plan) : undefined;
      return sla ? [{ s, plan, sla }] : [];
    });
    if (promised.length === 0) return;
    const workloads = group(await this.repo.slaWorkloads([...new Set(promised.map((p) => p.s.tenant_id))], start, end), (w) => w.tenant_id);
    const spells = group(
      await this.repo.slaSpells(
        [...workloads.values()].flat().map((w) => w.id),
        start,
        end,
      ),
      (x) => x.workload_id,
    );
    const days = daysInMonth(period);
    const credits: SlaCreditRow[] = [];
    for (const { s, plan, sla } of promised) {
      const fee = rateSubscription(period, days, this.span(period, s, plans, undefined)).find((l) => l.kind === 'fee')!.amount;
      const from = Math.max(start.getTime(), s.starts_at.getTime());
      const to = Math.min(end.getTime(), s.ends_at?.getTime() ?? Infinity);
      const measured = (workloads.get(s.tenant_id) ?? []).flatMap((w) => {
        const window = {
          from: new Date(Math.max(from, w.created_at.getTime(), w.first_ready_at.getTime())),
          to: new Date(Math.min(to, w.deleted_at?.getTime() ?? Infinity)),
        };
        const minutes = windowMinutes(window);
        if (window.to <= window.from || minutes === 0) return [];
        const mine = (spells.get(w.id) ?? []).map((x) => ({ ...x, startedAt: x.started_at, endedAt: x.ended_at }));
        const short = shortMinutes(window, mine, sla.graceMinutes, now);
        const worst = mine
          .map((x) => ({ x, n: shortMinutes(window, [x], sla.graceMinutes, now) }))
          .filter((c) => c.n > 0)
          .sort((a, b) => b.n - a.n)[0]?.x;
        // Each responsible cluster's short minutes (its own spells; none: a workload nobody placed).
        const byCluster = new Map<string | null, number>();
        for (const [clusterId, its] of group(mine, (x) => x.cluster_id)) byCluster.set(clusterId, shortMinutes(window, its, sla.graceMinutes, now));
        return [{ w, minutes, short, culprit: worst, byCluster, ...creditFor(sla, minutes, short) }];
      });
      const whole = measured.reduce((sum, m) => sum.plus(m.w.std_per_min), new Exact(0));
      for (const m of measured) {
        if (m.creditPercent === null || whole.isZero()) continue;
        const amount = creditAmount(fee, m.creditPercent, m.w.std_per_min, whole.toFixed());
        if (amount === '0.00') continue;
        const share =
          m.w.std_per_min === whole.toFixed() ? '' : ` × its share ${m.w.std_per_min}/${whole.toFixed()} of the reserved standard tokens per minute`;
        credits.push({
          workloadId: m.w.id,
          period,
          subscriptionId: s.id,
          tenantId: s.tenant_id,
          clusterId: m.culprit?.cluster_id ?? null,
          shares: creditShares(amount, m.byCluster),
          availability: m.availability,
          creditPercent: m.creditPercent,
          amount,
          description:
            `SLA credit for ${period}: workload "${m.w.name}" available ${m.availability}% (${m.short} of ${m.minutes} minutes short; ` +
            `${plan.name} promises ${sla.availabilityPercent}%): ${m.creditPercent}% of the ¥${fee} fee${share}`,
        });
      }
    }
    await this.repo.recordSlaCredits(credits, now);
  }

  /** The rating input of one tenant's month: each subscription's days and usage, and the default plan's usage. */
  private spans(
    period: string,
    subs: readonly SubscriptionRow[],
    usage: readonly { subscription_id: string | null; model?: string; std: string }[],
    plans: ReadonlyMap<string, PlanRow>,
    defaultPlan: PlanRow | undefined,
  ): SubscriptionUsage[] {
    const usageOf = modelUsage(usage);
    const spans = subs.map((s) => this.span(period, s, plans, usageOf.get(s.id)));
    const unsubscribed = usageOf.get(null);
    if (unsubscribed !== undefined && defaultPlan) {
      spans.push(
        withModels({ subscriptionId: null, planName: defaultPlan.name, terms: termsOf(defaultPlan), activeDays: 0, stdTokens: unsubscribed.std }, unsubscribed),
      );
    }
    return spans;
  }

  /** One subscription's rating input for a month. */
  private span(period: string, s: SubscriptionRow, plans: ReadonlyMap<string, PlanRow>, usage: ModelUsage | undefined): SubscriptionUsage {
    const plan = plans.get(s.plan_id)!;
    return withModels(
      {
        subscriptionId: s.id,
        planName: plan.name,
        terms: termsOf(plan),
        activeDays: this.calendar.activeDays(period, s.starts_at, s.ends_at),
        stdTokens: usage?.std ?? '0',
      },
      usage,
    );
  }

  /**
   * The current month of one tenant so far: usage, and the cost an invoice would show if the month
   * were closed with what is known now (the fee of every subscription day in the month counts).
   */
  async periodSoFar(tenantId: string): Promise<PeriodSoFar> {
    return (await this.periodsSoFar([tenantId])).get(tenantId)!;
  }

  /** `periodSoFar` of each of `tenantIds`, read together (three queries, whatever their number). */
  async periodsSoFar(tenantIds: readonly string[]): Promise<Map<string, PeriodSoFar>> {
    const now = this.clock.now();
    const period = this.calendar.periodOf(now);
    const { start, end } = this.calendar.monthBounds(period);
    if (tenantIds.length === 0) return new Map();
    const [subs, planRows, usage] = await Promise.all([this.plans.overlapping(start, end), this.plans.all(), this.repo.usageSoFar(start, end, tenantIds)]);
    const plans = new Map(planRows.map((p) => [p.id, p]));
    const defaultPlan = planRows.find((p) => p.is_default);
    const subsOf = group(subs, (s) => s.tenant_id);
    const usageOf = group(usage, (u) => u.tenant_id);
    const vatOfSub = this.subscriptionVat(subs, plans, defaultPlan);
    const days = daysInMonth(period);
    const out = new Map<string, PeriodSoFar>();
    for (const tenantId of tenantIds) {
      const mine = usageOf.get(tenantId) ?? [];
      const sums = vatTotals(rateWithVat(period, days, this.spans(period, subsOf.get(tenantId) ?? [], mine, plans, defaultPlan), vatOfSub));
      out.set(tenantId, {
        period,
        inputTokens: mine.reduce((n, u) => n + BigInt(u.input_tokens), 0n),
        outputTokens: mine.reduce((n, u) => n + BigInt(u.output_tokens), 0n),
        stdTokens: mine.reduce((d, u) => d.plus(u.std), new Decimal(0)).toString(),
        costSoFar: sums.total,
        costSoFarInclusive: sums.totalInclusive,
      });
    }
    return out;
  }

  /**
   * Tenants on a hard-capped plan (no overage price) whose included standard tokens for this
   * month are used up (`planExhausted`): their new workloads wait with `plan_exhausted` until the
   * next month. `known`: the subscriptions active now and the plans, when the caller has read them already.
   */
  async exhaustedTenants(known?: { active: readonly SubscriptionRow[]; plans: readonly PlanRow[] }): Promise<Set<string>> {
    const now = this.clock.now();
    const period = this.calendar.periodOf(now);
    const { start, end } = this.calendar.monthBounds(period);
    const [active, planRows] = known ? [known.active, known.plans] : await Promise.all([this.plans.activeAt(now), this.plans.all()]);
    const plans = new Map(planRows.map((p) => [p.id, p]));
    const capped = active.filter((s) => {
      const plan = plans.get(s.plan_id);
      return plan !== undefined && isHardCap(termsOf(plan));
    });
    if (capped.length === 0) return new Set();
    const usage = await this.repo.usageSoFar(
      start,
      end,
      capped.map((s) => s.tenant_id),
    );
    const usageOf = modelUsage(usage.filter((u) => u.subscription_id !== null));
    const days = daysInMonth(period);
    const out = new Set<string>();
    for (const s of capped) {
      if (planExhausted(period, days, this.span(period, s, plans, usageOf.get(s.id)))) out.add(s.tenant_id);
    }
    return out;
  }

  /** Invoices as the API shows them, each with its state from the ledger (one query for all). */
  async withStates(rows: readonly InvoiceRow[]): Promise<Invoice[]> {
    const ledgers = await this.repo.invoiceLedgers(rows.map((r) => r.id));
    return rows.map((r) => toInvoice(r, ledgers.get(r.id)));
  }

  /**
   * Each tenant's receivable, derived from the ledger alone (invoices less payments, prepaid draws
   * and credit notes, plus refunds): CNY with two decimals, and the number of its postings.
   * Tenants without a receivable account are absent (test/integration/ledger.test.ts).
   */
  async balances(): Promise<Balance[]> {
    return (await this.repo.ledgerBalances()).map((r) => ({ tenantId: r.tenant_id, balance: roundHalfUpToFen(r.balance), entries: r.entries }));
  }

  async list(principal: Principal, filter: { tenantId?: string | undefined; period?: string | undefined }, page: PageRequest): Promise<Page<Invoice>> {
    const tenantId = scopeTenant(principal, filter.tenantId);
    const rows = await this.repo.listInvoices({ tenantId, period: filter.period }, page);
    const ledgers = await this.repo.invoiceLedgers(rows.slice(0, page.limit).map((r) => r.id));
    return toPage(rows, page.limit, (r) => toInvoice(r, ledgers.get(r.id)));
  }

  async get(principal: Principal, id: string): Promise<Invoice> {
    const row = await this.repo.getInvoice(id);
    if (!row || !owns(principal, row.tenant_id)) throw new AppError('not_found', 'No invoice has this id.');
    return (await this.withStates([row]))[0]!;
  }
}

/** The VAT terms of the lines of a subscription (null: the default plan). */
type VatOfSubscription = (subscriptionId: string | null) => VatTerms;

/** A month's lines as the close rates them (`ratePeriod`), each with the VAT of its subscription's plan. */
function rateWithVat(period: string, days: number, spans: readonly SubscriptionUsage[], vatOfSub: VatOfSubscription): VatLine[] {
  return ratePeriod(period, days, spans).lines.map((l) => withVat(l, vatOfSub(l.subscriptionId)));
}

/** Exact at any size of the sums here (the default Decimal keeps only 20 digits). */
const Exact = Decimal.clone({ precision: 1000, toExpNeg: -9e15, toExpPos: 9e15 });

/** One subscription's usage (or the default plan's, key null): exact standard tokens, in all and per model name. */
interface ModelUsage {
  readonly std: string;
  readonly byModel: ReadonlyMap<string, string>;
}

/** Usage rows (one per subscription and model) summed per subscription id, exactly. */
function modelUsage(usage: readonly { subscription_id: string | null; model?: string; std: string }[]): Map<string | null, ModelUsage> {
  const sums = new Map<string | null, { std: Decimal; byModel: Map<string, Decimal> }>();
  for (const u of usage) {
    const sum = sums.get(u.subscription_id) ?? { std: new Exact(0), byModel: new Map<string, Decimal>() };
    sum.std = sum.std.plus(u.std);
    if (u.model !== undefined) sum.byModel.set(u.model, (sum.byModel.get(u.model) ?? new Exact(0)).plus(u.std));
    sums.set(u.subscription_id, sum);
  }
  const out = new Map<string | null, ModelUsage>();
  for (const [id, sum] of sums) out.set(id, { std: sum.std.toFixed(), byModel: new Map([...sum.byModel].map(([m, d]) => [m, d.toFixed()])) });
  return out;
}

/**
 * `s` with its usage per model when its plan prices models apart (only the models it names): a
 * plan without `modelPrices` is rated, and its rating stored, exactly as before.
 */
function withModels(s: SubscriptionUsage, usage: ModelUsage | undefined): SubscriptionUsage {
  const prices = s.terms.modelPrices;
  if (!prices) return s;
  const byModel: Record<string, string> = {};
  for (const model of Object.keys(prices).sort()) {
    const std = usage?.byModel.get(model);
    if (std !== undefined) byModel[model] = std;
  }
  return { ...s, byModel };
}

/**
 * The VAT terms of a `late_usage` line: those of the subscription it bills, or, for a line spanning
 * several subscriptions (`subscriptionId` null), theirs when they all agree, else the default plan's.
 */
function lateVat(line: InvoiceLine, subscriptionIds: readonly (string | null)[], vatOfSub: VatOfSubscription): VatTerms {
  if (line.subscriptionId !== null) return vatOfSub(line.subscriptionId);
  const terms = [...new Map(subscriptionIds.map((id) => vatOfSub(id)).map((t) => [`${t.vatRate}/${t.taxCode}`, t])).values()];
  return terms.length === 1 ? terms[0]! : vatOfSub(null);
}

/** `items` grouped by `key`, groups and items in the order first seen. */
export function group<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
