/**
 * The printable invoice (A4, Chinese and English) rendered from the e-fapiao data with pdfkit.
 * Text is set in Noto Sans CJK SC, picked by its PostScript name from Debian's
 * `NotoSansCJK-Regular.ttc` collection, and embedded as a subset (with a ToUnicode map, so the
 * text can be searched and copied). It is the platform's bill, not a fapiao: the tax system issues
 * that from the same data, and the page says so.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import { ratePercent, type EFapiao, type Party } from '../billing/e-fapiao.js';
import { AppError } from '../errors.js';

// pdfkit's types declare `export =` (CommonJS); its CommonJS build is loaded as such, on the first
// invoice printed: a process that prints none never holds its code and font tables (README "Memory").
const requirePdfkit = (): typeof import('pdfkit') => createRequire(import.meta.url)('pdfkit') as typeof import('pdfkit');

/** The face of the collection used: Simplified Chinese. */
export const CJK_FACE = 'NotoSansCJKsc-Regular';

/** Renders invoices; holds the font file's bytes once read (≈19 MB). */
export class InvoicePdf {
  private font: Promise<Buffer> | undefined;

  constructor(
    /** The CJK font collection (`TOKENPOOL_INVOICE_FONT`). */
    private readonly fontPath: string,
  ) {}

  /**
   * The PDF bytes of one invoice. Deterministic for a given document (its dates are the invoice's).
   * @throws AppError `unavailable` (503) when the font file cannot be read.
   */
  async render(doc: EFapiao): Promise<Buffer> {
    const font = await this.fontBytes();
    const issued = new Date(doc.issuedAt);
    const PDFDocument = requirePdfkit();
    const pdf = new PDFDocument({
      size: 'A4',
      margin: 40,
      info: {
        Title: doc.invoiceNumber,
        Author: doc.seller.name,
        Subject: `账单 Invoice ${doc.period}`,
        Creator: 'Tokenpool',
        CreationDate: issued,
        ModDate: issued,
      },
    });
    const done = collect(pdf);
    pdf.registerFont('cjk', font, CJK_FACE);
    pdf.font('cjk');
    draw(pdf, doc);
    pdf.end();
    return done;
  }

  private fontBytes(): Promise<Buffer> {
    this.font ??= readFile(this.fontPath).catch((err: unknown) => {
      this.font = undefined;
      throw new AppError(
        'unavailable',
        `The invoice PDF needs the CJK font ${this.fontPath} (Debian package fonts-noto-cjk; TOKENPOOL_INVOICE_FONT), which cannot be read: ${(err as Error).message}`,
      );
    });
    return this.font;
  }
}

function collect(pdf: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    pdf.on('data', (c: Buffer) => chunks.push(c));
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
}

const LEFT = 40;
const WIDTH = 515;

/** Table columns: header (Chinese / English), width, alignment, value. */
const COLUMNS: readonly { head: string; width: number; align: 'left' | 'right'; value: (l: EFapiao['lines'][number]) => string }[] = [
  { head: '项目名称\nItem', width: 120, align: 'left', value: (l) => `${l.name}\n${l.kind}` },
  { head: '税收分类编码\nTax code', width: 92, align: 'left', value: (l) => l.taxCode },
  { head: '数量\nQty', width: 62, align: 'right', value: (l) => `${l.quantity}\n${l.unit}` },
  { head: '单价\nUnit price', width: 52, align: 'right', value: (l) => l.unitPrice },
  { head: '金额\nAmount', width: 60, align: 'right', value: (l) => l.amount },
  { head: '税率\nRate', width: 34, align: 'right', value: (l) => ratePercent(l.vatRate) },
  { head: '税额\nVAT', width: 43, align: 'right', value: (l) => l.vat },
  { head: '价税合计\nTotal', width: 52, align: 'right', value: (l) => l.amountInclusive },
];

function draw(pdf: PDFKit.PDFDocument, doc: EFapiao): void {
  pdf.fontSize(18).text('账单  Invoice', LEFT, 40, { width: WIDTH, align: 'center' });
  pdf.moveDown(0.3).fontSize(9).fillColor('#555').text('本账单不是增值税发票；增值税电子发票由销售方依据本账单数据开具。', { width: WIDTH, align: 'center' });
  pdf.text("This is not a VAT fapiao: the seller issues the e-fapiao from this invoice's data.", { width: WIDTH, align: 'center' }).fillColor('black');

  pdf.moveDown(0.8).fontSize(10);
  const facts: [string, string][] = [
    ['账单号 Invoice number', doc.invoiceNumber],
    ['计费期间 Period', doc.period],
    ['开具日期 Issued', doc.issuedAt.slice(0, 10)],
    ['币种 Currency', `人民币 ${doc.currency}`],
  ];
  for (const [k, v] of facts) pdf.text(`${k}：${v}`, LEFT);

  const top = pdf.y + 10;
  party(pdf, '购买方 Buyer', doc.buyer, LEFT, top);
  party(pdf, '销售方 Seller', doc.seller, LEFT + WIDTH / 2 + 5, top);
  pdf.y = Math.max(pdf.y, top + 100);

  // The lines.
  let y = pdf.y + 10;
  pdf.fontSize(8);
  y = row(
    pdf,
    y,
    COLUMNS.map((c) => c.head),
    true,
  );
  for (const l of doc.lines) {
    if (y > 740) {
      pdf.addPage();
      y = 40;
    }
    y = row(
      pdf,
      y,
      COLUMNS.map((c) => c.value(l)),
      false,
    );
    pdf
      .fontSize(7)
      .fillColor('#555')
      .text(l.description, LEFT + 4, y + 1, { width: WIDTH - 8 })
      .fillColor('black')
      .fontSize(8);
    y = pdf.y + 4;
    pdf
      .moveTo(LEFT, y)
      .lineTo(LEFT + WIDTH, y)
      .lineWidth(0.3)
      .stroke();
  }

  y += 10;
  pdf.fontSize(10);
  const totals: [string, string][] = [
    ['合计金额（不含税） Total excl. VAT', doc.totals.amount],
    ['合计税额 VAT', doc.totals.vat],
    ['价税合计 Total incl. VAT', doc.totals.amountInclusive],
  ];
  for (const [k, v] of totals) {
    pdf.text(k, LEFT, y, { width: WIDTH - 120 });
    pdf.text(`¥${v}`, LEFT + WIDTH - 120, y, { width: 120, align: 'right' });
    y += 16;
  }
  pdf
    .moveDown(1)
    .fontSize(8)
    .fillColor('#555')
    .text(`备注 Remarks：${doc.remarks}`, LEFT, y + 6, { width: WIDTH });
  pdf.text("单价与金额不含增值税；税额按每行金额乘以税率四舍五入到分。Prices and amounts exclude VAT; each line's VAT is rounded half-up to the fen.", {
    width: WIDTH,
  });
}

function party(pdf: PDFKit.PDFDocument, title: string, p: Party, x: number, y: number): void {
  const width = WIDTH / 2 - 5;
  pdf.fontSize(10).text(title, x, y, { width, underline: true });
  pdf.fontSize(8);
  const rows: [string, string][] = [
    ['名称 Name', p.name],
    ['统一社会信用代码 USCC', p.uscc ?? '—'],
    ['地址 Address', p.address || '—'],
    ['电话 Phone', p.phone || '—'],
    ['开户银行 Bank', p.bank || '—'],
    ['银行账号 Account', p.bankAccount || '—'],
  ];
  for (const [k, v] of rows) pdf.text(`${k}：${v}`, x, pdf.y, { width });
}

/** One table row at `y`; answers where the next begins. */
function row(pdf: PDFKit.PDFDocument, y: number, cells: readonly string[], head: boolean): number {
  let x = LEFT;
  let bottom = y;
  cells.forEach((text, i) => {
    const c = COLUMNS[i]!;
    pdf.fillColor(head ? '#333' : 'black').text(text, x + 2, y + 3, { width: c.width - 4, align: c.align });
    bottom = Math.max(bottom, pdf.y);
    x += c.width;
  });
  if (head) {
    pdf
      .moveTo(LEFT, bottom + 2)
      .lineTo(LEFT + WIDTH, bottom + 2)
      .lineWidth(0.6)
      .stroke();
  }
  pdf.fillColor('black');
  return bottom + 3;
}
