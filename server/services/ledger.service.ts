/**
 * Money in and out of the double-entry ledger (server/billing/ledger.ts): payments the operator
 * records (one by one or as a bank statement), prepaid top-ups and refunds, credit notes, payouts
 * to providers (their statements post when the close issues them), and what
 * is derived from postings alone — account balances, a tenant's balance, ageing, and which prepaid
 * tenants the token gateway stops.
 */
import { Decimal } from 'decimal.js';
import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import { owns } from '../auth/policy.js';
import {
  AGEING_BUCKETS,
  ageingBucket,
  allocate,
  CASH,
  creditNoteEntry,
  daysPast,
  payableOf,
  prepaidOf,
  receivableOf,
  transfer,
  type AgeingBucket,
  type JournalEntry,
} from '../billing/ledger.js';
import type { Calendar } from '../billing/periods.js';
import { creditNoteVat } from '../billing/vat.js';
import type { Clock } from '../clock.js';
import { AppError, type FieldError } from '../errors.js';
import {
  invoiceLedgers,
  tenantPositions,
  writeEntries,
  type CreditNoteRow,
  type LedgerRepository,
  type PaymentRow,
  type PayoutRow,
} from '../repositories/ledger.repository.js';
import type { Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';

export interface Payment {
  readonly id: string;
  readonly kind: 'payment' | 'top_up' | 'refund';
  readonly tenantId: string;
  /** CNY, two decimals, > 0. */
  readonly amount: string;
  readonly receivedAt: string;
  readonly reference: string;
  readonly invoiceId: string | null;
  readonly source: 'api' | 'import';
}

export interface PaymentInput {
  readonly tenantId: string;
  /** CNY, at most two decimals, > 0. */
  readonly amount: string;
  readonly receivedAt: Date;
  readonly reference: string;
  readonly invoiceId?: string | undefined;
}

/** Money the operator paid a provider (`POST /api/v1/providers/:id/payouts`). */
export interface Payout {
  readonly id: string;
  readonly providerId: string;
  /** CNY, two decimals, > 0. */
  readonly amount: string;
  readonly paidAt: string;
  readonly reference: string;
}

export interface CreditNote {
  readonly id: string;
  readonly number: string;
  readonly invoiceId: string;
  readonly tenantId: string;
  /** Negative: the amount credited, inclusive of VAT, two decimals. */
  readonly total: string;
  /** Negative (or 0.00): the part of `total` that is output VAT taken back (`creditNoteVat`). */
  readonly vat: string;
  readonly reason: string;
  readonly issuedAt: string;
}

function toCreditNote(r: CreditNoteRow, vat: Decimal.Value): CreditNote {
  return {
    id: r.id,
    number: r.number,
    invoiceId: r.invoice_id,
    tenantId: r.tenant_id,
    total: new Decimal(r.total).toFixed(2),
    vat: new Decimal(vat).neg().toFixed(2),
    reason: r.reason,
    issuedAt: r.issued_at.toISOString(),
  };
}

/** A page of rows listed by id (`limit + 1` fetched): the cursor is the last id kept. */
function idPage<R extends { id: string }, T>(rows: readonly R[], limit: number, map: (r: R) => T): { items: T[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? kept[kept.length - 1]!.id : null };
}

export type Ageing = Readonly<Record<AgeingBucket, string>>;

/** A tenant's money as the ledger holds it (`GET /api/v1/tenants/:id/balance`). */
export interface TenantBalance {
  readonly tenantId: string;
  readonly billingMode: 'prepaid' | 'postpaid';
  /** What the tenant owes (negative: a credit in its favour). */
  readonly receivable: string;
  /** What the tenant paid in advance and has not used. */
  readonly prepaid: string;
  /** Outstanding invoices by days past their issue. */
  readonly ageing: Ageing;
}

/** One row's outcome in a bank statement import. */
export interface ImportResult {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly reference: string;
  readonly status: 'recorded' | 'duplicate';
  readonly paymentId: string;
}

export interface LedgerDeps {
  /** The month so far's cost per tenant, inclusive of VAT (BillingService.periodsSoFar). */
  readonly costSoFar: (tenantIds: readonly string[]) => Promise<ReadonlyMap<string, { costSoFarInclusive: string }>>;
}

function toPayment(r: PaymentRow): Payment {
  return {
    id: r.id,
    kind: r.kind as Payment['kind'],
    tenantId: r.tenant_id,
    amount: new Decimal(r.amount).toFixed(2),
    receivedAt: r.received_at.toISOString(),
    reference: r.reference,
    invoiceId: r.invoice_id,
    source: r.source as Payment['source'],
  };
}

function toPayout(r: PayoutRow): Payout {
  return { id: r.id, providerId: r.provider_id, amount: new Decimal(r.amount).toFixed(2), paidAt: r.paid_at.toISOString(), reference: r.reference };
}

const emptyAgeing = (): Record<AgeingBucket, Decimal> => ({ '0-30': new Decimal(0), '31-60': new Decimal(0), '61-90': new Decimal(0), '90+': new Decimal(0) });
const showAgeing = (a: Record<AgeingBucket, Decimal>): Ageing => Object.fromEntries(AGEING_BUCKETS.map((b) => [b, a[b].toFixed(2)])) as unknown as Ageing;

export class LedgerService {
  constructor(
    private readonly repo: LedgerRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly calendar: Calendar,
    private readonly deps: LedgerDeps,
  ) {}

  /**
   * Records a payment a tenant made: cash debited, its receivable credited, allocated to the
   * invoice it names and then the oldest open ones (server/billing/ledger.ts `allocate`).
   * Idempotent by reference: the same reference again answers the payment recorded first
   * (`created: false`) if it is the same payment, and 409 if it differs.
   */
  async recordPayment(input: PaymentInput, source: 'api' | 'import' = 'api'): Promise<{ payment: Payment; created: boolean }> {
    const amount = new Decimal(input.amount);
    const done = await this.repo.forTenant(input.tenantId, async (tx) => {
      const existing = await this.repo.paymentByReference(tx, input.reference);
      if (existing) return { payment: this.sameAs(existing, 'payment', input), created: false };
      if (input.invoiceId !== undefined) {
        const inv = await this.repo.invoice(tx, input.invoiceId);
        if (!inv || inv.tenant_id !== input.tenantId) {
          throw new AppError('unprocessable', 'The tenant has no invoice with this id.', [{ path: 'invoiceId', message: 'not an invoice of this tenant' }]);
        }
      }
      const open = (await this.repo.openInvoices(tx, input.tenantId)).map((o) => ({ id: o.id, outstanding: new Decimal(o.outstanding) }));
      const row = this.paymentRow('payment', 'receivable', input, source);
      const entries = allocate(amount, open, input.invoiceId).map((part, i) =>
        transfer(
          {
            id: `${row.id}_${i}`,
            kind: 'payment',
            tenantId: input.tenantId,
            invoiceId: part.invoiceId,
            paymentId: row.id,
            description: `payment ${input.reference}`,
            bookedAt: input.receivedAt,
          },
          CASH,
          receivableOf(input.tenantId),
          part.amount,
        ),
      );
      await this.write(tx, row, entries);
      return { payment: toPayment(row), created: true };
    });
    if (!done) throw new AppError('unprocessable', 'No tenant has this id.', [{ path: 'tenantId', message: 'no such tenant' }]);
    return done;
  }

  /** A prepaid tenant's top-up: cash debited, its prepaid balance credited. Idempotent by reference. */
  async topUp(tenantId: string, input: Omit<PaymentInput, 'tenantId' | 'invoiceId'>): Promise<{ payment: Payment; created: boolean; prepaid: string }> {
    const done = await this.repo.forTenant(tenantId, async (tx, tenant) => {
      const existing = await this.repo.paymentByReference(tx, input.reference);
      if (existing) return { payment: this.sameAs(existing, 'top_up', { ...input, tenantId }), created: false };
      if (tenant.billing_mode !== 'prepaid') throw new AppError('conflict', 'The tenant is postpaid: record a payment instead, or make it prepaid first.');
      const row = this.paymentRow('top_up', 'prepaid', { ...input, tenantId }, 'api');
      const entry = transfer(
        { id: `${row.id}_0`, kind: 'top_up', tenantId, paymentId: row.id, description: `top-up ${input.reference}`, bookedAt: input.receivedAt },
        CASH,
        prepaidOf(tenantId),
        input.amount,
      );
      await this.write(tx, row, [entry]);
      return { payment: toPayment(row), created: true };
    });
    if (!done) throw new AppError('not_found', 'No tenant has this id.');
    return { ...done, prepaid: (await this.positionOf(tenantId)).prepaid };
  }

  /**
   * Pays money back to a tenant: from its prepaid balance (`from: 'prepaid'`) or its credit
   * balance (a receivable below zero, `from: 'receivable'`), never more than it holds (422).
   * Cash credited. Idempotent by reference.
   */
  async refund(
    tenantId: string,
    input: Omit<PaymentInput, 'tenantId' | 'invoiceId'> & { from: 'prepaid' | 'receivable' },
  ): Promise<{ payment: Payment; created: boolean }> {
    const done = await this.repo.forTenant(tenantId, async (tx) => {
      const existing = await this.repo.paymentByReference(tx, input.reference);
      if (existing) return { payment: this.sameAs(existing, 'refund', { ...input, tenantId }), created: false };
      const pos = (await tenantPositions(tx, [tenantId])).get(tenantId) ?? { prepaid: '0', receivable: '0' };
      const holds = input.from === 'prepaid' ? new Decimal(pos.prepaid) : new Decimal(pos.receivable).neg();
      if (new Decimal(input.amount).gt(holds)) {
        throw new AppError(
          'unprocessable',
          `The tenant's ${input.from === 'prepaid' ? 'prepaid balance' : 'credit balance'} is ${Decimal.max(holds, 0).toFixed(2)}: it cannot be refunded more.`,
          [{ path: 'amount', message: 'more than the tenant holds' }],
        );
      }
      const row = this.paymentRow('refund', input.from, { ...input, tenantId }, 'api');
      const account = input.from === 'prepaid' ? prepaidOf(tenantId) : receivableOf(tenantId);
      const entry = transfer(
        { id: `${row.id}_0`, kind: 'refund', tenantId, paymentId: row.id, description: `refund ${input.reference}`, bookedAt: input.receivedAt },
        account,
        CASH,
        input.amount,
      );
      await this.write(tx, row, [entry]);
      return { payment: toPayment(row), created: true };
    });
    if (!done) throw new AppError('not_found', 'No tenant has this id.');
    return done;
  }

  /**
   * Records money paid to a provider: its payable debited, cash credited, never more than the
   * ledger says the city owes it (statements less payouts; 422). Answers the payout and what is
   * still owed after it. Idempotent by reference: the same payout again answers the one recorded
   * first (`created: false`), another under the same reference is 409.
   */
  async payout(providerId: string, input: { amount: string; paidAt: Date; reference: string }): Promise<{ payout: Payout; created: boolean; payable: string }> {
    const done = await this.repo.forProvider(providerId, async (tx) => {
      const existing = await this.repo.payoutByReference(tx, input.reference);
      if (existing) {
        if (existing.provider_id !== providerId || !new Decimal(existing.amount).equals(input.amount)) {
          throw new AppError('conflict', `Reference "${input.reference}" was recorded before for a different payout.`, [
            { path: 'reference', message: 'recorded before with other details' },
          ]);
        }
        return { payout: toPayout(existing), created: false };
      }
      const owed = new Decimal(await this.repo.payable(tx, providerId));
      if (new Decimal(input.amount).gt(owed)) {
        throw new AppError('unprocessable', `The city owes the provider ${Decimal.max(owed, 0).toFixed(2)}: it cannot be paid more.`, [
          { path: 'amount', message: 'more than the provider is owed' },
        ]);
      }
      const now = this.clock.now();
      const row: PayoutRow = {
        id: this.ids.next('po'),
        provider_id: providerId,
        amount: new Decimal(input.amount).toFixed(2),
        paid_at: input.paidAt,
        reference: input.reference,
        created_at: now,
      };
      if (!(await this.repo.insertPayout(tx, row))) throw new AppError('conflict', `A payout with reference "${row.reference}" was recorded at the same time.`);
      const entry = transfer(
        { id: `je_${row.id}`, kind: 'payout', tenantId: null, payoutId: row.id, description: `payout ${input.reference}`, bookedAt: input.paidAt },
        payableOf(providerId),
        CASH,
        row.amount,
      );
      await writeEntries(tx, [entry], now);
      return { payout: toPayout(row), created: true };
    });
    if (!done) throw new AppError('not_found', 'No provider has this id.');
    return { ...done, payable: new Decimal(await this.repo.payable(this.repoDb(), providerId)).toFixed(2) };
  }

  /**
   * Issues a credit note against an invoice: a negative document of an amount inclusive of VAT
   * (revenue and output VAT debited in the invoice's proportion, `creditNoteVat`; the tenant's
   * receivable credited). `amount` defaults to all that is not credited yet, which voids the
   * invoice and reverses its VAT exactly; more than that is 422, a void invoice 409.
   */
  async creditNote(invoiceId: string, input: { amount?: string | undefined; reason: string }): Promise<CreditNote> {
    const invoice = await this.repo.invoice(this.repoDb(), invoiceId);
    if (!invoice) throw new AppError('not_found', 'No invoice has this id.');
    const note = await this.repo.forTenant(invoice.tenant_id, async (tx) => {
      const ledger = (await invoiceLedgers(tx, [invoiceId])).get(invoiceId);
      const owed = new Decimal(invoice.total_inclusive);
      const credited = new Decimal(ledger?.credited ?? 0);
      const creditable = owed.minus(credited);
      if (creditable.lte(0)) throw new AppError('conflict', 'The invoice is void (or zero): there is nothing left to credit.');
      const amount = input.amount === undefined ? creditable : new Decimal(input.amount);
      if (amount.gt(creditable)) {
        throw new AppError('unprocessable', `At most ${creditable.toFixed(2)} of this invoice can still be credited.`, [
          { path: 'amount', message: 'more than the invoice has left to credit' },
        ]);
      }
      const { vat } = creditNoteVat(
        amount.toFixed(2),
        { vat: invoice.vat, totalInclusive: invoice.total_inclusive },
        { amount: credited.toFixed(2), vat: await this.repo.creditedVat(tx, invoiceId) },
      );
      const now = this.clock.now();
      const row = await this.repo.insertCreditNote(tx, {
        id: this.ids.next('cn'),
        invoice_id: invoiceId,
        tenant_id: invoice.tenant_id,
        total: amount.neg().toFixed(2),
        reason: input.reason,
        issued_at: now,
      });
      const entry = creditNoteEntry(
        {
          id: `je_${row.id}`,
          tenantId: invoice.tenant_id,
          invoiceId,
          creditNoteId: row.id,
          description: `credit note ${row.number} for invoice ${invoice.number}`,
          bookedAt: now,
        },
        amount,
        vat,
      );
      await writeEntries(tx, [entry], now);
      return toCreditNote(row, vat);
    });
    return note!;
  }

  /**
   * Credit notes by id, a page at a time, filtered by tenant and invoice. A tenant gets only its
   * own (another tenant's invoice lists nothing); naming another tenant answers not found.
   */
  async listCreditNotes(
    principal: Principal,
    filter: { tenantId?: string | undefined; invoiceId?: string | undefined },
    limit: number,
    after?: string,
  ): Promise<{ items: CreditNote[]; nextCursor: string | null }> {
    const tenantId = this.listedTenant(principal, filter.tenantId);
    const rows = await this.repo.listCreditNotes({ tenantId, invoiceId: filter.invoiceId }, limit, after);
    return idPage(rows, limit, (r) => toCreditNote(r, r.vat));
  }

  /** The tenant a list is narrowed to: a tenant's own, whatever it asked; 404 for another tenant's. */
  private listedTenant(principal: Principal, tenantId: string | undefined): string | undefined {
    if (tenantId !== undefined && !owns(principal, tenantId)) throw new AppError('not_found', 'No tenant has this id.');
    return principal.kind === 'tenant' ? principal.tenantId : tenantId;
  }

  /**
   * Imports a bank statement: CSV lines `date,amount,reference,payer` (an optional header line
   * naming them; `date` YYYY-MM-DD in the billing time zone or RFC 3339; `payer` a tenant id or
   * unified social credit code). Every line is checked first: if any is bad, nothing is recorded
   * and the answer is 422 with an error per bad line (`errors[].path` = `lines.<n>.<column>`).
   * Otherwise each line is recorded as a payment (each in its own transaction), or reported a
   * duplicate when the same payment was recorded before under its reference; a reference recorded
   * before for another payment, or twice in the file, is a bad line. Importing the same file again
   * is harmless (every line a duplicate), so a file cut short by a crash is simply sent again.
   */
  async importStatement(csv: string): Promise<ImportResult[]> {
    const rows = parseCsv(csv);
    const errors: FieldError[] = [];
    const good: { line: number; input: PaymentInput }[] = [];
    const seen = new Set<string>();
    for (const { line, fields } of rows) {
      if (line === 1 && fields[0]?.trim().toLowerCase() === 'date') continue;
      if (fields.length === 1 && fields[0]!.trim() === '') continue;
      const bad = (column: string, message: string) => errors.push({ path: `lines.${line}.${column}`, message });
      if (fields.length !== 4) {
        bad('line', `must have 4 fields (date, amount, reference, payer), not ${fields.length}`);
        continue;
      }
      const [date, amount, reference, payer] = fields.map((f) => f.trim()) as [string, string, string, string];
      const before = errors.length;
      const receivedAt = this.parseDate(date);
      if (!receivedAt) bad('date', 'must be a date YYYY-MM-DD or an RFC 3339 time');
      if (!MONEY.test(amount) || new Decimal(amount).lte(0)) bad('amount', 'must be a positive amount with at most two decimals');
      if (reference === '' || reference.length > 200) bad('reference', 'must be 1 to 200 characters');
      else if (seen.has(reference)) bad('reference', 'appears on an earlier line of this file');
      const tenantId = payer === '' ? undefined : await this.repo.tenantByPayer(payer);
      if (!tenantId) bad('payer', 'names no tenant (by id or unified social credit code)');
      seen.add(reference);
      const recorded = errors.length === before ? await this.repo.paymentByReference(this.repoDb(), reference) : undefined;
      if (recorded && (recorded.kind !== 'payment' || recorded.tenant_id !== tenantId || !new Decimal(recorded.amount).equals(amount))) {
        bad('reference', 'was recorded before for a different payment');
      }
      if (errors.length === before) good.push({ line, input: { tenantId: tenantId!, amount, receivedAt: receivedAt!, reference } });
    }
    if (errors.length > 0) throw new AppError('unprocessable', `${errors.length} problem(s) in the statement: nothing was recorded.`, errors);
    if (good.length === 0) throw new AppError('invalid', 'The statement has no payment lines.');
    const out: ImportResult[] = [];
    for (const g of good) {
      const { payment, created } = await this.recordPayment(g.input, 'import').catch((err: unknown) => {
        // The lines were checked; only a reference recorded since as a different payment lands here.
        if (err instanceof AppError)
          throw new AppError(err.kind, `Line ${g.line}: ${err.message}`, [{ path: `lines.${g.line}.reference`, message: err.message }]);
        throw err;
      });
      out.push({ line: g.line, reference: g.input.reference, status: created ? 'recorded' : 'duplicate', paymentId: payment.id });
    }
    return out;
  }

  /** Every account with its balance (debits positive), by account id; the sum over all accounts is zero. */
  /**
   * Payments, top-ups and refunds by id, a page at a time. A tenant gets
   * only its own; naming another tenant answers not found, as for any tenant's resource.
   */
  async listPayments(
    principal: Principal,
    tenantId: string | undefined,
    limit: number,
    after?: string,
  ): Promise<{ items: Payment[]; nextCursor: string | null }> {
    const rows = await this.repo.listPayments({ tenantId: this.listedTenant(principal, tenantId) }, limit, after);
    return idPage(rows, limit, toPayment);
  }

  async accountBalances(filter: { kind?: string | undefined; tenantId?: string | undefined }, limit: number, after?: string) {
    const rows = await this.repo.accountBalances(filter, limit, after);
    return idPage(rows, limit, (r) => ({
      id: r.id,
      kind: r.kind,
      tenantId: r.tenant_id,
      providerId: r.provider_id,
      balance: new Decimal(r.balance).toFixed(2),
      postings: r.postings,
    }));
  }

  /** The sum of every posting (always 0.00) and the number of unbalanced entries (always 0): a check anyone can run. */
  async trialBalance(): Promise<{ total: string; unbalancedEntries: number }> {
    const t = await this.repo.trialBalance();
    return { total: new Decimal(t.total).toFixed(2), unbalancedEntries: t.unbalanced };
  }

  /** A tenant's receivable, prepaid balance and ageing, from the ledger (a tenant sees only its own; 404 otherwise). */
  async tenantBalance(principal: Principal, tenantId: string, billingMode: 'prepaid' | 'postpaid'): Promise<TenantBalance> {
    if (!owns(principal, tenantId)) throw new AppError('not_found', 'No tenant has this id.');
    const pos = await this.positionOf(tenantId);
    const ageing = emptyAgeing();
    const now = this.clock.now();
    for (const o of await this.repo.openInvoices(this.repoDb(), tenantId)) {
      const b = ageingBucket(daysPast(o.issued_at, now));
      ageing[b] = ageing[b].plus(o.outstanding);
    }
    return { tenantId, billingMode, receivable: pos.receivable, prepaid: pos.prepaid, ageing: showAgeing(ageing) };
  }

  /** Outstanding receivables by tenant and days past invoice issue (0–30, 31–60, 61–90, 90+), and in all. */
  async ageing(): Promise<{ asOf: string; total: Ageing; items: { tenantId: string; ageing: Ageing }[] }> {
    const now = this.clock.now();
    const total = emptyAgeing();
    const byTenant = new Map<string, Record<AgeingBucket, Decimal>>();
    for (const o of await this.repo.openInvoices(this.repoDb())) {
      const b = ageingBucket(daysPast(o.issued_at, now));
      const t = byTenant.get(o.tenant_id) ?? emptyAgeing();
      t[b] = t[b].plus(o.outstanding);
      byTenant.set(o.tenant_id, t);
      total[b] = total[b].plus(o.outstanding);
    }
    const items = [...byTenant.keys()].sort().map((tenantId) => ({ tenantId, ageing: showAgeing(byTenant.get(tenantId)!) }));
    return { asOf: now.toISOString(), total: showAgeing(total), items };
  }

  /**
   * Prepaid tenants with nothing left to spend: their prepaid balance, less what they owe, less
   * the month so far's cost inclusive of VAT (not yet drawn: the close draws the invoice's
   * `totalInclusive`, rated as the close will rate it), is zero or below. The token gateway refuses
   * them `insufficient_quota`, through the same cached rule as used-up hard caps.
   */
  async exhaustedPrepaid(): Promise<Set<string>> {
    const tenants = await this.repo.prepaidTenants();
    if (tenants.length === 0) return new Set();
    const [positions, costs] = await Promise.all([tenantPositions(this.repoDb(), tenants), this.deps.costSoFar(tenants)]);
    const out = new Set<string>();
    for (const t of tenants) {
      const pos = positions.get(t) ?? { prepaid: '0', receivable: '0' };
      const available = new Decimal(pos.prepaid).minus(Decimal.max(pos.receivable, 0)).minus(costs.get(t)?.costSoFarInclusive ?? 0);
      if (available.lte(0)) out.add(t);
    }
    return out;
  }

  private async positionOf(tenantId: string): Promise<{ prepaid: string; receivable: string }> {
    const pos = (await tenantPositions(this.repoDb(), [tenantId])).get(tenantId);
    return { prepaid: new Decimal(pos?.prepaid ?? 0).toFixed(2), receivable: new Decimal(pos?.receivable ?? 0).toFixed(2) };
  }

  private repoDb() {
    return this.repo.database;
  }

  private paymentRow(kind: Payment['kind'], account: 'receivable' | 'prepaid', input: PaymentInput, source: 'api' | 'import'): PaymentRow {
    return {
      id: this.ids.next('pay'),
      kind,
      account,
      tenant_id: input.tenantId,
      amount: new Decimal(input.amount).toFixed(2),
      received_at: input.receivedAt,
      reference: input.reference,
      invoice_id: input.invoiceId ?? null,
      source,
      created_at: this.clock.now(),
    };
  }

  private async write(tx: Transaction<DB>, row: PaymentRow, entries: readonly JournalEntry[]): Promise<void> {
    if (!(await this.repo.insertPayment(tx, row))) throw new AppError('conflict', `A payment with reference "${row.reference}" was recorded at the same time.`);
    await writeEntries(tx, entries, this.clock.now());
  }

  /** The payment recorded under the reference, if it is the one asked for again; 409 if it is another. */
  private sameAs(existing: PaymentRow, kind: Payment['kind'], input: PaymentInput): Payment {
    const same =
      existing.kind === kind &&
      existing.tenant_id === input.tenantId &&
      new Decimal(existing.amount).equals(input.amount) &&
      (input.invoiceId === undefined || existing.invoice_id === input.invoiceId);
    if (!same) {
      throw new AppError('conflict', `Reference "${input.reference}" was recorded before for a different payment.`, [
        { path: 'reference', message: 'recorded before with other details' },
      ]);
    }
    return toPayment(existing);
  }

  private parseDate(s: string): Date | undefined {
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) {
      try {
        return this.calendar.dayStart(s);
      } catch {
        return undefined;
      }
    }
    const t = Date.parse(s);
    return /^\d{4}-\d{2}-\d{2}T/.test(s) && Number.isFinite(t) && /(Z|[+-]\d{2}:\d{2})$/i.test(s) ? new Date(t) : undefined;
  }
}

const MONEY = /^\d{1,15}(\.\d{1,2})?$/;

/** RFC 4180 lines: fields split by commas, double-quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ line: start, fields });
      fields = [];
      field = '';
      line++;
      start = line;
    } else field += c;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ line: start, fields });
  }
  return out;
}
