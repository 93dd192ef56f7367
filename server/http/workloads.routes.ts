import { z } from 'zod';
import type { AppContext } from '../context.js';
import { PLACEMENT_FAILURE_REASONS, PLACEMENT_PHASES } from '../domain/placement-health.js';
import { PLACEMENT, PlacementState, WORKLOAD } from '../domain/workload-states.js';
import { AppError } from '../errors.js';
import { route, type AnyRoute } from './route.js';
import { idParam, listOf, modelName, pageOf, pageQuery, regionName, timestamp } from './schemas.js';

const priority = z.enum(['high', 'normal', 'low']);
const stateEnum = z.enum(WORKLOAD.states);
const access = z.enum(['gateway', 'direct']);
/** Absurd requests are refused: a billion tokens per minute is far beyond any city pool. */
const tokensPerMin = z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000_000, 'must be at most 1,000,000,000');

const createWorkload = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(128),
  kind: z.string().min(1).max(32).default('service').meta({ description: '`service` (other kinds may come later; an unsupported kind is 422)' }),
  model: modelName,
  tokensPerMin,
  priority: priority.default('normal'),
  regions: z
    .array(regionName)
    .min(1, 'must list at least one region, or be absent for any')
    .max(64)
    .refine((r) => new Set(r).size === r.length, 'must not repeat a region')
    .optional(),
  ha: z.boolean().default(false),
  access: access.default('gateway').meta({
    description:
      "`gateway`: called through the token gateway (`/v1`), which meters every call; `direct`: called on the cluster, billed from its agent's usage reports",
  }),
  shared: z
    .boolean()
    .default(false)
    .meta({ description: 'Operators only: run it for every tenant to call through the gateway, pay-as-you-go (then no `tenantId`)' }),
  tenantId: z.string().min(1).max(64).optional().meta({ description: 'Operators only: the tenant the workload is for' }),
});

const placementSchema = z.object({
  id: z.string(),
  clusterId: z.string(),
  deviceModel: z.string(),
  profile: z.string(),
  replicas: z.number().int(),
  devicesPerReplica: z.number().int(),
  tokensPerMin: z.number(),
  readyReplicas: z.number().int(),
  state: z
    .enum(PLACEMENT.states.filter((s) => s !== PlacementState.released))
    .meta({ description: 'placed and running hold devices; lost: its cluster stopped reporting; failed: its pods could not run past the health deadline' }),
  phase: z
    .enum(PLACEMENT_PHASES)
    .nullable()
    .meta({ description: 'What its pods do, as its agent last reported (pending, starting, running, failing); null: its agent reports no phase' }),
  reason: z.enum(PLACEMENT_FAILURE_REASONS).nullable().meta({ description: 'Why it is failing (or was, when it failed)' }),
  message: z.string().nullable().meta({ description: "The kubelet's or the Kubernetes scheduler's words about it" }),
  desiredReplicas: z.number().int().nullable().meta({ description: 'Replicas its Deployment wants, as its agent reported' }),
  failingSince: timestamp.nullable().meta({ description: 'Since when it has been failing; null when it is not' }),
  failedAt: timestamp.nullable().meta({ description: 'When the platform gave up on it and placed its workload again' }),
});

const MADE_ONLY = {
  id: true,
  readyReplicas: true,
  state: true,
  phase: true,
  reason: true,
  message: true,
  desiredReplicas: true,
  failingSince: true,
  failedAt: true,
} as const;

export const workloadSchema = z.object({
  id: z.string(),
  name: z.string(),
  tenantId: z.string(),
  kind: z.string(),
  model: z.string(),
  tokensPerMin: z.number().int(),
  priority,
  regions: z.array(z.string()).nullable(),
  ha: z.boolean(),
  access,
  shared: z.boolean().meta({ description: "The operator's, for every tenant to call (its tenant is the platform's own)" }),
  state: stateEnum,
  reason: z.enum(['capacity', 'quota', 'plan_exhausted', 'no_compatible_device']).nullable(),
  message: z.string().nullable(),
  placedTokensPerMin: z.number(),
  placements: z.array(placementSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
  deletedAt: timestamp.nullable(),
});

const dryRunSchema = z.object({
  dryRun: z.literal(true),
  placements: z.array(placementSchema.omit(MADE_ONLY)),
  placedTokensPerMin: z.number(),
  preempted: z.array(z.string()).meta({ description: "Workloads that would be preempted: a tenant sees only its own ids, never another tenant's" }),
  preemptedCount: z.number().int().meta({ description: "How many workloads would be preempted, other tenants' included" }),
  reason: z.string().nullable(),
  message: z.string().nullable(),
});

// Issue 15: SLA spells and credits (README "SLA credits").
const workloadSlaSchema = z.object({
  spells: z.array(
    z.object({
      reason: z.enum(['lost', 'failed', 'under_replicated', 'unplaced']),
      placementId: z.string().nullable().meta({ description: 'The placement responsible; null when none is (unplaced)' }),
      clusterId: z.string().nullable(),
      startedAt: timestamp,
      endedAt: timestamp.nullable().meta({ description: 'null while the spell lasts' }),
    }),
  ),
  credits: z.array(
    z.object({
      period: z.string().meta({ description: 'The month measured; the credit is carried by the next invoice' }),
      subscriptionId: z.string(),
      availabilityPercent: z.string(),
      creditPercent: z.string(),
      amount: z.string().meta({ description: 'CNY, negative, two decimals' }),
      invoiceId: z.string().nullable().meta({ description: 'The invoice that carries it; null until issued' }),
    }),
  ),
});

export function workloadRoutes(ctx: AppContext): AnyRoute[] {
  const workloads = ctx.services.workloads;
  return [
    route({
      method: 'post',
      path: '/api/v1/workloads',
      tag: 'Workloads',
      summary: 'Ask for capacity in tokens per minute; placed asynchronously (or a dry run)',
      auth: ['tenant', 'operator'],
      query: z.strictObject({
        dryRun: z.enum(['true', 'false']).optional().meta({ description: '`true`: answer 200 with the placements that would be made now, changing nothing' }),
      }),
      body: createWorkload,
      headers: [
        {
          name: 'Idempotency-Key',
          description: 'Makes a retried create answer the first response again (kept per tenant); the same key with a different body is 422',
        },
      ],
      responses: {
        202: { description: 'Accepted, pending', schema: workloadSchema },
        200: { description: 'Dry run: what would be placed now', schema: dryRunSchema },
        403: { description: "A priority above the tenant's maxPriority" },
        422: { description: 'Unknown model, unsupported kind, or an Idempotency-Key reused with a different body' },
        429: {
          description:
            'Over a request rate, or the tenant already has its most pending workloads (`TOKENPOOL_MAX_PENDING_PER_TENANT`), or too many dry runs are being computed at once (`TOKENPOOL_MAX_CONCURRENT_DRY_RUNS`); `Retry-After` gives the seconds to wait',
        },
      },
      handler: async ({ query, body, principal, header }) => {
        if (query.dryRun === 'true') return { status: 200, body: await workloads.dryRun(principal, body) };
        const key = header('idempotency-key');
        if (key !== undefined && (key.length < 1 || key.length > 255)) {
          throw new AppError('invalid', 'The Idempotency-Key header must have 1 to 255 characters.', [
            { path: 'headers.Idempotency-Key', message: 'must have 1 to 255 characters' },
          ]);
        }
        return { status: 202, body: await workloads.create(principal, body, key) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/workloads',
      tag: 'Workloads',
      summary: 'List workloads (a tenant its own; the operator all, or one tenant with tenantId)',
      auth: ['tenant', 'operator'],
      query: z.strictObject({ ...pageQuery, state: stateEnum.optional(), tenantId: z.string().min(1).max(64).optional() }),
      responses: { 200: { description: 'A page of workloads; deleted ones only with state=deleted', schema: listOf(workloadSchema) } },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await workloads.list(principal, { tenantId: query.tenantId, state: query.state }, pageOf(query)),
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/workloads/:id',
      tag: 'Workloads',
      summary: 'Get a workload',
      auth: ['tenant', 'operator'],
      params: idParam,
      responses: { 200: { description: 'The workload', schema: workloadSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await workloads.get(principal, params.id) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/workloads/:id/sla',
      tag: 'Workloads',
      summary: "A workload's SLA spells (below its reserved throughput, and who was responsible) and the credits they earned",
      auth: ['tenant', 'operator'],
      params: idParam,
      responses: { 200: { description: 'Spells and credits, oldest first', schema: workloadSlaSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await workloads.sla(principal, params.id) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/workloads/:id',
      tag: 'Workloads',
      summary: 'Rescale a workload',
      auth: ['tenant', 'operator'],
      params: idParam,
      body: z.strictObject({ tokensPerMin }),
      responses: {
        200: { description: 'The workload', schema: workloadSchema },
        403: { description: "The workload's priority is above the tenant's maxPriority" },
        409: { description: 'The workload is deleted' },
      },
      handler: async ({ params, body, principal }) => ({ status: 200, body: await workloads.rescale(principal, params.id, body.tokensPerMin) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/workloads/:id',
      tag: 'Workloads',
      summary: 'Delete a workload; its placements are released',
      auth: ['tenant', 'operator'],
      params: idParam,
      responses: { 202: { description: 'The deleted workload', schema: workloadSchema } },
      handler: async ({ params, principal }) => ({ status: 202, body: await workloads.remove(principal, params.id) }),
    }),
  ];
}
