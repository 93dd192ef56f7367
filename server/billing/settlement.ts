/**
 * Provider rating: the usage a provider's clusters served in a period in, statement lines out —
 * what the city owes the provider (a payable). Pure — no I/O, no clock — and exact, with the
 * invoices' rules (rating.ts): decimal strings and `decimal.js`, each line rounded once, half-up, to
 * the fen, a total the sum of its rounded lines.
 *
 * A rate card says what the city pays per million standard tokens served:
 * - `flat`: one price;
 * - `device_class`: a price per device profile name or vendor (`"H100-80GB"`, `"huawei"`; a profile
 *   match wins over a vendor match), and a default for anything else;
 * - `revenue_share`: a percentage of what tenants were charged for the tokens (see `ServedUsage.charged`),
 *   and a price per million for served tokens no tenant pays for.
 *
 * Lines (for every line `amount = roundHalfUpToFen(quantity × unitPrice)`):
 * - `usage`: per usage period, rate card, cluster, model, price basis and payer; `quantity` is
 *   millions of standard tokens and `unitPrice` the price per million — or, for a revenue share,
 *   `quantity` is the tenants' attributable revenue (CNY, rounded half-up to the fen) and `unitPrice`
 *   the share as a fraction (`"0.7"`). `paidByTenants: false` marks served usage no tenant pays for
 *   (the platform's own traffic): still paid to the provider, and visible as such.
 * - `sla_credit` (issue 15): an SLA credit a tenant's invoice carried for a workload whose placement
 *   this provider's cluster lost, failed or under-replicated, when the provider's rate card says SLA
 *   credits lower its statement: the same negative amount, `quantity` `"1"`, basis `sla_credit`,
 *   `usagePeriod` the month measured (billing/sla.ts).
 * - `late_usage`: usage of an earlier period that arrived after its statement; one line per key of
 *   the earlier period that grew, `amount` = what that line of the earlier statement would have
 *   grown by (full rating of the key now − what was paid for it), `quantity` `"1"`.
 */
import { Decimal } from 'decimal.js';

import { nonNegative as dec, priceText, roundHalfUpToFen } from './rating.js';

/** What a rate card pays. Prices are decimal strings in CNY per million standard tokens (≤ 6 decimals). */
export type RateCardTerms =
  | { readonly kind: 'flat'; readonly pricePerMillionStd: string }
  | {
      readonly kind: 'device_class';
      /** `match` is a device profile's name or a vendor; a profile match wins over a vendor match. */
      readonly prices: readonly { readonly match: string; readonly pricePerMillionStd: string }[];
      readonly defaultPricePerMillionStd: string;
    }
  | {
      readonly kind: 'revenue_share';
      /** Percent of the tenants' charges, 0–100, up to 4 decimals (`"70"`, `"62.5"`). */
      readonly sharePercent: string;
      /** Paid per million standard tokens served that no tenant pays for. */
      readonly unpaidPricePerMillionStd: string;
    };

/** One group of served usage: the rating input. JSON-safe. */
export interface ServedUsage {
  /** The period the usage occurred in (`YYYY-MM`). */
  readonly period: string;
  readonly clusterId: string;
  readonly model: string;
  /** The device profile and vendor that served it; null when unknown (no placement found). */
  readonly profile: string | null;
  readonly vendor: string | null;
  /** The rate card valid when the usage occurred; null: none was (the usage is shown, at 0.00). */
  readonly rateCard: { readonly id: string; readonly terms: RateCardTerms } | null;
  /** False for usage no tenant pays for (the platform's own traffic). */
  readonly paidByTenants: boolean;
  /** Exact decimal sum of standard tokens, ≥ 0. */
  readonly stdTokens: string;
  /**
   * What tenants were charged for these tokens, for a revenue share: the tenant subscription's rated
   * amount for the period (`amount`, CNY) over its standard tokens (`std`) — these tokens' part is
   * `stdTokens × amount ÷ std` (an average price: fees and included amounts are spread evenly over
   * the subscription's tokens). Null, or `std` zero: nothing was charged.
   */
  readonly charged: { readonly amount: string; readonly std: string } | null;
}

/** A statement line; money and quantities are decimal strings (see the module comment). */
export interface StatementLine {
  readonly kind: 'usage' | 'late_usage' | 'sla_credit';
  /** Identifies the line across statements (period, card, cluster, model, basis, payer): late usage is paid against it. */
  readonly key: string;
  /** The period the usage occurred in (the statement's own, or an earlier one for `late_usage`). */
  readonly usagePeriod: string;
  readonly clusterId: string;
  readonly model: string;
  /** `flat`, `profile:<name>`, `vendor:<name>`, `default`, `revenue_share` or `no_rate_card`. */
  readonly basis: string;
  readonly rateCardId: string | null;
  readonly paidByTenants: boolean;
  /** Standard tokens the line pays for (for `late_usage`, the late ones), exact. */
  readonly stdTokens: string;
  readonly description: string;
  readonly quantity: string;
  readonly unitPrice: string;
  /** CNY with exactly two decimals. */
  readonly amount: string;
}

const D = Decimal.clone({ precision: 1000, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -9e15, toExpPos: 9e15 });
type Dec = InstanceType<typeof D>;
const ONE_MILLIONTH = new D('1e-6');
const ZERO = new D(0);

/** The price basis and price per million of usage under a per-token card (not a paid revenue share). */
function perToken(terms: RateCardTerms, u: ServedUsage): { basis: string; price: string } {
  switch (terms.kind) {
    case 'flat':
      return { basis: 'flat', price: terms.pricePerMillionStd };
    case 'device_class': {
      const byProfile = u.profile === null ? undefined : terms.prices.find((p) => p.match === u.profile);
      if (byProfile) return { basis: `profile:${byProfile.match}`, price: byProfile.pricePerMillionStd };
      const byVendor = u.vendor === null ? undefined : terms.prices.find((p) => p.match === u.vendor);
      if (byVendor) return { basis: `vendor:${byVendor.match}`, price: byVendor.pricePerMillionStd };
      return { basis: 'default', price: terms.defaultPricePerMillionStd };
    }
    case 'revenue_share':
      return { basis: 'unpaid', price: terms.unpaidPricePerMillionStd };
  }
}

interface Group {
  readonly usage: ServedUsage;
  readonly basis: string;
  /** Per million (per-token lines) or the share fraction (revenue share). */
  readonly unitPrice: Dec | null;
  readonly share: boolean;
  std: Dec;
  /** A revenue share's attributable revenue, summed as `Revenue` does. */
  readonly revenue: Revenue;
}

/** Decimal text without sign or exponent as an integer and its scale: `"12.50"` → 1250n, 2. */
function scaled(text: string): { n: bigint; scale: number } | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return null;
  return { n: BigInt(m[1]! + (m[2] ?? '')), scale: m[2]?.length ?? 0 };
}

/** 10^k as a bigint. */
function pow10(k: number): bigint {
  return 10n ** BigInt(k);
}

/** Fixed point of the fast sum: terms are floored to 10^-K. */
const K = 40;
const HALF_FEN = 5n * pow10(K - 3);
const FEN = pow10(K - 2);

/** What a charge (amount over standard tokens) is as decimals and as scaled integers; parsed once per charge object. */
const charges = new WeakMap<object, { amount: Dec; std: Dec; amountN: ReturnType<typeof scaled>; stdN: ReturnType<typeof scaled> }>();
function chargeOf(c: NonNullable<ServedUsage['charged']>) {
  let v = charges.get(c);
  if (!v) {
    v = { amount: dec(c.amount, 'charged.amount'), std: dec(c.std, 'charged.std'), amountN: scaled(c.amount), stdN: scaled(c.std) };
    charges.set(c, v);
  }
  return v;
}

/**
 * The sum of `std × amount ÷ chargeStd` over a group's usage, rounded half-up to the fen — the
 * same fen as the sum in decimal.js at 1,000 significant digits (`slowRevenue`), faster: each term
 * is floored to 10^-40 in integers, so the exact sum lies in [S, S + n) × 10^-40 for n inexact
 * terms; when both ends round to the same fen, so do the exact sum and the 1,000-digit one (both
 * lie in that interval). Otherwise (a sum within n × 10^-40 of half a fen), or for text that is
 * not plain decimal, the 1,000-digit sum answers.
 */
class Revenue {
  private sum = 0n;
  private inexact = 0n;
  private plain = true;
  private readonly terms: { std: Dec; amount: Dec; chargeStd: Dec }[] = [];

  add(std: Dec, stdText: string, charged: ServedUsage['charged']): void {
    if (!charged) return;
    const c = chargeOf(charged);
    if (c.std.isZero()) return;
    this.terms.push({ std, amount: c.amount, chargeStd: c.std });
    const s = this.plain ? scaled(stdText) : null;
    if (!s || !c.amountN || !c.stdN) {
      this.plain = false;
      return;
    }
    // std × amount ÷ chargeStd × 10^K = (s.n × a.n × 10^(cs.scale + K)) ÷ (cs.n × 10^(s.scale + a.scale))
    const numerator = s.n * c.amountN.n * pow10(c.stdN.scale + K);
    const denominator = c.stdN.n * pow10(s.scale + c.amountN.scale);
    this.sum += numerator / denominator;
    if (numerator % denominator !== 0n) this.inexact += 1n;
  }

  /** The sum rounded half-up to the fen (`roundHalfUpToFen`'s text). */
  toFen(): string {
    if (this.plain) {
      const low = (this.sum + HALF_FEN) / FEN;
      if (this.inexact === 0n || (this.sum + this.inexact + HALF_FEN) / FEN === low) return roundHalfUpToFen(new D(low.toString()).div(100));
    }
    return roundHalfUpToFen(this.terms.reduce((sum, t) => sum.plus(t.std.times(t.amount).div(t.chargeStd)), ZERO));
  }
}

function groups(usage: readonly ServedUsage[]): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const u of usage) {
    const std = dec(u.stdTokens, 'stdTokens');
    let basis = 'no_rate_card';
    let unitPrice: Dec | null = null;
    let share = false;
    const terms = u.rateCard?.terms;
    if (terms?.kind === 'revenue_share' && u.paidByTenants) {
      basis = 'revenue_share';
      share = true;
      unitPrice = dec(terms.sharePercent, 'sharePercent').div(100);
      if (unitPrice.greaterThan(1)) throw new RangeError(`sharePercent must be at most 100: ${terms.sharePercent}`);
    } else if (terms) {
      const p = perToken(terms, u);
      basis = p.basis;
      unitPrice = dec(p.price, 'pricePerMillionStd');
    }
    const key = [u.period, u.rateCard?.id ?? '-', u.clusterId, u.model, basis, u.paidByTenants ? 'paid' : 'unpaid'].join('|');
    let g = out.get(key);
    if (g) g.std = g.std.plus(std);
    else out.set(key, (g = { usage: u, basis, unitPrice, share, std, revenue: new Revenue() }));
    if (share) g.revenue.add(std, u.stdTokens, u.charged);
  }
  return out;
}

/**
 * The `usage` lines of served usage, one per key (usage period, rate card, cluster, model, price
 * basis, payer), in the order first seen. Usage without a rate card is a `no_rate_card` line at 0.00.
 * @throws RangeError on a negative or non-decimal amount, or a share above 100 %.
 */
export function rateServed(usage: readonly ServedUsage[]): StatementLine[] {
  const lines: StatementLine[] = [];
  for (const [key, g] of groups(usage)) {
    const u = g.usage;
    const millions = g.std.times(ONE_MILLIONTH);
    const who = u.paidByTenants ? '' : ' (served, no tenant pays)';
    let quantity: string;
    let unitPrice: string;
    let description: string;
    if (g.share) {
      quantity = g.revenue.toFen();
      unitPrice = g.unitPrice!.toFixed();
      description = `${u.model} on ${u.clusterId}: ${g.unitPrice!.times(100).toFixed()}% of ¥${quantity} tenants were charged for ${millions.toFixed()} million standard tokens`;
    } else {
      quantity = millions.toFixed();
      unitPrice = g.unitPrice === null ? '0.00' : priceText(g.unitPrice);
      const at = g.unitPrice === null ? 'no rate card was valid' : `¥${unitPrice} per million (${g.basis})`;
      description = `${u.model} on ${u.clusterId}: ${quantity} million standard tokens${who}, ${at}`;
    }
    lines.push({
      kind: 'usage',
      key,
      usagePeriod: u.period,
      clusterId: u.clusterId,
      model: u.model,
      basis: g.basis,
      rateCardId: u.rateCard?.id ?? null,
      paidByTenants: u.paidByTenants,
      stdTokens: g.std.toFixed(),
      description,
      quantity,
      unitPrice,
      amount: roundHalfUpToFen(new D(quantity).times(unitPrice)),
    });
  }
  return lines;
}

/**
 * Late usage of an earlier period: `now` is that period's served usage as known now (all of it, the
 * late usage included), `paid` what each key was paid so far (key → amount, from earlier statements)
 * and `paidStd` the standard tokens each key was paid for. Answers one `late_usage` line per key
 * whose amount changed (now − paid; a key not paid before is paid whole), and `paidNow`, the full
 * amount of every key, to be recorded as paid.
 */
export function rateLate(
  now: readonly ServedUsage[],
  paid: Readonly<Record<string, { amount: string; std: string }>>,
): { lines: StatementLine[]; paidNow: Record<string, { amount: string; std: string }> } {
  const lines: StatementLine[] = [];
  const paidNow: Record<string, { amount: string; std: string }> = { ...paid };
  for (const full of rateServed(now)) {
    const before = paid[full.key];
    const amount = new D(full.amount).minus(before?.amount ?? '0');
    const lateStd = new D(full.stdTokens).minus(before?.std ?? '0');
    paidNow[full.key] = { amount: full.amount, std: full.stdTokens };
    if (amount.isZero() && lateStd.isZero()) continue;
    const text = roundHalfUpToFen(amount);
    lines.push({
      ...full,
      kind: 'late_usage',
      stdTokens: lateStd.toFixed(),
      description: `late usage of ${full.usagePeriod}: ${lateStd.times(ONE_MILLIONTH).toFixed()} million standard tokens of ${full.model} on ${full.clusterId} that arrived after its statement (${full.basis})`,
      quantity: '1',
      unitPrice: text,
      amount: text,
    });
  }
  return { lines, paidNow };
}

/** A statement's total: the sum of its lines' rounded amounts, two decimals. */
export function statementTotal(lines: readonly Pick<StatementLine, 'amount'>[]): string {
  return roundHalfUpToFen(lines.reduce((sum, l) => sum.plus(l.amount), ZERO));
}
