import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import { AppError, ignoreConflict } from '../errors.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { PlanRow, PlansRepository, SubscriptionRow } from '../repositories/plans.repository.js';
import type { SettingsRepository } from '../repositories/settings.repository.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { ModelPrices, PlanTerms } from '../billing/rating.js';
import { slaErrors, type SlaTerms } from '../billing/sla.js';
import { DEFAULT_TAX_CODE, vatRateText, type VatTerms } from '../billing/vat.js';
import { assertOwns } from '../auth/policy.js';

/** Issue 15: what a plan may add to its terms (README "Per-model prices", "SLA credits"). */
export interface PlanExtras {
  readonly modelPrices?: ModelPrices | undefined;
  readonly sla?: SlaTerms | undefined;
}

/** VAT terms a plan may be created with; absent: the server's default rate and tax code. */
interface PlanVatInput {
  readonly vatRate?: string | undefined;
  readonly taxCode?: string | undefined;
}

export type PlanInput = PlanExtras &
  PlanVatInput &
  (
    | { readonly name: string; readonly type: 'unit'; readonly pricePerMillionStd: string; readonly default?: boolean | undefined }
    | {
        readonly name: string;
        readonly type: 'periodic';
        readonly period: 'month';
        readonly fee: string;
        readonly includedStd: number;
        readonly overagePricePerMillionStd: string | null;
        readonly reservedStdPerMin?: number | undefined;
      }
  );

export interface Plan extends PlanExtras {
  readonly id: string;
  readonly name: string;
  readonly type: 'unit' | 'periodic';
  readonly default: boolean;
  readonly pricePerMillionStd?: string;
  readonly period?: string;
  readonly fee?: string;
  readonly includedStd?: number;
  readonly overagePricePerMillionStd?: string | null;
  readonly reservedStdPerMin?: number | null;
  /** VAT rate of the plan's invoice lines (decimal text); its prices are exclusive of VAT. */
  readonly vatRate: string;
  /** Tax classification code of the plan's service (19 digits). */
  readonly taxCode: string;
  readonly createdAt: string;
}

export interface Subscription {
  readonly id: string;
  readonly tenantId: string;
  readonly planId: string;
  readonly planName: string;
  readonly startsAt: string;
  readonly endsAt: string | null;
  readonly createdAt: string;
}

/** Money as API.md shows prices: the stored decimal with at least two places. */
export function money(decimal: string): string {
  const [whole, frac = ''] = decimal.split('.');
  const trimmed = frac.replace(/0+$/, '');
  return `${whole}.${trimmed.padEnd(2, '0')}`;
}

export function toPlan(r: PlanRow): Plan {
  const base = { id: r.id, name: r.name, default: r.is_default, ...vatOf(r), createdAt: r.created_at.toISOString(), ...planExtras(r) };
  if (r.type === 'unit') return { ...base, type: 'unit', pricePerMillionStd: money(r.price_per_million_std!) };
  return {
    ...base,
    type: 'periodic',
    period: r.period!,
    fee: money(r.fee!),
    includedStd: Number(r.included_std!),
    overagePricePerMillionStd: r.overage_price_per_million_std === null ? null : money(r.overage_price_per_million_std),
    reservedStdPerMin: r.reserved_std_per_min,
  };
}

/** The VAT terms of a plan row: its lines' rate and tax classification code. */
export function vatOf(r: PlanRow): VatTerms {
  return { vatRate: vatRateText(r.vat_rate), taxCode: r.tax_code };
}

/** The rating terms of a plan row. */
export function termsOf(r: PlanRow): PlanTerms {
  const prices = modelPricesOf(r);
  const extra = prices ? { modelPrices: prices } : {};
  if (r.type === 'unit') return { type: 'unit', pricePerMillionStd: r.price_per_million_std!, ...extra };
  return { type: 'periodic', fee: r.fee!, includedStd: r.included_std!, overagePricePerMillionStd: r.overage_price_per_million_std, ...extra };
}

// Issue 15: per-model prices and SLA of a plan row (jsonb; PGlite and pg both answer parsed JSON).
function fromJson<T>(v: unknown): T | undefined {
  if (v === null || v === undefined) return undefined;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

/** A plan row's per-model prices; undefined when it has none. */
export function modelPricesOf(r: PlanRow): ModelPrices | undefined {
  const prices = fromJson<ModelPrices>(r.model_prices);
  return prices && Object.keys(prices).length > 0 ? prices : undefined;
}

/** A plan row's SLA; undefined when it promises none. */
export function slaOf(r: PlanRow): SlaTerms | undefined {
  return fromJson<SlaTerms>(r.sla);
}

function planExtras(r: PlanRow): PlanExtras {
  const modelPrices = modelPricesOf(r);
  const sla = slaOf(r);
  return { ...(modelPrices ? { modelPrices } : {}), ...(sla ? { sla } : {}) };
}

function toSubscription(r: SubscriptionRow, planName: string): Subscription {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    planId: r.plan_id,
    planName,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

const DEFAULT_SEEDED = 'default_plan_seeded';

/** Plans and subscriptions (API.md "Tenants, plans, subscriptions"). */
export class PlansService {
  constructor(
    private readonly repo: PlansRepository,
    private readonly tenants: TenantsRepository,
    private readonly settings: SettingsRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** The VAT rate of plans created without one (TOKENPOOL_VAT_RATE). */
    private readonly defaultVatRate: string,
  ) {}

  /** Seeds the built-in pay-as-you-go plan, the default until the operator marks another, once. */
  async seedDefault(): Promise<void> {
    if (await this.settings.get(DEFAULT_SEEDED)) return;
    if (!(await this.repo.getDefault())) {
      await this.repo
        .insert({
          id: this.ids.next('pl'),
          name: 'pay-as-you-go',
          type: 'unit',
          pricePerMillionStd: '2.00',
          period: null,
          fee: null,
          includedStd: null,
          overagePricePerMillionStd: null,
          reservedStdPerMin: null,
          isDefault: true,
          vatRate: this.defaultVatRate,
          taxCode: DEFAULT_TAX_CODE,
          now: this.clock.now(),
        })
        .catch(ignoreConflict);
    }
    await this.settings.put(DEFAULT_SEEDED, this.clock.now().toISOString());
  }

  async create(input: PlanInput): Promise<Plan> {
    await this.checkExtras(input);
    const now = this.clock.now();
    const extras = {
      ...(input.modelPrices && Object.keys(input.modelPrices).length > 0 ? { modelPrices: input.modelPrices } : {}),
      ...(input.sla ? { sla: input.sla } : {}),
    };
    const vat = { vatRate: input.vatRate ?? this.defaultVatRate, taxCode: input.taxCode ?? DEFAULT_TAX_CODE };
    const row = await this.repo.insert(
      input.type === 'unit'
        ? {
            id: this.ids.next('plan'),
            name: input.name,
            type: 'unit',
            pricePerMillionStd: input.pricePerMillionStd,
            period: null,
            fee: null,
            includedStd: null,
            overagePricePerMillionStd: null,
            reservedStdPerMin: null,
            isDefault: input.default ?? false,
            ...vat,
            now,
            ...extras,
          }
        : {
            id: this.ids.next('plan'),
            name: input.name,
            type: 'periodic',
            pricePerMillionStd: null,
            period: input.period,
            fee: input.fee,
            includedStd: String(input.includedStd),
            overagePricePerMillionStd: input.overagePricePerMillionStd,
            reservedStdPerMin: input.reservedStdPerMin ?? null,
            isDefault: false,
            ...vat,
            now,
            ...extras,
          },
    );
    return toPlan(row);
  }

  /**
   * An SLA out of range or with overlapping rows: 400 with the field's path. A model price for a
   * model the catalog lacks: 422 with the field's path (API.md: an unknown model is well-formed but
   * unusable).
   */
  private async checkExtras(input: PlanExtras): Promise<void> {
    const errors = input.sla ? slaErrors(input.sla) : [];
    if (errors.length > 0) throw new AppError('invalid', 'The plan is invalid.', errors);
    const unknown = await this.repo.unknownModels(Object.keys(input.modelPrices ?? {}));
    if (unknown.length > 0) {
      throw new AppError(
        'unprocessable',
        'The plan prices a model the catalog does not have.',
        unknown.map((name) => ({ path: `modelPrices.${name}`, message: 'no model has this name' })),
      );
    }
  }

  async list(page: PageRequest): Promise<Page<Plan>> {
    return toPage(await this.repo.list(page), page.limit, toPlan);
  }

  async get(id: string): Promise<Plan> {
    const row = await this.repo.get(id);
    if (!row) throw new AppError('not_found', 'No plan has this id.');
    return toPlan(row);
  }

  async markDefault(id: string): Promise<Plan> {
    const row = await this.repo.get(id);
    if (!row) throw new AppError('not_found', 'No plan has this id.');
    if (row.type !== 'unit') throw new AppError('unprocessable', 'Only a unit plan can be the default plan.');
    return toPlan((await this.repo.markDefault(id))!);
  }

  async subscribe(tenantId: string, input: { planId: string; startsAt?: Date | undefined }): Promise<Subscription> {
    if (!(await this.tenants.get(tenantId))) throw new AppError('not_found', 'No tenant has this id.');
    const plan = await this.repo.get(input.planId);
    if (!plan) throw new AppError('unprocessable', `No plan has id "${input.planId}".`);
    const now = this.clock.now();
    const row = await this.repo.subscribe({ id: this.ids.next('sub'), tenantId, planId: plan.id, startsAt: input.startsAt ?? now, now });
    return toSubscription(row, plan.name);
  }

  async subscriptions(principal: Principal, tenantId: string, page: PageRequest): Promise<Page<Subscription>> {
    assertOwns(principal, tenantId, 'No tenant has this id.');
    if (!(await this.tenants.get(tenantId))) throw new AppError('not_found', 'No tenant has this id.');
    const plans = new Map((await this.repo.all()).map((p) => [p.id, p.name]));
    return toPage(await this.repo.subscriptionsOf(tenantId, page), page.limit, (r) => toSubscription(r, plans.get(r.plan_id) ?? ''));
  }

  /** The tenant's subscription now, with its plan, or null on the default plan. */
  async current(tenantId: string): Promise<{ subscription: Subscription; plan: Plan } | null> {
    const [row] = await this.repo.activeAt(this.clock.now(), [tenantId]);
    if (!row) return null;
    const plan = (await this.repo.get(row.plan_id))!;
    return { subscription: toSubscription(row, plan.name), plan: toPlan(plan) };
  }
}
