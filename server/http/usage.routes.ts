import { z } from 'zod';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { route, type AnyRoute } from './route.js';

const tokens = z.number().int('must be a whole number').min(0, 'must not be negative').max(1e12);
const instant = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 time with an offset' }).transform((s) => new Date(s));

const usageBody = z.strictObject({
  events: z.array(z.strictObject({
    id: z.string().min(1).max(200),
    workloadId: z.string().min(1).max(64),
    inputTokens: tokens,
    outputTokens: tokens,
    occurredAt: instant,
  })).min(1, 'must hold at least one event').max(10_000, 'at most 10,000 events a request'),
});

const totals = { inputTokens: z.number().int(), outputTokens: z.number().int(), stdTokens: z.string().meta({ description: 'Exact decimal' }) };

export function usageRoutes(ctx: AppContext): AnyRoute[] {
  const { usage } = ctx.services;
  return [
    route({
      method: 'post', path: '/api/v1/agent/usage', tag: 'Agents', summary: 'Report token usage of workloads placed on this cluster (each event id counts once, ever)', auth: ['agent'],
      body: usageBody,
      responses: {
        200: {
          description: 'Counted once the accepted events are committed',
          schema: z.object({ accepted: z.number().int(), duplicates: z.number().int(), rejected: z.array(z.object({ id: z.string(), reason: z.string() })) }),
        },
      },
      handler: async ({ body, principal }) => {
        if (principal.kind !== 'agent') throw new AppError('forbidden', 'Only agents report usage.');
        const end = ctx.metrics.usageLatency.startTimer();
        const answer = await usage.ingest(principal.clusterId, body.events);
        end();
        ctx.metrics.usageEvents.inc({ result: 'accepted' }, answer.accepted);
        ctx.metrics.usageEvents.inc({ result: 'duplicate' }, answer.duplicates);
        ctx.metrics.usageEvents.inc({ result: 'rejected' }, answer.rejected.length);
        return { status: 200, body: answer };
      },
    }),
    route({
      method: 'get', path: '/api/v1/usage', tag: 'Usage', summary: 'Usage totals, by model and by day (days in TOKENPOOL_TIMEZONE)', auth: ['tenant', 'operator'],
      query: z.strictObject({ from: instant.optional(), to: instant.optional(), tenantId: z.string().min(1).max(64).optional() }),
      responses: {
        200: {
          description: 'Usage; from/to default to the current billing period',
          schema: z.object({
            from: z.string(), to: z.string(), tenantId: z.string().optional(), ...totals,
            byModel: z.array(z.object({ model: z.string(), ...totals })),
            byDay: z.array(z.object({ day: z.string(), ...totals })),
          }),
        },
      },
      handler: async ({ query, principal }) => ({ status: 200, body: await usage.report(principal, query) }),
    }),
  ];
}
