import { expect } from 'chai';

import { eFapiao, ratePercent, type Party } from '../../../server/billing/e-fapiao.js';
import { InvoicePdf } from '../../../server/documents/invoice-pdf.js';
import { AppError } from '../../../server/errors.js';

const party: Party = { name: '卖方', uscc: null, address: '', phone: '', bank: '', bankAccount: '' };
const invoice = {
  id: 'inv_1',
  number: 'INV-2026-000001',
  period: '2026-10',
  issuedAt: '2026-11-01T00:30:00.000Z',
  lines: [
    {
      kind: 'fee' as const,
      description: 'fee',
      quantity: '1',
      unitPrice: '10.00',
      amount: '10.00',
      vatRate: '0.06',
      vat: '0.60',
      amountInclusive: '10.60',
      taxCode: '3040203000000000000',
    },
  ],
  total: '10.00',
  vat: '0.60',
  totalInclusive: '10.60',
};

describe('e-fapiao data (billing/e-fapiao.ts)', () => {
  it('numbers the lines, names them in Chinese with a unit, and carries the totals', () => {
    const doc = eFapiao(invoice, party, party);
    expect(doc.lines).to.deep.equal([
      {
        lineNo: 1,
        name: '算力服务月费',
        kind: 'fee',
        description: 'fee',
        taxCode: '3040203000000000000',
        unit: '月',
        quantity: '1',
        unitPrice: '10.00',
        amount: '10.00',
        vatRate: '0.06',
        vat: '0.60',
        amountInclusive: '10.60',
      },
    ]);
    expect(doc.totals).to.deep.equal({ amount: '10.00', vat: '0.60', amountInclusive: '10.60' });
    expect(doc.pricesIncludeVat).to.equal(false);
  });

  it('shows a rate as a percentage', () => {
    expect(['0.06', '0.00', '0.13', '0.065', '0.0625', '0.1'].map(ratePercent)).to.deep.equal(['6%', '0%', '13%', '6.5%', '6.25%', '10%']);
  });

  it('refuses to render the PDF without its font: unavailable (503), naming the file and the package', async () => {
    const err = await new InvoicePdf('/nonexistent/NotoSansCJK-Regular.ttc').render(eFapiao(invoice, party, party)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(AppError);
    expect((err as AppError).kind).to.equal('unavailable');
    expect((err as AppError).message)
      .to.include('/nonexistent/NotoSansCJK-Regular.ttc')
      .and.include('fonts-noto-cjk');
  });
});
