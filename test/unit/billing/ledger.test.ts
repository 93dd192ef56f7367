import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import { ageingBucket, allocate, invoiceStatus, statementEntry, transfer } from '../../../server/billing/ledger.js';
import { parseCsv } from '../../../server/services/ledger.service.js';

const d = (s: string) => new Decimal(s);

describe('ledger rules', () => {
  describe('allocate: the invoice named first, then the oldest open ones, the rest a credit', () => {
    const open = [
      { id: 'old', outstanding: d('30.00') },
      { id: 'new', outstanding: d('50.00') },
    ];
    const cases: ReadonlyArray<readonly [string, string, string | undefined, readonly (readonly [string | null, string])[]]> = [
      ['part of the oldest', '10.00', undefined, [['old', '10.00']]],
      [
        'the oldest, then the next',
        '40.00',
        undefined,
        [
          ['old', '30.00'],
          ['new', '10.00'],
        ],
      ],
      [
        'all, and a credit left',
        '100.00',
        undefined,
        [
          ['old', '30.00'],
          ['new', '50.00'],
          [null, '20.00'],
        ],
      ],
      [
        'the named one first',
        '60.00',
        'new',
        [
          ['new', '50.00'],
          ['old', '10.00'],
        ],
      ],
      ['a named invoice not open: the oldest', '5.00', 'paid-already', [['old', '5.00']]],
      ['nothing open: all a credit', '5.00', undefined, [[null, '5.00']]],
    ];
    for (const [name, amount, named, expected] of cases) {
      it(name, () => {
        const got = allocate(d(amount), name.startsWith('nothing') ? [] : open, named);
        expect(got.map((a) => [a.invoiceId, a.amount.toFixed(2)])).to.deep.equal(expected);
      });
    }
  });

  describe('invoiceStatus', () => {
    const cases: ReadonlyArray<readonly [string, string, string, string, string]> = [
      ['nothing yet', '100.00', '0', '0', 'issued'],
      ['part paid', '100.00', '0', '40.00', 'partially_paid'],
      ['part credited', '100.00', '5.00', '0', 'partially_paid'],
      ['paid and credited to the fen', '100.00', '5.00', '95.00', 'paid'],
      ['overpaid', '100.00', '0', '100.01', 'paid'],
      ['credited whole', '100.00', '100.00', '0', 'void'],
      ['a zero invoice', '0.00', '0', '0', 'paid'],
    ];
    for (const [name, total, credited, paid, status] of cases) {
      it(`${name}: ${status}`, () => {
        expect(invoiceStatus(d(total), { invoiced: d(total), credited: d(credited), paid: d(paid) })).to.equal(status);
      });
    }
  });

  it('buckets days past issue as 0–30, 31–60, 61–90, 90+', () => {
    expect([0, 30, 31, 60, 61, 90, 91, 400].map(ageingBucket)).to.deep.equal(['0-30', '0-30', '31-60', '31-60', '61-90', '61-90', '90+', '90+']);
  });

  it('makes a transfer of two postings summing to zero, and refuses a non-positive or sub-fen amount', () => {
    const e = transfer({ id: 'e', kind: 'payment', tenantId: 't', description: 'x', bookedAt: new Date(0) }, 'cash', 'receivable:t', '12.30');
    expect(e.postings).to.deep.equal([
      { account: 'cash', amount: '12.30' },
      { account: 'receivable:t', amount: '-12.30' },
    ]);
    for (const bad of ['0', '-1.00', '0.001']) expect(() => transfer(e, 'cash', 'revenue', bad), bad).to.throw();
  });

  describe('statementEntry: provider costs and input VAT against the provider payable (inclusive), once per statement', () => {
    const cases: ReadonlyArray<readonly [string, [total: string, vat: string, inclusive: string], readonly (readonly [string, string])[] | null]> = [
      [
        'a statement owed to the provider, with its VAT',
        ['23.40', '1.40', '24.80'],
        [
          ['provider_costs', '23.40'],
          ['vat_input', '1.40'],
          ['payable:pv_a', '-24.80'],
        ],
      ],
      [
        'a statement at a rate of 0 (issued before provider VAT): no input VAT posting',
        ['23.40', '0.00', '23.40'],
        [
          ['provider_costs', '23.40'],
          ['payable:pv_a', '-23.40'],
        ],
      ],
      [
        'a negative statement (late lines that shrank, an SLA credit) the other way round, its VAT taken back',
        ['-1.20', '-0.07', '-1.27'],
        [
          ['provider_costs', '-1.20'],
          ['vat_input', '-0.07'],
          ['payable:pv_a', '1.27'],
        ],
      ],
      ['a statement of 0.00: nothing', ['0.00', '0.00', '0.00'], null],
    ];
    for (const [name, [total, vat, totalInclusive], postings] of cases) {
      it(name, () => {
        const e = statementEntry({ statementId: 'pst_1', providerId: 'pv_a', total, vat, totalInclusive, description: 'x', bookedAt: new Date(0) });
        expect(e && e.postings.map((p) => [p.account, p.amount])).to.deep.equal(postings);
        if (e) expect([e.id, e.kind, e.statementId, e.tenantId]).to.deep.equal(['je_pst_1', 'statement', 'pst_1', null]);
      });
    }
    it('refuses an inclusive total that is not total + vat', () => {
      expect(() =>
        statementEntry({
          statementId: 'pst_1',
          providerId: 'pv_a',
          total: '1.00',
          vat: '0.06',
          totalInclusive: '1.00',
          description: 'x',
          bookedAt: new Date(0),
        }),
      ).to.throw(/not total \+ vat/);
    });
  });

  it('reads CSV lines with quoted commas, doubled quotes and CRLF, numbering lines from 1', () => {
    expect(parseCsv('date,amount\r\n"2026-11-01","1,5"\n"say ""hi""",x')).to.deep.equal([
      { line: 1, fields: ['date', 'amount'] },
      { line: 2, fields: ['2026-11-01', '1,5'] },
      { line: 3, fields: ['say "hi"', 'x'] },
    ]);
  });
});
