import { z } from 'zod';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { idParam, instant, timestamp } from './schemas.js';
import { ACCOUNT_KINDS } from '../billing/ledger.js';

/** Money a client gives: CNY, a positive decimal string with at most two decimals. */
const money = z
  .string()
  .regex(/^\d{1,15}(\.\d{1,2})?$/, 'must be an amount in CNY such as "1200.00" (at most two decimals)')
  .refine((s) => Number(s) > 0, 'must be more than 0')
  .meta({ description: 'CNY, a decimal string with at most two decimals, > 0' });
const reference = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200)
  .meta({ description: "The bank's reference; a payment is recorded once per reference" });

const paymentSchema = z.object({
  id: z.string(),
  kind: z.enum(['payment', 'top_up', 'refund']),
  tenantId: z.string(),
  amount: z.string(),
  receivedAt: timestamp,
  reference: z.string(),
  invoiceId: z.string().nullable(),
  source: z.enum(['api', 'import']),
});
const payoutSchema = z.object({
  id: z.string(),
  providerId: z.string(),
  amount: z.string(),
  paidAt: timestamp,
  reference: z.string(),
  payable: z.string().meta({ description: 'What the city still owes the provider after it: its statements less its payouts, from the ledger' }),
});
const ageingSchema = z
  .object({ '0-30': z.string(), '31-60': z.string(), '61-90': z.string(), '90+': z.string() })
  .meta({ description: 'Outstanding invoice amounts by whole days past the invoice issue' });

const creditNoteSchema = z.object({
  id: z.string(),
  number: z.string(),
  invoiceId: z.string(),
  tenantId: z.string(),
  total: z.string().meta({ description: 'Negative: what the note credits, inclusive of VAT' }),
  vat: z.string().meta({ description: 'Negative (or "0.00"): the part of total that takes output VAT back' }),
  reason: z.string(),
  issuedAt: timestamp,
});

/** Paging of the ledger's lists by id: `cursor` is the previous page's `nextCursor`. */
const idPaging = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(200).optional(),
};
const tenantFilter = z.string().min(1).max(64);

export function ledgerRoutes(ctx: AppContext): AnyRoute[] {
  const { ledger, tenants } = ctx.services;
  const received = instant.optional().meta({ description: 'When the money arrived; default now' });
  return [
    route({
      method: 'post',
      path: '/api/v1/payments',
      tag: 'Ledger',
      summary:
        "Record a tenant's payment: cash debited, its receivable credited, settling the invoice named and then the oldest open ones. Idempotent by reference (the same payment again answers 200; another under the same reference 409)",
      auth: ['operator'],
      body: z.strictObject({
        tenantId: z.string().min(1).max(64),
        amount: money,
        receivedAt: instant,
        reference,
        invoiceId: z.string().min(1).max(64).optional(),
      }),
      responses: {
        201: { description: 'The payment', schema: paymentSchema },
        200: { description: 'The payment recorded before under this reference', schema: paymentSchema },
        409: { description: 'The reference was recorded for another payment' },
        422: { description: 'No such tenant, or the invoice is not its' },
      },
      handler: async ({ body }) => {
        const { payment, created } = await ledger.recordPayment(body);
        return { status: created ? 201 : 200, body: payment };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/payments/import',
      tag: 'Ledger',
      summary:
        'Import a bank statement (text/csv lines: date, amount, reference, payer — a tenant id or unified social credit code; an optional header line). All lines are checked first: any bad line answers 422 with an error per line (path lines.<n>.<column>) and records nothing; otherwise each line is recorded, or reported a duplicate of a reference recorded before',
      auth: ['operator'],
      bodyType: 'csv',
      body: z
        .string()
        .max(16 * 1024 * 1024)
        .meta({ description: 'CSV, UTF-8' }),
      responses: {
        200: {
          description: 'One result per payment line',
          schema: z.object({
            items: z.array(z.object({ line: z.number().int(), reference: z.string(), status: z.enum(['recorded', 'duplicate']), paymentId: z.string() })),
          }),
        },
        422: { description: 'Bad lines (nothing recorded)' },
      },
      handler: async ({ body }) => ({ status: 200, body: { items: await ledger.importStatement(body) } }),
    }),
    route({
      method: 'post',
      path: '/api/v1/tenants/:id/top-ups',
      tag: 'Ledger',
      summary: "Top up a prepaid tenant's balance (cash debited, prepaid credited). Idempotent by reference",
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ amount: money, reference, receivedAt: received }),
      responses: {
        201: { description: 'The top-up and the prepaid balance after it', schema: paymentSchema.extend({ prepaid: z.string() }) },
        200: { description: 'The top-up recorded before under this reference', schema: paymentSchema.extend({ prepaid: z.string() }) },
        409: { description: 'The tenant is postpaid, or the reference was recorded for something else' },
      },
      handler: async ({ params, body }) => {
        const r = await ledger.topUp(params.id, { amount: body.amount, reference: body.reference, receivedAt: body.receivedAt ?? ctx.clock.now() });
        return { status: r.created ? 201 : 200, body: { ...r.payment, prepaid: r.prepaid } };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tenants/:id/refunds',
      tag: 'Ledger',
      summary: 'Pay money back to a tenant from its prepaid balance or its credit balance (never more than it holds). Idempotent by reference',
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ amount: money, reference, receivedAt: received, from: z.enum(['prepaid', 'receivable']) }),
      responses: {
        201: { description: 'The refund', schema: paymentSchema },
        200: { description: 'The refund recorded before under this reference', schema: paymentSchema },
        409: { description: 'The reference was recorded for something else' },
        422: { description: 'More than the tenant holds' },
      },
      handler: async ({ params, body }) => {
        const r = await ledger.refund(params.id, {
          amount: body.amount,
          reference: body.reference,
          from: body.from,
          receivedAt: body.receivedAt ?? ctx.clock.now(),
        });
        return { status: r.created ? 201 : 200, body: r.payment };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/providers/:id/payouts',
      tag: 'Ledger',
      summary:
        'Record money paid to a provider: its payable debited, cash credited, never more than its statements less its payouts. Idempotent by reference (the same payout again answers 200; another under the same reference 409)',
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ amount: money, reference, paidAt: instant.optional().meta({ description: 'When the money was paid; default now' }) }),
      responses: {
        201: { description: 'The payout, and what is still owed', schema: payoutSchema },
        200: { description: 'The payout recorded before under this reference', schema: payoutSchema },
        409: { description: 'The reference was recorded for another payout' },
        422: { description: 'More than the provider is owed' },
      },
      handler: async ({ params, body }) => {
        const r = await ledger.payout(params.id, { amount: body.amount, reference: body.reference, paidAt: body.paidAt ?? ctx.clock.now() });
        return { status: r.created ? 201 : 200, body: { ...r.payout, payable: r.payable } };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/invoices/:id/credit-notes',
      tag: 'Ledger',
      summary:
        'Issue a credit note against an invoice (a negative document; the invoice is never edited). Without amount: all not yet credited, which voids the invoice',
      auth: ['operator'],
      params: idParam,
      body: z.strictObject({ amount: money.optional(), reason: z.string().trim().min(1, 'must not be empty').max(1000) }),
      responses: {
        201: { description: 'The credit note', schema: creditNoteSchema },
        409: { description: 'The invoice is void' },
        422: { description: 'More than the invoice has left to credit' },
      },
      handler: async ({ params, body }) => ({ status: 201, body: await ledger.creditNote(params.id, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/payments',
      tag: 'Ledger',
      summary: 'Payments, top-ups and refunds, by id (a tenant gets its own)',
      auth: ['operator', 'tenant'],
      query: z.strictObject({ tenantId: tenantFilter.optional(), ...idPaging }),
      responses: {
        200: { description: 'A page of payments', schema: z.object({ items: z.array(paymentSchema), nextCursor: z.string().nullable() }) },
        404: { description: 'A tenant named another tenant' },
      },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await ledger.listPayments(principal, query.tenantId, query.limit, query.cursor),
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/credit-notes',
      tag: 'Ledger',
      summary:
        'Credit notes, by id, filtered by tenant and invoice (a tenant gets its own: naming another tenant is 404, another tenant’s invoice lists nothing)',
      auth: ['operator', 'tenant'],
      query: z.strictObject({ tenantId: tenantFilter.optional(), invoiceId: z.string().min(1).max(64).optional(), ...idPaging }),
      responses: {
        200: { description: 'A page of credit notes', schema: z.object({ items: z.array(creditNoteSchema), nextCursor: z.string().nullable() }) },
        404: { description: 'A tenant named another tenant' },
      },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await ledger.listCreditNotes(principal, { tenantId: query.tenantId, invoiceId: query.invoiceId }, query.limit, query.cursor),
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/ledger/balances',
      tag: 'Ledger',
      summary: "The ledger's accounts with their balances (debit positive), derived from postings alone, and the trial balance (always 0.00)",
      auth: ['operator'],
      query: z.strictObject({ kind: z.enum(ACCOUNT_KINDS).optional(), tenantId: tenantFilter.optional(), ...idPaging }),
      responses: {
        200: {
          description: 'A page of accounts',
          schema: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                kind: z.string(),
                tenantId: z.string().nullable(),
                providerId: z.string().nullable(),
                balance: z.string(),
                postings: z.number().int(),
              }),
            ),
            nextCursor: z.string().nullable(),
            trialBalance: z.object({ total: z.string(), unbalancedEntries: z.number().int() }),
          }),
        },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: {
          ...(await ledger.accountBalances({ kind: query.kind, tenantId: query.tenantId }, query.limit, query.cursor)),
          trialBalance: await ledger.trialBalance(),
        },
      }),
    }),
    route({
      method: 'get',
      path: '/api/v1/ledger/ageing',
      tag: 'Ledger',
      summary: 'Outstanding receivables by tenant and days past invoice issue (0–30, 31–60, 61–90, 90+)',
      auth: ['operator'],
      responses: {
        200: {
          description: 'Ageing',
          schema: z.object({ asOf: timestamp, total: ageingSchema, items: z.array(z.object({ tenantId: z.string(), ageing: ageingSchema })) }),
        },
      },
      handler: async () => ({ status: 200, body: await ledger.ageing() }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id/balance',
      tag: 'Ledger',
      summary: "A tenant's receivable, prepaid balance and ageing, from the ledger (a tenant may get its own)",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: {
        200: {
          description: 'The balance',
          schema: z.object({
            tenantId: z.string(),
            billingMode: z.enum(['prepaid', 'postpaid']),
            receivable: z.string(),
            prepaid: z.string(),
            ageing: ageingSchema,
          }),
        },
      },
      handler: async ({ params, principal }) => {
        const tenant = await tenants.get(principal, params.id);
        return { status: 200, body: await ledger.tenantBalance(principal, params.id, tenant.billingMode) };
      },
    }),
  ];
}
