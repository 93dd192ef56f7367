import { describe, expect, it } from 'vitest';
import { csvCell } from '../src/csv';
import { invoiceCsv } from '../src/views/portal/csv';

describe('an invoice as CSV', () => {
  it('quotes every cell, neutralizes formulas and keeps numbers', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`'=HYPERLINK("x")`);
    expect(csvCell('-12.50')).toBe('-12.50');
    const text = invoiceCsv({
      number: 'INV-2026-10-0001',
      period: '2026-10',
      lines: [
        {
          kind: 'usage',
          description: 'qwen, "7b"',
          quantity: '1000000',
          unitPrice: '2.00',
          amount: '2.00',
          vatRate: '0.06',
          vat: '0.12',
          amountInclusive: '2.12',
        },
      ],
      total: '2.00',
      vat: '0.12',
      totalInclusive: '2.12',
    });
    const lines = text.slice(1).split('\r\n');
    expect(text.startsWith('\ufeff')).toBe(true);
    expect(lines[1]).toBe('"INV-2026-10-0001","2026-10","usage","qwen, ""7b""","1000000","2.00","2.00","0.06","0.12","2.12"');
    expect(lines[2]).toBe('"INV-2026-10-0001","2026-10","total","","","","2.00","","0.12","2.12"');
  });
});
