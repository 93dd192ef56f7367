/**
 * The e-fapiao data as an Excel workbook for the import of an issuing system: sheet `发票明细`,
 * one row per invoice line under a header row in Chinese, and sheet `发票基本信息`, the invoice,
 * buyer, seller and totals in one row under its header. Every cell is text (number format `@`),
 * so decimals stay exactly what the JSON export says (no binary float in between).
 */
import { createRequire } from 'node:module';

import type { EFapiao } from '../billing/e-fapiao.js';

/** The lines sheet: header and the e-fapiao line field each column holds. */
export const LINE_COLUMNS = [
  ['序号', 'lineNo'],
  ['项目名称', 'name'],
  ['商品和服务税收分类编码', 'taxCode'],
  ['规格型号', 'kind'],
  ['单位', 'unit'],
  ['数量', 'quantity'],
  ['单价', 'unitPrice'],
  ['金额', 'amount'],
  ['税率', 'vatRate'],
  ['税额', 'vat'],
  ['价税合计', 'amountInclusive'],
  ['说明', 'description'],
] as const;

/** The invoice sheet: header and the value each column holds. */
export const INVOICE_COLUMNS: readonly (readonly [string, (d: EFapiao) => string])[] = [
  ['账单号', (d) => d.invoiceNumber],
  ['计费期间', (d) => d.period],
  ['开具时间', (d) => d.issuedAt],
  ['币种', (d) => d.currency],
  ['含税标志', (d) => (d.pricesIncludeVat ? '1' : '0')],
  ['购买方名称', (d) => d.buyer.name],
  ['购买方统一社会信用代码', (d) => d.buyer.uscc ?? ''],
  ['购买方地址', (d) => d.buyer.address],
  ['购买方电话', (d) => d.buyer.phone],
  ['购买方开户银行', (d) => d.buyer.bank],
  ['购买方银行账号', (d) => d.buyer.bankAccount],
  ['销售方名称', (d) => d.seller.name],
  ['销售方统一社会信用代码', (d) => d.seller.uscc ?? ''],
  ['销售方地址', (d) => d.seller.address],
  ['销售方电话', (d) => d.seller.phone],
  ['销售方开户银行', (d) => d.seller.bank],
  ['销售方银行账号', (d) => d.seller.bankAccount],
  ['合计金额', (d) => d.totals.amount],
  ['合计税额', (d) => d.totals.vat],
  ['价税合计', (d) => d.totals.amountInclusive],
  ['备注', (d) => d.remarks],
];

/** The workbook (.xlsx bytes) of an e-fapiao document. Deterministic for a given document. */
export async function eFapiaoWorkbook(doc: EFapiao): Promise<Buffer> {
  // Loaded on the first workbook: a process that writes none never holds exceljs (README "Memory").
  const ExcelJS = createRequire(import.meta.url)('exceljs') as typeof import('exceljs');
  const wb = new ExcelJS.Workbook();
  wb.creator = 'Tokenpool';
  wb.created = new Date(doc.issuedAt);
  wb.modified = new Date(doc.issuedAt);

  const lines = wb.addWorksheet('发票明细');
  lines.columns = LINE_COLUMNS.map(([header, key]) => ({
    header,
    key,
    width: key === 'description' ? 60 : Math.max(10, header.length * 2 + 2),
    style: { numFmt: '@' },
  }));
  for (const l of doc.lines) lines.addRow(Object.fromEntries(LINE_COLUMNS.map(([, key]) => [key, String(l[key])])));
  lines.getRow(1).font = { bold: true };

  const invoice = wb.addWorksheet('发票基本信息');
  invoice.columns = INVOICE_COLUMNS.map(([header], i) => ({ header, key: `c${i}`, width: Math.max(12, header.length * 2 + 2), style: { numFmt: '@' } }));
  invoice.addRow(Object.fromEntries(INVOICE_COLUMNS.map(([, value], i) => [`c${i}`, value(doc)])));
  invoice.getRow(1).font = { bold: true };

  return Buffer.from(await wb.xlsx.writeBuffer());
}
