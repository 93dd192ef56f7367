import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import { thresholdsReached } from '../billing/budgets.js';
import { roundHalfUpToFen } from '../billing/rating.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlertRow, BudgetRow, BudgetsRepository } from '../repositories/budgets.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { BillingService } from './billing.service.js';
import { assertAdministers, assertOwns, scopeTenant } from '../auth/policy.js';

export interface Budget {
  readonly tenantId: string;
  readonly monthlyCny: string;
  /** Percentages of the budget that raise an alert when spending this month reaches them. */
  readonly thresholds: readonly number[];
  readonly updatedAt: string;
}

export interface Alert {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: 'budget';
  readonly period: string;
  readonly threshold: number;
  readonly costSoFar: string;
  readonly budget: string;
  readonly message: string;
  readonly createdAt: string;
}

function toBudget(r: BudgetRow): Budget {
  return { tenantId: r.tenant_id, monthlyCny: roundHalfUpToFen(r.monthly_cny), thresholds: r.thresholds, updatedAt: r.updated_at.toISOString() };
}

function toAlert(r: AlertRow): Alert {
  const amount = roundHalfUpToFen(r.amount);
  const budget = roundHalfUpToFen(r.budget);
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: 'budget',
    period: r.period,
    threshold: r.threshold,
    costSoFar: amount,
    budget,
    message: `spending in ${r.period} reached ${r.threshold}% of the monthly budget: ¥${amount} (inclusive of VAT) of ¥${budget}`,
    createdAt: r.created_at.toISOString(),
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
    assertOwns(principal, tenantId, 'No tenant has this id.');
    if (!(await this.tenants.get(tenantId))) throw new AppError('not_found', 'No tenant has this id.');
  }

  /** Sets a tenant's budget: the operator, or the tenant's admins (a member: 403). */
  async set(principal: Principal, tenantId: string, input: { monthlyCny: string; thresholds: readonly number[] }): Promise<Budget> {
    await this.visibleTenant(principal, tenantId);
    assertAdministers(principal, tenantId, "Only the tenant's admins may set its budget.");
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

  /** Removes a tenant's budget: the operator, or the tenant's admins (a member: 403). */
  async remove(principal: Principal, tenantId: string): Promise<void> {
    await this.visibleTenant(principal, tenantId);
    assertAdministers(principal, tenantId, "Only the tenant's admins may remove its budget.");
    if (!(await this.repo.remove(tenantId))) throw new AppError('not_found', 'This tenant has no budget.');
  }

  async alerts(principal: Principal, tenantId: string | undefined, page: PageRequest): Promise<Page<Alert>> {
    const who = scopeTenant(principal, tenantId);
    return toPage(await this.repo.listAlerts(who, page), page.limit, toAlert);
  }

  /**
   * Raises an alert for every threshold this month's cost so far, inclusive of VAT (what the tenant
   * will pay, as the prepaid stop counts it), has reached (`thresholdsReached`),
   * once per tenant, threshold and month; reads the costs of all the budgets' tenants together.
   * Answers how many alerts it raised now.
   */
  async evaluate(tenantIds?: readonly string[]): Promise<number> {
    const budgets = (await this.repo.all()).filter((b) => !tenantIds || tenantIds.includes(b.tenant_id));
    const soFarOf = await this.billing.periodsSoFar(budgets.map((b) => b.tenant_id));
    let raised = 0;
    for (const b of budgets) {
      const soFar = soFarOf.get(b.tenant_id)!;
      const spent = soFar.costSoFarInclusive;
      for (const t of thresholdsReached(b.monthly_cny, b.thresholds, spent)) {
        const fresh = await this.repo.raise({
          id: this.ids.next('alert'),
          tenantId: b.tenant_id,
          kind: 'budget',
          period: soFar.period,
          threshold: t,
          amount: spent,
          budget: b.monthly_cny,
          now: this.clock.now(),
        });
        if (fresh) {
          raised++;
          this.log.warn('budget threshold crossed', { tenantId: b.tenant_id, period: soFar.period, threshold: t, costSoFar: spent });
        }
      }
    }
    return raised;
  }
}
