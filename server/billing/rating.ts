/**
 * Rating: a month of one tenant's subscriptions and usage in, invoice lines out (API.md
 * "Rating (binding)"). Pure — no I/O, no clock — and exact: money and standard tokens are decimal
 * strings and `decimal.js` values, never JS numbers. One calculator per plan type, picked from a map
 * (as in Lago's `charge_models`).
 *
 * Rounding: each line's amount is rounded once, half-up, to the fen (0.01 CNY) where the line is
 * made; an invoice total is the sum of its rounded lines.
 *
 * Line conventions (what `quantity` and `unitPrice` mean; for every line
 * `amount = roundHalfUpToFen(quantity × unitPrice)`):
 * - `usage` (unit plan) and `overage` (periodic plan): `quantity` is millions of standard tokens,
 *   exact (`"12.345678"`); `unitPrice` is the plan's price per million standard tokens.
 * - `fee` (periodic plan): `quantity` is `"1"` (one monthly fee) and `unitPrice` equals `amount`,
 *   the fee prorated to the subscription's days (`fee × activeDays ÷ daysInMonth`, rounded); the
 *   description names the days and the full monthly fee. (A fraction of days such as 16/31 has no
 *   exact decimal, so it is not used as the quantity.)
 * - `late_usage`: `quantity` is `"1"` and `unitPrice` equals `amount`, the growth of an earlier
 *   invoice; the description names the period and the late standard tokens.
 */
import { Decimal } from 'decimal.js';

import { daysInMonth as calendarDaysInMonth } from './periods.js';

/** The rating terms of a plan. Money and prices are decimal strings in CNY (prices ≤ 6 decimals). */
export type PlanTerms =
  | { readonly type: 'unit'; readonly pricePerMillionStd: string }
  | {
      readonly type: 'periodic';
      /** The monthly fee for a whole month. */
      readonly fee: string;
      /** Standard tokens included in a whole month, an integer as text. */
      readonly includedStd: string;
      /** CNY per million standard tokens past the included amount; `null` is a hard cap (not billed). */
      readonly overagePricePerMillionStd: string | null;
    };

/** What one subscription (or the default plan) did in a month: the rating input. JSON-safe. */
export interface SubscriptionUsage {
  /** `null`: the tenant was on the default plan (no subscription) for this usage. */
  readonly subscriptionId: string | null;
  readonly planName: string;
  readonly terms: PlanTerms;
  /** Days of this month the subscription covers (`periods.activeDays`), 0…daysInMonth; unit plans ignore it. */
  readonly activeDays: number;
  /** Exact decimal sum of the standard tokens attributed to this subscription in the period, ≥ 0. */
  readonly stdTokens: string;
}

/** One invoice line. `quantity`, `unitPrice` and `amount` are decimal strings; see the module comment. */
export interface InvoiceLine {
  readonly kind: 'usage' | 'fee' | 'overage' | 'late_usage';
  readonly description: string;
  readonly quantity: string;
  readonly unitPrice: string;
  /** CNY with exactly two decimals. */
  readonly amount: string;
  /** The subscription the line bills; `null` for the default plan (or a late-usage line spanning several). */
  readonly subscriptionId: string | null;
}

/**
 * Decimal arithmetic for rating. Every operation used here is exact at this precision: sums,
 * products, multiplication by 10^-6 and integer division (`divToInt`); no division whose result
 * needs rounding is ever left to the precision.
 */
const D = Decimal.clone({ precision: 1000, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -9e15, toExpPos: 9e15 });
type Dec = InstanceType<typeof D>;

const ONE_MILLIONTH = new D('1e-6');
const ZERO = new D(0);

function parseDecimal(value: unknown, what: string): Dec {
  let d: Dec;
  try {
    d = new D(value as Decimal.Value);
  } catch {
    throw new RangeError(`${what} is not a decimal: ${JSON.stringify(value)}`);
  }
  if (!d.isFinite()) throw new RangeError(`${what} is not a finite decimal: ${JSON.stringify(value)}`);
  return d;
}

function nonNegative(value: unknown, what: string): Dec {
  const d = parseDecimal(value, what);
  if (d.isNegative() && !d.isZero()) throw new RangeError(`${what} must not be negative: ${JSON.stringify(value)}`);
  return d.abs();
}

/** Plain decimal text, no exponent, no trailing zeros (`"0.0000015"`, `"1000000000"`). */
function plain(d: Dec): string {
  return d.toFixed();
}

/** A price as text: at least two decimals, more only where the price has them (`"2.00"`, `"0.0125"`). */
function priceText(d: Dec): string {
  return d.toFixed(Math.max(2, d.decimalPlaces()));
}

/**
 * `x` rounded half-up to the fen, as text with exactly two decimals (`"0.005"` → `"0.01"`,
 * `"0.004999"` → `"0.00"`, `"2.675"` → `"2.68"`, which a binary float gets wrong). A tie of a
 * negative value rounds away from zero (`"-0.005"` → `"-0.01"`); a result of zero is `"0.00"`, never
 * `"-0.00"`. Exact for any size.
 * @throws RangeError if `x` is not a finite decimal.
 */
export function roundHalfUpToFen(x: Decimal | string): string {
  const d = parseDecimal(x, 'amount').toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
  return d.isZero() ? '0.00' : d.toFixed(2);
}

/** `numerator ÷ denominator` rounded half-up to the fen, exactly (both ≥ 0, denominator > 0). */
function ratioToFen(numerator: Dec, denominator: number): string {
  // round(n/d) = floor((2n + d) / 2d) for n ≥ 0, computed in fen with exact integer division.
  const fen = numerator.times(200).plus(denominator).divToInt(2 * denominator);
  return fen.div(100).toFixed(2);
}

interface RatingContext {
  readonly period: string;
  readonly daysInMonth: number;
}

type Calculator<T extends PlanTerms> = (ctx: RatingContext, s: SubscriptionUsage & { readonly terms: T }) => InvoiceLine[];

/** Unit plan: one `usage` line, `std ÷ 10^6 × pricePerMillionStd`, present even with no usage. */
const rateUnit: Calculator<Extract<PlanTerms, { type: 'unit' }>> = (_ctx, s) => {
  const price = nonNegative(s.terms.pricePerMillionStd, 'pricePerMillionStd');
  const millions = nonNegative(s.stdTokens, 'stdTokens').times(ONE_MILLIONTH);
  return [
    {
      kind: 'usage',
      description: `${s.planName}: ${plain(millions)} million standard tokens at ¥${priceText(price)} per million`,
      quantity: plain(millions),
      unitPrice: priceText(price),
      amount: roundHalfUpToFen(millions.times(price)),
      subscriptionId: s.subscriptionId,
    },
  ];
};

/**
 * Periodic plan: a `fee` line (always, `"0.00"` with no active day) and, where usage exceeds the
 * prorated included amount and the plan has an overage price, an `overage` line. A hard cap
 * (`overagePricePerMillionStd: null`) yields no overage line at all: usage past the included amount
 * is not billed.
 */
const ratePeriodic: Calculator<Extract<PlanTerms, { type: 'periodic' }>> = (ctx, s) => {
  const fee = nonNegative(s.terms.fee, 'fee');
  const std = nonNegative(s.stdTokens, 'stdTokens');
  const included = new D(proratedIncludedStd(s.terms.includedStd, s.activeDays, ctx.daysInMonth));
  const feeAmount = ratioToFen(fee.times(s.activeDays), ctx.daysInMonth);
  const lines: InvoiceLine[] = [
    {
      kind: 'fee',
      description: `${s.planName}: fee for ${s.activeDays} of ${ctx.daysInMonth} days (¥${priceText(fee)} a month)`,
      quantity: '1',
      unitPrice: feeAmount,
      amount: feeAmount,
      subscriptionId: s.subscriptionId,
    },
  ];
  const over = D.max(ZERO, std.minus(included));
  if (s.terms.overagePricePerMillionStd !== null && over.greaterThan(0)) {
    const price = nonNegative(s.terms.overagePricePerMillionStd, 'overagePricePerMillionStd');
    const millions = over.times(ONE_MILLIONTH);
    lines.push({
      kind: 'overage',
      description:
        `${s.planName}: ${plain(millions)} million standard tokens past the ${plain(included.times(ONE_MILLIONTH))} million ` +
        `included, at ¥${priceText(price)} per million`,
      quantity: plain(millions),
      unitPrice: priceText(price),
      amount: roundHalfUpToFen(millions.times(price)),
      subscriptionId: s.subscriptionId,
    });
  }
  return lines;
};

const CALCULATORS: { readonly [K in PlanTerms['type']]: Calculator<Extract<PlanTerms, { type: K }>> } = {
  unit: rateUnit,
  periodic: ratePeriodic,
};

function checkMonth(period: string, daysInMonth: number): RatingContext {
  const expected = calendarDaysInMonth(period);
  if (daysInMonth !== expected) {
    throw new RangeError(`daysInMonth ${daysInMonth} does not match period ${period} (${expected} days)`);
  }
  return { period, daysInMonth };
}

function checkActiveDays(activeDays: number, daysInMonth: number): void {
  if (!Number.isInteger(activeDays) || activeDays < 0 || activeDays > daysInMonth) {
    throw new RangeError(`activeDays must be an integer from 0 to ${daysInMonth}, got ${activeDays}`);
  }
}

/**
 * The standard tokens a periodic plan includes for `activeDays` of a `daysInMonth`-day month:
 * `floor(includedStd × activeDays ÷ daysInMonth)`, an integer as text (1e9 for 16 of 31 days →
 * `"516129032"`).
 * @throws RangeError if `includedStd` is not a non-negative integer or `activeDays` is out of range.
 */
export function proratedIncludedStd(includedStd: string, activeDays: number, daysInMonth: number): string {
  checkActiveDays(activeDays, daysInMonth);
  const whole = nonNegative(includedStd, 'includedStd');
  if (!whole.isInteger()) throw new RangeError(`includedStd must be an integer: ${JSON.stringify(includedStd)}`);
  return plain(whole.times(activeDays).divToInt(daysInMonth));
}

/**
 * The invoice lines of one subscription's month, by its plan type: unit → one `usage` line (also
 * with zero usage: quantity `"0"`, amount `"0.00"`); periodic → a `fee` line, plus an `overage`
 * line when usage exceeds the prorated included amount and the plan is not a hard cap.
 * `daysInMonth` must be that of `period`.
 * @throws RangeError on invalid input (negative or non-decimal amounts, out-of-range days, a
 *   `daysInMonth` that does not match `period`, an unknown plan type).
 */
export function rateSubscription(period: string, daysInMonth: number, s: SubscriptionUsage): InvoiceLine[] {
  const ctx = checkMonth(period, daysInMonth);
  checkActiveDays(s.activeDays, daysInMonth);
  const calculator = (CALCULATORS as Record<string, Calculator<PlanTerms> | undefined>)[s.terms.type];
  if (!calculator) throw new RangeError(`Unknown plan type ${JSON.stringify(s.terms.type)}`);
  return calculator(ctx, s);
}

function sumAmounts(lines: readonly InvoiceLine[]): string {
  return roundHalfUpToFen(lines.reduce((sum, l) => sum.plus(l.amount), ZERO));
}

/**
 * A tenant's month: the lines of every subscription in the order given (each billed for its own
 * days and usage, so a plan change inside the month shows both plans), and `total`, the sum of
 * the rounded line amounts with exactly two decimals (`"0.00"` for no subscriptions).
 * @throws RangeError as `rateSubscription`.
 */
export function ratePeriod(
  period: string,
  daysInMonth: number,
  subs: readonly SubscriptionUsage[],
): { lines: InvoiceLine[]; total: string } {
  const lines = subs.flatMap((s) => rateSubscription(period, daysInMonth, s));
  return { lines, total: sumAmounts(lines) };
}

/**
 * What the current month's invoice would total if it were closed now with the usage known so far:
 * `ratePeriod(...).total` (fees count every active day of the month, past and future).
 */
export function costSoFar(period: string, daysInMonth: number, subs: readonly SubscriptionUsage[]): string {
  return ratePeriod(period, daysInMonth, subs).total;
}

/**
 * Whether a hard-capped periodic plan (no overage price) has used up its included standard tokens
 * for the month: `stdSoFar ≥ floor(includedStd × activeDays ÷ daysInMonth)` (so a subscription with
 * no active day, which includes nothing, is exhausted at once). Unit plans and periodic plans with
 * an overage price are never exhausted: usage past the included amount is billed instead.
 * @throws RangeError on invalid input.
 */
export function planExhausted(terms: PlanTerms, activeDays: number, daysInMonth: number, stdSoFar: string): boolean {
  if (terms.type !== 'periodic' || terms.overagePricePerMillionStd !== null) return false;
  const included = proratedIncludedStd(terms.includedStd, activeDays, daysInMonth);
  return nonNegative(stdSoFar, 'stdSoFar').greaterThanOrEqualTo(included);
}

/**
 * `original` with late standard tokens added to the subscriptions they belong to (`late`: extra
 * std per `subscriptionId`, `null` for the default plan).
 * @throws RangeError if a key of `late` is not a subscription of `original` (its plan is unknown
 *   here: build the grown rating yourself and use `lateUsageLineFromRatings`), if `original`
 *   lists a subscription twice, or if an amount is not a non-negative decimal.
 */
export function withLateUsage(
  original: readonly SubscriptionUsage[],
  late: ReadonlyMap<string | null, string>,
): SubscriptionUsage[] {
  const ids = new Set<string | null>();
  for (const s of original) {
    if (ids.has(s.subscriptionId)) throw new RangeError(`Subscription ${String(s.subscriptionId)} is listed twice`);
    ids.add(s.subscriptionId);
  }
  for (const [id, std] of late) {
    if (!ids.has(id)) throw new RangeError(`Late usage for subscription ${String(id)}, which the original rating does not list`);
    nonNegative(std, 'late stdTokens');
  }
  return original.map((s) => {
    const extra = late.get(s.subscriptionId);
    return extra === undefined ? s : { ...s, stdTokens: plain(nonNegative(s.stdTokens, 'stdTokens').plus(extra)) };
  });
}

/**
 * The `late_usage` line for usage of `period` that arrived after the period was invoiced, given the
 * rating the invoice was made from (`before`) and the same rating with the late usage added
 * (`after`, which may also list subscriptions `before` lacks): amount = total(after) − total(before),
 * "what the earlier invoice would have grown by had the usage arrived in time" (API.md). Each total
 * is a sum of rounded lines, so the amount is a difference of rounded totals. `null` when the
 * amount is zero (e.g. late usage within a periodic plan's included amount, or past a hard cap).
 * `subscriptionId` is that of the only subscription whose usage grew, else `null`.
 * @throws RangeError as `ratePeriod`.
 */
export function lateUsageLineFromRatings(
  period: string,
  daysInMonth: number,
  before: readonly SubscriptionUsage[],
  after: readonly SubscriptionUsage[],
): InvoiceLine | null {
  const amount = new D(ratePeriod(period, daysInMonth, after).total).minus(ratePeriod(period, daysInMonth, before).total);
  if (amount.isZero()) return null;
  const stdOf = (subs: readonly SubscriptionUsage[]): Map<string | null, Dec> => {
    const m = new Map<string | null, Dec>();
    for (const s of subs) m.set(s.subscriptionId, (m.get(s.subscriptionId) ?? ZERO).plus(nonNegative(s.stdTokens, 'stdTokens')));
    return m;
  };
  const was = stdOf(before);
  const grown = [...stdOf(after)].map(([id, std]) => ({ id, extra: std.minus(was.get(id) ?? ZERO) })).filter((g) => !g.extra.isZero());
  const lateStd = grown.reduce((sum, g) => sum.plus(g.extra), ZERO);
  const text = roundHalfUpToFen(amount);
  return {
    kind: 'late_usage',
    description: `late usage of ${period}: ${plain(lateStd.times(ONE_MILLIONTH))} million standard tokens that arrived after its invoice`,
    quantity: '1',
    unitPrice: text,
    amount: text,
    subscriptionId: grown.length === 1 ? grown[0]!.id : null,
  };
}

/**
 * The `late_usage` line for late standard tokens (`late`: extra std per `subscriptionId`) of an
 * already invoiced `period` whose invoice was rated from `original`:
 * `lateUsageLineFromRatings(period, daysInMonth, original, withLateUsage(original, late))`.
 * Examples: late usage within a periodic plan's included amount → `null`; past it → the overage
 * it adds; on a unit plan → round(std_after × price) − round(std_before × price).
 * @throws RangeError as `withLateUsage` and `ratePeriod` (notably for a `late` key that
 *   `original` does not list).
 */
export function lateUsageLine(
  period: string,
  daysInMonth: number,
  original: readonly SubscriptionUsage[],
  late: ReadonlyMap<string | null, string>,
): InvoiceLine | null {
  return lateUsageLineFromRatings(period, daysInMonth, original, withLateUsage(original, late));
}
