import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { route, type AnyRoute } from './route.js';

// PostgreSQL text cannot hold NUL; refused here rather than failing the whole batch later.
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\u0000]*$/, 'must not contain NUL characters');
const tokens = z.number().int('must be a whole number').min(0, 'must not be negative').max(1e12, 'must be at most 10^12');
// Kept as text: the service reads the instant once, and a Date per event costs more than the rest of the validation.
const rfc3339 = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 time with an offset' });
const instant = rfc3339.transform((s) => new Date(s));

// Body of `POST /api/v1/agent/usage` (API.md "Usage"); anything else is a 400 for the whole batch.
const usageBatchSchema = z.strictObject({
  events: z
    .array(
      z.strictObject({
        id: text(200).meta({
          description: 'Idempotency key: an id seen before from this cluster is counted once, ever (ids are scoped to the reporting cluster)',
        }),
        workloadId: text(200),
        inputTokens: tokens,
        outputTokens: tokens,
        occurredAt: rfc3339.meta({ description: 'At most 90 days ago and at most 5 minutes ahead, else rejected as out_of_window' }),
      }),
    )
    .min(1, 'must hold at least one event')
    .max(10_000, 'at most 10,000 events a request'),
});

const sums = {
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  stdTokens: z.string().meta({ description: 'Standard tokens, an exact decimal' }),
};

/** `POST /api/v1/agent/usage` (agents report token usage) and `GET /api/v1/usage` (usage reports). */
export function usageRoutes(ctx: AppContext): AnyRoute[] {
  const { usage } = ctx.services;
  const { usageLatency } = ctx.metrics;
  return [
    route({
      method: 'post',
      path: '/api/v1/agent/usage',
      tag: 'Agents',
      auth: ['agent'],
      summary: 'Report token usage of workloads placed on this cluster, now or before (each event id counts once per cluster, ever)',
      body: usageBatchSchema,
      responses: {
        200: {
          description: 'Answered once the accepted events are committed; rejected events are not remembered',
          schema: z.object({
            accepted: z.number().int(),
            duplicates: z.number().int(),
            rejected: z.array(
              z.object({
                id: z.string(),
                reason: z.enum(['out_of_window', 'unknown_workload', 'not_placed_on_this_cluster', 'implausible']).meta({
                  description:
                    'implausible: more model tokens (outputTokens + inputFactor × inputTokens) than every placement the workload has or had on this cluster could produce in 90 days and 5 minutes',
                }),
              }),
            ),
          }),
        },
      },
      handler: async ({ body, principal }) => {
        if (principal.kind !== 'agent') throw new AppError('forbidden', 'Only a cluster agent reports usage.');
        const end = usageLatency.startTimer();
        try {
          return { status: 200, body: await usage.ingest(principal.clusterId, body.events) };
        } finally {
          end();
        }
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/usage',
      tag: 'Usage',
      auth: ['tenant', 'operator'],
      summary: 'Usage totals, by model, by day (days in TOKENPOOL_TIMEZONE), by API key and by tenant; a tenant sees its own, the operator any or all',
      query: z.strictObject({
        from: instant.optional().meta({ description: 'Inclusive; default: the start of the current billing period' }),
        to: instant.optional().meta({ description: 'Exclusive; default: the end of the current billing period' }),
        tenantId: z.string().min(1).max(200).optional().meta({ description: 'A tenant may name only itself; the operator gets all tenants without it' }),
        apiKeyId: text(200).optional().meta({
          description: "Only the usage made through this API key (revoked keys too); a key that is not the caller's to see has no usage here (sums of 0)",
        }),
      }),
      responses: {
        200: {
          description: 'Usage of events that occurred in [from, to)',
          schema: z.object({
            from: z.string(),
            to: z.string(),
            tenantId: z.string().optional(),
            apiKeyId: z.string().optional().meta({ description: 'The key filtered by, when one was' }),
            ...sums,
            byModel: z.array(z.object({ model: z.string(), ...sums })),
            byDay: z.array(z.object({ day: z.string().meta({ description: 'YYYY-MM-DD in TOKENPOOL_TIMEZONE' }), ...sums })),
            byApiKey: z
              .array(
                z.object({
                  apiKeyId: z.string().nullable().meta({
                    description: "The API key the usage was made through; null for usage made through none (agents' reports, signed-in users' calls)",
                  }),
                  name: z.string().nullable().meta({ description: "The key's name; null when it has none" }),
                  ...sums,
                }),
              )
              .meta({ description: 'Keys in id order, revoked ones too; the usage made through no key last' }),
            byTenant: z
              .array(
                z.object({ tenantId: z.string(), name: z.string().nullable().meta({ description: "The tenant's name; null when its row is gone" }), ...sums }),
              )
              .meta({ description: 'Tenants in id order: every tenant with usage for the operator without tenantId, else the one tenant' }),
          }),
        },
      },
      handler: async ({ query, principal }) => ({ status: 200, body: await usage.report(principal, query) }),
    }),
  ];
}
