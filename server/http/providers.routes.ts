import { z } from 'zod';
import { csvText, type CsvValue } from './csv.js';
import { moneyString, vatFieldsFor } from './plans.routes.js';
import { route, type AnyRoute } from './route.js';
import { billingPeriod as period, idParam, instant, listOf, pageOf, pageOnlyQuery, pageQuery, timestamp, usccCode } from './schemas.js';
import type { ProvidersService } from '../services/providers.service.js';
import type { SettlementReport, SettlementRow, SettlementService } from '../services/settlement.service.js';

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

const providerFields = {
  name: text(128),
  uscc: usccCode.meta({ description: 'Unified social credit code (GB 32100-2015), 18 characters, check characters verified' }),
  bankName: text(128),
  bankAccount: z.string().regex(/^[0-9][0-9 -]{4,38}[0-9]$/, 'must be a bank account number (digits, spaces or dashes)'),
  contactName: text(64),
  contactPhone: z.string().regex(/^\+?[0-9][0-9 ()-]{3,30}$/, 'must be a telephone number'),
  contactEmail: z.email('must be an e-mail address').max(254),
};

const createProvider = z.strictObject(providerFields);
const updateProvider = z.strictObject(providerFields).partial();

export const providerSchema = z.object({
  id: z.string(),
  name: z.string(),
  uscc: z.string(),
  bankName: z.string(),
  bankAccount: z.string(),
  contactName: z.string(),
  contactPhone: z.string(),
  contactEmail: z.string(),
  clusterIds: z.array(z.string()),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const deviceName = z.string().trim().min(1).max(128);
const termsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('flat'), pricePerMillionStd: moneyString }),
  z.strictObject({
    kind: z.literal('device_class'),
    prices: z
      .array(
        z.strictObject({ match: deviceName.meta({ description: 'A device profile name or a vendor; a profile match wins' }), pricePerMillionStd: moneyString }),
      )
      .max(256),
    defaultPricePerMillionStd: moneyString,
  }),
  z.strictObject({
    kind: z.literal('revenue_share'),
    sharePercent: z
      .string()
      .regex(/^(100(\.0{1,4})?|\d{1,2}(\.\d{1,4})?)$/, 'must be a percentage from "0" to "100" with at most 4 decimal places')
      .meta({ description: 'Percent of what tenants were charged for the tokens served' }),
    unpaidPricePerMillionStd: moneyString.meta({ description: 'Paid per million standard tokens served that no tenant pays for' }),
  }),
]);

const rateCardSchema = z.object({
  id: z.string(),
  providerId: z.string(),
  terms: z.record(z.string(), z.unknown()).meta({ description: 'The card as created: `kind` and its prices' }),
  validFrom: timestamp,
  validTo: timestamp.nullable(),
  createdAt: timestamp,
  slaCreditsLowerStatement: z.boolean().meta({ description: 'SLA credits lower this provider’s statement (issue 15)' }),
  vatRate: z.string().meta({ description: 'VAT rate of the statement lines it prices (its prices are exclusive of VAT)' }),
  taxCode: z.string().meta({ description: 'Tax classification code of those lines' }),
});

const createRateCard = z.strictObject({
  terms: termsSchema,
  validFrom: instant.optional().meta({ description: 'Default: now' }),
  validTo: instant.nullable().optional().meta({ description: 'Exclusive; absent or null: open-ended' }),
  slaCreditsLowerStatement: z
    .boolean()
    .optional()
    .meta({
      description:
        'Default false. true: an SLA credit a tenant’s invoice carries for a workload whose placement this provider’s cluster lost, failed or ' +
        'under-replicated (in a month this card is valid) lowers the provider’s next statement by its cluster’s share of the credit ' +
        '(in proportion to the short minutes its spells made), as an sla_credit line',
    }),
  ...vatFieldsFor('the statement lines this card prices (the provider charges the city input VAT on them)'),
});

const lineSchema = z.object({
  kind: z.enum(['usage', 'late_usage', 'sla_credit']),
  usagePeriod: z.string(),
  clusterId: z.string(),
  model: z.string(),
  basis: z.string().meta({ description: '`flat`, `profile:<name>`, `vendor:<name>`, `default`, `revenue_share`, `unpaid` or `no_rate_card`' }),
  rateCardId: z.string().nullable(),
  paidByTenants: z.boolean().meta({ description: 'false: served usage no tenant pays for (the platform’s own traffic), still paid to the provider' }),
  stdTokens: z.string(),
  description: z.string(),
  quantity: z.string(),
  unitPrice: z.string(),
  amount: z.string().meta({ description: 'Exclusive of VAT' }),
  vatRate: z.string().meta({ description: 'The rate card’s VAT rate ("0.00" on statements issued before provider VAT)' }),
  taxCode: z.string(),
  vat: z.string().meta({ description: 'round(amount × vatRate) half-up to the fen; negative on an sla_credit line' }),
  amountInclusive: z.string().meta({ description: 'amount + vat' }),
});

export const statementSchema = z.object({
  id: z.string(),
  number: z.string(),
  providerId: z.string(),
  period: z.string(),
  currency: z.literal('CNY'),
  issuedAt: timestamp,
  cutoff: timestamp,
  lines: z.array(lineSchema),
  total: z.string().meta({ description: 'Σ line amounts, exclusive of VAT' }),
  vat: z.string().meta({ description: 'Σ line VAT: the input VAT the provider charges' }),
  totalInclusive: z.string().meta({ description: 'total + vat: what the city owes the provider (its payable in the ledger)' }),
  unpaidByTenants: z.string(),
});

const money3 = {
  receivables: z.string().meta({ description: 'Invoiced to tenants, exclusive of VAT' }),
  payables: z.string().meta({ description: 'Owed to providers by their statements, exclusive of VAT' }),
  payablesVat: z.string().meta({ description: 'The input VAT of those statements' }),
  margin: z.string().meta({ description: 'receivables − payables: exclusive of VAT on both sides' }),
};
const reportSchema = z.object({
  period: z.string(),
  currency: z.literal('CNY'),
  invoices: z.number().int(),
  statements: z.number().int(),
  ...money3,
  receivablesVat: z.string().meta({ description: "The invoices' output VAT" }),
  byProvider: z.array(z.object({ providerId: z.string().nullable(), name: z.string().nullable(), ...money3 })),
  byCluster: z.array(z.object({ clusterId: z.string().nullable(), providerId: z.string().nullable(), ...money3 })),
  byModel: z.array(z.object({ model: z.string().nullable(), ...money3 })),
});

/**
 * The settlement report as CSV rows: one per breakdown row (`dimension` provider, cluster or model;
 * `providerId` the provider a cluster belongs to), then the totals. A row with an empty `id` is
 * what cannot be attributed.
 */
export function reportRows(r: SettlementReport): CsvValue[][] {
  const rows: CsvValue[][] = [['period', 'dimension', 'id', 'name', 'providerId', 'receivables', 'payables', 'margin', 'payablesVat']];
  const money = (x: SettlementRow) => [x.receivables, x.payables, x.margin, x.payablesVat];
  for (const p of r.byProvider) rows.push([r.period, 'provider', p.providerId, p.name ?? '(unattributed)', p.providerId, ...money(p)]);
  for (const c of r.byCluster) rows.push([r.period, 'cluster', c.clusterId, c.clusterId ?? '(unattributed)', c.providerId, ...money(c)]);
  for (const m of r.byModel) rows.push([r.period, 'model', m.model, m.model ?? '(unattributed)', null, ...money(m)]);
  rows.push([r.period, 'total', null, null, null, ...money(r)]);
  return rows;
}

export function providerRoutes(providers: ProvidersService, settlement: SettlementService): AnyRoute[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/providers',
      tag: 'Settlement',
      summary: 'Register a provider (the operator of member clusters)',
      auth: ['operator'],
      body: createProvider,
      responses: { 201: { description: 'The provider', schema: providerSchema }, 409: { description: 'Name or unified social credit code taken' } },
      handler: async ({ body }) => ({ status: 201, body: await providers.create(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/providers',
      tag: 'Settlement',
      summary: 'List providers',
      auth: ['operator'],
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of providers', schema: listOf(providerSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await providers.list(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/providers/:id',
      tag: 'Settlement',
      summary: 'Get a provider',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The provider', schema: providerSchema } },
      handler: async ({ params }) => ({ status: 200, body: await providers.get(params.id) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/providers/:id',
      tag: 'Settlement',
      summary: "Change a provider's details",
      auth: ['operator'],
      params: idParam,
      body: updateProvider,
      responses: { 200: { description: 'The provider', schema: providerSchema }, 409: { description: 'Name or unified social credit code taken' } },
      handler: async ({ params, body }) => ({ status: 200, body: await providers.update(params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/providers/:id',
      tag: 'Settlement',
      summary: 'Remove a provider that owns no cluster and has no statement',
      auth: ['operator'],
      params: idParam,
      responses: { 204: { description: 'Removed' }, 409: { description: 'It owns clusters or has statements' } },
      handler: async ({ params }) => {
        await providers.remove(params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/clusters/:id/provider',
      tag: 'Settlement',
      summary: 'Set the provider that owns a cluster (null: none); its served usage is paid to that provider from the next statement',
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ providerId: z.string().min(1).max(64).nullable() }),
      responses: {
        200: { description: 'The assignment', schema: z.object({ clusterId: z.string(), providerId: z.string().nullable() }) },
        422: { description: 'Unknown provider' },
      },
      handler: async ({ params, body }) => ({ status: 200, body: await providers.setClusterProvider(params.id, body.providerId) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/providers/:id/rate-cards',
      tag: 'Settlement',
      summary: "Add a rate card: what the city pays per million standard tokens the provider's clusters serve",
      auth: ['operator'],
      params: idParam,
      body: createRateCard,
      responses: { 201: { description: 'The rate card', schema: rateCardSchema }, 409: { description: 'Its validity overlaps another card of the provider' } },
      handler: async ({ params, body }) => ({
        status: 201,
        body: await providers.addRateCard(params.id, {
          terms: body.terms,
          validFrom: body.validFrom,
          validTo: body.validTo,
          slaCreditsLowerStatement: body.slaCreditsLowerStatement,
          vatRate: body.vatRate,
          taxCode: body.taxCode,
        }),
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/providers/:id/rate-cards',
      tag: 'Settlement',
      summary: "A provider's rate cards, by validity",
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'All of its rate cards', schema: listOf(rateCardSchema) } },
      handler: async ({ params }) => ({ status: 200, body: { items: await providers.rateCards(params.id), nextCursor: null } }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/providers/:id/rate-cards/:cardId',
      tag: 'Settlement',
      summary: 'Remove a rate card no statement pays by',
      auth: ['operator'],
      params: z.strictObject({ id: z.string().min(1).max(64), cardId: z.string().min(1).max(64) }),
      responses: { 204: { description: 'Removed' }, 409: { description: 'A statement pays by it' } },
      handler: async ({ params }) => {
        await providers.removeRateCard(params.id, params.cardId);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/statements',
      tag: 'Settlement',
      summary: 'List provider statements (payables)',
      auth: ['operator'],
      query: z.strictObject({ ...pageQuery, providerId: z.string().min(1).max(64).optional(), period: period.optional() }),
      responses: { 200: { description: 'A page of statements', schema: listOf(statementSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await settlement.list({ providerId: query.providerId, period: query.period }, pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/statements/:id',
      tag: 'Settlement',
      summary: 'Get a provider statement',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The statement', schema: statementSchema } },
      handler: async ({ params }) => ({ status: 200, body: await settlement.get(params.id) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/settlement/report',
      tag: 'Settlement',
      summary: "A closed period's settlement: tenants' receivables, providers' payables and the margin, by provider, cluster and model",
      auth: ['operator'],
      query: z.strictObject({ period }),
      responses: { 200: { description: 'The report', schema: reportSchema }, 409: { description: 'The period has not been closed' } },
      handler: async ({ query }) => ({ status: 200, body: await settlement.report(query.period) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/settlement/report.csv',
      tag: 'Settlement',
      summary: 'The settlement report as CSV (cells a spreadsheet would run as formulas are neutralized)',
      auth: ['operator'],
      query: z.strictObject({ period }),
      responses: {
        200: { description: 'The report, one row per breakdown row, then the totals', text: 'text/csv' },
        409: { description: 'The period has not been closed' },
      },
      handler: async ({ query }) => {
        const csv = csvText(reportRows(await settlement.report(query.period)));
        return {
          status: 200,
          stream: async (out) => {
            out.head(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="settlement-${query.period}.csv"` });
            out.body.end(csv);
            await Promise.resolve();
          },
        };
      },
    }),
  ];
}
