import { z } from 'zod';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { idParam, instant, listOf, modelName, pageOf, pageOnlyQuery, timestamp, usccCode } from './schemas.js';

const tenantKind = z.enum(['government', 'enterprise']);

export const billingMode = z.enum(['prepaid', 'postpaid']).meta({
  description:
    'prepaid: the tenant tops up a balance, its invoices are paid from it at the close, and the token gateway stops it (429 insufficient_quota) when the balance less the month so far reaches zero; postpaid: invoiced monthly. Default: enterprise prepaid, government postpaid',
});

const uscc = usccCode.meta({ description: 'Unified social credit code (GB 32100-2015, check characters verified); a bank statement names the payer by it' });

const weight = z
  .number()
  .min(0.01, 'must be at least 0.01')
  .max(1000, 'must be at most 1000')
  .meta({ description: 'Fair-share weight (default 1): within a priority, a tenant of weight 2 is entitled to twice the share of one of weight 1' });

/** Bounds of the rates a key or tenant may carry: generous, and within a 32-bit integer column. */
export const RATE_BOUNDS = { rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrent: 100_000 } as const;

const rate = (max: number, description: string) =>
  z.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`).meta({ description });

const tenantRpm = rate(
  RATE_BOUNDS.rpm,
  "Requests per minute to the API and the token gateway across all the tenant's keys and users (per server process on the API); unset: the platform default (TOKENPOOL_TENANT_RPM)",
);
const tenantTpm = rate(RATE_BOUNDS.tpm, "Model tokens per minute at the token gateway across all the tenant's keys; unset: none");

export const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: tenantKind,
  maxStdPerMin: z.number().int().nullable(),
  weight: z.number().meta({ description: 'Fair-share weight; the operator sets it' }),
  maxPriority: z
    .enum(['high', 'normal', 'low'])
    .meta({ description: 'The highest workload priority the tenant may use; the operator sets it (default normal)' }),
  rpm: tenantRpm.nullable(),
  tpm: tenantTpm.nullable(),
  billingMode,
  uscc: z.string().nullable(),
  createdAt: timestamp,
});

const keyRole = z.enum(['admin', 'member']).meta({
  description:
    "admin: may also manage the tenant's API keys, users and budget; member: everything else. A tenant's first key, and keys made before roles existed, are admin",
});

const keyName = z.string().trim().min(1, 'must not be empty').max(200).meta({ description: 'A name to tell keys apart' });
const allowedModels = z
  .array(modelName)
  .min(1, 'must name at least one model')
  .max(100)
  .refine((names) => new Set(names).size === names.length, 'must not name a model twice')
  .meta({ description: 'The model names the key may call; the token gateway enforces it (403 for any other model). Unset: every model' });
const keyRpm = rate(
  RATE_BOUNDS.rpm,
  "Requests per minute with this key, to the API and the token gateway (per server process on the API), within the tenant's and the platform's; unset: the platform default per key (TOKENPOOL_KEY_RPM)",
);
const keyTpm = rate(RATE_BOUNDS.tpm, 'Model tokens per minute with this key at the token gateway; unset: none');
const maxConcurrent = rate(RATE_BOUNDS.maxConcurrent, 'Requests in flight at once with this key at the token gateway; unset: none');

/** All optional: an empty body, or none, makes a member key with no limits of its own. */
const createKey = z
  .strictObject({
    role: keyRole.optional().meta({ description: 'Default member' }),
    name: keyName.optional(),
    allowedModels: allowedModels.optional(),
    expiresAt: instant.meta({ description: 'When the key stops authenticating (401 from then on); must be in the future (422). Unset: never' }).optional(),
    rpm: keyRpm.optional(),
    tpm: keyTpm.optional(),
    maxConcurrent: maxConcurrent.optional(),
  })
  .optional();

const apiKeySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  prefix: z.string().meta({ description: 'The first characters of the key, to tell keys apart' }),
  role: keyRole,
  name: keyName.nullable(),
  allowedModels: allowedModels.nullable(),
  expiresAt: timestamp.nullable(),
  rpm: keyRpm.nullable(),
  tpm: keyTpm.nullable(),
  maxConcurrent: maxConcurrent.nullable(),
  createdAt: timestamp,
  revokedAt: timestamp.nullable(),
});

const createTenant = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  kind: tenantKind,
  weight: weight.optional(),
  billingMode: billingMode.optional(),
  uscc: uscc.optional(),
});

const patchTenant = z
  .strictObject({
    maxStdPerMin: z
      .number()
      .int('must be a whole number')
      .min(0)
      .max(1e15)
      .nullable()
      .meta({ description: 'Quota override in standard tokens per minute; null removes it' })
      .optional(),
    weight: weight.optional(),
    maxPriority: z
      .enum(['high', 'normal', 'low'])
      .meta({ description: 'The highest workload priority the tenant may use; a create or rescale above it is 403' })
      .optional(),
    rpm: tenantRpm.nullable().optional(),
    tpm: tenantTpm.nullable().optional(),
    billingMode: billingMode.optional(),
    uscc: uscc.nullable().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message: 'give maxStdPerMin, weight, maxPriority, rpm, tpm, billingMode, uscc or several',
    path: ['maxStdPerMin'],
  });

export function tenantRoutes(ctx: AppContext): AnyRoute[] {
  const { tenants } = ctx.services;
  return [
    route({
      method: 'post',
      path: '/api/v1/tenants',
      tag: 'Tenants',
      summary: 'Create a tenant; its first API key is shown only here',
      auth: ['operator'],
      body: createTenant,
      responses: {
        201: { description: 'The tenant and its API key', schema: tenantSchema.extend({ apiKey: z.string(), apiKeyId: z.string() }) },
        409: { description: 'Name taken, or another tenant has this unified social credit code' },
      },
      handler: async ({ body }) => ({ status: 201, body: await tenants.create(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants',
      tag: 'Tenants',
      summary: 'List tenants',
      auth: ['operator'],
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of tenants', schema: listOf(tenantSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await tenants.list(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id',
      tag: 'Tenants',
      summary: 'Get a tenant (a tenant may get itself)',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The tenant', schema: tenantSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await tenants.get(principal, params.id) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/tenants/:id',
      tag: 'Tenants',
      summary: "Set or clear the tenant's quota override and request and token rates (null clears); set its fair-share weight and highest workload priority",
      auth: ['operator'],
      params: idParam,
      body: patchTenant,
      responses: { 200: { description: 'The tenant', schema: tenantSchema }, 409: { description: 'Another tenant has this unified social credit code' } },
      handler: async ({ params, body }) => ({ status: 200, body: await tenants.update(params.id, body) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/tenants/:id/api-keys',
      tag: 'Tenants',
      summary:
        "Create an API key (the operator, or the tenant's admins), optionally named, expiring, and limited in models, rates and concurrency; the key is shown only here. The API enforces expiresAt and rpm; the token gateway enforces allowedModels, rpm, tpm and maxConcurrent",
      auth: ['operator', 'tenant'],
      params: idParam,
      body: createKey,
      responses: {
        201: { description: 'The key', schema: apiKeySchema.extend({ key: z.string() }) },
        403: { description: 'A member of the tenant (only its admins make keys)' },
        422: { description: 'expiresAt not in the future, or allowedModels names a model the catalog does not have' },
      },
      handler: async ({ params, body, principal }) => ({ status: 201, body: await tenants.createKey(principal, params.id, body ?? {}) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id/api-keys',
      tag: 'Tenants',
      summary: "List a tenant's API keys (never the keys themselves)",
      auth: ['operator', 'tenant'],
      params: idParam,
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of keys', schema: listOf(apiKeySchema) } },
      handler: async ({ params, query, principal }) => ({ status: 200, body: await tenants.listKeys(principal, params.id, pageOf(query)) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/api-keys/:id',
      tag: 'Tenants',
      summary: "Revoke an API key (the operator, the tenant's admins, or the key itself)",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The revoked key', schema: apiKeySchema }, 403: { description: "A member revoking another of the tenant's keys" } },
      handler: async ({ params, principal }) => ({ status: 200, body: await tenants.revokeKey(principal, params.id) }),
    }),
  ];
}
