/**
 * Budget thresholds: which alert thresholds a month's spending has reached. Pure and exact, like
 * the rating code beside it.
 */
import { Decimal } from 'decimal.js';

const D = Decimal.clone({ precision: 100, rounding: Decimal.ROUND_HALF_UP });

/**
 * The thresholds (whole percentages of `monthlyCny`) that `costSoFar` has reached, in the order
 * given: `t` is reached when `costSoFar ≥ monthlyCny × t ÷ 100`, compared exactly (¥80.00 of a
 * ¥100.00 budget reaches 80, ¥79.99 does not). Money is decimal text in CNY.
 * @throws Error (decimal.js) if an amount is not a decimal.
 */
export function thresholdsReached(monthlyCny: string, thresholds: readonly number[], costSoFar: string): number[] {
  const spent = new D(costSoFar).times(100);
  const budget = new D(monthlyCny);
  return thresholds.filter((t) => spent.greaterThanOrEqualTo(budget.times(t)));
}
