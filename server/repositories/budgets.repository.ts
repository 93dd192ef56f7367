import type { Kysely, Selectable } from 'kysely';
import type { AlertsTable, BudgetsTable, DB } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type BudgetRow = Selectable<BudgetsTable>;
export type AlertRow = Selectable<AlertsTable>;

/** Tenants' monthly budgets and the alerts raised when spending crosses their thresholds. */
export class BudgetsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async put(tenantId: string, monthlyCny: string, thresholds: readonly number[], now: Date): Promise<BudgetRow> {
    return this.db
      .insertInto('budgets')
      .values({ tenant_id: tenantId, monthly_cny: monthlyCny, thresholds: [...thresholds], updated_at: now })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ monthly_cny: monthlyCny, thresholds: [...thresholds], updated_at: now }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  get(tenantId: string): Promise<BudgetRow | undefined> {
    return this.db.selectFrom('budgets').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  }

  all(): Promise<BudgetRow[]> {
    return this.db.selectFrom('budgets').selectAll().execute();
  }

  async remove(tenantId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('budgets').where('tenant_id', '=', tenantId).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  /** Raises an alert once per tenant, kind, period and threshold; answers whether it is new. */
  async raise(a: {
    id: string;
    tenantId: string;
    kind: string;
    period: string;
    threshold: number;
    amount: string;
    budget: string;
    now: Date;
  }): Promise<boolean> {
    const r = await this.db
      .insertInto('alerts')
      .values({
        id: a.id,
        tenant_id: a.tenantId,
        kind: a.kind,
        period: a.period,
        threshold: a.threshold,
        amount: a.amount,
        budget: a.budget,
        created_at: a.now,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'period', 'threshold']).doNothing())
      .executeTakeFirst();
    return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  listAlerts(tenantId: string | undefined, page: PageRequest): Promise<AlertRow[]> {
    let q = this.db.selectFrom('alerts').selectAll();
    if (tenantId) q = q.where('tenant_id', '=', tenantId);
    return q.$call(onePage(page)).execute();
  }
}
