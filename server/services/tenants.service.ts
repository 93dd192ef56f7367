import type { Priority } from '../../scheduler/framework/types.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { hashToken, newToken, TOKEN_PREFIX, type IdGenerator } from '../auth/tokens.js';
import type { EventBus } from '../events.js';
import type { Principal } from '../auth/authenticate.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { ApiKeyRow, KeyLimits, NewApiKey, RequestRates, TenantRow, TenantsRepository } from '../repositories/tenants.repository.js';
import { assertAdministers, assertOwns, owns } from '../auth/policy.js';

export type TenantKind = 'government' | 'enterprise';

/** `prepaid`: draws on a topped-up balance, stopped at zero by the gateway; `postpaid`: invoiced monthly. */
export type BillingMode = 'prepaid' | 'postpaid';

/** The billing mode a new tenant gets unless the operator chooses: enterprises prepay, government is invoiced. */
export function defaultBillingMode(kind: TenantKind): BillingMode {
  return kind === 'enterprise' ? 'prepaid' : 'postpaid';
}

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly kind: TenantKind;
  readonly maxStdPerMin: number | null;
  /** Fair-share weight (operator-set, default 1): a tenant of weight 2 is entitled to twice the share. */
  readonly weight: number;
  /** The highest workload priority the tenant may use (operator-set, default `normal`). */
  readonly maxPriority: Priority;
  /** Operator-set requests per minute across the tenant's credentials; null: the platform default. */
  readonly rpm: number | null;
  /** Operator-set model tokens per minute at the token gateway; null: none. */
  readonly tpm: number | null;
  /** Operator-chosen; default from `kind` (defaultBillingMode). */
  readonly billingMode: BillingMode;
  /** Unified social credit code; null: not given. */
  readonly uscc: string | null;
  readonly createdAt: string;
}

/** What an operator may change on a tenant; fields left out stay as they are, null clears. */
export interface TenantChanges {
  readonly maxStdPerMin?: number | null;
  readonly weight?: number;
  readonly maxPriority?: Priority;
  readonly rpm?: number | null;
  readonly tpm?: number | null;
  readonly billingMode?: BillingMode;
  readonly uscc?: string | null;
}

/** What a new key may carry (API.md v2); everything is optional. `allowedModels` must be in the catalog, `expiresAt` in the future. */
export interface NewKeyInput extends KeyLimits {
  readonly role?: KeyRole | undefined;
}

/** What a key may do: `admin` also manages the tenant's keys, users and budget. */
export type KeyRole = 'admin' | 'member';

export interface ApiKey {
  readonly id: string;
  readonly tenantId: string;
  readonly prefix: string;
  readonly role: KeyRole;
  readonly name: string | null;
  /** Model names the key may call at the token gateway; null: every model. */
  readonly allowedModels: readonly string[] | null;
  /** When the key stops authenticating; null: never. */
  readonly expiresAt: string | null;
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly maxConcurrent: number | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export function toTenant(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as TenantKind,
    maxStdPerMin: r.max_std_per_min,
    weight: r.weight,
    maxPriority: r.max_priority as Priority,
    rpm: r.rpm,
    tpm: r.tpm,
    billingMode: r.billing_mode as BillingMode,
    uscc: r.uscc,
    createdAt: r.created_at.toISOString(),
  };
}

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    prefix: r.key_prefix,
    role: r.role,
    name: r.name,
    allowedModels: r.allowed_models,
    expiresAt: r.expires_at?.toISOString() ?? null,
    rpm: r.rpm,
    tpm: r.tpm,
    maxConcurrent: r.max_concurrent,
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}

function mintKey(ids: IdGenerator, role: KeyRole): NewApiKey & { key: string } {
  const key = newToken(TOKEN_PREFIX.apiKey);
  return { id: ids.next('key'), key, hash: hashToken(key), prefix: key.slice(0, TOKEN_PREFIX.apiKey.length + 6), role };
}

/** How long a tenant's or key's request rates are used without reading them again (this process's own changes apply at once). */
export const RATES_CACHE_MS = 5000;
const RATES_CACHE_LIMIT = 100_000;

/**
 * Tenants and API keys. Keys are shown once, when made; only their hashes are kept. A tenant's
 * first key is an admin key (it is the tenant's only credential); later keys are members unless
 * made as admins. Only the tenant's admins (and the operator) make and revoke keys, except that
 * any key may revoke itself. Emits
 * `credential.revoked` when a key stops working, so cached credentials are dropped.
 */
export class TenantsService {
  private readonly rates = new Map<string, { rates: Promise<RequestRates | undefined>; until: number }>();

  constructor(
    private readonly repo: TenantsRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly events: EventBus,
    /** The catalog's model names, for a key's `allowedModels`. */
    private readonly modelNames: () => Promise<readonly string[]> = () => Promise.resolve([]),
  ) {}

  async create(input: {
    name: string;
    kind: TenantKind;
    weight?: number | undefined;
    billingMode?: BillingMode | undefined;
    uscc?: string | undefined;
  }): Promise<Tenant & { apiKey: string; apiKeyId: string }> {
    const now = this.clock.now();
    const key = mintKey(this.ids, 'admin');
    const { tenant } = await this.repo.insertWithKey(
      {
        id: this.ids.next('tn'),
        name: input.name,
        kind: input.kind,
        ...(input.weight === undefined ? {} : { weight: input.weight }),
        billingMode: input.billingMode ?? defaultBillingMode(input.kind),
        uscc: input.uscc ?? null,
        now,
      },
      key,
    );
    return { ...toTenant(tenant), apiKey: key.key, apiKeyId: key.id };
  }

  async findByName(name: string): Promise<Tenant | undefined> {
    const row = await this.repo.getByName(name);
    return row && toTenant(row);
  }

  async list(page: PageRequest): Promise<Page<Tenant>> {
    return toPage(await this.repo.list(page), page.limit, toTenant);
  }

  async get(principal: Principal, id: string): Promise<Tenant> {
    assertOwns(principal, id, 'No tenant has this id.');
    const row = await this.repo.get(id);
    if (!row) throw new AppError('not_found', 'No tenant has this id.');
    return toTenant(row);
  }

  /** An operator's change to a tenant: its quota override, fair-share weight, highest priority and rates. */
  async update(id: string, changes: TenantChanges): Promise<Tenant> {
    const row = await this.repo.update(id, changes);
    if (!row) throw new AppError('not_found', 'No tenant has this id.');
    if (changes.rpm !== undefined) this.rates.clear();
    return toTenant(row);
  }

  /**
   * The request rates set on a tenant and on one of its keys (undefined for an unknown tenant),
   * kept for RATES_CACHE_MS so that the request path rarely reads the database: an operator's
   * change on another replica applies within that time.
   */
  async requestRates(tenantId: string, apiKeyId: string | undefined): Promise<RequestRates | undefined> {
    const id = `${tenantId}\n${apiKeyId ?? ''}`;
    const now = this.clock.now().getTime();
    const hit = this.rates.get(id);
    if (hit && hit.until > now) return hit.rates;
    // The read itself is cached: the calls that miss together share it.
    const rates = this.repo.requestRates(tenantId, apiKeyId);
    if (this.rates.size >= RATES_CACHE_LIMIT) this.rates.clear();
    this.rates.set(id, { rates, until: now + RATES_CACHE_MS });
    rates.catch(() => {
      if (this.rates.get(id)?.rates === rates) this.rates.delete(id);
    });
    return rates;
  }

  async createKey(principal: Principal, tenantId: string, input: NewKeyInput = {}): Promise<ApiKey & { key: string }> {
    await this.get(principal, tenantId);
    assertAdministers(principal, tenantId, "Only the tenant's admins may make API keys.");
    const now = this.clock.now();
    if (input.expiresAt !== undefined && input.expiresAt.getTime() <= now.getTime()) {
      throw new AppError('unprocessable', 'The key would already have expired.', [{ path: 'expiresAt', message: 'must be in the future' }]);
    }
    if (input.allowedModels?.length) {
      const known = new Set(await this.modelNames());
      const unknown = input.allowedModels.flatMap((name, i) =>
        known.has(name) ? [] : [{ path: `allowedModels.${i}`, message: `no model is named "${name}"` }],
      );
      if (unknown.length) throw new AppError('unprocessable', 'allowedModels names a model the catalog does not have.', unknown);
    }
    const key = mintKey(this.ids, input.role ?? 'member');
    const row = await this.repo.insertKey(tenantId, key, now, input);
    return { ...toApiKey(row), key: key.key };
  }

  async listKeys(principal: Principal, tenantId: string, page: PageRequest): Promise<Page<ApiKey>> {
    await this.get(principal, tenantId);
    return toPage(await this.repo.listKeys(tenantId, page), page.limit, toApiKey);
  }

  async revokeKey(principal: Principal, id: string): Promise<ApiKey> {
    const row = await this.repo.getKey(id);
    if (!row || !owns(principal, row.tenant_id)) {
      throw new AppError('not_found', 'No API key has this id.');
    }
    const itself = principal.kind === 'tenant' && principal.apiKeyId === id;
    if (!itself) assertAdministers(principal, row.tenant_id, "Only the tenant's admins may revoke its API keys (a key may revoke itself).");
    const revoked = await this.repo.revokeKey(id, this.clock.now());
    this.events.emit('credential.revoked', { kind: 'api_key', apiKeyId: id });
    return toApiKey(revoked!);
  }
}
