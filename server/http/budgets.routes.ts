import { z } from 'zod';
import type { AppContext } from '../context.js';
import { moneyString } from './plans.routes.js';
import { route, type AnyRoute } from './route.js';
import { idParam, listOf, pageOf, pageQuery, timestamp } from './schemas.js';

const budgetSchema = z.object({ tenantId: z.string(), monthlyCny: z.string(), thresholds: z.array(z.number().int()), updatedAt: timestamp });
const alertSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  kind: z.literal('budget'),
  period: z.string(),
  threshold: z.number().int(),
  costSoFar: z.string().meta({ description: "The month's cost so far when the threshold was reached, inclusive of VAT (what the budget is compared with)" }),
  budget: z.string(),
  message: z.string(),
  createdAt: timestamp,
});

export function budgetRoutes(ctx: AppContext): AnyRoute[] {
  const budgets = ctx.services.budgets;
  return [
    route({
      method: 'put',
      path: '/api/v1/tenants/:id/budget',
      tag: 'Billing',
      summary:
        "Set a tenant's monthly budget (CNY, inclusive of VAT: compared with the month's cost so far inclusive of VAT) and alert thresholds (percent): the operator, or the tenant's admins",
      auth: ['operator', 'tenant'],
      params: idParam,
      body: z.strictObject({
        monthlyCny: moneyString,
        thresholds: z.array(z.number().int('must be a whole percentage').min(1).max(1000)).min(1).max(10).default([80, 100]),
      }),
      responses: { 200: { description: 'The budget', schema: budgetSchema } },
      handler: async ({ params, body, principal }) => ({ status: 200, body: await budgets.set(principal, params.id, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id/budget',
      tag: 'Billing',
      summary: "A tenant's monthly budget",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The budget', schema: budgetSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await budgets.get(principal, params.id) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/tenants/:id/budget',
      tag: 'Billing',
      summary: "Remove a tenant's budget: the operator, or the tenant's admins",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params, principal }) => {
        await budgets.remove(principal, params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/alerts',
      tag: 'Billing',
      summary: 'Budget alerts (a tenant its own; the operator all, or one tenant)',
      auth: ['operator', 'tenant'],
      query: z.strictObject({ ...pageQuery, tenantId: z.string().min(1).max(64).optional() }),
      responses: { 200: { description: 'A page of alerts', schema: listOf(alertSchema) } },
      handler: async ({ query, principal }) => ({ status: 200, body: await budgets.alerts(principal, query.tenantId, pageOf(query)) }),
    }),
  ];
}
