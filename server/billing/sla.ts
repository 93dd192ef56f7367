/**
 * SLA credits (issue 15, "Quality of service that shows on the bill"). Pure: no I/O, no clock.
 *
 * A periodic plan may promise `availabilityPercent` of each reserved workload's throughput. The
 * platform records *spells* in which a workload that has run delivers less than it reserves (its
 * ready placements' throughput below its `tokensPerMin`; sla.repository.ts). At a month's close:
 * - A spell shorter than `graceMinutes` (from its start to its end, or to the close if it still
 *   lasts) does not count.
 * - Minutes are whole UTC minutes. A counted spell makes short every minute it touches inside the
 *   measured window (from the minute of its start, rounded down, to its end, rounded up).
 * - The measured window of a workload is the part of the month in which its tenant's subscription
 *   to the plan was active and the workload existed (created, not deleted); `measuredMinutes` are
 *   its whole minutes.
 * - Availability = (measured − short) ÷ measured × 100. It is compared with the credit table
 *   exactly (`(measured − short) × 100 < belowPercent × measured`); the percent shown is rounded
 *   half-up to three decimals.
 * - The credit is that of the row with the lowest `belowPercent` the availability is below (the
 *   table is strictly ordered: lower thresholds give larger credits), none if it is below none.
 * - Amount: `−(fee × creditPercent ÷ 100 × share)`, rounded half-up to the fen, where `fee` is the
 *   subscription's prorated fee line of the measured month and `share` the workload's part of the
 *   standard-token throughput (`tokensPerMin × costFactor`) of the subscription's measured workloads.
 *   It goes on the tenant's next invoice as an `sla_credit` line.
 * - The providers' side: the credit is shared among the clusters whose spells made the minutes
 *   short, in proportion to each cluster's short minutes ({@link creditShares}); a provider whose
 *   rate card says so has its share taken off its next statement.
 */
import { Decimal } from 'decimal.js';

/** What a plan promises. Percents are decimal strings (≤ 3 decimals), 0 < percent ≤ 100. */
export interface SlaTerms {
  readonly availabilityPercent: string;
  readonly graceMinutes: number;
  readonly credits: readonly { readonly belowPercent: string; readonly creditPercent: string }[];
}

/** A shortfall spell as measured: `endedAt` null while it lasts. */
export interface Spell {
  readonly startedAt: Date;
  readonly endedAt: Date | null;
}

const D = Decimal.clone({ precision: 1000, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -9e15, toExpPos: 9e15 });
const MINUTE = 60_000;

/** A percent as the schema accepts it: 0 < x ≤ 100, at most three decimals. */
const PERCENT = /^\d{1,3}(\.\d{1,3})?$/;

function percentError(value: string): string | null {
  if (!PERCENT.test(value)) return 'must be a decimal string such as "99.5" (at most 3 decimals)';
  const d = new D(value);
  if (d.lte(0) || d.gt(100)) return 'must be greater than 0 and at most 100';
  return null;
}

/**
 * What is wrong with `sla` (paths relative to the plan, `sla.credits.1.belowPercent`), empty when
 * nothing: percents in (0, 100]; every `belowPercent` at most `availabilityPercent`; thresholds
 * distinct and, ordered from the highest down, credits strictly rising (a table whose rows overlap
 * or contradict each other is refused).
 */
export function slaErrors(sla: SlaTerms): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  const bad = percentError(sla.availabilityPercent);
  if (bad) errors.push({ path: 'sla.availabilityPercent', message: bad });
  sla.credits.forEach((c, i) => {
    const below = percentError(c.belowPercent);
    if (below) errors.push({ path: `sla.credits.${i}.belowPercent`, message: below });
    const credit = percentError(c.creditPercent);
    if (credit) errors.push({ path: `sla.credits.${i}.creditPercent`, message: credit });
  });
  if (errors.length > 0) return errors;
  const promised = new D(sla.availabilityPercent);
  sla.credits.forEach((c, i) => {
    if (new D(c.belowPercent).gt(promised)) errors.push({ path: `sla.credits.${i}.belowPercent`, message: 'must not exceed availabilityPercent' });
  });
  const order = sla.credits.map((c, i) => ({ i, below: new D(c.belowPercent), credit: new D(c.creditPercent) })).sort((a, b) => b.below.comparedTo(a.below));
  for (let k = 1; k < order.length; k++) {
    const [hi, lo] = [order[k - 1]!, order[k]!];
    if (lo.below.eq(hi.below)) errors.push({ path: `sla.credits.${lo.i}.belowPercent`, message: `overlaps row ${hi.i}: the same threshold twice` });
    else if (!lo.credit.gt(hi.credit))
      errors.push({ path: `sla.credits.${lo.i}.creditPercent`, message: `overlaps row ${hi.i}: a lower threshold must give a larger credit` });
  }
  return errors;
}

/**
 * The whole minutes of [`from`, `to`) that counted spells make short: spells shorter than
 * `graceMinutes` (an open one measured to `asOf`) are left out; each other one covers the minutes
 * it touches, clipped to the window. Overlapping spells count their minutes once.
 */
export function shortMinutes(window: { from: Date; to: Date }, spells: readonly Spell[], graceMinutes: number, asOf: Date): number {
  const from = Math.floor(window.from.getTime() / MINUTE);
  const to = Math.ceil(window.to.getTime() / MINUTE);
  const ranges: [number, number][] = [];
  for (const s of spells) {
    const end = (s.endedAt ?? asOf).getTime();
    if (end - s.startedAt.getTime() < graceMinutes * MINUTE) continue;
    const a = Math.max(from, Math.floor(s.startedAt.getTime() / MINUTE));
    const b = Math.min(to, Math.ceil(end / MINUTE));
    if (b > a) ranges.push([a, b]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reach = -Infinity;
  for (const [a, b] of ranges) {
    const start = Math.max(a, reach);
    if (b > start) total += b - start;
    reach = Math.max(reach, b);
  }
  return total;
}

/** Whole minutes of a window (its start rounded down, its end up; 0 when empty). */
export function windowMinutes(window: { from: Date; to: Date }): number {
  return Math.max(0, Math.ceil(window.to.getTime() / MINUTE) - Math.floor(window.from.getTime() / MINUTE));
}

/**
 * The availability of `measured` minutes of which `short` were short, and the credit percent the
 * table gives it (null: none). `availability` is a percent rounded half-up to three decimals, for
 * people; the comparison is exact. No measured minute: 100 % and no credit.
 */
export function creditFor(sla: SlaTerms, measured: number, short: number): { availability: string; creditPercent: string | null } {
  if (measured <= 0) return { availability: '100.000', creditPercent: null };
  const up = new D(measured - Math.min(short, measured)).times(100);
  const availability = up.div(measured).toDecimalPlaces(3, Decimal.ROUND_HALF_UP).toFixed(3);
  let best: { below: Decimal; credit: string } | null = null;
  for (const c of sla.credits) {
    const below = new D(c.belowPercent);
    if (up.lt(below.times(measured)) && (best === null || below.lt(best.below))) best = { below, credit: c.creditPercent };
  }
  return { availability, creditPercent: best?.credit ?? null };
}

/**
 * The credit's amount: `−(fee × creditPercent ÷ 100 × share ÷ whole)`, rounded half-up to the fen
 * (CNY, two decimals, `"0.00"` rather than `"-0.00"`). `share` and `whole` are decimals, whole > 0.
 */
export function creditAmount(fee: string, creditPercent: string, share: string, whole: string): string {
  const x = new D(fee).times(creditPercent).times(share).div(new D(whole).times(100)).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
  return x.isZero() ? '0.00' : x.negated().toFixed(2);
}

/** One cluster's part of a credit: its short minutes and its share of the amount (negative CNY). */
export interface CreditShare {
  readonly clusterId: string;
  readonly shortMinutes: number;
  readonly amount: string;
}

/**
 * A credit of `amount` (negative CNY, two decimals) shared among the clusters responsible for its
 * short minutes: `minutes` holds each cluster's short minutes (its own counted spells, clipped to
 * the window), and under `null` those of spells with no cluster (a workload nobody placed), whose
 * part no provider bears. Each part is proportional to its minutes, in whole fen by the largest
 * remainder (ties to the cluster first in id order, no-cluster last), so the parts add up to the
 * credit exactly. Answers the clusters' parts that are not zero, in cluster id order.
 */
export function creditShares(amount: string, minutes: ReadonlyMap<string | null, number>): CreditShare[] {
  const fen = BigInt(new D(amount).negated().times(100).toFixed(0));
  const parts = [...minutes]
    .filter(([, m]) => m > 0)
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0))
    .map(([clusterId, m]) => ({ clusterId, m: BigInt(m) }));
  const whole = parts.reduce((sum, p) => sum + p.m, 0n);
  if (whole === 0n || fen <= 0n) return [];
  const shares = parts.map((p, i) => ({ ...p, i, fen: (fen * p.m) / whole, rest: (fen * p.m) % whole }));
  let left = fen - shares.reduce((sum, s) => sum + s.fen, 0n);
  for (const s of [...shares].sort((a, b) => (a.rest === b.rest ? a.i - b.i : a.rest > b.rest ? -1 : 1))) {
    if (left === 0n) break;
    s.fen += 1n;
    left -= 1n;
  }
  return shares.flatMap((s) =>
    s.clusterId === null || s.fen === 0n
      ? []
      : [{ clusterId: s.clusterId, shortMinutes: Number(s.m), amount: new D(s.fen.toString()).div(100).negated().toFixed(2) }],
  );
}
