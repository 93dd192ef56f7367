import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { CreditNotesTable, DB, PaymentsTable, ProviderPayoutsTable } from '../../db/schema.js';
import { accountKind, payableOf, type JournalEntry } from '../billing/ledger.js';

export type PaymentRow = Selectable<PaymentsTable>;
export type CreditNoteRow = Selectable<CreditNotesTable>;
export type PayoutRow = Selectable<ProviderPayoutsTable>;

/** An invoice a tenant still owes on, from the ledger: what is outstanding (decimal text, > 0). */
export interface OpenInvoiceRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly issued_at: Date;
  readonly outstanding: string;
}

/** One invoice's receivable postings, summed by the kind of entry (decimal text; credits negative). */
export interface InvoiceLedgerRow {
  readonly invoice_id: string;
  readonly invoiced: string;
  readonly credited: string;
  readonly paid: string;
}

export interface AccountBalanceRow {
  readonly id: string;
  readonly kind: string;
  readonly tenant_id: string | null;
  readonly provider_id: string | null;
  /** Sum of the account's postings (debit positive). */
  readonly balance: string;
  readonly postings: number;
}

type Db = Kysely<DB> | Transaction<DB>;

/**
 * Posts journal entries: makes the tenant and provider accounts they name (once), then the entries
 * and their postings. Call inside a transaction: the database checks at commit that every entry's
 * postings sum to zero (migration 0030) and refuses the whole transaction otherwise.
 */
export async function writeEntries(db: Db, entries: readonly JournalEntry[], now: Date): Promise<void> {
  if (entries.length === 0) return;
  const accounts = new Map<string, { id: string; kind: string; tenant_id: string | null; provider_id: string | null }>();
  for (const e of entries)
    for (const p of e.postings) {
      if (accounts.has(p.account)) continue;
      const kind = accountKind(p.account);
      const owner = p.account.slice(p.account.indexOf(':') + 1);
      accounts.set(p.account, {
        id: p.account,
        kind,
        tenant_id: kind === 'receivable' || kind === 'prepaid' ? owner : null,
        provider_id: kind === 'payable' ? owner : null,
      });
    }
  const owned = [...accounts.values()].filter((a) => a.tenant_id !== null || a.provider_id !== null);
  for (let i = 0; i < owned.length; i += 1000)
    await db
      .insertInto('ledger_accounts')
      .values(owned.slice(i, i + 1000).map((a) => ({ ...a, created_at: now })))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  const rows = entries.map((e) => ({
    id: e.id,
    kind: e.kind,
    tenant_id: e.tenantId,
    invoice_id: e.invoiceId ?? null,
    payment_id: e.paymentId ?? null,
    credit_note_id: e.creditNoteId ?? null,
    statement_id: e.statementId ?? null,
    payout_id: e.payoutId ?? null,
    description: e.description,
    booked_at: e.bookedAt,
    created_at: now,
  }));
  for (let i = 0; i < rows.length; i += 1000)
    await db
      .insertInto('journal_entries')
      .values(rows.slice(i, i + 1000))
      .execute();
  const postings = entries.flatMap((e) => e.postings.map((p) => ({ entry_id: e.id, account_id: p.account, amount: p.amount })));
  for (let i = 0; i < postings.length; i += 2000)
    await db
      .insertInto('postings')
      .values(postings.slice(i, i + 2000))
      .execute();
}

/** Per tenant: the credit balance of its prepaid account and the debit balance of its receivable (decimal text). */
export async function tenantPositions(db: Db, tenantIds: readonly string[]): Promise<Map<string, { prepaid: string; receivable: string }>> {
  if (tenantIds.length === 0) return new Map();
  const r = await sql<{ tenant_id: string; prepaid: string; receivable: string }>`
    SELECT a.tenant_id,
           (-coalesce(sum(p.amount) FILTER (WHERE a.kind = 'prepaid'), 0))::text AS prepaid,
           coalesce(sum(p.amount) FILTER (WHERE a.kind = 'receivable'), 0)::text AS receivable
      FROM ledger_accounts a JOIN postings p ON p.account_id = a.id
     WHERE a.tenant_id = ANY(${tenantIds}::text[])
     GROUP BY a.tenant_id`.execute(db);
  return new Map(r.rows.map((x) => [x.tenant_id, { prepaid: x.prepaid, receivable: x.receivable }]));
}

/** What the ledger holds for each invoice of `ids` (absent: nothing posted, a zero invoice). */
export async function invoiceLedgers(db: Db, ids: readonly string[]): Promise<Map<string, InvoiceLedgerRow>> {
  if (ids.length === 0) return new Map();
  const r = await sql<InvoiceLedgerRow>`
    SELECT j.invoice_id,
           coalesce(sum(p.amount) FILTER (WHERE j.kind = 'invoice'), 0)::text AS invoiced,
           (-coalesce(sum(p.amount) FILTER (WHERE j.kind = 'credit_note'), 0))::text AS credited,
           (-coalesce(sum(p.amount) FILTER (WHERE j.kind IN ('payment', 'prepaid_draw')), 0))::text AS paid
      FROM journal_entries j
      JOIN invoices i ON i.id = j.invoice_id
      JOIN postings p ON p.entry_id = j.id AND p.account_id = 'receivable:' || i.tenant_id
     WHERE j.invoice_id = ANY(${ids}::text[])
     GROUP BY j.invoice_id`.execute(db);
  return new Map(r.rows.map((x) => [x.invoice_id, x]));
}

/** Inserts a row of a table unique by `reference` (money recorded once per bank reference); false, nothing written, when it is taken. */
async function insertOnce<T extends 'payments' | 'provider_payouts'>(db: Db, table: T, row: Insertable<DB[T]>): Promise<boolean> {
  const r = await db
    .insertInto(table)
    .values(row)
    .onConflict((oc) => oc.column('reference').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * The ledger's tables beyond posting: payments (with top-ups and refunds), credit notes, and what
 * is derived from postings — account balances, invoices' states, open invoices. Rows are only ever
 * inserted (the database refuses changes, migration 0030).
 */
export class LedgerRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** The database outside any transaction, for reads. */
  get database(): Kysely<DB> {
    return this.db;
  }

  /**
   * Runs `fn` in one transaction holding the tenant's row lock, so that a tenant's payments,
   * credit notes and refunds read the ledger and post one after the other. The lock is FOR NO KEY
   * UPDATE: inserts that reference the tenant (usage, workloads) take FOR KEY SHARE and do not
   * wait for it. Undefined: no such tenant.
   */
  async forTenant<T>(tenantId: string, fn: (tx: Transaction<DB>, tenant: { billing_mode: string }) => Promise<T>): Promise<T | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const tenant = await tx.selectFrom('tenants').select('billing_mode').where('id', '=', tenantId).forNoKeyUpdate().executeTakeFirst();
      if (!tenant) return undefined;
      return fn(tx, tenant);
    });
  }

  /**
   * Runs `fn` in one transaction holding the provider's row lock (FOR NO KEY UPDATE), so that a
   * provider's payouts read its payable and post one after the other. Undefined: no such provider.
   */
  async forProvider<T>(providerId: string, fn: (tx: Transaction<DB>) => Promise<T>): Promise<T | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const provider = await tx.selectFrom('providers').select('id').where('id', '=', providerId).forNoKeyUpdate().executeTakeFirst();
      if (!provider) return undefined;
      return fn(tx);
    });
  }

  /** What the city owes a provider: the credit balance of its payable account (statements less payouts; decimal text). */
  async payable(db: Db, providerId: string): Promise<string> {
    const r = await sql<{ owed: string }>`
      SELECT (-coalesce(sum(amount), 0))::text AS owed FROM postings WHERE account_id = ${payableOf(providerId)}`.execute(db);
    return r.rows[0]!.owed;
  }

  payoutByReference(db: Db, reference: string): Promise<PayoutRow | undefined> {
    return db.selectFrom('provider_payouts').selectAll().where('reference', '=', reference).executeTakeFirst();
  }

  /** Inserts a payout; false (nothing written) when its reference is taken. */
  insertPayout(db: Db, row: PayoutRow): Promise<boolean> {
    return insertOnce(db, 'provider_payouts', row);
  }

  /** A tenant's invoices with something outstanding, oldest first (the ledger's receivable postings per invoice). */
  async openInvoices(db: Db, tenantId?: string): Promise<OpenInvoiceRow[]> {
    const r = await sql<OpenInvoiceRow>`
      SELECT i.id, i.tenant_id, i.issued_at, sum(p.amount)::text AS outstanding
        FROM invoices i
        JOIN journal_entries j ON j.invoice_id = i.id
        JOIN postings p ON p.entry_id = j.id AND p.account_id = 'receivable:' || i.tenant_id
       WHERE ${tenantId === undefined ? sql`true` : sql`i.tenant_id = ${tenantId}`}
       GROUP BY i.id, i.tenant_id, i.issued_at, i.seq
      HAVING sum(p.amount) > 0
       ORDER BY i.issued_at, i.seq`.execute(db);
    return r.rows;
  }

  invoiceLedgers(ids: readonly string[]): Promise<Map<string, InvoiceLedgerRow>> {
    return invoiceLedgers(this.db, ids);
  }

  paymentByReference(db: Db, reference: string): Promise<PaymentRow | undefined> {
    return db.selectFrom('payments').selectAll().where('reference', '=', reference).executeTakeFirst();
  }

  /** Inserts a payment; false (nothing written) when its reference is taken. */
  insertPayment(db: Db, row: PaymentRow): Promise<boolean> {
    return insertOnce(db, 'payments', row);
  }

  listPayments(filter: { tenantId?: string | undefined }, limit: number, after?: string): Promise<PaymentRow[]> {
    let q = this.db.selectFrom('payments').selectAll();
    if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
    if (after) q = q.where('id', '>', after);
    return q
      .orderBy('id')
      .limit(limit + 1)
      .execute();
  }

  /** Inserts a credit note numbered `CN-<year>-NNNNNN` in sequence; answers it. */
  async insertCreditNote(db: Db, note: Omit<CreditNoteRow, 'number'>): Promise<CreditNoteRow> {
    const year = note.issued_at.getUTCFullYear();
    await db
      .insertInto('document_counters')
      .values({ series: 'CN', year, last: 0 })
      .onConflict((oc) => oc.columns(['series', 'year']).doNothing())
      .execute();
    const { last } = await db
      .updateTable('document_counters')
      .set({ last: sql`last + 1` })
      .where('series', '=', 'CN')
      .where('year', '=', year)
      .returning('last')
      .executeTakeFirstOrThrow();
    return db
      .insertInto('credit_notes')
      .values({ ...note, number: `CN-${year}-${String(last).padStart(6, '0')}` })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * Credit notes by id after `after`, `limit + 1` of them (the extra one says another page
   * follows), filtered by tenant and invoice; each with the output VAT it reversed (`vat`, the
   * debit of `vat_output` its entry posted: positive text, 0 when none).
   */
  async listCreditNotes(
    filter: { tenantId?: string | undefined; invoiceId?: string | undefined },
    limit: number,
    after?: string,
  ): Promise<(CreditNoteRow & { vat: string })[]> {
    const r = await sql<CreditNoteRow & { vat: string }>`
      SELECT c.*, coalesce((SELECT sum(p.amount) FROM journal_entries j JOIN postings p ON p.entry_id = j.id AND p.account_id = 'vat_output'
                             WHERE j.credit_note_id = c.id), 0)::text AS vat
        FROM credit_notes c
       WHERE ${filter.tenantId ? sql`c.tenant_id = ${filter.tenantId}` : sql`true`}
         AND ${filter.invoiceId ? sql`c.invoice_id = ${filter.invoiceId}` : sql`true`}
         AND ${after ? sql`c.id > ${after}` : sql`true`}
       ORDER BY c.id
       LIMIT ${limit + 1}`.execute(this.db);
    return r.rows;
  }

  creditNotesOf(invoiceId: string): Promise<CreditNoteRow[]> {
    return this.db.selectFrom('credit_notes').selectAll().where('invoice_id', '=', invoiceId).orderBy('number').execute();
  }

  /** Accounts with their balances (sums of postings), by id; filtered by kind or tenant. */
  async accountBalances(filter: { kind?: string | undefined; tenantId?: string | undefined }, limit: number, after?: string): Promise<AccountBalanceRow[]> {
    const r = await sql<AccountBalanceRow>`
      SELECT a.id, a.kind, a.tenant_id, a.provider_id, coalesce(sum(p.amount), 0)::text AS balance, count(p.id)::int8 AS postings
        FROM ledger_accounts a LEFT JOIN postings p ON p.account_id = a.id
       WHERE ${filter.kind ? sql`a.kind = ${filter.kind}` : sql`true`}
         AND ${filter.tenantId ? sql`a.tenant_id = ${filter.tenantId}` : sql`true`}
         AND ${after ? sql`a.id > ${after}` : sql`true`}
       GROUP BY a.id
       ORDER BY a.id
       LIMIT ${limit + 1}`.execute(this.db);
    return r.rows.map((x) => ({ ...x, postings: Number(x.postings) }));
  }

  /** The sum of every posting (zero when every entry balances) and the number of entries that do not balance. */
  async trialBalance(): Promise<{ total: string; unbalanced: number }> {
    const r = await sql<{ total: string; unbalanced: number }>`
      SELECT coalesce((SELECT sum(amount) FROM postings), 0)::text AS total,
             (SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id HAVING sum(amount) <> 0) u)::int8 AS unbalanced`.execute(this.db);
    const row = r.rows[0]!;
    return { total: row.total, unbalanced: Number(row.unbalanced) };
  }

  /** Tenants on prepaid billing. */
  async prepaidTenants(): Promise<string[]> {
    return (await this.db.selectFrom('tenants').select('id').where('billing_mode', '=', 'prepaid').execute()).map((r) => r.id);
  }

  /** The tenant a bank statement's payer names: by tenant id or by unified social credit code. */
  async tenantByPayer(payer: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('tenants')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', payer), eb('uscc', '=', payer)]))
      .executeTakeFirst();
    return row?.id;
  }

  invoice(db: Db, id: string): Promise<{ id: string; tenant_id: string; total: string; vat: string; total_inclusive: string; number: string } | undefined> {
    return db.selectFrom('invoices').select(['id', 'tenant_id', 'total', 'vat', 'total_inclusive', 'number']).where('id', '=', id).executeTakeFirst();
  }

  /** The output VAT the credit notes of an invoice have reversed so far (decimal text, ≥ 0). */
  async creditedVat(db: Db, invoiceId: string): Promise<string> {
    const r = await sql<{ vat: string }>`
      SELECT coalesce(sum(p.amount), 0)::text AS vat
        FROM journal_entries j JOIN postings p ON p.entry_id = j.id AND p.account_id = 'vat_output'
       WHERE j.invoice_id = ${invoiceId} AND j.kind = 'credit_note'`.execute(db);
    return r.rows[0]?.vat ?? '0';
  }
}
