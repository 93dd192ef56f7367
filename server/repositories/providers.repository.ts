import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isUniqueViolation } from '../../db/errors.js';
import type { DB, ProviderRateCardsTable, ProviderStatementsTable, ProvidersTable } from '../../db/schema.js';
import { statementEntry } from '../billing/ledger.js';
import type { Watermark } from './billing.repository.js';
import { writeEntries } from './ledger.repository.js';
import { onePage, type PageRequest } from './paging.js';
import { SHARED_TENANT } from './tenants.repository.js';

const SHARED_TENANT_ID: string = SHARED_TENANT.id;

export type ProviderRow = Selectable<ProvidersTable>;
export type RateCardRow = Selectable<ProviderRateCardsTable>;
export type StatementRow = Selectable<ProviderStatementsTable>;

export interface ProviderFields {
  readonly name: string;
  readonly uscc: string;
  readonly bankName: string;
  readonly bankAccount: string;
  readonly contactName: string;
  readonly contactPhone: string;
  readonly contactEmail: string;
}

/** One group of served usage as read for rating (see settlement.ts `ServedUsage`). */
export interface ServedRow {
  readonly provider_id: string;
  readonly period: string;
  readonly cluster_id: string;
  readonly model: string;
  readonly profile: string | null;
  readonly vendor: string | null;
  readonly rate_card_id: string | null;
  /** False for usage of the platform's own tenant (`tn_shared`), which no tenant pays for. */
  readonly paid_by_tenants: boolean;
  /**
   * The paying tenant and its subscription, only where a revenue share needs them (a
   * `revenue_share` card and a paying tenant); null otherwise, the usage summed over tenants.
   */
  readonly tenant_id: string | null;
  readonly subscription_id: string | null;
  readonly std: string;
}

/** One group of a period's usage on any cluster, for the settlement report (`servedByAll`). */
export interface ServedByAllRow {
  readonly provider_id: string | null;
  readonly period: string;
  readonly cluster_id: string;
  readonly model: string;
  readonly tenant_id: string;
  readonly subscription_id: string | null;
  readonly std: string;
}

export interface NewStatement {
  readonly id: string;
  readonly providerId: string;
  readonly lines: unknown;
  /** Exclusive of VAT; its VAT; `total + vat` (billing/vat.ts `vatTotals`). */
  readonly total: string;
  readonly vat: string;
  readonly totalInclusive: string;
  /** Per usage period this statement pays for (its own, and earlier ones with late usage): what each line key has been paid in all. */
  readonly paid: readonly { period: string; paid: unknown }[];
  /** Issue 15: the shares of SLA credits it carries as `sla_credit` lines (migration 0036). */
  readonly slaCredits?: readonly { readonly workloadId: string; readonly period: string; readonly subscriptionId: string; readonly clusterId: string }[];
}

/** A responsible cluster's share of an SLA credit an invoice carried, the cluster a provider's, not yet on a statement. */
export interface UnstatedSlaCredit {
  readonly workload_id: string;
  readonly period: string;
  readonly subscription_id: string;
  readonly cluster_id: string;
  readonly provider_id: string;
  readonly model: string;
  /** The share (negative CNY), the cluster's short minutes (null: a credit made before shares), and the whole credit. */
  readonly amount: string;
  readonly short_minutes: number | null;
  readonly credit_amount: string;
  readonly description: string;
}

const COLUMNS: Record<keyof ProviderFields, keyof ProvidersTable> = {
  name: 'name',
  uscc: 'uscc',
  bankName: 'bank_name',
  bankAccount: 'bank_account',
  contactName: 'contact_name',
  contactPhone: 'contact_phone',
  contactEmail: 'contact_email',
};

/** Which unique column a violation concerns, from the constraint's name. */
function duplicateOf(err: unknown): 'name' | 'uscc' | null {
  if (!isUniqueViolation(err)) return null;
  const text = String((err as { constraint?: string; message?: string }).constraint ?? (err as Error).message ?? '');
  return text.includes('uscc') ? 'uscc' : 'name';
}

/** Providers, their rate cards and clusters, their statements, and the served usage they are paid for. */
export class ProvidersRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Inserts a provider; answers the duplicate column instead when its name or code is taken. */
  async insert(id: string, f: ProviderFields, now: Date): Promise<ProviderRow | { duplicate: 'name' | 'uscc' }> {
    try {
      return await this.db
        .insertInto('providers')
        .values({
          id,
          name: f.name,
          uscc: f.uscc,
          bank_name: f.bankName,
          bank_account: f.bankAccount,
          contact_name: f.contactName,
          contact_phone: f.contactPhone,
          contact_email: f.contactEmail,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      const duplicate = duplicateOf(err);
      if (duplicate) return { duplicate };
      throw err;
    }
  }

  async update(id: string, f: Partial<ProviderFields>, now: Date): Promise<ProviderRow | undefined | { duplicate: 'name' | 'uscc' }> {
    const set: Record<string, unknown> = { updated_at: now };
    for (const [k, v] of Object.entries(f)) if (v !== undefined) set[COLUMNS[k as keyof ProviderFields]] = v;
    try {
      return await this.db.updateTable('providers').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    } catch (err) {
      const duplicate = duplicateOf(err);
      if (duplicate) return { duplicate };
      throw err;
    }
  }

  get(id: string): Promise<ProviderRow | undefined> {
    return this.db.selectFrom('providers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(page: PageRequest): Promise<ProviderRow[]> {
    return this.db.selectFrom('providers').selectAll().$call(onePage(page)).execute();
  }

  /** The cluster ids of each of the providers, ordered. */
  async clustersOf(providerIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(providerIds.map((id) => [id, []]));
    if (providerIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('clusters')
      .select(['id', 'provider_id'])
      .where('provider_id', 'in', [...providerIds])
      .orderBy('seq')
      .execute();
    for (const r of rows) out.get(r.provider_id!)?.push(r.id);
    return out;
  }

  /** Deletes a provider with no cluster and no statement: 'in_use' otherwise, 'missing' if absent. */
  async remove(id: string): Promise<'removed' | 'missing' | 'in_use'> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('providers').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row) return 'missing';
      const cluster = await tx.selectFrom('clusters').select('id').where('provider_id', '=', id).limit(1).executeTakeFirst();
      const statement = await tx.selectFrom('provider_statements').select('id').where('provider_id', '=', id).limit(1).executeTakeFirst();
      if (cluster || statement) return 'in_use';
      await tx.deleteFrom('provider_billing').where('provider_id', '=', id).execute();
      await tx.deleteFrom('providers').where('id', '=', id).execute();
      return 'removed';
    });
  }

  /** Sets (or clears, `null`) a cluster's provider: false if the cluster does not exist. */
  async setClusterProvider(clusterId: string, providerId: string | null): Promise<boolean> {
    const r = await this.db.updateTable('clusters').set({ provider_id: providerId }).where('id', '=', clusterId).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /**
   * Adds a rate card unless its validity overlaps another card of the provider's (checked under the
   * provider's row lock, so two concurrent adds cannot both pass): 'missing' without the provider,
   * the overlapping card otherwise.
   */
  async insertRateCard(card: {
    id: string;
    providerId: string;
    kind: string;
    terms: unknown;
    validFrom: Date;
    validTo: Date | null;
    now: Date;
    /** Issue 15: SLA credits lower the provider's statement. */
    slaCredits?: boolean | undefined;
    /** The VAT terms of the lines it prices. */
    vatRate: string;
    taxCode: string;
  }): Promise<RateCardRow | 'missing' | { overlaps: RateCardRow }> {
    return this.db.transaction().execute(async (tx) => {
      const provider = await tx.selectFrom('providers').select('id').where('id', '=', card.providerId).forUpdate().executeTakeFirst();
      if (!provider) return 'missing';
      let q = tx
        .selectFrom('provider_rate_cards')
        .selectAll()
        .where('provider_id', '=', card.providerId)
        .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', card.validFrom)]));
      if (card.validTo !== null) q = q.where('valid_from', '<', card.validTo);
      const overlap = await q.orderBy('valid_from').executeTakeFirst();
      if (overlap) return { overlaps: overlap };
      return tx
        .insertInto('provider_rate_cards')
        .values({
          id: card.id,
          provider_id: card.providerId,
          kind: card.kind,
          terms: JSON.stringify(card.terms),
          valid_from: card.validFrom,
          valid_to: card.validTo,
          created_at: card.now,
          ...(card.slaCredits ? { sla_credits: true } : {}),
          vat_rate: card.vatRate,
          tax_code: card.taxCode,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  rateCards(providerId: string): Promise<RateCardRow[]> {
    return this.db.selectFrom('provider_rate_cards').selectAll().where('provider_id', '=', providerId).orderBy('valid_from').execute();
  }

  allRateCards(): Promise<RateCardRow[]> {
    return this.db.selectFrom('provider_rate_cards').selectAll().orderBy('seq').execute();
  }

  /** Deletes a rate card that no statement has paid by: 'in_use' otherwise. */
  async removeRateCard(providerId: string, id: string): Promise<'removed' | 'missing' | 'in_use'> {
    return this.db.transaction().execute(async (tx) => {
      const card = await tx
        .selectFrom('provider_rate_cards')
        .select('id')
        .where('id', '=', id)
        .where('provider_id', '=', providerId)
        .forUpdate()
        .executeTakeFirst();
      if (!card) return 'missing';
      const used = await sql<{ id: string }>`
        SELECT id FROM provider_statements WHERE provider_id = ${providerId} AND lines @> ${JSON.stringify([{ rateCardId: id }])}::jsonb LIMIT 1`.execute(tx);
      if (used.rows.length > 0) return 'in_use';
      await tx.deleteFrom('provider_rate_cards').where('id', '=', id).execute();
      return 'removed';
    });
  }

  /** Providers with a rate card valid at some time in [start, end). */
  async providersWithCards(start: Date, end: Date): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('provider_rate_cards')
      .select('provider_id')
      .distinct()
      .where('valid_from', '<', end)
      .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', start)]))
      .execute();
    return new Set(rows.map((r) => r.provider_id));
  }

  async statementProviders(period: string): Promise<Set<string>> {
    const rows = await this.db.selectFrom('provider_statements').select('provider_id').where('period', '=', period).execute();
    return new Set(rows.map((r) => r.provider_id));
  }

  /**
   * Served usage of the clusters that have a provider, per provider, usage period, cluster, model,
   * device profile, rate card (the provider's card valid at the event's time) and payer — and, for
   * a revenue share paid by tenants, per tenant and subscription (ServedRow): events that occurred
   * in one of `periods` (each [start, end)), lie below the watermark `through`, and, when
   * `providers` is given, were served by those providers' clusters only. The profile is the event's
   * placement's; an event without one takes the latest placement of its workload on its cluster.
   *
   * One pass of hash joins over the events: a provider's rate cards never overlap, nor do a
   * tenant's subscriptions, so each event meets at most one of each (a LIMIT 1 per event would
   * look them up once per event). `work_mem` is raised for the statement's transaction so that
   * the grouping (hundreds of thousands of groups for a million events) is hashed in memory
   * rather than sorted on disk.
   */
  async served(periods: readonly { period: string; start: Date; end: Date }[], through: Watermark, providers?: readonly string[]): Promise<ServedRow[]> {
    if (periods.length === 0) return [];
    const only = providers ? sql`AND c.provider_id = ANY(${[...providers]}::text[])` : sql``;
    const share = sql`rc.kind = 'revenue_share' AND e.tenant_id <> ${SHARED_TENANT_ID}`;
    return this.db.transaction().execute(async (tx) => {
      await sql`SET LOCAL work_mem = '64MB'`.execute(tx);
      const r = await sql<ServedRow>`
        WITH p AS (
          SELECT * FROM unnest(${periods.map((p) => p.period)}::text[], ${periods.map((p) => p.start.toISOString())}::timestamptz[],
                               ${periods.map((p) => p.end.toISOString())}::timestamptz[]) AS p(period, start_at, end_at)
        ), latest AS (
          SELECT DISTINCT ON (workload_id, cluster_id) workload_id, cluster_id, profile_id
            FROM placements ORDER BY workload_id, cluster_id, created_at DESC, seq DESC
        )
        SELECT c.provider_id, p.period, e.cluster_id, m.name AS model, dp.name AS profile, dp.vendor, rc.id AS rate_card_id,
               e.tenant_id <> ${SHARED_TENANT_ID} AS paid_by_tenants,
               CASE WHEN ${share} THEN e.tenant_id END AS tenant_id,
               CASE WHEN ${share} THEN s.id END AS subscription_id,
               sum(e.std_tokens)::text AS std
          FROM usage_events e
          JOIN p ON e.occurred_at >= p.start_at AND e.occurred_at < p.end_at
          JOIN clusters c ON c.id = e.cluster_id AND c.provider_id IS NOT NULL ${only}
          JOIN models m ON m.id = e.model_id
          LEFT JOIN placements pl ON pl.id = e.placement_id
          LEFT JOIN latest lp ON e.placement_id IS NULL AND lp.workload_id = e.workload_id AND lp.cluster_id = e.cluster_id
          LEFT JOIN device_profiles dp ON dp.id = coalesce(pl.profile_id, lp.profile_id)
          LEFT JOIN provider_rate_cards rc
            ON rc.provider_id = c.provider_id AND rc.valid_from <= e.occurred_at AND (rc.valid_to IS NULL OR rc.valid_to > e.occurred_at)
          LEFT JOIN subscriptions s
            ON s.tenant_id = e.tenant_id AND s.starts_at <= e.occurred_at AND (s.ends_at IS NULL OR s.ends_at > e.occurred_at)
         WHERE e.seq < ${through.seq}
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`.execute(tx);
      return r.rows;
    });
  }

  /**
   * (provider, period) pairs among the closed `periods` whose providers' clusters served usage
   * committed after it was last paid for (not below `provider_billing.billed_through_seq`, or, never
   * paid, the period's first close's `cutoff_seq`) and below the watermark `through`: the same
   * rule as late usage on invoices (BillingRepository.lateUsage).
   */
  async lateServed(periods: readonly { period: string; start: Date; end: Date }[], through: Watermark): Promise<{ provider_id: string; period: string }[]> {
    if (periods.length === 0) return [];
    const r = await sql<{ provider_id: string; period: string }>`
      WITH p AS (
        SELECT * FROM unnest(${periods.map((p) => p.period)}::text[], ${periods.map((p) => p.start.toISOString())}::timestamptz[],
                             ${periods.map((p) => p.end.toISOString())}::timestamptz[]) AS p(period, start_at, end_at)
      )
      SELECT DISTINCT c.provider_id, p.period
        FROM usage_events e
        JOIN p ON e.occurred_at >= p.start_at AND e.occurred_at < p.end_at
        JOIN billing_closes bc ON bc.period = p.period
        JOIN clusters c ON c.id = e.cluster_id AND c.provider_id IS NOT NULL
        LEFT JOIN provider_billing b ON b.provider_id = c.provider_id AND b.period = p.period
       WHERE e.seq < ${through.seq} AND e.seq >= coalesce(b.billed_through_seq, bc.cutoff_seq)`.execute(this.db);
    return r.rows;
  }

  /** What each (provider, period) has been paid so far, per line key. */
  async paid(keys: readonly { providerId: string; period: string }[]): Promise<Map<string, Record<string, { amount: string; std: string }>>> {
    if (keys.length === 0) return new Map();
    const rows = await sql<{ provider_id: string; period: string; paid: Record<string, { amount: string; std: string }> }>`
      SELECT b.provider_id, b.period, b.paid FROM provider_billing b
        JOIN unnest(${keys.map((k) => k.providerId)}::text[], ${keys.map((k) => k.period)}::text[]) AS k(provider_id, period)
          ON k.provider_id = b.provider_id AND k.period = b.period`.execute(this.db);
    return new Map(rows.rows.map((r) => [`${r.provider_id}/${r.period}`, r.paid]));
  }

  /**
   * Issues statements of one period in one transaction: numbers `PST-YYYY-NNNNNN`, the statements,
   * their journal entries (provider costs debited, the provider's payable credited:
   * billing/ledger.ts `statementEntry`), and what has been paid per line key (below the watermark
   * `through`). Answers false, having written nothing, when a provider of the batch already has a
   * statement for the period (a concurrent close issued it first): a statement posts once.
   */
  async issue(period: string, statements: readonly NewStatement[], through: Watermark, now: Date): Promise<boolean> {
    if (statements.length === 0) return true;
    const year = Number(period.slice(0, 4));
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('statement_counters')
          .values({ year, last: 0 })
          .onConflict((oc) => oc.column('year').doNothing())
          .execute();
        const counter = await tx
          .updateTable('statement_counters')
          .set({ last: sql`last + ${statements.length}` })
          .where('year', '=', year)
          .returning('last')
          .executeTakeFirstOrThrow();
        const first = counter.last - statements.length + 1;
        const rows = statements.map((s, i) => ({
          id: s.id,
          number: `PST-${year}-${String(first + i).padStart(6, '0')}`,
          provider_id: s.providerId,
          period,
          currency: 'CNY',
          total: s.total,
          vat: s.vat,
          total_inclusive: s.totalInclusive,
          lines: JSON.stringify(s.lines),
          cutoff: through.at,
          cutoff_seq: through.seq,
          issued_at: now,
        }));
        for (let i = 0; i < rows.length; i += 1000)
          await tx
            .insertInto('provider_statements')
            .values(rows.slice(i, i + 1000))
            .execute();
        const entries = rows.flatMap(
          (r) =>
            statementEntry({
              statementId: r.id,
              providerId: r.provider_id,
              total: r.total,
              vat: r.vat,
              totalInclusive: r.total_inclusive,
              description: `statement ${r.number} for ${period}`,
              bookedAt: now,
            }) ?? [],
        );
        await writeEntries(tx, entries, now);
        const paid = statements.flatMap((s) =>
          s.paid.map((p) => ({
            provider_id: s.providerId,
            period: p.period,
            billed_through: through.at,
            billed_through_seq: through.seq,
            paid: JSON.stringify(p.paid),
          })),
        );
        for (let i = 0; i < paid.length; i += 1000)
          await tx
            .insertInto('provider_billing')
            .values(paid.slice(i, i + 1000))
            .onConflict((oc) =>
              oc.columns(['provider_id', 'period']).doUpdateSet((eb) => ({
                billed_through: eb.ref('excluded.billed_through'),
                billed_through_seq: eb.ref('excluded.billed_through_seq'),
                paid: eb.ref('excluded.paid'),
              })),
            )
            .execute();
        await attachSlaCredits(tx, statements);
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Issue 15: SLA credits invoices carried, whose responsible cluster belongs to a provider now, on no statement yet. */
  async unstatedSlaCredits(): Promise<UnstatedSlaCredit[]> {
    const r = await sql<UnstatedSlaCredit>`
      SELECT s.workload_id, s.period, s.subscription_id, s.cluster_id, cl.provider_id, coalesce(m.name, w.model_id) AS model,
             s.amount::text AS amount, s.short_minutes, c.amount::text AS credit_amount, c.description
        FROM sla_credit_shares s
        JOIN sla_credits c ON c.workload_id = s.workload_id AND c.period = s.period AND c.subscription_id = s.subscription_id
        JOIN clusters cl ON cl.id = s.cluster_id AND cl.provider_id IS NOT NULL
        JOIN workloads w ON w.id = s.workload_id
        LEFT JOIN models m ON m.id = w.model_id
       WHERE c.invoice_id IS NOT NULL AND s.statement_id IS NULL
       ORDER BY s.period, s.workload_id, s.subscription_id, s.cluster_id`.execute(this.db);
    return r.rows;
  }

  listStatements(filter: { providerId?: string | undefined; period?: string | undefined }, page: PageRequest): Promise<StatementRow[]> {
    let q = this.db.selectFrom('provider_statements').selectAll();
    if (filter.providerId) q = q.where('provider_id', '=', filter.providerId);
    if (filter.period) q = q.where('period', '=', filter.period);
    return q.$call(onePage(page)).execute();
  }

  periodStatements(period: string): Promise<StatementRow[]> {
    return this.db.selectFrom('provider_statements').selectAll().where('period', '=', period).orderBy('seq').execute();
  }

  getStatement(id: string): Promise<StatementRow | undefined> {
    return this.db.selectFrom('provider_statements').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Usage of one period on every cluster (with a provider or not), per provider, cluster, model,
   * tenant and subscription, whenever received: what the settlement report attributes receivables by.
   */
  async servedByAll(p: { period: string; start: Date; end: Date }): Promise<ServedByAllRow[]> {
    const r = await sql<ServedByAllRow>`
      SELECT c.provider_id, ${p.period}::text AS period, e.cluster_id, m.name AS model, e.tenant_id, s.id AS subscription_id, sum(e.std_tokens)::text AS std
        FROM usage_events e
        JOIN clusters c ON c.id = e.cluster_id
        JOIN models m ON m.id = e.model_id
        LEFT JOIN LATERAL (
          SELECT id FROM subscriptions s
           WHERE s.tenant_id = e.tenant_id AND s.starts_at <= e.occurred_at AND (s.ends_at IS NULL OR s.ends_at > e.occurred_at)
           LIMIT 1) s ON true
       WHERE e.occurred_at >= ${p.start} AND e.occurred_at < ${p.end}
       GROUP BY c.provider_id, e.cluster_id, m.name, e.tenant_id, s.id`.execute(this.db);
    return r.rows;
  }

  allProviders(): Promise<ProviderRow[]> {
    return this.db.selectFrom('providers').selectAll().orderBy('seq').execute();
  }

  /** Every tenant's current rating of each of `periods` (usage_billing), for revenue shares. */
  async tenantRatings(periods: readonly string[]): Promise<{ tenant_id: string; period: string; rating: unknown }[]> {
    if (periods.length === 0) return [];
    return this.db
      .selectFrom('usage_billing')
      .select(['tenant_id', 'period', 'rating'])
      .where('period', 'in', [...periods])
      .execute();
  }

  /** A period's invoices (receivables): tenant, lines (with subscription ids) and total. */
  periodInvoices(period: string): Promise<{ id: string; number: string; tenant_id: string; lines: unknown; total: string; vat: string }[]> {
    return this.db.selectFrom('invoices').select(['id', 'number', 'tenant_id', 'lines', 'total', 'vat']).where('period', '=', period).orderBy('seq').execute();
  }
}

/**
 * Marks the shares of SLA credits the statements carry as carried, in their transaction; one another
 * statement carried meanwhile fails the batch as a unique violation would (the close goes again).
 */
async function attachSlaCredits(tx: Transaction<DB>, statements: readonly NewStatement[]): Promise<void> {
  const keys = statements.flatMap((st) => (st.slaCredits ?? []).map((k) => ({ ...k, statementId: st.id })));
  if (keys.length === 0) return;
  const r = await sql`
    UPDATE sla_credit_shares c SET statement_id = k.statement_id
      FROM unnest(${keys.map((k) => k.workloadId)}::text[], ${keys.map((k) => k.period)}::text[], ${keys.map((k) => k.subscriptionId)}::text[],
                  ${keys.map((k) => k.clusterId)}::text[], ${keys.map((k) => k.statementId)}::text[]) AS k(workload_id, period, subscription_id, cluster_id, statement_id)
     WHERE c.workload_id = k.workload_id AND c.period = k.period AND c.subscription_id = k.subscription_id AND c.cluster_id = k.cluster_id
       AND c.statement_id IS NULL`.execute(tx);
  if (Number(r.numAffectedRows ?? 0) !== keys.length)
    throw Object.assign(new Error('An SLA credit was carried by another statement meanwhile'), { code: '23505' });
}
