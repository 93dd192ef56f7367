import { expect } from 'chai';

import { ratePeriod, type InvoiceLine } from '../../../server/billing/rating.js';
import { creditNoteVat, DEFAULT_TAX_CODE, DEFAULT_VAT_RATE, lineVat, vatRateText, vatTotals, withVat } from '../../../server/billing/vat.js';

function aLine(amount: string): InvoiceLine {
  return { kind: 'usage', description: 'd', quantity: '1', unitPrice: amount, amount, subscriptionId: null };
}

const it6 = { vatRate: '0.06', taxCode: DEFAULT_TAX_CODE };

describe('VAT per line (billing/vat.ts)', () => {
  const cases: [amount: string, rate: string, vat: string][] = [
    ['100.00', '0.06', '6.00'],
    ['0.00', '0.06', '0.00'],
    // Half-up at exactly half a fen.
    ['0.25', '0.06', '0.02'], // 0.015 → 0.02
    ['0.75', '0.06', '0.05'], // 0.045 → 0.05
    ['0.05', '0.1', '0.01'], // 0.005 → 0.01
    ['0.04', '0.1', '0.00'], // 0.004 → 0.00
    ['2.50', '0.13', '0.33'], // 0.325 → 0.33 (a binary float says 0.32499…)
    ['8.25', '0.06', '0.50'], // 0.495 → 0.50
    ['1.08', '0.0625', '0.07'], // 0.0675 → 0.07
    ['99999999999999.99', '0.06', '6000000000000.00'], // 5999999999999.9994 → exact at any size
    ['-0.25', '0.06', '-0.02'], // a credit: the tie away from zero
    ['123.45', '0', '0.00'],
  ];
  for (const [amount, rate, vat] of cases) {
    it(`round(${amount} × ${rate}) = ${vat}`, () => {
      expect(lineVat(amount, rate)).to.equal(vat);
    });
  }

  it('adds rate, code, tax and the inclusive amount to a line, keeping the line as rating made it', () => {
    expect(withVat(aLine('0.25'), it6)).to.deep.equal({ ...aLine('0.25'), vatRate: '0.06', taxCode: DEFAULT_TAX_CODE, vat: '0.02', amountInclusive: '0.27' });
    expect(withVat(aLine('10.00'), { vatRate: '0.065', taxCode: DEFAULT_TAX_CODE })).to.include({ vatRate: '0.065', vat: '0.65', amountInclusive: '10.65' });
    expect(withVat(aLine('10.00'), { vatRate: '0', taxCode: DEFAULT_TAX_CODE })).to.include({ vatRate: '0.00', vat: '0.00', amountInclusive: '10.00' });
  });

  it('refuses a rate of 1 or more, a non-decimal rate, and a tax code that is not 19 digits', () => {
    expect(() => lineVat('1.00', '1')).to.throw(RangeError);
    expect(() => lineVat('1.00', '6%')).to.throw(RangeError);
    expect(() => lineVat('1.00', '-0.06')).to.throw(RangeError);
    expect(() => withVat(aLine('1.00'), { vatRate: '0.06', taxCode: '304020300000000000' })).to.throw(RangeError);
  });

  it('shows a rate with at least two decimals', () => {
    expect([vatRateText('0.06'), vatRateText('0'), vatRateText('0.1'), vatRateText('0.0650')]).to.deep.equal(['0.06', '0.00', '0.10', '0.065']);
    expect(DEFAULT_VAT_RATE).to.equal('0.06');
  });
});

describe('VAT totals of an invoice', () => {
  it('sums the rounded line taxes, not the tax of the total: three lines of 0.25 at 6 % are 0.06, not 0.05', () => {
    const lines = ['0.25', '0.25', '0.25'].map((a) => withVat(aLine(a), it6));
    // 0.75 × 0.06 = 0.045 would round to 0.05; per line 3 × 0.02 = 0.06.
    expect(vatTotals(lines)).to.deep.equal({ total: '0.75', vat: '0.06', totalInclusive: '0.81' });
  });

  it('keeps total the sum of the rounded exclusive lines (API.md) and totalInclusive = Σ amountInclusive', () => {
    const { lines } = ratePeriod('2026-10', 31, [
      {
        subscriptionId: 's1',
        planName: 'gov',
        terms: { type: 'periodic', fee: '10000.00', includedStd: '1000000000', overagePricePerMillionStd: '8.00' },
        activeDays: 16,
        stdTokens: '900000000',
      },
      { subscriptionId: null, planName: 'payg', terms: { type: 'unit', pricePerMillionStd: '2.00' }, activeDays: 0, stdTokens: '1234567' },
    ]);
    const taxed = lines.map((l) => withVat(l, it6));
    // fee 16/31 of 10000 = 5161.29 (tax 309.68), overage 383.870968 M × 8 = 3070.97 (184.26), usage 1.234567 M × 2 = 2.47 (0.15).
    expect(taxed.map((l) => [l.kind, l.amount, l.vat, l.amountInclusive])).to.deep.equal([
      ['fee', '5161.29', '309.68', '5470.97'],
      ['overage', '3070.97', '184.26', '3255.23'],
      ['usage', '2.47', '0.15', '2.62'],
    ]);
    expect(vatTotals(taxed)).to.deep.equal({ total: '8234.73', vat: '494.09', totalInclusive: '8728.82' });
  });

  it('answers zeros for an invoice without lines', () => {
    expect(vatTotals([])).to.deep.equal({ total: '0.00', vat: '0.00', totalInclusive: '0.00' });
  });
});

describe('VAT of a credit note', () => {
  const invoice = { vat: '638.18', totalInclusive: '11274.44' };
  const none = { amount: '0', vat: '0' };

  it('reverses all of the VAT when it credits the whole invoice', () => {
    expect(creditNoteVat('11274.44', invoice, none)).to.deep.equal({ vat: '638.18', revenue: '10636.26' });
  });

  it("reverses the tax's share of a partial amount, rounded half-up, and the rest exactly at the end", () => {
    // 1000.00 × 638.18 ÷ 11274.44 = 56.6041… → 56.60.
    const first = creditNoteVat('1000.00', invoice, none);
    expect(first).to.deep.equal({ vat: '56.60', revenue: '943.40' });
    const rest = creditNoteVat('10274.44', invoice, { amount: '1000.00', vat: first.vat });
    expect(rest).to.deep.equal({ vat: '581.58', revenue: '9692.86' });
  });

  it('refuses more than is left, and credits a zero-tax invoice without VAT', () => {
    expect(() => creditNoteVat('0.01', invoice, { amount: '11274.44', vat: '638.18' })).to.throw(RangeError);
    expect(creditNoteVat('5.00', { vat: '0.00', totalInclusive: '10.00' }, none)).to.deep.equal({ vat: '0.00', revenue: '5.00' });
  });
});
