import { z } from 'zod';
import type { AppContext } from '../context.js';
import { TAX_CODE_PATTERN, VAT_RATE_PATTERN } from '../billing/vat.js';
import { route, type AnyRoute } from './route.js';
import { idParam, instant, listOf, pageOf, pageOnlyQuery, timestamp } from './schemas.js';

/** Money in CNY: a decimal string with at most six places — never a JSON number. */
export const moneyString = z
  .string({ error: (i) => (i.input === undefined ? 'required' : 'must be a decimal string such as "2.00", not a JSON number') })
  .regex(/^\d{1,14}(\.\d{1,6})?$/, 'must be a non-negative decimal string with at most 6 decimal places');

const planName = z.string().trim().min(1, 'must not be empty').max(128);

// Issue 15: per-model prices and SLA credits (kept in their own block).
const multiplier = z
  .string({ error: (i) => (i.input === undefined ? 'required' : 'must be a decimal string such as "1.5"') })
  .regex(/^\d{1,6}(\.\d{1,6})?$/, 'must be a decimal string with at most 6 decimal places')
  .refine((v) => Number(v) > 0, 'must be greater than 0');
const modelPrice = z.union([z.strictObject({ multiplier }), z.strictObject({ pricePerMillionStd: moneyString })]);
const modelPrices = z
  .record(z.string().min(1).max(256), modelPrice)
  .refine((r) => Object.keys(r).length <= 1000, 'at most 1000 models')
  .meta({
    description:
      "Model name → { multiplier } of the plan's price or { pricePerMillionStd } of its own; other models use the plan's price. " +
      'On a periodic plan a multiplier also weighs what the model consumes of the included amount (README "Per-model prices").',
  });
const percent = z
  .string({ error: (i) => (i.input === undefined ? 'required' : 'must be a decimal string such as "99.5"') })
  .regex(/^\d{1,3}(\.\d{1,3})?$/, 'must be a decimal string such as "99.5" (at most 3 decimals)')
  .meta({ description: 'A percent, 0 < x ≤ 100, at most 3 decimals' });
const sla = z
  .strictObject({
    availabilityPercent: percent,
    graceMinutes: z.number().int('must be a whole number').min(0).max(44_640),
    credits: z
      .array(z.strictObject({ belowPercent: percent, creditPercent: percent }))
      .min(1)
      .max(20),
  })
  .meta({
    description:
      "Availability of each reserved workload's throughput the plan promises; shortfall spells shorter than graceMinutes do not count; " +
      'a month below a row\'s belowPercent earns creditPercent of the month\'s fee on the next invoice (README "SLA credits").',
  });
const planExtras = { modelPrices: modelPrices.optional() };
// End of the issue-15 block.
/** The optional VAT terms a priced thing is created with (a plan; a provider's rate card): `lines` names the lines they apply to. */
export function vatFieldsFor(lines: string) {
  return {
    vatRate: z
      .string()
      .regex(VAT_RATE_PATTERN, 'must be a decimal string from 0 to below 1 with at most 4 decimals, such as "0.06"')
      .optional()
      .meta({ description: `VAT rate of ${lines}; default TOKENPOOL_VAT_RATE ("0.06"). Prices are exclusive of VAT.` }),
    taxCode: z
      .string()
      .regex(TAX_CODE_PATTERN, 'must be a 19-digit tax classification code')
      .optional()
      .meta({ description: 'Tax classification code (商品和服务税收分类编码) of the service; default 3040203000000000000 (信息系统服务)' }),
  };
}
const vatFields = vatFieldsFor("the plan's invoice lines");

const unitPlan = z.strictObject({
  name: planName,
  type: z.literal('unit'),
  pricePerMillionStd: moneyString,
  default: z.boolean().optional().meta({ description: 'Make this the default plan of tenants without a subscription' }),
  ...planExtras,
  ...vatFields,
});

const periodicPlan = z.strictObject({
  name: planName,
  type: z.literal('periodic'),
  period: z.literal('month'),
  fee: moneyString,
  includedStd: z.number().int('must be a whole number').min(0).max(1e15),
  overagePricePerMillionStd: moneyString
    .nullable()
    .meta({ description: 'null: a hard cap — usage past the included amount is not billed and new workloads wait' }),
  reservedStdPerMin: z.number().int('must be a whole number').min(0).max(1e15).optional(),
  ...planExtras,
  sla: sla.optional(),
  ...vatFields,
});

const createPlan = z.discriminatedUnion('type', [unitPlan, periodicPlan]);

export const planSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['unit', 'periodic']),
  default: z.boolean(),
  pricePerMillionStd: z.string().optional(),
  period: z.string().optional(),
  fee: z.string().optional(),
  includedStd: z.number().int().optional(),
  overagePricePerMillionStd: z.string().nullable().optional(),
  reservedStdPerMin: z.number().int().nullable().optional(),
  vatRate: z.string().meta({ description: "VAT rate of the plan's invoice lines (prices are exclusive of VAT)" }),
  taxCode: z.string().meta({ description: 'Tax classification code of the service, 19 digits' }),
  createdAt: timestamp,
  modelPrices: z.record(z.string(), z.union([z.object({ multiplier: z.string() }), z.object({ pricePerMillionStd: z.string() })])).optional(),
  sla: z
    .object({
      availabilityPercent: z.string(),
      graceMinutes: z.number().int(),
      credits: z.array(z.object({ belowPercent: z.string(), creditPercent: z.string() })),
    })
    .optional(),
});

export const subscriptionSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  planId: z.string(),
  planName: z.string(),
  startsAt: timestamp,
  endsAt: timestamp.nullable(),
  createdAt: timestamp,
});

const subscribe = z.strictObject({
  planId: z.string().min(1).max(64),
  startsAt: instant.optional(),
});

export function planRoutes(ctx: AppContext): AnyRoute[] {
  const plans = ctx.services.plans;
  return [
    route({
      method: 'post',
      path: '/api/v1/plans',
      tag: 'Billing',
      summary: 'Create a unit or periodic plan',
      auth: ['operator'],
      body: createPlan,
      responses: {
        201: { description: 'The plan', schema: planSchema },
        409: { description: 'Name taken' },
        422: { description: 'A model price names a model the catalog does not have' },
      },
      handler: async ({ body }) => ({ status: 201, body: await plans.create(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/plans',
      tag: 'Billing',
      summary: 'List plans',
      auth: ['operator', 'tenant'],
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of plans', schema: listOf(planSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await plans.list(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/plans/:id',
      tag: 'Billing',
      summary: 'Get a plan',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The plan', schema: planSchema } },
      handler: async ({ params }) => ({ status: 200, body: await plans.get(params.id) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/plans/:id',
      tag: 'Billing',
      summary: 'Mark a unit plan the default plan',
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ default: z.literal(true) }),
      responses: { 200: { description: 'The plan', schema: planSchema }, 422: { description: 'Not a unit plan' } },
      handler: async ({ params }) => ({ status: 200, body: await plans.markDefault(params.id) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/tenants/:id/subscriptions',
      tag: 'Billing',
      summary: "Subscribe a tenant to a plan; ends the previous subscription at this one's start",
      auth: ['operator'],
      params: idParam,
      body: subscribe,
      responses: {
        201: { description: 'The subscription', schema: subscriptionSchema },
        409: { description: 'Overlaps a subscription that starts at or after startsAt' },
        422: { description: 'Unknown plan' },
      },
      handler: async ({ params, body }) => ({ status: 201, body: await plans.subscribe(params.id, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id/subscriptions',
      tag: 'Billing',
      summary: "A tenant's subscriptions",
      auth: ['operator', 'tenant'],
      params: idParam,
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of subscriptions', schema: listOf(subscriptionSchema) } },
      handler: async ({ params, query, principal }) => ({ status: 200, body: await plans.subscriptions(principal, params.id, pageOf(query)) }),
    }),
  ];
}
