import type { Kysely, Selectable } from 'kysely';
import type { DB, PlansTable, SubscriptionsTable } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { AppError } from '../errors.js';
import { onePage, type PageRequest } from './paging.js';

export type PlanRow = Selectable<PlansTable>;
export type SubscriptionRow = Selectable<SubscriptionsTable>;

export interface NewPlan {
  readonly id: string;
  readonly name: string;
  readonly type: 'unit' | 'periodic';
  readonly pricePerMillionStd: string | null;
  readonly period: string | null;
  readonly fee: string | null;
  readonly includedStd: string | null;
  readonly overagePricePerMillionStd: string | null;
  readonly reservedStdPerMin: number | null;
  readonly isDefault: boolean;
  /** VAT rate, decimal text (0 ≤ rate < 1). */
  readonly vatRate: string;
  /** Tax classification code, 19 digits. */
  readonly taxCode: string;
  readonly now: Date;
  /** Issue 15 (migration 0032): model name → price, and the SLA; absent: none. */
  readonly modelPrices?: unknown;
  readonly sla?: unknown;
}

/** Plans and subscriptions. A tenant's subscriptions never overlap: each ends where the next starts. */
export class PlansRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(p: NewPlan): Promise<PlanRow> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        if (p.isDefault) await tx.updateTable('plans').set({ is_default: false }).where('is_default', '=', true).execute();
        return tx
          .insertInto('plans')
          .values({
            id: p.id,
            name: p.name,
            type: p.type,
            price_per_million_std: p.pricePerMillionStd,
            period: p.period,
            fee: p.fee,
            included_std: p.includedStd,
            overage_price_per_million_std: p.overagePricePerMillionStd,
            reserved_std_per_min: p.reservedStdPerMin,
            is_default: p.isDefault,
            vat_rate: p.vatRate,
            tax_code: p.taxCode,
            created_at: p.now,
            ...(p.modelPrices === undefined ? {} : { model_prices: JSON.stringify(p.modelPrices) }),
            ...(p.sla === undefined ? {} : { sla: JSON.stringify(p.sla) }),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A plan named "${p.name}" already exists.`);
      throw err;
    }
  }

  /** The names among `names` that no model of the catalog has. */
  async unknownModels(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const known = new Set((await this.db.selectFrom('models').select('name').where('name', 'in', names).execute()).map((r) => r.name));
    return names.filter((n) => !known.has(n));
  }

  list(page: PageRequest): Promise<PlanRow[]> {
    return this.db.selectFrom('plans').selectAll().$call(onePage(page)).execute();
  }

  all(): Promise<PlanRow[]> {
    return this.db.selectFrom('plans').selectAll().orderBy('seq').execute();
  }

  get(id: string): Promise<PlanRow | undefined> {
    return this.db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
  }

  getDefault(): Promise<PlanRow | undefined> {
    return this.db.selectFrom('plans').selectAll().where('is_default', '=', true).executeTakeFirst();
  }

  /** Marks a unit plan the default; the previous default stops being one, atomically. */
  async markDefault(id: string): Promise<PlanRow | undefined> {
    return this.db.transaction().execute(async (tx) => {
      await tx.updateTable('plans').set({ is_default: false }).where('is_default', '=', true).where('id', '!=', id).execute();
      return tx.updateTable('plans').set({ is_default: true }).where('id', '=', id).returningAll().executeTakeFirst();
    });
  }

  /**
   * Adds a subscription that ends the tenant's latest one at its start. Refuses (409) one that
   * would not start after every existing subscription of the tenant starts.
   */
  async subscribe(s: { id: string; tenantId: string; planId: string; startsAt: Date; now: Date }): Promise<SubscriptionRow> {
    return this.db.transaction().execute(async (tx) => {
      // Serialise subscription changes of one tenant.
      await tx.selectFrom('tenants').select('id').where('id', '=', s.tenantId).forUpdate().execute();
      const latest = await tx
        .selectFrom('subscriptions')
        .selectAll()
        .where('tenant_id', '=', s.tenantId)
        .orderBy('starts_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (latest && latest.starts_at.getTime() >= s.startsAt.getTime()) {
        throw new AppError('conflict', `The tenant already has a subscription starting ${latest.starts_at.toISOString()}; a new one must start after it.`);
      }
      if (latest && (latest.ends_at === null || latest.ends_at.getTime() > s.startsAt.getTime())) {
        await tx.updateTable('subscriptions').set({ ends_at: s.startsAt }).where('id', '=', latest.id).execute();
      }
      return tx
        .insertInto('subscriptions')
        .values({
          id: s.id,
          tenant_id: s.tenantId,
          plan_id: s.planId,
          starts_at: s.startsAt,
          ends_at: null,
          created_at: s.now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  subscriptionsOf(tenantId: string, page: PageRequest): Promise<SubscriptionRow[]> {
    return this.db.selectFrom('subscriptions').selectAll().where('tenant_id', '=', tenantId).$call(onePage(page)).execute();
  }

  /** The subscription of each tenant active at `at` (none for tenants on the default plan). */
  activeAt(at: Date, tenantIds?: readonly string[]): Promise<SubscriptionRow[]> {
    let q = this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('starts_at', '<=', at)
      .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', at)]));
    if (tenantIds) {
      if (tenantIds.length === 0) return Promise.resolve([]);
      q = q.where('tenant_id', 'in', tenantIds);
    }
    return q.execute();
  }

  /** Subscriptions of any tenant that overlap [start, end). */
  overlapping(start: Date, end: Date): Promise<SubscriptionRow[]> {
    return this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('starts_at', '<', end)
      .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', start)]))
      .orderBy('tenant_id')
      .orderBy('starts_at')
      .execute();
  }
}
