/**
 * Value-added tax on invoice lines, pure and exact. Plan prices — and therefore every line's
 * `amount` and an invoice's `total` — are exclusive of VAT; this module adds the tax to lines that
 * rating made (server/billing/rating.ts) and sums the invoice's tax and inclusive total. Provider
 * statements (billing/settlement.ts) take their input VAT by the same functions: rate cards'
 * prices are exclusive too.
 *
 * Rounding: one rule, rating's `roundHalfUpToFen`, applied once per line to the tax:
 * `vat = round(amount × vatRate)` half-up to the fen (¥0.05 at 10 % → ¥0.01). The invoice's `vat`
 * is the sum of its lines' rounded taxes and `totalInclusive = total + vat` (= the sum of the lines'
 * `amountInclusive`), never a rounded tax of the total. That is how an e-fapiao computes tax per
 * line (价税分离 per line), so the exported lines add up to the invoice.
 */
import { Decimal } from 'decimal.js';

import { invoiceTotal, roundHalfUpToFen, type InvoiceLine } from './rating.js';

/** VAT on information-technology services for a general taxpayer (增值税一般纳税人, 现代服务): 6 %. */
export const DEFAULT_VAT_RATE = '0.06';

/**
 * The default tax classification code (商品和服务税收分类编码) of the platform's service:
 * 3040203000000000000, 信息系统服务 under 信息技术服务 (30402). Per-plan override: a plan's `taxCode`.
 */
export const DEFAULT_TAX_CODE = '3040203000000000000';

/** A tax classification code: 19 digits. */
export const TAX_CODE_PATTERN = /^\d{19}$/;

/** A VAT rate as text: a decimal from 0 to less than 1 with at most four places (`"0.06"`, `"0.13"`, `"0"`). */
export const VAT_RATE_PATTERN = /^0(\.\d{1,4})?$/;

/** The VAT terms of a line: its rate and its tax classification code. */
export interface VatTerms {
  /** Decimal text, 0 ≤ rate < 1 (`"0.06"`). */
  readonly vatRate: string;
  /** 19 digits. */
  readonly taxCode: string;
}

/** The VAT a line carries, CNY with two decimals beside its terms. */
export interface LineVat extends VatTerms {
  /** `round(amount × vatRate)`, half-up to the fen. */
  readonly vat: string;
  /** `amount + vat`. */
  readonly amountInclusive: string;
}

/** An invoice line with its tax: all money CNY with exactly two decimals. */
export interface VatLine extends InvoiceLine, LineVat {}

/** An invoice's sums, CNY with two decimals. */
export interface VatTotals {
  /** Σ line amounts, exclusive of VAT (API.md's `total`). */
  readonly total: string;
  /** Σ line taxes. */
  readonly vat: string;
  /** `total + vat` = Σ line `amountInclusive`. */
  readonly totalInclusive: string;
}

/** A rate as the API shows it: at least two decimals (`"0.06"`, `"0.00"`, `"0.065"`). */
export function vatRateText(rate: string): string {
  const d = checkedRate(rate);
  return d.toFixed(Math.max(2, d.decimalPlaces()));
}

function checkedRate(rate: string): Decimal {
  if (typeof rate !== 'string' || !/^\d+(\.\d+)?$/.test(rate)) throw new RangeError(`A VAT rate must be a decimal string, got ${JSON.stringify(rate)}`);
  const d = new Decimal(rate);
  if (d.gte(1)) throw new RangeError(`A VAT rate must be below 1, got ${rate}`);
  return d;
}

/**
 * The tax of a line's `amount` (exclusive, CNY) at `rate`: `round(amount × rate)` half-up to the
 * fen, two decimals. A negative amount (a credit) has a negative tax, its tie rounded away from zero.
 * @throws RangeError if `amount` or `rate` is not a valid decimal.
 */
export function lineVat(amount: string, rate: string): string {
  return roundHalfUpToFen(new Decimal(amount).times(checkedRate(rate)));
}

/**
 * `line` with its VAT terms, tax and inclusive amount: an invoice line (`VatLine`) or a provider
 * statement line (billing/settlement.ts) — one rule for both sides of the ledger.
 */
export function withVat<L extends Pick<InvoiceLine, 'amount'>>(line: L, terms: VatTerms): L & LineVat {
  if (!TAX_CODE_PATTERN.test(terms.taxCode)) throw new RangeError(`A tax classification code is 19 digits, got ${JSON.stringify(terms.taxCode)}`);
  const vat = lineVat(line.amount, terms.vatRate);
  return {
    ...line,
    vatRate: vatRateText(terms.vatRate),
    taxCode: terms.taxCode,
    vat,
    amountInclusive: roundHalfUpToFen(new Decimal(line.amount).plus(vat)),
  };
}

/** Division needs more digits than a sum or a product: enough for any amount, before rounding to the fen. */
const Wide = Decimal.clone({ precision: 200, rounding: Decimal.ROUND_HALF_UP });

/**
 * The VAT part of a credit note of `amount` (inclusive of VAT, > 0) against an invoice: the share of
 * the invoice's tax the amount is of what it owes, `round(amount × vat ÷ totalInclusive)` half-up
 * to the fen; and when the note credits everything that was left (`creditedBefore.amount + amount
 * = totalInclusive`), exactly the tax not reversed yet, so that a voided invoice reverses its VAT
 * to the fen. The rest of the amount reverses revenue.
 * @throws RangeError if the amount would credit more than the invoice owes.
 */
export function creditNoteVat(
  amount: string,
  invoice: Pick<VatTotals, 'vat' | 'totalInclusive'>,
  creditedBefore: { readonly amount: string; readonly vat: string },
): { readonly vat: string; readonly revenue: string } {
  const a = new Wide(amount);
  const inclusive = new Wide(invoice.totalInclusive);
  const left = inclusive.minus(creditedBefore.amount);
  if (a.gt(left)) throw new RangeError(`A credit note of ${amount} is more than the ${left.toFixed(2)} left to credit`);
  const vat = a.eq(left)
    ? roundHalfUpToFen(new Wide(invoice.vat).minus(creditedBefore.vat))
    : inclusive.isZero()
      ? '0.00'
      : roundHalfUpToFen(a.times(invoice.vat).div(inclusive));
  return { vat, revenue: roundHalfUpToFen(a.minus(vat)) };
}

/** The sums of an invoice's lines (`"0.00"` each for none). */
export function vatTotals(lines: readonly Pick<VatLine, 'amount' | 'vat'>[]): VatTotals {
  const total = invoiceTotal(lines);
  const vat = invoiceTotal(lines.map((l) => ({ amount: l.vat })));
  return { total, vat, totalInclusive: roundHalfUpToFen(new Decimal(total).plus(vat)) };
}
