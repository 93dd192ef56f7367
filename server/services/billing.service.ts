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
  costSoFar,
  invoiceTotal,
  isHardCap,
  planExhausted,
  ratePeriod,
  rateLateUsage,
  roundHalfUpToFen,
  type InvoiceLine,
  type SubscriptionUsage,
} from '../billing/rating.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BillingRepository, InvoiceRow, NewInvoice, Watermark } from '../repositories/billing.repository.js';
import type { InvoiceLedgerRow } from '../repositories/ledger.repository.js';
import { invoiceStatus, type InvoiceStatus } from '../billing/ledger.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { PlanRow, PlansRepository, SubscriptionRow } from '../repositories/plans.repository.js';
import { SHARED_TENANT } from '../repositories/tenants.repository.js';
import { termsOf } from './plans.service.js';
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
  readonly lines: readonly Omit<InvoiceLine, 'subscriptionId'>[];
  readonly total: string;
  /** CNY, two decimals, from the ledger: payments (and prepaid draws) allocated to it. */
  readonly paid: string;
  /** CNY, two decimals, from the ledger: its credit notes' amounts (positive). */
  readonly credited: string;
  /** total − paid − credited. */
  readonly outstanding: string;
}

/** An invoice as the API shows it, its state from what the ledger holds for it (`ledger`; none: nothing posted). */
export function toInvoice(r: InvoiceRow, ledger?: InvoiceLedgerRow): Invoice {
  const total = new Decimal(r.total);
  const credited = new Decimal(ledger?.credited ?? 0);
  const paid = new Decimal(ledger?.paid ?? 0);
  const lines = (r.lines as InvoiceLine[]).map(({ kind, description, quantity, unitPrice, amount }) => ({ kind, description, quantity, unitPrice, amount }));
  return {
    id: r.id,
    number: r.number,
    tenantId: r.tenant_id,
    period: r.period,
    currency: 'CNY',
    status: invoiceStatus(total, { invoiced: total, credited, paid }),
    issuedAt: r.issued_at.toISOString(),
    lines,
    total: roundHalfUpToFen(r.total),
    paid: roundHalfUpToFen(paid),
    credited: roundHalfUpToFen(credited),
    outstanding: roundHalfUpToFen(total.minus(paid).minus(credited)),
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
  /** CNY, two decimals: what the month's invoice would total if it were closed now. */
  readonly costSoFar: string;
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

    // The platform's own tenant pays nobody: its traffic is served and paid to providers, never invoiced.
    const tenants = [...new Set([...subsOf.keys(), ...usageOf.keys(), ...lateOf.keys()])].filter((t) => !invoiced.has(t) && t !== SHARED_TENANT.id).sort();
    const invoices: NewInvoice[] = [];
    for (const tenantId of tenants) {
      const spans = this.spans(period, subsOf.get(tenantId) ?? [], usageOf.get(tenantId) ?? [], plans, defaultPlan);
      const lines: InvoiceLine[] = ratePeriod(period, days, spans).lines;
      const billed: { period: string; rating: unknown }[] = spans.length > 0 ? [{ period, rating: spans }] : [];
      for (const [latePeriod, rows] of group(lateOf.get(tenantId) ?? [], (l) => l.period)) {
        const before = (priorRatings.get(`${tenantId}/${latePeriod}`) as SubscriptionUsage[] | undefined) ?? [];
        const lateSubs = (earlierSubsOf.get(tenantId) ?? []).filter((s) => rows.some((r) => r.subscription_id === s.id));
        const { rating, line } = rateLateUsage(latePeriod, daysInMonth(latePeriod), before, this.spans(latePeriod, lateSubs, rows, plans, defaultPlan));
        if (line) lines.push(line);
        billed.push({ period: latePeriod, rating });
      }
      if (lines.length === 0 && spans.length === 0) continue;
      invoices.push({ id: this.ids.next('inv'), tenantId, lines, rating: spans, total: invoiceTotal(lines), billed });
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

  /** The rating input of one tenant's month: each subscription's days and usage, and the default plan's usage. */
  private spans(
    period: string,
    subs: readonly SubscriptionRow[],
    usage: readonly { subscription_id: string | null; std: string }[],
    plans: ReadonlyMap<string, PlanRow>,
    defaultPlan: PlanRow | undefined,
  ): SubscriptionUsage[] {
    const stdOf = new Map(usage.map((u) => [u.subscription_id, u.std]));
    const spans = subs.map((s) => this.span(period, s, plans, stdOf.get(s.id) ?? '0'));
    const unsubscribed = stdOf.get(null);
    if (unsubscribed !== undefined && defaultPlan) {
      spans.push({ subscriptionId: null, planName: defaultPlan.name, terms: termsOf(defaultPlan), activeDays: 0, stdTokens: unsubscribed });
    }
    return spans;
  }

  /** One subscription's rating input for a month. */
  private span(period: string, s: SubscriptionRow, plans: ReadonlyMap<string, PlanRow>, std: string): SubscriptionUsage {
    const plan = plans.get(s.plan_id)!;
    return {
      subscriptionId: s.id,
      planName: plan.name,
      terms: termsOf(plan),
      activeDays: this.calendar.activeDays(period, s.starts_at, s.ends_at),
      stdTokens: std,
    };
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
    const out = new Map<string, PeriodSoFar>();
    for (const tenantId of tenantIds) {
      const mine = usageOf.get(tenantId) ?? [];
      out.set(tenantId, {
        period,
        inputTokens: mine.reduce((n, u) => n + BigInt(u.input_tokens), 0n),
        outputTokens: mine.reduce((n, u) => n + BigInt(u.output_tokens), 0n),
        stdTokens: mine.reduce((d, u) => d.plus(u.std), new Decimal(0)).toString(),
        costSoFar: costSoFar(period, daysInMonth(period), this.spans(period, subsOf.get(tenantId) ?? [], mine, plans, defaultPlan)),
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
    const stdOf = new Map(usage.map((u) => [`${u.tenant_id}/${u.subscription_id}`, u.std]));
    const days = daysInMonth(period);
    const out = new Set<string>();
    for (const s of capped) {
      if (planExhausted(period, days, this.span(period, s, plans, stdOf.get(`${s.tenant_id}/${s.id}`) ?? '0'))) out.add(s.tenant_id);
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
