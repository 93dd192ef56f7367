/**
 * The double-entry ledger's rules, pure: accounts, journal entries whose postings sum to zero,
 * how a payment is allocated to open invoices, an invoice's state, and ageing. Amounts are CNY
 * decimal strings with two decimals; a debit is positive, a credit negative.
 *
 * The accounts (keyed by text id):
 * - `receivable:<tenant>` (asset): what the tenant owes. Debited by an invoice, credited by a
 *   payment, a credit note or a draw on the prepaid balance; a refund of a credit balance debits it.
 * - `prepaid:<tenant>` (liability): money the tenant paid in advance. Credited by a top-up,
 *   debited by a draw (the close pays the tenant's invoice from it) or a refund.
 * - `revenue` (income): invoices' amounts exclusive of VAT. `vat_output` (liability): the output VAT
 *   invoiced (credited by an invoice's tax, debited by a credit note's). `cash` (asset).
 * - `provider_costs` (expense): what providers earned for the tokens their clusters served,
 *   exclusive of VAT. Debited by each provider statement's `total` (credited if it is negative).
 * - `vat_input` (asset): the input VAT (进项税额) providers charged the city on their statements,
 *   deductible from the output VAT. Debited by each statement's `vat`; an SLA credit on a statement
 *   takes its VAT back with it (the line's tax is negative), as a credit note does on invoices.
 *   `vat_output − vat_input` (as credit and debit balances) is the VAT the city owes the tax office.
 * - `payable:<provider>` (liability): what the city owes a provider. Credited by its statements'
 *   inclusive totals, debited by payouts; its credit balance is statements (inclusive of VAT)
 *   less payouts.
 */
import { Decimal } from 'decimal.js';

export const ACCOUNT_KINDS = ['receivable', 'prepaid', 'revenue', 'vat_output', 'vat_input', 'provider_costs', 'payable', 'cash'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

export const REVENUE = 'revenue';
export const VAT_OUTPUT = 'vat_output';
export const VAT_INPUT = 'vat_input';
export const CASH = 'cash';
export const PROVIDER_COSTS = 'provider_costs';
export const receivableOf = (tenantId: string): string => `receivable:${tenantId}`;
export const prepaidOf = (tenantId: string): string => `prepaid:${tenantId}`;
export const payableOf = (providerId: string): string => `payable:${providerId}`;

export type JournalKind = 'invoice' | 'payment' | 'credit_note' | 'refund' | 'top_up' | 'prepaid_draw' | 'statement' | 'payout';

export interface Posting {
  readonly account: string;
  /** Two decimals, never zero: debit positive, credit negative. */
  readonly amount: string;
}

/** A journal entry to post: the database refuses it at commit unless its postings sum to zero. */
export interface JournalEntry {
  readonly id: string;
  readonly kind: JournalKind;
  readonly tenantId: string | null;
  readonly invoiceId?: string | null;
  readonly paymentId?: string | null;
  readonly creditNoteId?: string | null;
  readonly statementId?: string | null;
  readonly payoutId?: string | null;
  readonly description: string;
  readonly bookedAt: Date;
  readonly postings: readonly Posting[];
}

/** The kind of an account by its id (`receivable:tn_…` → receivable). */
export function accountKind(id: string): AccountKind {
  const kind = id.includes(':') ? id.slice(0, id.indexOf(':')) : id;
  if (!(ACCOUNT_KINDS as readonly string[]).includes(kind)) throw new Error(`Unknown ledger account ${id}`);
  return kind as AccountKind;
}

/** A two-posting entry moving `amount` (> 0) from `credit` to `debit`. */
export function transfer(e: Omit<JournalEntry, 'postings'>, debit: string, credit: string, amount: Decimal | string): JournalEntry {
  const a = new Decimal(amount);
  if (!a.isFinite() || a.lte(0) || !a.equals(a.toDecimalPlaces(2))) throw new Error(`A transfer's amount must be positive fen, not ${a.toString()}`);
  return {
    ...e,
    postings: [
      { account: debit, amount: a.toFixed(2) },
      { account: credit, amount: a.neg().toFixed(2) },
    ],
  };
}

/**
 * The entry a provider statement posts: provider costs debited by its exclusive `total`, input VAT
 * by its `vat`, the provider's payable credited by `totalInclusive` (signs reversed where a sum is
 * negative); none for a statement that owes nothing (a posting is never 0). Its id follows from the
 * statement's, so a statement posts once.
 */
export function statementEntry(s: {
  readonly statementId: string;
  readonly providerId: string;
  readonly total: string;
  readonly vat: string;
  readonly totalInclusive: string;
  readonly description: string;
  readonly bookedAt: Date;
}): JournalEntry | null {
  const inclusive = inclusiveOf(s);
  if (inclusive.isZero() && new Decimal(s.vat).isZero()) return null;
  return {
    id: `je_${s.statementId}`,
    kind: 'statement',
    tenantId: null,
    statementId: s.statementId,
    description: s.description,
    bookedAt: s.bookedAt,
    postings: postingsOf([
      [PROVIDER_COSTS, new Decimal(s.total)],
      [VAT_INPUT, new Decimal(s.vat)],
      [payableOf(s.providerId), inclusive.neg()],
    ]),
  };
}

/** A document's inclusive total, checked to be its exclusive total plus its VAT. */
function inclusiveOf(sums: { readonly total: string; readonly vat: string; readonly totalInclusive: string }): Decimal {
  const inclusive = new Decimal(sums.totalInclusive);
  if (!inclusive.equals(new Decimal(sums.total).plus(sums.vat))) throw new Error(`An inclusive total ${sums.totalInclusive} is not total + vat`);
  return inclusive;
}

/** The postings of `lines` that are not zero, as two-decimal text (a posting is never 0). */
function postingsOf(lines: readonly (readonly [account: string, amount: Decimal])[]): Posting[] {
  return lines.filter(([, a]) => !a.isZero()).map(([account, a]) => ({ account, amount: a.toFixed(2) }));
}

/**
 * The entry an invoice posts: its tenant's receivable debited by what it owes (`totalInclusive`),
 * revenue credited by the exclusive `total` and output VAT by `vat` (signs reversed for a negative
 * invoice). Null for an invoice that owes nothing (no posting is 0). Its id follows from the
 * invoice's, so an invoice posts once.
 */
export function invoiceEntry(
  e: Omit<JournalEntry, 'postings' | 'kind' | 'id' | 'tenantId'> & { readonly invoiceId: string; readonly tenantId: string },
  sums: { readonly total: string; readonly vat: string; readonly totalInclusive: string },
): JournalEntry | null {
  const inclusive = inclusiveOf(sums);
  if (inclusive.isZero() && new Decimal(sums.vat).isZero()) return null;
  return {
    ...e,
    id: `je_${e.invoiceId}`,
    kind: 'invoice',
    postings: postingsOf([
      [receivableOf(e.tenantId), inclusive],
      [REVENUE, new Decimal(sums.total).neg()],
      [VAT_OUTPUT, new Decimal(sums.vat).neg()],
    ]),
  };
}

/**
 * The entry a credit note posts: revenue debited by the amount less its VAT part, output VAT by the
 * VAT part (billing/vat.ts `creditNoteVat`), the tenant's receivable credited by the whole amount
 * (> 0, inclusive of VAT).
 */
export function creditNoteEntry(e: Omit<JournalEntry, 'postings' | 'kind'> & { readonly tenantId: string }, amount: Decimal, vat: string): JournalEntry {
  if (!amount.isFinite() || amount.lte(0) || !amount.equals(amount.toDecimalPlaces(2)))
    throw new Error(`A credit note's amount must be positive fen, not ${amount.toString()}`);
  return {
    ...e,
    kind: 'credit_note',
    postings: postingsOf([
      [REVENUE, amount.minus(vat)],
      [VAT_OUTPUT, new Decimal(vat)],
      [receivableOf(e.tenantId), amount.neg()],
    ]),
  };
}

/** An invoice still (partly) owed: its outstanding amount, oldest first when listed. */
export interface OpenInvoice {
  readonly id: string;
  readonly outstanding: Decimal;
}

/**
 * How a payment of `amount` settles a tenant's invoices: first the invoice it names (up to what
 * it owes), then the oldest open invoices; what is left is credited to the receivable without an
 * invoice (the tenant's credit balance, refundable or settled by later invoices).
 */
export function allocate(amount: Decimal, open: readonly OpenInvoice[], invoiceId?: string): { invoiceId: string | null; amount: Decimal }[] {
  const out: { invoiceId: string | null; amount: Decimal }[] = [];
  let left = amount;
  const ordered = invoiceId ? [...open.filter((o) => o.id === invoiceId), ...open.filter((o) => o.id !== invoiceId)] : open;
  for (const inv of ordered) {
    if (left.lte(0)) break;
    if (inv.outstanding.lte(0)) continue;
    const take = Decimal.min(left, inv.outstanding);
    out.push({ invoiceId: inv.id, amount: take });
    left = left.minus(take);
  }
  if (left.gt(0)) out.push({ invoiceId: null, amount: left });
  return out;
}

export type InvoiceStatus = 'issued' | 'partially_paid' | 'paid' | 'void';

/** What the ledger says of one invoice (sums of its receivable postings, by kind of entry). */
export interface InvoiceLedger {
  /** The invoice's total as posted. */
  readonly invoiced: Decimal;
  /** Credit notes against it (≥ 0). */
  readonly credited: Decimal;
  /** Payments and prepaid draws allocated to it (≥ 0). */
  readonly paid: Decimal;
}

/**
 * An invoice's state, derived: `void` when credit notes cancel it whole; `paid` when nothing is
 * left to pay (a zero invoice is paid); `partially_paid` when something was paid or credited but
 * not all; else `issued`.
 */
export function invoiceStatus(total: Decimal, l: InvoiceLedger): InvoiceStatus {
  if (total.gt(0) && l.credited.gte(total)) return 'void';
  const outstanding = total.minus(l.credited).minus(l.paid);
  if (outstanding.lte(0)) return 'paid';
  if (l.paid.gt(0) || l.credited.gt(0)) return 'partially_paid';
  return 'issued';
}

export const AGEING_BUCKETS = ['0-30', '31-60', '61-90', '90+'] as const;
export type AgeingBucket = (typeof AGEING_BUCKETS)[number];

/** The ageing bucket of an amount `days` whole days past its invoice's issue. */
export function ageingBucket(days: number): AgeingBucket {
  if (days <= 30) return '0-30';
  if (days <= 60) return '31-60';
  if (days <= 90) return '61-90';
  return '90+';
}

/** Whole days from `issuedAt` to `now` (0 on the day of issue). */
export function daysPast(issuedAt: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - issuedAt.getTime()) / 86_400_000));
}
