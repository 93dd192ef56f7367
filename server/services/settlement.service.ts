/**
 * Settlement: the providers' side of a period close — one statement (payable) per provider and
 * period from the usage its clusters served, rated by the pure provider rating
 * (billing/settlement.ts) — and the settlement report: tenants' receivables, providers' payables,
 * the platform's margin.
 *
 * Statements are made by the billing close (`BillingService.close` runs `closeStatements` once the
 * period's invoices are issued, with the same usage watermark), so a revenue share sees what
 * tenants were charged. Idempotent per provider and period, as invoices are: a second close issues
 * statements only to providers that have none for the period, and changes none.
 */
import { Decimal } from 'decimal.js';
import type { IdGenerator } from '../auth/tokens.js';
import { daysInMonth, type Calendar } from '../billing/periods.js';
import { rateSubscription, roundHalfUpToFen, type SubscriptionUsage } from '../billing/rating.js';
import { rateLate, rateServed, statementTotal, type RateCardTerms, type ServedUsage, type StatementLine } from '../billing/settlement.js';
import { DEFAULT_TAX_CODE, DEFAULT_VAT_RATE, vatRateText, vatTotals, withVat, type LineVat, type VatTerms } from '../billing/vat.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { Watermark } from '../repositories/billing.repository.js';
import type { NewStatement, ProvidersRepository, RateCardRow, ServedRow, StatementRow, UnstatedSlaCredit } from '../repositories/providers.repository.js';
import { group } from './billing.service.js';
import { toRateCard } from './providers.service.js';

const BATCH = 500;

export interface Statement {
  readonly id: string;
  readonly number: string;
  readonly providerId: string;
  readonly period: string;
  readonly currency: 'CNY';
  readonly issuedAt: string;
  /**
   * When the close that issued it ran: usage committed before that close drew its watermark is paid
   * on this statement or an earlier one; usage committed later is late usage of a later statement.
   */
  readonly cutoff: string;
  /** Each line with the VAT of its rate card (`vatRate`, `taxCode`, `vat`, `amountInclusive`). */
  readonly lines: readonly Omit<StatedLine, 'key'>[];
  /** Σ line amounts, exclusive of VAT. */
  readonly total: string;
  /** Σ line VAT: the input VAT the provider charges the city. */
  readonly vat: string;
  /** `total + vat`: what the city owes the provider, and what the ledger credits its payable. */
  readonly totalInclusive: string;
  /** The part of `total` paid for served usage no tenant pays for (the platform's own traffic). */
  readonly unpaidByTenants: string;
}

/** A statement line with its VAT (statements issued before migration 0033 carry rate 0). */
export type StatedLine = StatementLine & LineVat;

export function toStatement(r: StatementRow): Statement {
  const lines = (r.lines as StatedLine[]).map(({ key: _key, ...rest }) => rest);
  return {
    id: r.id,
    number: r.number,
    providerId: r.provider_id,
    period: r.period,
    currency: 'CNY',
    issuedAt: r.issued_at.toISOString(),
    cutoff: r.cutoff.toISOString(),
    lines,
    total: roundHalfUpToFen(r.total),
    vat: roundHalfUpToFen(r.vat),
    totalInclusive: roundHalfUpToFen(r.total_inclusive),
    unpaidByTenants: statementTotal(lines.filter((l) => !l.paidByTenants)),
  };
}

/**
 * One row of the settlement report, CNY with two decimals: receivables and payables exclusive of
 * VAT, the payables' input VAT, and the margin exclusive of VAT on both sides (receivables −
 * payables): VAT passes through the city to the tax office and is no part of its margin.
 */
export interface SettlementRow {
  readonly receivables: string;
  readonly payables: string;
  readonly payablesVat: string;
  readonly margin: string;
}

export interface SettlementReport extends SettlementRow {
  readonly period: string;
  /** The invoices' output VAT (Σ their `vat`); with `payablesVat`, the VAT the period leaves the city to pay. */
  readonly receivablesVat: string;
  readonly currency: 'CNY';
  readonly invoices: number;
  readonly statements: number;
  /**
   * Each breakdown sums exactly to the totals. Receivables are attributed to the clusters and models
   * that served the tenants' usage in proportion to standard tokens (a subscription's charge spread
   * over its tokens); what cannot be attributed (a fee without usage, late usage of an earlier
   * period, rounding) is the row with a null id.
   */
  readonly byProvider: readonly (SettlementRow & { readonly providerId: string | null; readonly name: string | null })[];
  readonly byCluster: readonly (SettlementRow & { readonly clusterId: string | null; readonly providerId: string | null })[];
  readonly byModel: readonly (SettlementRow & { readonly model: string | null })[];
}

type Dec = Decimal;
const ZERO = new Decimal(0);

/** The amount each subscription of a tenant's rating was charged (sum of its lines), and its standard tokens. */
function chargedBySubscription(period: string, rating: unknown): Map<string | null, { amount: string; std: string }> {
  const out = new Map<string | null, { amount: string; std: string }>();
  const days = daysInMonth(period);
  for (const s of (rating as SubscriptionUsage[] | null) ?? []) {
    const amount = rateSubscription(period, days, s).reduce((sum, l) => sum.plus(l.amount), ZERO);
    out.set(s.subscriptionId, { amount: amount.toFixed(2), std: s.stdTokens });
  }
  return out;
}

export class SettlementService {
  constructor(
    private readonly repo: ProvidersRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly calendar: Calendar,
    private readonly log: Logger,
    /** Statements issued per transaction. */
    private readonly batchSize = BATCH,
    /** The VAT rate of lines with no rate card (their amount is 0.00): TOKENPOOL_VAT_RATE. */
    private readonly defaultVatRate = DEFAULT_VAT_RATE,
  ) {}

  /**
   * Issues the period's missing statements: one per provider that had a rate card valid in the
   * period, served usage in it, or late usage of an earlier closed period, paid for usage below
   * the close's watermark `through`. Answers all of the period's statements. Called by the billing close.
   */
  async closeStatements(period: string, through: Watermark, earlier: readonly string[]): Promise<Statement[]> {
    for (let attempt = 0; !(await this.issueMissing(period, through, earlier)); attempt++) {
      if (attempt >= 3) throw new Error(`The statements of ${period} kept racing another close`);
    }
    return (await this.repo.periodStatements(period)).map(toStatement);
  }

  private async issueMissing(period: string, through: Watermark, earlierPeriods: readonly string[]): Promise<boolean> {
    const { start, end } = this.calendar.monthBounds(period);
    const earlier = earlierPeriods.filter((p) => p < period).map((p) => ({ period: p, ...this.calendar.monthBounds(p) }));
    const [issued, withCards, served, late, cards, unstated] = await Promise.all([
      this.repo.statementProviders(period),
      this.repo.providersWithCards(start, end),
      this.repo.served([{ period, start, end }], through),
      this.repo.lateServed(earlier, through),
      this.repo.allRateCards(),
      this.repo.unstatedSlaCredits(),
    ]);
    const pending = late.filter((l) => !issued.has(l.provider_id));
    const lateServed =
      pending.length > 0
        ? await this.repo.served(
            earlier.filter((e) => pending.some((l) => l.period === e.period)),
            through,
            [...new Set(pending.map((l) => l.provider_id))],
          )
        : [];
    const paid = await this.repo.paid(pending.map((l) => ({ providerId: l.provider_id, period: l.period })));
    const ratingPeriods = [...new Set([period, ...pending.map((l) => l.period)])];
    const charges = new Map<string, Map<string | null, { amount: string; std: string }>>();
    for (const r of await this.repo.tenantRatings(ratingPeriods)) charges.set(`${r.tenant_id}/${r.period}`, chargedBySubscription(r.period, r.rating));
    const terms = new Map(cards.map((c) => [c.id, toRateCard(c).terms]));
    const toServed = (r: ServedRow): ServedUsage => served1(r, terms, charges);

    const servedOf = group(served, (r) => r.provider_id);
    const lateOf = group(lateServed, (r) => r.provider_id);
    const creditsOf = group(this.slaCreditLines(unstated, cards), (c) => c.providerId);
    const providers = [...new Set([...withCards, ...servedOf.keys(), ...pending.map((l) => l.provider_id), ...creditsOf.keys()])]
      .filter((p) => !issued.has(p))
      .sort();
    const statements: NewStatement[] = [];
    const cardVat = new Map(cards.map((c) => [c.id, cardVatOf(c)]));
    const noCard: VatTerms = { vatRate: this.defaultVatRate, taxCode: DEFAULT_TAX_CODE };
    const vatOf = (l: StatementLine): VatTerms => (l.rateCardId === null ? undefined : cardVat.get(l.rateCardId)) ?? noCard;
    for (const providerId of providers) {
      const lines = rateServed((servedOf.get(providerId) ?? []).map(toServed));
      const paidRecords: { period: string; paid: unknown }[] = [
        { period, paid: Object.fromEntries(lines.map((l) => [l.key, { amount: l.amount, std: l.stdTokens }])) },
      ];
      for (const [latePeriod, rows] of group(lateOf.get(providerId) ?? [], (r) => r.period)) {
        if (!pending.some((l) => l.provider_id === providerId && l.period === latePeriod)) continue;
        const result = rateLate(rows.map(toServed), paid.get(`${providerId}/${latePeriod}`) ?? {});
        lines.push(...result.lines);
        paidRecords.push({ period: latePeriod, paid: result.paidNow });
      }
      const credits = creditsOf.get(providerId) ?? [];
      lines.push(...credits.map((c) => c.line));
      // Input VAT per line by its rate card's terms; an SLA credit line's tax is negative (it takes its VAT back).
      const stated = lines.map((l) => withVat(l, vatOf(l)));
      statements.push({
        id: this.ids.next('pst'),
        providerId,
        lines: stated,
        ...vatTotals(stated),
        paid: paidRecords,
        ...(credits.length > 0 ? { slaCredits: credits.map((c) => c.key) } : {}),
      });
    }
    const now = this.clock.now();
    for (let i = 0; i < statements.length; i += this.batchSize) {
      if (!(await this.repo.issue(period, statements.slice(i, i + this.batchSize), through, now))) return false;
    }
    if (statements.length > 0) this.log.info('provider statements issued', { period, statements: statements.length });
    return true;
  }

  /**
   * Issue 15: the `sla_credit` lines of SLA credits that invoices carried, for providers whose rate
   * card valid in the credit's month (the latest such card) says SLA credits lower their statement.
   * Credits under a card without the option never reach a statement.
   */
  private slaCreditLines(
    credits: readonly UnstatedSlaCredit[],
    cards: readonly RateCardRow[],
  ): { providerId: string; key: { workloadId: string; period: string; subscriptionId: string; clusterId: string }; line: StatementLine }[] {
    return credits.flatMap((c) => {
      const { start, end } = this.calendar.monthBounds(c.period);
      const card = cards
        .filter((r) => r.provider_id === c.provider_id && r.valid_from < end && (r.valid_to === null || r.valid_to > start))
        .sort((a, b) => b.valid_from.getTime() - a.valid_from.getTime())[0];
      if (!card?.sla_credits) return [];
      const amount = roundHalfUpToFen(c.amount);
      const part = c.amount === c.credit_amount ? '' : ` (its ${c.short_minutes} short minutes' share of ¥${c.credit_amount})`;
      const line: StatementLine = {
        kind: 'sla_credit',
        key: `sla_credit/${c.period}/${c.workload_id}/${c.subscription_id}/${c.cluster_id}`,
        usagePeriod: c.period,
        clusterId: c.cluster_id,
        model: c.model,
        basis: 'sla_credit',
        rateCardId: card.id,
        paidByTenants: true,
        stdTokens: '0',
        description: `credited to the tenant, responsible cluster ${c.cluster_id}${part}: ${c.description}`,
        quantity: '1',
        unitPrice: amount,
        amount,
      };
      return [
        { providerId: c.provider_id, key: { workloadId: c.workload_id, period: c.period, subscriptionId: c.subscription_id, clusterId: c.cluster_id }, line },
      ];
    });
  }

  async list(filter: { providerId?: string | undefined; period?: string | undefined }, page: PageRequest): Promise<Page<Statement>> {
    return toPage(await this.repo.listStatements(filter, page), page.limit, toStatement);
  }

  async get(id: string): Promise<Statement> {
    const row = await this.repo.getStatement(id);
    if (!row) throw new AppError('not_found', 'No statement has this id.');
    return toStatement(row);
  }

  /**
   * The settlement report of a closed period: receivables (the period's invoices), payables (its
   * statements), margin = receivables − payables; by provider, cluster and model (each sums exactly
   * to the totals). 409 if the period has no statement or invoice yet (not closed).
   */
  async report(period: string): Promise<SettlementReport> {
    const { start, end } = this.calendar.monthBounds(period);
    const [invoices, statements, served, ratings, providerRows] = await Promise.all([
      this.repo.periodInvoices(period),
      this.repo.periodStatements(period),
      this.repo.servedByAll({ period, start, end }),
      this.repo.tenantRatings([period]),
      this.repo.allProviders(),
    ]);
    if (invoices.length === 0 && statements.length === 0)
      throw new AppError('conflict', `The period ${period} has no invoice and no statement: close it first.`);
    const names = new Map(providerRows.map((p) => [p.id, p.name]));
    const charges = new Map(ratings.map((r) => [r.tenant_id, chargedBySubscription(period, r.rating)]));

    // Receivables per (provider, cluster, model): each subscription's charge on this period's
    // invoice spread over its served tokens; the rest of the invoices is unattributed.
    type Cell = { providerId: string | null; clusterId: string | null; model: string | null; receivables: Dec; payables: Dec; payablesVat: Dec };
    const cells = new Map<string, Cell>();
    const cell = (providerId: string | null, clusterId: string | null, model: string | null): Cell => {
      const k = `${providerId}|${clusterId}|${model}`;
      let c = cells.get(k);
      if (!c) cells.set(k, (c = { providerId, clusterId, model, receivables: ZERO, payables: ZERO, payablesVat: ZERO }));
      return c;
    };
    const receivables = invoices.reduce((s, i) => s.plus(i.total), ZERO);
    const invoiced = new Set(invoices.map((i) => i.tenant_id));
    for (const r of served) {
      if (!invoiced.has(r.tenant_id)) continue;
      const charged = charges.get(r.tenant_id)?.get(r.subscription_id);
      if (!charged || new Decimal(charged.std).isZero()) continue;
      const c = cell(r.provider_id, r.cluster_id, r.model);
      c.receivables = c.receivables.plus(new Decimal(r.std).times(charged.amount).div(charged.std));
    }
    const payables = statements.reduce((s, st) => s.plus(st.total), ZERO);
    const payablesVat = statements.reduce((s, st) => s.plus(st.vat), ZERO);
    for (const st of statements) {
      for (const l of st.lines as StatedLine[]) {
        const c = cell(st.provider_id, l.clusterId, l.model);
        c.payables = c.payables.plus(l.amount);
        c.payablesVat = c.payablesVat.plus(l.vat);
      }
    }

    const totals = { receivables: receivables.toFixed(2), payables: payables.toFixed(2), payablesVat: payablesVat.toFixed(2) };
    const breakdown = <K extends string>(keyOf: (c: Cell) => K | null) => {
      const sums = new Map<K | null, { receivables: Dec; payables: Dec; payablesVat: Dec }>();
      for (const c of cells.values()) {
        const k = keyOf(c);
        const s = sums.get(k) ?? { receivables: ZERO, payables: ZERO, payablesVat: ZERO };
        sums.set(k, { receivables: s.receivables.plus(c.receivables), payables: s.payables.plus(c.payables), payablesVat: s.payablesVat.plus(c.payablesVat) });
      }
      const rows: { key: K | null; receivables: string; payables: string; payablesVat: string }[] = [];
      for (const [key, s] of sums)
        if (key !== null)
          rows.push({
            key,
            receivables: roundHalfUpToFen(s.receivables),
            payables: roundHalfUpToFen(s.payables),
            payablesVat: roundHalfUpToFen(s.payablesVat),
          });
      rows.sort((a, b) => String(a.key).localeCompare(String(b.key)));
      // The row with a null key takes what the others leave, so that each breakdown sums exactly to the totals.
      const restOf = (field: 'receivables' | 'payables' | 'payablesVat') =>
        roundHalfUpToFen(rows.reduce((d, r) => d.minus(r[field]), new Decimal(totals[field])));
      const rest = { key: null, receivables: restOf('receivables'), payables: restOf('payables'), payablesVat: restOf('payablesVat') };
      if (rest.receivables !== '0.00' || rest.payables !== '0.00' || rest.payablesVat !== '0.00') rows.push(rest);
      return rows.map((r) => ({ ...r, margin: roundHalfUpToFen(new Decimal(r.receivables).minus(r.payables)) }));
    };
    const providerOf = new Map([...cells.values()].filter((c) => c.clusterId !== null).map((c) => [c.clusterId!, c.providerId]));
    return {
      period,
      currency: 'CNY',
      invoices: invoices.length,
      statements: statements.length,
      ...totals,
      receivablesVat: invoices.reduce((s, i) => s.plus(i.vat), ZERO).toFixed(2),
      margin: roundHalfUpToFen(receivables.minus(payables)),
      byProvider: breakdown((c) => c.providerId).map(({ key, ...r }) => ({ providerId: key, name: key === null ? null : (names.get(key) ?? null), ...r })),
      byCluster: breakdown((c) => c.clusterId).map(({ key, ...r }) => ({
        clusterId: key,
        providerId: key === null ? null : (providerOf.get(key) ?? null),
        ...r,
      })),
      byModel: breakdown((c) => c.model).map(({ key, ...r }) => ({ model: key, ...r })),
    };
  }
}

/** A served row as rating input: its rate card's terms and, for the tenant's subscription, what it was charged. */
function served1(
  r: ServedRow,
  terms: ReadonlyMap<string, RateCardTerms>,
  charges: ReadonlyMap<string, ReadonlyMap<string | null, { amount: string; std: string }>>,
): ServedUsage {
  const cardTerms = r.rate_card_id === null ? undefined : terms.get(r.rate_card_id);
  const paidByTenants = r.paid_by_tenants;
  return {
    period: r.period,
    clusterId: r.cluster_id,
    model: r.model,
    profile: r.profile,
    vendor: r.vendor,
    rateCard: cardTerms && r.rate_card_id ? { id: r.rate_card_id, terms: cardTerms } : null,
    paidByTenants,
    stdTokens: r.std,
    charged: paidByTenants && r.tenant_id !== null ? (charges.get(`${r.tenant_id}/${r.period}`)?.get(r.subscription_id) ?? null) : null,
  };
}

/** The VAT terms of a rate card's statement lines. */
export function cardVatOf(c: RateCardRow): VatTerms {
  return { vatRate: vatRateText(c.vat_rate), taxCode: c.tax_code };
}
