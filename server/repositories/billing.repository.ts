import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isUniqueViolation } from '../../db/errors.js';
import type { DB, InvoicesTable } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';
import type { SpellRow } from './sla.repository.js';
import { USAGE_WATERMARK_LOCK } from './usage.repository.js';
import { Decimal } from 'decimal.js';
import { invoiceEntry, prepaidOf, receivableOf, transfer, type JournalEntry } from '../billing/ledger.js';
import type { CreditShare } from '../billing/sla.js';
import { invoiceLedgers, tenantPositions, writeEntries, type InvoiceLedgerRow } from './ledger.repository.js';

export type InvoiceRow = Selectable<InvoicesTable>;

/** Usage of one tenant, subscription and model (issue 15: per-model prices need the model). */
export interface UsageSum {
  readonly tenant_id: string;
  readonly subscription_id: string | null;
  /** The model's name. */
  readonly model: string;
  readonly std: string;
}

export interface LateUsageSum extends UsageSum {
  readonly period: string;
}

/**
 * Where a close draws its line (API.md v2 "Billing"): the usage events with a `seq` below `seq`
 * were committed before the close drew it, and every event committed later has a larger one.
 * `at` is when the close ran.
 */
export interface Watermark {
  readonly seq: number;
  readonly at: Date;
}

export interface NewInvoice {
  readonly id: string;
  readonly tenantId: string;
  readonly lines: unknown;
  readonly rating: unknown;
  /** Σ line amounts, exclusive of VAT. */
  readonly total: string;
  /** Σ line VAT. */
  readonly vat: string;
  /** `total + vat`. */
  readonly totalInclusive: string;
  /** (period → rating so far) of every period this invoice bills usage of, itself included. */
  readonly billed: readonly { period: string; rating: unknown }[];
  /** Issue 15: the pending SLA credits this invoice carries as `sla_credit` lines. */
  readonly slaCredits?: readonly SlaCreditKey[];
}

// Issue 15: SLA credits (billing/sla.ts).
/** Identifies one SLA credit. */
export interface SlaCreditKey {
  readonly workloadId: string;
  readonly period: string;
  readonly subscriptionId: string;
}

/** A workload an SLA may measure in a month: it existed then and has run once. */
export interface SlaWorkload {
  readonly id: string;
  readonly tenant_id: string;
  readonly name: string;
  readonly created_at: Date;
  readonly deleted_at: Date | null;
  /** When one of its placements was first all ready. */
  readonly first_ready_at: Date;
  /** Its reserved standard tokens per minute (`tokensPerMin × costFactor`), exact decimal text. */
  readonly std_per_min: string;
}

export interface SlaCreditRow extends SlaCreditKey {
  readonly tenantId: string;
  /** The cluster of its longest counted spell (null: none had a cluster). */
  readonly clusterId: string | null;
  /** Its parts by responsible cluster (billing/sla.ts `creditShares`), when made; not read back. */
  readonly shares?: readonly CreditShare[];
  readonly availability: string;
  readonly creditPercent: string;
  /** Negative CNY, two decimals. */
  readonly amount: string;
  readonly description: string;
}

/**
 * Invoices, their journal entries, and the bookkeeping of which usage has been billed. The ledger
 * is append-only and double-entry (migration 0030): an invoice posts with it, in its transaction.
 */
export class BillingRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Draws a close's watermark: holding the usage watermark lock exclusively (USAGE_WATERMARK_LOCK),
   * which waits for the insert statements in flight to commit and holds new ones back, it takes the
   * next value of the events' sequence, and lets go at once. Waits at most `lockTimeoutMs` for the
   * lock, then throws (SQLSTATE 55P03). On PGlite the one connection runs one transaction at a time,
   * so the lock is always free there; the same statements run.
   */
  async watermark(at: Date, lockTimeoutMs: number): Promise<Watermark> {
    return this.db.transaction().execute(async (tx) => {
      await sql`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(tx);
      await sql`SELECT pg_advisory_xact_lock(${sql.raw(`${USAGE_WATERMARK_LOCK}::int8`)})`.execute(tx);
      const r = await sql<{ seq: number }>`SELECT nextval('usage_event_seq') AS seq`.execute(tx);
      return { seq: Number(r.rows[0]!.seq), at };
    });
  }

  /** Records the first close of a period (later closes keep the first watermark). */
  async markClosed(period: string, watermark: Watermark): Promise<void> {
    await this.db
      .insertInto('billing_closes')
      .values({ period, cutoff: watermark.at, cutoff_seq: watermark.seq, closed_at: watermark.at })
      .onConflict((oc) => oc.column('period').doNothing())
      .execute();
  }

  async isClosed(period: string): Promise<boolean> {
    return (await this.db.selectFrom('billing_closes').select('period').where('period', '=', period).executeTakeFirst()) !== undefined;
  }

  async invoicedTenants(period: string): Promise<Set<string>> {
    const rows = await this.db.selectFrom('invoices').select('tenant_id').where('period', '=', period).execute();
    return new Set(rows.map((r) => r.tenant_id));
  }

  /**
   * Standard tokens per tenant, subscription and model of usage that occurred in [start, end), lies
   * below the watermark `through`, and was not billed yet (not below the tenant's period's `billed_through_seq`).
   * A tenant's subscriptions never overlap, so an event joins at most one: a hash join over the
   * events rather than a look-up per event.
   */
  async periodUsage(period: string, start: Date, end: Date, through: Watermark): Promise<UsageSum[]> {
    const r = await sql<UsageSum>`
      SELECT e.tenant_id, s.id AS subscription_id, coalesce(m.name, e.model_id) AS model, sum(e.std_tokens)::text AS std
        FROM usage_events e
        LEFT JOIN usage_billing b ON b.tenant_id = e.tenant_id AND b.period = ${period}
        LEFT JOIN subscriptions s
          ON s.tenant_id = e.tenant_id AND s.starts_at <= e.occurred_at AND (s.ends_at IS NULL OR s.ends_at > e.occurred_at)
        LEFT JOIN models m ON m.id = e.model_id
       WHERE e.occurred_at >= ${start} AND e.occurred_at < ${end} AND e.seq < ${through.seq}
         AND (b.billed_through_seq IS NULL OR e.seq >= b.billed_through_seq)
       GROUP BY e.tenant_id, s.id, coalesce(m.name, e.model_id)`.execute(this.db);
    return r.rows;
  }

  /** The periods closed so far (`YYYY-MM`), oldest first. */
  async closedPeriods(): Promise<string[]> {
    return (await this.db.selectFrom('billing_closes').select('period').orderBy('period').execute()).map((r) => r.period);
  }

  /**
   * Usage of the closed `periods` (each with its bounds, [start, end)) committed after its period
   * was billed for the tenant (or, if it never was, after the period's first close), below the
   * watermark `through`.
   */
  async lateUsage(periods: readonly { period: string; start: Date; end: Date }[], through: Watermark): Promise<LateUsageSum[]> {
    if (periods.length === 0) return [];
    const r = await sql<LateUsageSum>`
      WITH p AS (
        SELECT * FROM unnest(${periods.map((p) => p.period)}::text[], ${periods.map((p) => p.start.toISOString())}::timestamptz[],
                             ${periods.map((p) => p.end.toISOString())}::timestamptz[]) AS p(period, start_at, end_at)
      ), e AS (
        SELECT e.*, p.period
          FROM usage_events e
          JOIN p ON e.occurred_at >= p.start_at AND e.occurred_at < p.end_at
         WHERE e.seq < ${through.seq}
           AND e.seq >= (SELECT coalesce(min(cutoff_seq), ${through.seq}) FROM billing_closes)
      )
      SELECT e.tenant_id, e.period, s.id AS subscription_id, coalesce(m.name, e.model_id) AS model, sum(e.std_tokens)::text AS std
        FROM e
        JOIN billing_closes c ON c.period = e.period
        LEFT JOIN usage_billing b ON b.tenant_id = e.tenant_id AND b.period = e.period
        LEFT JOIN subscriptions s
          ON s.tenant_id = e.tenant_id AND s.starts_at <= e.occurred_at AND (s.ends_at IS NULL OR s.ends_at > e.occurred_at)
        LEFT JOIN models m ON m.id = e.model_id
       WHERE e.seq >= coalesce(b.billed_through_seq, c.cutoff_seq)
       GROUP BY e.tenant_id, e.period, s.id, coalesce(m.name, e.model_id)`.execute(this.db);
    return r.rows;
  }

  /** What each (tenant, period) has been rated on so far. */
  async ratings(keys: readonly { tenantId: string; period: string }[]): Promise<Map<string, unknown>> {
    if (keys.length === 0) return new Map();
    const rows = await sql<{ tenant_id: string; period: string; rating: unknown }>`
      SELECT b.tenant_id, b.period, b.rating FROM usage_billing b
        JOIN unnest(${keys.map((k) => k.tenantId)}::text[], ${keys.map((k) => k.period)}::text[]) AS k(tenant_id, period)
          ON k.tenant_id = b.tenant_id AND k.period = b.period`.execute(this.db);
    return new Map(rows.rows.map((r) => [`${r.tenant_id}/${r.period}`, r.rating]));
  }

  /**
   * Issues a batch of invoices for one period in one transaction: sequential numbers for the
   * year, the invoices, their journal entries (debit the tenant's receivable, credit revenue; and
   * for a prepaid tenant a draw of what its prepaid balance covers), and the billed-usage
   * bookkeeping (billed below `through`). Answers false, having written nothing, when a tenant of
   * the batch already has an invoice for the period (a concurrent close issued it first).
   */
  async issue(period: string, invoices: readonly NewInvoice[], through: Watermark, now: Date): Promise<boolean> {
    if (invoices.length === 0) return true;
    const year = Number(period.slice(0, 4));
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('invoice_counters')
          .values({ year, last: 0 })
          .onConflict((oc) => oc.column('year').doNothing())
          .execute();
        const counter = await tx
          .updateTable('invoice_counters')
          .set({ last: sql`last + ${invoices.length}` })
          .where('year', '=', year)
          .returning('last')
          .executeTakeFirstOrThrow();
        const first = counter.last - invoices.length + 1;
        const rows = invoices.map((inv, i) => ({
          id: inv.id,
          number: `INV-${year}-${String(first + i).padStart(6, '0')}`,
          tenant_id: inv.tenantId,
          period,
          currency: 'CNY',
          status: 'issued',
          total: inv.total,
          vat: inv.vat,
          total_inclusive: inv.totalInclusive,
          lines: JSON.stringify(inv.lines),
          rating: JSON.stringify(inv.rating),
          issued_at: now,
        }));
        for (let i = 0; i < rows.length; i += 1000)
          await tx
            .insertInto('invoices')
            .values(rows.slice(i, i + 1000))
            .execute();
        await writeEntries(tx, await this.invoiceEntries(tx, rows, period, now), now);
        const billed = invoices.flatMap((inv) =>
          inv.billed.map((b) => ({
            tenant_id: inv.tenantId,
            period: b.period,
            billed_through: through.at,
            billed_through_seq: through.seq,
            rating: JSON.stringify(b.rating),
          })),
        );
        for (let i = 0; i < billed.length; i += 1000) {
          await tx
            .insertInto('usage_billing')
            .values(billed.slice(i, i + 1000))
            .onConflict((oc) =>
              oc.columns(['tenant_id', 'period']).doUpdateSet((eb) => ({
                billed_through: eb.ref('excluded.billed_through'),
                billed_through_seq: eb.ref('excluded.billed_through_seq'),
                rating: eb.ref('excluded.rating'),
              })),
            )
            .execute();
        }
        await attachSlaCredits(tx, invoices);
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Usage per tenant, subscription and model that occurred in [start, end), billed or not. Token sums are
   * integer text: numeric in SQL, exact at any size (they pass int8's range, let alone 2^53).
   */
  async usageSoFar(start: Date, end: Date, tenantIds: readonly string[]): Promise<(UsageSum & { input_tokens: string; output_tokens: string })[]> {
    if (tenantIds.length === 0) return [];
    const r = await sql<UsageSum & { input_tokens: string; output_tokens: string }>`
      SELECT e.tenant_id, s.id AS subscription_id, coalesce(m.name, e.model_id) AS model, sum(e.std_tokens)::text AS std,
             sum(e.input_tokens)::text AS input_tokens, sum(e.output_tokens)::text AS output_tokens
        FROM usage_events e
        LEFT JOIN subscriptions s
          ON s.tenant_id = e.tenant_id AND s.starts_at <= e.occurred_at AND (s.ends_at IS NULL OR s.ends_at > e.occurred_at)
        LEFT JOIN models m ON m.id = e.model_id
       WHERE e.tenant_id = ANY(${tenantIds}::text[]) AND e.occurred_at >= ${start} AND e.occurred_at < ${end}
       GROUP BY e.tenant_id, s.id, coalesce(m.name, e.model_id)`.execute(this.db);
    return r.rows;
  }

  /**
   * The journal entries of newly issued invoices: each one that owes something debits the tenant's
   * receivable by its inclusive total and credits revenue (exclusive) and output VAT
   * (`invoiceEntry`); a prepaid tenant's invoice is then paid from its prepaid balance as far as the
   * balance goes (their rows locked, so a refund cannot draw the same money).
   */
  private async invoiceEntries(
    tx: Transaction<DB>,
    rows: readonly { id: string; number: string; tenant_id: string; total: string; vat: string; total_inclusive: string }[],
    period: string,
    now: Date,
  ): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    const posted = rows.filter((r) => !new Decimal(r.total_inclusive).isZero() || !new Decimal(r.vat).isZero());
    const prepaid = (
      await tx
        .selectFrom('tenants')
        .select('id')
        .where('id', 'in', posted.length > 0 ? [...new Set(posted.map((r) => r.tenant_id))] : [''])
        .where('billing_mode', '=', 'prepaid')
        .orderBy('id')
        .forNoKeyUpdate()
        .execute()
    ).map((t) => t.id);
    const left = new Map([...(await tenantPositions(tx, prepaid))].map(([t, p]) => [t, new Decimal(p.prepaid)]));
    for (const r of posted) {
      const base = { tenantId: r.tenant_id, invoiceId: r.id, bookedAt: now };
      const entry = invoiceEntry(
        { ...base, description: `invoice ${r.number} for ${period}` },
        { total: r.total, vat: r.vat, totalInclusive: r.total_inclusive },
      );
      if (entry) entries.push(entry);
      const balance = left.get(r.tenant_id);
      if (!balance || balance.lte(0) || new Decimal(r.total_inclusive).lte(0)) continue;
      const draw = Decimal.min(balance, r.total_inclusive);
      left.set(r.tenant_id, balance.minus(draw));
      entries.push(
        transfer(
          { ...base, id: `jd_${r.id}`, kind: 'prepaid_draw', description: `invoice ${r.number} paid from the prepaid balance` },
          prepaidOf(r.tenant_id),
          receivableOf(r.tenant_id),
          draw,
        ),
      );
    }
    return entries;
  }

  /**
   * Per tenant with a receivable account, by tenant id: the exact sum of its receivable postings
   * (CNY, decimal text: invoiced less paid and credited) and how many postings there are. Read from the ledger alone.
   */
  async ledgerBalances(): Promise<{ tenant_id: string; balance: string; entries: number }[]> {
    const r = await sql<{ tenant_id: string; balance: string; entries: number }>`
      SELECT a.tenant_id, sum(p.amount)::text AS balance, count(*)::int8 AS entries
        FROM ledger_accounts a JOIN postings p ON p.account_id = a.id
       WHERE a.kind = 'receivable'
       GROUP BY a.tenant_id
       ORDER BY a.tenant_id`.execute(this.db);
    return r.rows.map((x) => ({ ...x, entries: Number(x.entries) }));
  }

  /** What the ledger holds for each invoice of `ids` (absent: nothing posted). */
  invoiceLedgers(ids: readonly string[]): Promise<Map<string, InvoiceLedgerRow>> {
    return invoiceLedgers(this.db, ids);
  }

  listInvoices(filter: { tenantId?: string | undefined; period?: string | undefined }, page: PageRequest): Promise<InvoiceRow[]> {
    let q = this.db.selectFrom('invoices').selectAll();
    if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
    if (filter.period) q = q.where('period', '=', filter.period);
    return q.$call(onePage(page)).execute();
  }

  periodInvoices(period: string): Promise<InvoiceRow[]> {
    return this.db.selectFrom('invoices').selectAll().where('period', '=', period).orderBy('seq').execute();
  }

  getInvoice(id: string): Promise<InvoiceRow | undefined> {
    return this.db.selectFrom('invoices').selectAll().where('id', '=', id).executeTakeFirst();
  }

  // Issue 15: SLA credits.

  /** Workloads of `tenantIds` that existed in [start, end) and had run by `end`. */
  async slaWorkloads(tenantIds: readonly string[], start: Date, end: Date): Promise<SlaWorkload[]> {
    if (tenantIds.length === 0) return [];
    const r = await sql<SlaWorkload>`
      SELECT w.id, w.tenant_id, w.name, w.created_at, w.deleted_at, r.first_ready_at, (w.tokens_per_min * m.cost_factor)::text AS std_per_min
        FROM workloads w
        JOIN models m ON m.id = w.model_id
        JOIN LATERAL (SELECT min(p.ready_at) AS first_ready_at FROM placements p WHERE p.workload_id = w.id) r ON r.first_ready_at < ${end}
       WHERE w.tenant_id = ANY(${[...tenantIds]}::text[]) AND w.created_at < ${end} AND (w.deleted_at IS NULL OR w.deleted_at > ${start})
       ORDER BY w.id`.execute(this.db);
    return r.rows;
  }

  /** The SLA spells of `workloadIds` that overlap [start, end), oldest first. */
  slaSpells(workloadIds: readonly string[], start: Date, end: Date): Promise<SpellRow[]> {
    if (workloadIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('sla_spells')
      .select(['workload_id', 'tenant_id', 'placement_id', 'cluster_id', 'reason', 'started_at', 'ended_at'])
      .where('workload_id', 'in', workloadIds)
      .where('started_at', '<', end)
      .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', start)]))
      .orderBy('started_at')
      .execute() as Promise<SpellRow[]>;
  }

  /** Records credits once: one already recorded for the workload, period and subscription is kept as it is. */
  async recordSlaCredits(credits: readonly SlaCreditRow[], now: Date): Promise<void> {
    if (credits.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      // A credit is made once: only those this close made get their shares (a close racing this one made the others, and theirs).
      const made = await tx
        .insertInto('sla_credits')
        .values(
          credits.map((c) => ({
            workload_id: c.workloadId,
            period: c.period,
            subscription_id: c.subscriptionId,
            tenant_id: c.tenantId,
            cluster_id: c.clusterId,
            availability: c.availability,
            credit_percent: c.creditPercent,
            amount: c.amount,
            description: c.description,
            created_at: now,
          })),
        )
        .onConflict((oc) => oc.columns(['workload_id', 'period', 'subscription_id']).doNothing())
        .returning(['workload_id', 'period', 'subscription_id'])
        .execute();
      const keyOf = (k: { workload_id: string; period: string; subscription_id: string }) => `${k.workload_id}/${k.period}/${k.subscription_id}`;
      const fresh = new Set(made.map(keyOf));
      const shares = credits.flatMap((c) =>
        fresh.has(keyOf({ workload_id: c.workloadId, period: c.period, subscription_id: c.subscriptionId }))
          ? (c.shares ?? []).map((s) => ({
              workload_id: c.workloadId,
              period: c.period,
              subscription_id: c.subscriptionId,
              cluster_id: s.clusterId,
              short_minutes: s.shortMinutes,
              amount: s.amount,
            }))
          : [],
      );
      if (shares.length > 0) await tx.insertInto('sla_credit_shares').values(shares).execute();
    });
  }

  /** Credits of months before `period` that no invoice carries yet, oldest first. */
  async pendingSlaCredits(period: string): Promise<SlaCreditRow[]> {
    const rows = await this.db
      .selectFrom('sla_credits')
      .selectAll()
      .where('invoice_id', 'is', null)
      .where('period', '<', period)
      .orderBy('period')
      .orderBy('workload_id')
      .orderBy('subscription_id')
      .execute();
    return rows.map((r) => ({
      workloadId: r.workload_id,
      period: r.period,
      subscriptionId: r.subscription_id,
      tenantId: r.tenant_id,
      clusterId: r.cluster_id,
      availability: r.availability,
      creditPercent: r.credit_percent,
      amount: r.amount,
      description: r.description,
    }));
  }
}

/**
 * Marks the SLA credits the invoices carry as carried, in their transaction. A credit another
 * invoice carried meanwhile fails the batch as a unique violation would (the close goes again).
 */
async function attachSlaCredits(tx: Transaction<DB>, invoices: readonly NewInvoice[]): Promise<void> {
  const keys = invoices.flatMap((inv) => (inv.slaCredits ?? []).map((k) => ({ ...k, invoiceId: inv.id })));
  if (keys.length === 0) return;
  const r = await sql`
    UPDATE sla_credits c SET invoice_id = k.invoice_id
      FROM unnest(${keys.map((k) => k.workloadId)}::text[], ${keys.map((k) => k.period)}::text[], ${keys.map((k) => k.subscriptionId)}::text[],
                  ${keys.map((k) => k.invoiceId)}::text[]) AS k(workload_id, period, subscription_id, invoice_id)
     WHERE c.workload_id = k.workload_id AND c.period = k.period AND c.subscription_id = k.subscription_id AND c.invoice_id IS NULL`.execute(tx);
  if (Number(r.numAffectedRows ?? 0) !== keys.length)
    throw Object.assign(new Error('An SLA credit was carried by another invoice meanwhile'), { code: '23505' });
}
