import { z } from 'zod';
import { ownTenant } from '../auth/policy.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { planSchema, subscriptionSchema } from './plans.routes.js';
import { route, type AnyRoute } from './route.js';
import { tenantSchema } from './tenants.routes.js';

const meSchema = z.object({
  tenant: tenantSchema,
  subscription: subscriptionSchema.extend({ plan: planSchema }).nullable(),
  quota: z.object({
    maxStdPerMin: z.number().nullable().meta({ description: 'Override, else the subscription’s reservedStdPerMin, else null (unlimited)' }),
    usedStdPerMin: z.number().meta({ description: "Held by the tenant's placements: Σ tokensPerMin × costFactor, whole replicas" }),
  }),
  period: z.string(),
  usageThisPeriod: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int(), stdTokens: z.string() }),
  costSoFar: z.string().meta({ description: 'CNY: what this month’s invoice would total if it were closed now (its total, exclusive of VAT)' }),
  costSoFarInclusive: z
    .string()
    .meta({ description: 'CNY: that invoice’s totalInclusive (each line with its plan’s VAT): what a prepaid balance and a budget are compared with' }),
});

export function meRoutes(ctx: AppContext): AnyRoute[] {
  const { tenants, plans, billing, workloads } = ctx.services;
  return [
    route({
      method: 'get',
      path: '/api/v1/me',
      tag: 'Tenants',
      summary: 'The calling tenant: subscription, quota, usage and cost this period',
      auth: ['tenant'],
      responses: { 200: { description: 'The tenant’s view of itself', schema: meSchema } },
      handler: async ({ principal }) => {
        const tenantId = ownTenant(principal);
        if (tenantId === undefined) throw new AppError('forbidden', 'Only tenants have a /me.');
        const [tenant, current, soFar, used] = await Promise.all([
          tenants.get(principal, tenantId),
          plans.current(tenantId),
          billing.periodSoFar(tenantId),
          workloads.heldStdPerMin(tenantId),
        ]);
        const reserved = current?.plan.reservedStdPerMin ?? null;
        return {
          status: 200,
          body: {
            tenant,
            subscription: current ? { ...current.subscription, plan: current.plan } : null,
            quota: { maxStdPerMin: tenant.maxStdPerMin ?? reserved, usedStdPerMin: used },
            period: soFar.period,
            usageThisPeriod: { inputTokens: soFar.inputTokens, outputTokens: soFar.outputTokens, stdTokens: soFar.stdTokens },
            costSoFar: soFar.costSoFar,
            costSoFarInclusive: soFar.costSoFarInclusive,
          },
        };
      },
    }),
  ];
}
