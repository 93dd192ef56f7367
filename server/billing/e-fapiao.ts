/**
 * The data an e-fapiao (数电票) issuing system needs for one invoice: buyer, seller, lines with
 * tax classification code and tax, totals. Pure: the invoice and the parties in, the document out.
 * The JSON export is this document as is; the Excel file and the printable PDF are rendered from
 * it (server/documents/), so the three cannot disagree. Field by field in README "VAT and e-fapiao".
 */
import type { InvoiceLine } from './rating.js';
import type { VatLine, VatTotals } from './vat.js';

/** A party of the invoice (购买方 / 销售方). Unknown text is `""`, an unknown USCC `null`. */
export interface Party {
  /** 名称. */
  readonly name: string;
  /** 统一社会信用代码 / 纳税人识别号 (18 characters, GB 32100-2015), or null when not on record. */
  readonly uscc: string | null;
  /** 地址. */
  readonly address: string;
  /** 电话. */
  readonly phone: string;
  /** 开户银行. */
  readonly bank: string;
  /** 银行账号. */
  readonly bankAccount: string;
}

export interface EFapiaoLine {
  /** 序号, from 1. */
  readonly lineNo: number;
  /** 项目名称: the service in Chinese. */
  readonly name: string;
  /** The invoice line's kind (`usage`, `fee`, `overage`, `late_usage`). */
  readonly kind: InvoiceLine['kind'];
  /** The invoice line's description (English, as on the invoice). */
  readonly description: string;
  /** 商品和服务税收分类编码, 19 digits. */
  readonly taxCode: string;
  /** 单位. */
  readonly unit: string;
  /** 数量, exact decimal text. */
  readonly quantity: string;
  /** 单价 (exclusive of VAT), decimal text. */
  readonly unitPrice: string;
  /** 金额 (exclusive of VAT), two decimals. */
  readonly amount: string;
  /** 税率, decimal text (`"0.06"`). */
  readonly vatRate: string;
  /** 税额, two decimals. */
  readonly vat: string;
  /** 价税合计 of the line, two decimals. */
  readonly amountInclusive: string;
}

export interface EFapiao {
  /** The format and its version. */
  readonly format: 'tokenpool.e-fapiao.v1';
  readonly invoiceId: string;
  /** The platform's invoice number (not a fapiao number: the tax system gives that). */
  readonly invoiceNumber: string;
  /** The billed month, `YYYY-MM`. */
  readonly period: string;
  /** RFC 3339. */
  readonly issuedAt: string;
  readonly currency: 'CNY';
  /** Always false: unit prices and amounts are exclusive of VAT (含税标志 0). */
  readonly pricesIncludeVat: false;
  readonly buyer: Party;
  readonly seller: Party;
  readonly lines: readonly EFapiaoLine[];
  readonly totals: {
    /** 合计金额, Σ line amounts. */
    readonly amount: string;
    /** 合计税额, Σ line taxes. */
    readonly vat: string;
    /** 价税合计, amount + vat. */
    readonly amountInclusive: string;
  };
  /** 备注. */
  readonly remarks: string;
}

/** The invoice as the export reads it. */
export interface InvoiceForExport extends VatTotals {
  readonly id: string;
  readonly number: string;
  readonly period: string;
  readonly issuedAt: string;
  readonly lines: readonly Omit<VatLine, 'subscriptionId'>[];
}

const NAMES: Readonly<Record<InvoiceLine['kind'], { readonly name: string; readonly unit: string }>> = {
  usage: { name: '标准令牌算力服务', unit: '百万标准令牌' },
  overage: { name: '超额标准令牌算力服务', unit: '百万标准令牌' },
  fee: { name: '算力服务月费', unit: '月' },
  late_usage: { name: '补计用量算力服务', unit: '项' },
  // A negative line: the service-level credit, a discount on the service (折扣).
  sla_credit: { name: '服务水平折让', unit: '项' },
};

/** The e-fapiao data of an invoice. */
export function eFapiao(invoice: InvoiceForExport, buyer: Party, seller: Party): EFapiao {
  return {
    format: 'tokenpool.e-fapiao.v1',
    invoiceId: invoice.id,
    invoiceNumber: invoice.number,
    period: invoice.period,
    issuedAt: invoice.issuedAt,
    currency: 'CNY',
    pricesIncludeVat: false,
    buyer,
    seller,
    lines: invoice.lines.map((l, i) => ({
      lineNo: i + 1,
      name: NAMES[l.kind].name,
      kind: l.kind,
      description: l.description,
      taxCode: l.taxCode,
      unit: NAMES[l.kind].unit,
      quantity: l.quantity,
      unitPrice: l.unitPrice,
      amount: l.amount,
      vatRate: l.vatRate,
      vat: l.vat,
      amountInclusive: l.amountInclusive,
    })),
    totals: { amount: invoice.total, vat: invoice.vat, amountInclusive: invoice.totalInclusive },
    remarks: `Tokenpool 账单 ${invoice.number}，计费期间 ${invoice.period}`,
  };
}

/** A rate as a percentage for people (`"0.06"` → `"6%"`, `"0.065"` → `"6.5%"`). */
export function ratePercent(rate: string): string {
  const [whole = '0', frac = ''] = rate.split('.');
  const f = frac.padEnd(2, '0');
  const percent = `${Number(whole) * 100 + Number(f.slice(0, 2))}${f.length > 2 ? `.${f.slice(2)}` : ''}`.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return `${percent}%`;
}
