import type { Priority } from '../../scheduler/framework/types.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { hashToken, newToken, TOKEN_PREFIX, type IdGenerator } from '../auth/tokens.js';
import type { EventBus } from '../events.js';
import type { Principal } from '../auth/authenticate.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { ApiKeyRow, NewApiKey, TenantRow, TenantsRepository } from '../repositories/tenants.repository.js';
import { assertAdministers, assertOwns, owns } from '../auth/policy.js';

export type TenantKind = 'government' | 'enterprise';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly kind: TenantKind;
  readonly maxStdPerMin: number | null;
  /** Fair-share weight (operator-set, default 1): a tenant of weight 2 is entitled to twice the share. */
  readonly weight: number;
  /** The highest workload priority the tenant may use (operator-set, default `normal`). */
  readonly maxPriority: Priority;
  readonly createdAt: string;
}

/** What an operator may change on a tenant; fields left out stay as they are. */
export interface TenantChanges {
  readonly maxStdPerMin?: number | null;
  readonly weight?: number;
  readonly maxPriority?: Priority;
}

/** What a key may do: `admin` also manages the tenant's keys, users and budget. */
export type KeyRole = 'admin' | 'member';

export interface ApiKey {
  readonly id: string;
  readonly tenantId: string;
  readonly prefix: string;
  readonly role: KeyRole;
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
    createdAt: r.created_at.toISOString(),
  };
}

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    prefix: r.key_prefix,
    role: r.role,
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}

function mintKey(ids: IdGenerator, role: KeyRole): NewApiKey & { key: string } {
  const key = newToken(TOKEN_PREFIX.apiKey);
  return { id: ids.next('key'), key, hash: hashToken(key), prefix: key.slice(0, TOKEN_PREFIX.apiKey.length + 6), role };
}

/**
 * Tenants and API keys. Keys are shown once, when made; only their hashes are kept. A tenant's
 * first key is an admin key (it is the tenant's only credential); later keys are members unless
 * made as admins. Only the tenant's admins (and the operator) make and revoke keys, except that
 * any key may revoke itself. Emits
 * `credential.revoked` when a key stops working, so cached credentials are dropped.
 */
export class TenantsService {
  constructor(
    private readonly repo: TenantsRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly events: EventBus,
  ) {}

  async create(input: { name: string; kind: TenantKind; weight?: number }): Promise<Tenant & { apiKey: string; apiKeyId: string }> {
    const now = this.clock.now();
    const key = mintKey(this.ids, 'admin');
    const { tenant } = await this.repo.insertWithKey(
      { id: this.ids.next('tn'), name: input.name, kind: input.kind, ...(input.weight === undefined ? {} : { weight: input.weight }), now },
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

  /** An operator's change to a tenant: its quota override, fair-share weight and highest priority. */
  async update(id: string, changes: TenantChanges): Promise<Tenant> {
    const row = await this.repo.update(id, changes);
    if (!row) throw new AppError('not_found', 'No tenant has this id.');
    return toTenant(row);
  }

  async createKey(principal: Principal, tenantId: string, input: { role?: KeyRole | undefined } = {}): Promise<ApiKey & { key: string }> {
    await this.get(principal, tenantId);
    assertAdministers(principal, tenantId, "Only the tenant's admins may make API keys.");
    const now = this.clock.now();
    const key = mintKey(this.ids, input.role ?? 'member');
    const row = await this.repo.insertKey(tenantId, key, now);
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
