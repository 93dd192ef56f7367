import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { ApiKeysTable, DB, TenantsTable } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { AppError } from '../errors.js';
import { onePage, type PageRequest } from './paging.js';

export type TenantRow = Selectable<TenantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;

export interface NewApiKey {
  readonly id: string;
  readonly hash: string;
  readonly prefix: string;
  readonly role: 'admin' | 'member';
}

/** What a key may carry besides its role (API.md v2); unset fields are stored as null. */
export interface KeyLimits {
  readonly name?: string | undefined;
  readonly allowedModels?: readonly string[] | undefined;
  readonly expiresAt?: Date | undefined;
  readonly rpm?: number | undefined;
  readonly tpm?: number | undefined;
  readonly maxConcurrent?: number | undefined;
}

/** An unrevoked key as the authenticator needs it. */
export interface ActiveKey {
  readonly id: string;
  readonly tenantId: string;
  readonly role: 'admin' | 'member';
  /** null: the key never expires. */
  readonly expiresAt: Date | null;
}

/** The request rates set on a tenant and (for a key) on the key; null where unset. */
export interface RequestRates {
  readonly tenantRpm: number | null;
  readonly keyRpm: number | null;
  /** The token gateway's limits (API.md v2): null when unset. */
  readonly tenantTpm: number | null;
  readonly keyTpm: number | null;
  readonly allowedModels: readonly string[] | null;
  readonly maxConcurrent: number | null;
}

/** The platform's own tenant, which holds the operator's shared workloads (migration 0021). */
export const SHARED_TENANT = { id: 'tn_shared', name: 'Tokenpool shared services', kind: 'government' } as const;

/** Tenants and their API keys (stored as hashes only). */
export class TenantsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Makes the platform's own tenant on first use (it has no key: nobody signs in as it). */
  async ensureSharedTenant(now: Date): Promise<string> {
    await this.db
      .insertInto('tenants')
      .values({ id: SHARED_TENANT.id, name: SHARED_TENANT.name, kind: SHARED_TENANT.kind, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return SHARED_TENANT.id;
  }

  /** Creates a tenant (fair-share weight 1 unless given) with its first API key in one transaction. */
  async insertWithKey(
    t: { id: string; name: string; kind: string; weight?: number; billingMode?: string; uscc?: string | null; now: Date },
    key: NewApiKey,
  ): Promise<{ tenant: TenantRow; key: ApiKeyRow }> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        const tenant = await tx
          .insertInto('tenants')
          .values({
            id: t.id,
            name: t.name,
            kind: t.kind,
            ...(t.weight === undefined ? {} : { weight: t.weight }),
            ...(t.billingMode === undefined ? {} : { billing_mode: t.billingMode }),
            ...(t.uscc ? { uscc: t.uscc } : {}),
            created_at: t.now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const row = await tx
          .insertInto('api_keys')
          .values({ id: key.id, tenant_id: t.id, key_hash: key.hash, key_prefix: key.prefix, role: key.role, created_at: t.now })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { tenant, key: row };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A tenant named "${t.name}", or with this unified social credit code, already exists.`);
      throw err;
    }
  }

  list(page: PageRequest): Promise<TenantRow[]> {
    return this.db.selectFrom('tenants').selectAll().$call(onePage(page)).execute();
  }

  all(): Promise<TenantRow[]> {
    return this.db.selectFrom('tenants').selectAll().orderBy('seq').execute();
  }

  /** Stores each tenant's decayed past use (fair share) as of `at`. */
  async saveFairShare(values: readonly { id: string; stdPerMin: number }[], at: Date): Promise<void> {
    if (values.length === 0) return;
    await sql`
      UPDATE tenants t SET fair_share_std_per_min = v.std, fair_share_at = ${at}
        FROM unnest(${values.map((v) => v.id)}::text[], ${values.map((v) => v.stdPerMin)}::float8[]) AS v(id, std)
       WHERE t.id = v.id`.execute(this.db);
  }

  get(id: string): Promise<TenantRow | undefined> {
    return this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
  }

  getByName(name: string): Promise<TenantRow | undefined> {
    return this.db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Sets the fields given (quota override, fair-share weight, highest priority, rates; null clears); undefined for an unknown tenant. */
  async update(
    id: string,
    changes: {
      maxStdPerMin?: number | null;
      weight?: number;
      maxPriority?: string;
      rpm?: number | null;
      tpm?: number | null;
      billingMode?: string;
      uscc?: string | null;
    },
  ): Promise<TenantRow | undefined> {
    const set: Updateable<TenantsTable> = {};
    if (changes.maxStdPerMin !== undefined) set.max_std_per_min = changes.maxStdPerMin;
    if (changes.weight !== undefined) set.weight = changes.weight;
    if (changes.maxPriority !== undefined) set.max_priority = changes.maxPriority;
    if (changes.rpm !== undefined) set.rpm = changes.rpm;
    if (changes.tpm !== undefined) set.tpm = changes.tpm;
    if (changes.billingMode !== undefined) set.billing_mode = changes.billingMode;
    if (changes.uscc !== undefined) set.uscc = changes.uscc;
    if (Object.keys(set).length === 0) return this.get(id);
    try {
      return await this.db.updateTable('tenants').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', 'Another tenant has this unified social credit code.');
      throw err;
    }
  }

  insertKey(tenantId: string, key: NewApiKey, now: Date, limits: KeyLimits = {}): Promise<ApiKeyRow> {
    return this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        tenant_id: tenantId,
        key_hash: key.hash,
        key_prefix: key.prefix,
        role: key.role,
        created_at: now,
        name: limits.name ?? null,
        allowed_models: limits.allowedModels ? [...limits.allowedModels] : null,
        expires_at: limits.expiresAt ?? null,
        rpm: limits.rpm ?? null,
        tpm: limits.tpm ?? null,
        max_concurrent: limits.maxConcurrent ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  listKeys(tenantId: string, page: PageRequest): Promise<ApiKeyRow[]> {
    return this.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).$call(onePage(page)).execute();
  }

  getKey(id: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Revokes a key once; revoking again keeps the first time. */
  async revokeKey(id: string, now: Date): Promise<ApiKeyRow | undefined> {
    await this.db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    return this.getKey(id);
  }

  /** The unrevoked key with this hash, expired or not (the authenticator judges expiry by its clock). */
  async findActiveKey(hash: string): Promise<ActiveKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'tenant_id', 'role', 'expires_at'])
      .where('key_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { id: row.id, tenantId: row.tenant_id, role: row.role, expiresAt: row.expires_at };
  }

  /**
   * The request rates of a tenant and, when given, of one of its keys; undefined for an unknown
   * tenant. One statement: the request path reads it on every cache miss.
   */
  async requestRates(tenantId: string, apiKeyId: string | undefined): Promise<RequestRates | undefined> {
    const row = await this.db
      .selectFrom('tenants as t')
      .leftJoin('api_keys as k', (j) => j.on('k.id', '=', apiKeyId ?? null).onRef('k.tenant_id', '=', 't.id'))
      .select(['t.rpm', 't.tpm', 'k.rpm as key_rpm', 'k.tpm as key_tpm', 'k.allowed_models', 'k.max_concurrent'])
      .where('t.id', '=', tenantId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      tenantRpm: row.rpm,
      keyRpm: row.key_rpm,
      tenantTpm: row.tpm,
      keyTpm: row.key_tpm,
      allowedModels: row.allowed_models,
      maxConcurrent: row.max_concurrent,
    };
  }
}
