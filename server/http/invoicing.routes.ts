import { z } from 'zod';
import type { AppContext } from '../context.js';
import type { Reply } from './route.js';
import { route, type AnyRoute } from './route.js';
import { idParam } from './schemas.js';

const text = (max: number) => z.string().trim().max(max);
const required = (max: number) => text(max).min(1, 'must not be empty');

const sellerBody = z.strictObject({
  name: required(200).meta({ description: '名称: the city operator as registered' }),
  uscc: z.string().meta({ description: '统一社会信用代码: 18 characters with a valid check character (GB 32100-2015)' }),
  address: required(300).meta({ description: '地址' }),
  phone: required(50).meta({ description: '电话' }),
  bank: required(200).meta({ description: '开户银行' }),
  bankAccount: required(64).meta({ description: '银行账号' }),
});

const sellerSchema = z.object({ name: z.string(), uscc: z.string(), address: z.string(), phone: z.string(), bank: z.string(), bankAccount: z.string() });

const buyerBody = z.strictObject({
  address: text(300).meta({ description: '地址 ("" for none)' }),
  phone: text(50).meta({ description: '电话' }),
  bank: text(200).meta({ description: '开户银行' }),
  bankAccount: text(64).meta({ description: '银行账号' }),
});

const buyerSchema = z.object({
  tenantId: z.string(),
  name: z.string().meta({ description: "名称: the tenant's name" }),
  uscc: z.string().nullable().meta({ description: "统一社会信用代码: the tenant's, null when not on record" }),
  address: z.string(),
  phone: z.string(),
  bank: z.string(),
  bankAccount: z.string(),
});

const partySchema = z.object({
  name: z.string().meta({ description: '名称' }),
  uscc: z.string().nullable().meta({ description: '统一社会信用代码 (纳税人识别号); null when not on record' }),
  address: z.string().meta({ description: '地址 ("" when none)' }),
  phone: z.string().meta({ description: '电话' }),
  bank: z.string().meta({ description: '开户银行' }),
  bankAccount: z.string().meta({ description: '银行账号' }),
});

export const eFapiaoSchema = z.object({
  format: z.literal('tokenpool.e-fapiao.v1').meta({ description: 'This format and its version' }),
  invoiceId: z.string(),
  invoiceNumber: z.string().meta({ description: "The platform's invoice number (the tax system numbers the fapiao)" }),
  period: z.string().meta({ description: 'The billed month, YYYY-MM' }),
  issuedAt: z.string().meta({ description: 'RFC 3339' }),
  currency: z.literal('CNY'),
  pricesIncludeVat: z.literal(false).meta({ description: '含税标志: unit prices and amounts exclude VAT' }),
  buyer: partySchema.meta({ description: '购买方: the tenant' }),
  seller: partySchema.meta({ description: '销售方: the city operator (GET /api/v1/billing/seller)' }),
  lines: z.array(
    z.object({
      lineNo: z.number().int().meta({ description: '序号, from 1' }),
      name: z.string().meta({ description: '项目名称 (Chinese)' }),
      kind: z.enum(['usage', 'fee', 'overage', 'late_usage']),
      description: z.string().meta({ description: "The invoice line's description" }),
      taxCode: z.string().meta({ description: '商品和服务税收分类编码, 19 digits' }),
      unit: z.string().meta({ description: '单位' }),
      quantity: z.string().meta({ description: '数量, exact decimal' }),
      unitPrice: z.string().meta({ description: '单价, exclusive of VAT' }),
      amount: z.string().meta({ description: '金额, exclusive of VAT, two decimals' }),
      vatRate: z.string().meta({ description: '税率, decimal ("0.06")' }),
      vat: z.string().meta({ description: '税额 = round(amount × vatRate), half-up to the fen' }),
      amountInclusive: z.string().meta({ description: '价税合计 of the line = amount + vat' }),
    }),
  ),
  totals: z.object({
    amount: z.string().meta({ description: '合计金额 = Σ line amounts = the invoice total' }),
    vat: z.string().meta({ description: '合计税额 = Σ line taxes' }),
    amountInclusive: z.string().meta({ description: '价税合计 = amount + vat' }),
  }),
  remarks: z.string().meta({ description: '备注' }),
});

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** A file answer: its bytes with their type, as an attachment or shown inline. */
function file(bytes: Buffer, type: string, name: string, disposition: 'attachment' | 'inline'): Reply {
  return {
    status: 200,
    stream: async (out) => {
      out.head(200, { 'content-type': type, 'content-length': String(bytes.length), 'content-disposition': `${disposition}; filename="${name}"` });
      out.body.end(bytes);
      await Promise.resolve();
    },
  };
}

export function invoicingRoutes(ctx: AppContext): AnyRoute[] {
  const invoicing = ctx.services.invoicing;
  const notFound = { description: 'No such invoice, or another tenant’s' };
  const noSeller = { description: "The seller's invoicing details are not set" };
  return [
    route({
      method: 'get',
      path: '/api/v1/billing/seller',
      tag: 'Billing',
      summary: "The seller's invoicing details (the city operator: name, USCC, address, phone, bank)",
      auth: ['operator'],
      responses: { 200: { description: 'The seller', schema: sellerSchema }, 404: { description: 'Not set yet' } },
      handler: async () => ({ status: 200, body: await invoicing.seller() }),
    }),
    route({
      method: 'put',
      path: '/api/v1/billing/seller',
      tag: 'Billing',
      summary: "Set the seller's invoicing details; the USCC must have a valid check character",
      auth: ['operator'],
      body: sellerBody,
      responses: { 200: { description: 'The seller', schema: sellerSchema } },
      handler: async ({ body }) => ({ status: 200, body: await invoicing.putSeller(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/tenants/:id/invoicing',
      tag: 'Billing',
      summary: "A tenant's invoicing details as the buyer of its invoices",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The buyer', schema: buyerSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: await invoicing.buyer(principal, params.id) }),
    }),
    route({
      method: 'put',
      path: '/api/v1/tenants/:id/invoicing',
      tag: 'Billing',
      summary: "Set a tenant's invoicing details (address, phone, bank); its name and USCC are the tenant's",
      auth: ['operator', 'tenant'],
      params: idParam,
      body: buyerBody,
      responses: { 200: { description: 'The buyer', schema: buyerSchema } },
      handler: async ({ params, body, principal }) => ({ status: 200, body: await invoicing.putBuyer(principal, params.id, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/invoices/:id/e-fapiao',
      tag: 'Billing',
      summary: 'The data an e-fapiao issuing system needs for an invoice: buyer, seller, lines with tax code and VAT, totals',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The e-fapiao data', schema: eFapiaoSchema }, 404: notFound, 409: noSeller },
      handler: async ({ params, principal }) => ({ status: 200, body: await invoicing.eFapiao(principal, params.id) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/invoices/:id/e-fapiao.xlsx',
      tag: 'Billing',
      summary: 'The e-fapiao data as an Excel workbook for import: sheet 发票明细 (one row per line) and sheet 发票基本信息, headers in Chinese',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 200: { description: 'The workbook', binary: XLSX }, 404: notFound, 409: noSeller },
      handler: async ({ params, principal }) => {
        const { number, bytes } = await invoicing.workbook(principal, params.id);
        return file(bytes, XLSX, `${number}-e-fapiao.xlsx`, 'attachment');
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/invoices/:id/pdf',
      tag: 'Billing',
      summary: 'The printable invoice, in Chinese and English',
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: {
        200: { description: 'The PDF', binary: 'application/pdf' },
        404: notFound,
        409: noSeller,
        503: { description: 'The CJK font (TOKENPOOL_INVOICE_FONT) is missing' },
      },
      handler: async ({ params, principal }) => {
        const { number, bytes } = await invoicing.printable(principal, params.id);
        return file(bytes, 'application/pdf', `${number}.pdf`, 'inline');
      },
    }),
  ];
}
