import { z } from 'zod';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { billingPeriod as period, idParam, listOf, pageOf, pageQuery, timestamp } from './schemas.js';

export const invoiceSchema = z.object({
  id: z.string(),
  number: z.string(),
  tenantId: z.string(),
  period: z.string(),
  currency: z.literal('CNY'),
  status: z.enum(['issued', 'partially_paid', 'paid', 'void']).meta({
    description:
      'Derived from the ledger: issued, then partially_paid or paid as payments (and prepaid draws) settle it, or void when credit notes cancel it whole',
  }),
  issuedAt: timestamp,
  lines: z.array(
    z.object({
      kind: z.enum(['usage', 'fee', 'overage', 'late_usage']),
      description: z.string(),
      quantity: z.string(),
      unitPrice: z.string(),
      amount: z.string(),
    }),
  ),
  total: z.string(),
  paid: z.string().meta({ description: 'CNY: payments and prepaid draws allocated to this invoice (ledger)' }),
  credited: z.string().meta({ description: "CNY: its credit notes' amounts, positive (ledger)" }),
  outstanding: z.string().meta({ description: 'CNY: total − paid − credited' }),
});

export function billingRoutes(ctx: AppContext): AnyRoute[] {
  const billing = ctx.services.billing;
  return [
    route({
      method: 'post',
      path: '/api/v1/billing/close',
      tag: 'Billing',
      summary: 'Close a calendar month and issue its invoices (idempotent per tenant and period)',
      auth: ['operator'],
      body: z.strictObject({ period }),
      responses: {
        200: { description: "All of the period's invoices", schema: z.object({ period: z.string(), items: z.array(invoiceSchema) }) },
        409: { description: 'The period has not ended' },
      },
      handler: async ({ body }) => ({ status: 200, body: { period: body.period, items: await billing.close(body.period) } }),
    }),
    route({
      method: 'get',
      path: '/api/v1/invoices',
      tag: 'Billing',
      summary: 'List invoices (a tenant its own)',
      auth: ['operator', 'tenant'],
      query: z.strictObject({ ...pageQuery, tenantId: z.string().min(1).max(64).optional(), period: period.optional() }),
      responses: { 200: { description: 'A page of invoices', schema: listOf(invoiceSchema) } },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await billing.list(principal, { tenantId: query.tenantId, period: query.period }, pageOf(query)),
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/invoices/:id',
      tag: 'Billing',
      summary: 'Get an invoice',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The invoice', schema: invoiceSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await billing.get(principal, params.id) }),
    }),
  ];
}
