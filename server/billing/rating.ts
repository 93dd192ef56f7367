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

/**
 * `value` as a decimal, which must be finite and not negative (`"-0"` reads as 0).
 * @throws RangeError naming `what` otherwise.
 */
export function nonNegative(value: unknown, what: string): Dec {
  const d = parseDecimal(value, what);
  if (d.isNegative() && !d.isZero()) throw new RangeError(`${what} must not be negative: ${JSON.stringify(value)}`);
  return d.abs();
}

/** Plain decimal text, no exponent, no trailing zeros (`"0.0000015"`, `"1000000000"`). */
function plain(d: Dec): string {
  return d.toFixed();
}

/** A price as text: at least two decimals, more only where the price has them (`"2.00"`, `"0.0125"`). */
export function priceText(d: Decimal): string {
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
  const fen = numerator
    .times(200)
    .plus(denominator)
    .divToInt(2 * denominator);
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

/**
 * An invoice's total: the sum of its lines' rounded amounts, with exactly two decimals (`"0.00"`
 * for no line). Never the rounded sum of unrounded amounts.
 * @throws RangeError if an amount is not a finite decimal.
 */
export function invoiceTotal(lines: readonly Pick<InvoiceLine, 'amount'>[]): string {
  return roundHalfUpToFen(lines.reduce((sum, l) => sum.plus(parseDecimal(l.amount, 'amount')), ZERO));
}

/**
 * A tenant's month: the lines of every subscription in the order given (each billed for its own
 * days and usage, so a plan change inside the month shows both plans), and `total`, the sum of
 * the rounded line amounts with exactly two decimals (`"0.00"` for no subscriptions).
 * @throws RangeError as `rateSubscription`.
 */
export function ratePeriod(period: string, daysInMonth: number, subs: readonly SubscriptionUsage[]): { lines: InvoiceLine[]; total: string } {
  const lines = subs.flatMap((s) => rateSubscription(period, daysInMonth, s));
  return { lines, total: invoiceTotal(lines) };
}

/**
 * What the current month's invoice would total if it were closed now with the usage known so far:
 * `ratePeriod(...).total` (fees count every active day of the month, past and future).
 */
export function costSoFar(period: string, daysInMonth: number, subs: readonly SubscriptionUsage[]): string {
  return ratePeriod(period, daysInMonth, subs).total;
}

/**
 * Whether a plan is a hard cap: a periodic plan without an overage price, whose usage past the
 * included amount is not billed (its tenant's new workloads wait until the next month instead).
 */
export function isHardCap(terms: PlanTerms): boolean {
  return terms.type === 'periodic' && terms.overagePricePerMillionStd === null;
}

/**
 * Whether a hard-capped subscription (`isHardCap`) has used up its included standard tokens for the
 * month: `stdTokens ≥ floor(includedStd × activeDays ÷ daysInMonth)` (so a subscription with no
 * active day, which includes nothing, is exhausted at once). Any other plan is never exhausted:
 * usage past the included amount is billed instead.
 * @throws RangeError on invalid input, as `rateSubscription`.
 */
export function planExhausted(period: string, daysInMonth: number, s: SubscriptionUsage): boolean {
  checkMonth(period, daysInMonth);
  if (s.terms.type !== 'periodic' || !isHardCap(s.terms)) return false;
  const included = proratedIncludedStd(s.terms.includedStd, s.activeDays, daysInMonth);
  return nonNegative(s.stdTokens, 'stdTokens').greaterThanOrEqualTo(included);
}

function bySubscription(subs: readonly SubscriptionUsage[], what: string): Map<string | null, SubscriptionUsage> {
  const out = new Map<string | null, SubscriptionUsage>();
  for (const s of subs) {
    if (out.has(s.subscriptionId)) throw new RangeError(`${what} lists subscription ${String(s.subscriptionId)} twice`);
    out.set(s.subscriptionId, s);
  }
  return out;
}

/**
 * Usage of an already invoiced `period` that arrived after its invoice. `billed` is what the period
 * has been rated on so far; `late` is the late usage as rating input, each entry's `stdTokens`
 * being the late tokens alone. Answers:
 * - `rating`: `billed` with the late usage added. A subscription that `billed` lists keeps the
 *   terms and days it was rated on and gains the late tokens (exactly); any other is added as given
 *   (the default plan, or a subscription backdated into the period after it was invoiced, whose
 *   fee then counts too).
 * - `line`: the `late_usage` line, amount = total(rating) − total(billed): "what the earlier
 *   invoice would have grown by had the usage arrived in time" (API.md), a difference of rounded
 *   totals. `null` when that is zero (late usage within a periodic plan's included amount, past a
 *   hard cap, or too little to change a rounded total). Its `subscriptionId` is that of the only
 *   subscription with late tokens, else `null`.
 * Example: a unit plan at ¥2.00 billed on 1,232,000 std (2.46) with 1,000 late std → 2.47, a line of 0.01.
 * @throws RangeError as `ratePeriod`, or if `billed` or `late` lists a subscription twice.
 */
export function rateLateUsage(
  period: string,
  daysInMonth: number,
  billed: readonly SubscriptionUsage[],
  late: readonly SubscriptionUsage[],
): { rating: SubscriptionUsage[]; line: InvoiceLine | null } {
  const was = bySubscription(billed, 'The billed rating');
  const extra = bySubscription(late, 'The late usage');
  const rating = billed.map((s) => {
    const more = extra.get(s.subscriptionId);
    if (!more) return s;
    return { ...s, stdTokens: plain(nonNegative(s.stdTokens, 'stdTokens').plus(nonNegative(more.stdTokens, 'late stdTokens'))) };
  });
  for (const s of late) if (!was.has(s.subscriptionId)) rating.push(s);

  const amount = new D(ratePeriod(period, daysInMonth, rating).total).minus(ratePeriod(period, daysInMonth, billed).total);
  if (amount.isZero()) return { rating, line: null };
  const grown = late.filter((s) => !nonNegative(s.stdTokens, 'late stdTokens').isZero());
  const lateStd = grown.reduce((sum, s) => sum.plus(s.stdTokens), ZERO);
  const text = roundHalfUpToFen(amount);
  const line: InvoiceLine = {
    kind: 'late_usage',
    description: `late usage of ${period}: ${plain(lateStd.times(ONE_MILLIONTH))} million standard tokens that arrived after its invoice`,
    quantity: '1',
    unitPrice: text,
    amount: text,
    subscriptionId: grown.length === 1 ? grown[0]!.subscriptionId : null,
  };
  return { rating, line };
}
