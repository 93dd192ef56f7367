/**
 * CSV downloads made in the page (an invoice's lines): RFC 4180 quoting, a BOM so spreadsheets
 * read UTF-8, and text a spreadsheet would run as a formula neutralized with a leading apostrophe
 * (OWASP "CSV Injection"); numbers, negative ones too, stay numbers. As web/csv.js does.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

export function csvCell(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

export function csvText(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const quote = (v: string | number | null | undefined) => `"${csvCell(v).replace(/"/g, '""')}"`;
  return `\ufeff${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`;
}

/** Saves `text` as a file named `name` (a Blob URL, released after). */
export function download(name: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

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

/** An invoice's lines and totals as CSV. */
export function invoiceCsv(inv: InvoiceLike): string {
  return csvText([
    ['number', 'period', 'kind', 'description', 'quantity', 'unitPrice', 'amount', 'vatRate', 'vat', 'amountInclusive'],
    ...inv.lines.map((l) => [inv.number, inv.period, l.kind, l.description, l.quantity, l.unitPrice, l.amount, l.vatRate, l.vat, l.amountInclusive]),
    [inv.number, inv.period, 'total', '', '', '', inv.total, '', inv.vat, inv.totalInclusive],
  ]);
}
