import { Decimal } from 'decimal.js';
import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlertRow, BudgetRow, BudgetsRepository } from '../repositories/budgets.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { BillingService } from './billing.service.js';

export interface Budget {
  readonly tenantId: string;
  readonly monthlyCny: string;
  /** Percentages of the budget that raise an alert when spending this month reaches them. */
  readonly thresholds: readonly number[];
  readonly updatedAt: string;
}

export interface Alert {
  readonly id: string; readonly tenantId: string; readonly kind: 'budget'; readonly period: string;
  readonly threshold: number; readonly costSoFar: string; readonly budget: string; readonly message: string; readonly createdAt: string;
}

function toBudget(r: BudgetRow): Budget {
  return { tenantId: r.tenant_id, monthlyCny: new Decimal(r.monthly_cny).toFixed(2), thresholds: r.thresholds, updatedAt: r.updated_at.toISOString() };
}

function toAlert(r: AlertRow): Alert {
  const amount = new Decimal(r.amount).toFixed(2);
  const budget = new Decimal(r.budget).toFixed(2);
  return {
    id: r.id, tenantId: r.tenant_id, kind: 'budget', period: r.period, threshold: r.threshold, costSoFar: amount, budget,
    message: `spending in ${r.period} reached ${r.threshold}% of the monthly budget: ¥${amount} of ¥${budget}`, createdAt: r.created_at.toISOString(),
  };
}

/** Monthly budgets in CNY with alert thresholds (typically a department's fiscal budget). */
export class BudgetsService {
  constructor(
    private readonly repo: BudgetsRepository,
    private readonly tenants: TenantsRepository,
    private readonly billing: BillingService,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly log: Logger,
  ) {}

  private async visibleTenant(principal: Principal, tenantId: string): Promise<void> {
    if (principal.kind === 'tenant' && principal.tenantId !== tenantId) throw new AppError('not_found', 'No tenant has this id.');
    if (!(await this.tenants.get(tenantId))) throw new AppError('not_found', 'No tenant has this id.');
  }

  async set(principal: Principal, tenantId: string, input: { monthlyCny: string; thresholds: readonly number[] }): Promise<Budget> {
    await this.visibleTenant(principal, tenantId);
    const thresholds = [...new Set(input.thresholds)].sort((a, b) => a - b);
    const budget = toBudget(await this.repo.put(tenantId, input.monthlyCny, thresholds, this.clock.now()));
    await this.evaluate([tenantId]);
    return budget;
  }

  async get(principal: Principal, tenantId: string): Promise<Budget> {
    await this.visibleTenant(principal, tenantId);
    const row = await this.repo.get(tenantId);
    if (!row) throw new AppError('not_found', 'This tenant has no budget.');
    return toBudget(row);
  }

  async remove(principal: Principal, tenantId: string): Promise<void> {
    await this.visibleTenant(principal, tenantId);
    if (!(await this.repo.remove(tenantId))) throw new AppError('not_found', 'This tenant has no budget.');
  }

  async alerts(principal: Principal, tenantId: string | undefined, page: PageRequest): Promise<Page<Alert>> {
    const who = principal.kind === 'tenant' ? principal.tenantId : tenantId;
    return toPage(await this.repo.listAlerts(who, page.after, page.limit), page.limit, toAlert);
  }

  /**
   * Raises an alert for every threshold this month's cost so far has reached, once per tenant,
   * threshold and month. Answers the alerts raised now.
   */
  async evaluate(tenantIds?: readonly string[]): Promise<number> {
    const budgets = (await this.repo.all()).filter((b) => !tenantIds || tenantIds.includes(b.tenant_id));
    let raised = 0;
    for (const b of budgets) {
      const soFar = await this.billing.periodSoFar(b.tenant_id);
      const cost = new Decimal(soFar.costSoFar);
      for (const t of b.thresholds) {
        if (cost.lt(new Decimal(b.monthly_cny).times(t).dividedBy(100))) continue;
        const fresh = await this.repo.raise({
          id: this.ids.next('alert'), tenantId: b.tenant_id, kind: 'budget', period: soFar.period, threshold: t,
          amount: soFar.costSoFar, budget: b.monthly_cny, now: this.clock.now(),
        });
        if (fresh) {
          raised++;
          this.log.warn('budget threshold crossed', { tenantId: b.tenant_id, period: soFar.period, threshold: t, costSoFar: soFar.costSoFar });
        }
      }
    }
    return raised;
  }
}
