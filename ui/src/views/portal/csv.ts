/** An invoice's lines and totals as CSV, for the tenant's download (the rules in ui/src/csv.ts). */
import { csvText } from '@/csv';

interface InvoiceLike {
  number: string;
  period: string;
  lines: readonly {
    kind: string;
    description: string;
    quantity: string;
    unitPrice: string;
    amount: string;
    vatRate: string;
    vat: string;
    amountInclusive: string;
  }[];
  total: string;
  vat: string;
  totalInclusive: string;
}

export function invoiceCsv(inv: InvoiceLike): string {
  return csvText([
    ['number', 'period', 'kind', 'description', 'quantity', 'unitPrice', 'amount', 'vatRate', 'vat', 'amountInclusive'],
    ...inv.lines.map((l) => [inv.number, inv.period, l.kind, l.description, l.quantity, l.unitPrice, l.amount, l.vatRate, l.vat, l.amountInclusive]),
    [inv.number, inv.period, 'total', '', '', '', inv.total, '', inv.vat, inv.totalInclusive],
  ]);
}
