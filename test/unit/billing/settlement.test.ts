import { expect } from 'chai';
import { Decimal } from 'decimal.js';

import { rateLate, rateServed, statementTotal, type RateCardTerms, type ServedUsage } from '../../../server/billing/settlement.js';

function served(over: Partial<ServedUsage> & { terms?: RateCardTerms | null }): ServedUsage {
  const { terms, ...rest } = over;
  return {
    period: '2026-10',
    clusterId: 'cl_a',
    model: 'qwen2.5-7b-instruct',
    profile: 'H100-80GB',
    vendor: 'nvidia',
    rateCard: terms === null ? null : { id: 'rc_1', terms: terms ?? { kind: 'flat', pricePerMillionStd: '1.20' } },
    paidByTenants: true,
    stdTokens: '0',
    charged: null,
    ...rest,
  };
}

const DEVICE: RateCardTerms = {
  kind: 'device_class',
  prices: [
    { match: 'nvidia', pricePerMillionStd: '1.50' },
    { match: 'H100-80GB', pricePerMillionStd: '1.80' },
    { match: 'huawei', pricePerMillionStd: '1.10' },
  ],
  defaultPricePerMillionStd: '0.90',
};
const SHARE: RateCardTerms = { kind: 'revenue_share', sharePercent: '70', unpaidPricePerMillionStd: '0.50' };

describe('provider rating (billing/settlement.ts)', () => {
  it('flat: millions × price, rounded half-up per line', () => {
    // 1,234,567 std × 1.20 / 1e6 = 1.4814804 → 1.48; 2,087,500 × 1.20 / 1e6 = 2.505 → 2.51 (half-up).
    const lines = rateServed([served({ stdTokens: '1234567' }), served({ clusterId: 'cl_b', stdTokens: '2087500' })]);
    expect(lines.map((l) => [l.clusterId, l.basis, l.quantity, l.unitPrice, l.amount])).to.deep.equal([
      ['cl_a', 'flat', '1.234567', '1.20', '1.48'],
      ['cl_b', 'flat', '2.0875', '1.20', '2.51'],
    ]);
    expect(statementTotal(lines)).to.equal('3.99');
  });

  it('sums the standard tokens of one key exactly before rounding (fractional std included)', () => {
    const lines = rateServed([served({ stdTokens: '0.25' }), served({ stdTokens: '4166666.5' }), served({ stdTokens: '0.25' })]);
    // 4,166,667 std × 1.20 / 1e6 = 5.0000004 → 5.00
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ stdTokens: '4166667', amount: '5.00' });
  });

  it('device class: a profile match wins over a vendor match, then the default', () => {
    const lines = rateServed([
      served({ terms: DEVICE, stdTokens: '1000000' }),
      served({ terms: DEVICE, profile: 'A100-40GB', stdTokens: '1000000' }),
      served({ terms: DEVICE, profile: 'Ascend910B', vendor: 'huawei', stdTokens: '1000000' }),
      served({ terms: DEVICE, profile: 'MLU370', vendor: 'cambricon', stdTokens: '1000000' }),
      served({ terms: DEVICE, profile: null, vendor: null, stdTokens: '1000000' }),
    ]);
    expect(lines.map((l) => [l.basis, l.amount])).to.deep.equal([
      ['profile:H100-80GB', '1.80'],
      ['vendor:nvidia', '1.50'],
      ['vendor:huawei', '1.10'],
      ['default', '1.80'],
    ]);
    // The last two share the `default` key: 2 million at 0.90.
    expect(lines[3]!.stdTokens).to.equal('2000000');
  });

  it('revenue share: the share of what the tenants were charged for these tokens, averaged over each subscription', () => {
    // Tenant A's subscription: ¥10,636.26 for 1,202,000,000 std; 300,000,000 of them served here.
    // 300e6 × 10636.26 / 1202e6 = 2654.6406…; tenant B (unit plan): ¥2.69 for 1,074,074.75 std, all served
    // here → 2.69; together 2657.3306… → revenue 2657.33, × 0.7 = 1860.131 → 1860.13.
    const lines = rateServed([
      served({ terms: SHARE, stdTokens: '300000000', charged: { amount: '10636.26', std: '1202000000' } }),
      served({ terms: SHARE, stdTokens: '1074074.75', charged: { amount: '2.69', std: '1074074.75' } }),
    ]);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ basis: 'revenue_share', quantity: '2657.33', unitPrice: '0.7', amount: '1860.13', stdTokens: '301074074.75' });
  });

  it('revenue share: served tokens no tenant pays for are paid per million, on their own line', () => {
    const lines = rateServed([
      served({ terms: SHARE, stdTokens: '1000000', charged: { amount: '5.00', std: '1000000' } }),
      served({ terms: SHARE, stdTokens: '3000000', paidByTenants: false }),
    ]);
    expect(lines.map((l) => [l.basis, l.paidByTenants, l.amount])).to.deep.equal([
      ['revenue_share', true, '3.50'],
      ['unpaid', false, '1.50'],
    ]);
    expect(lines[1]!.description).to.contain('no tenant pays');
  });

  it('revenue share: nothing charged (a hard cap past its included tokens) pays nothing', () => {
    const lines = rateServed([served({ terms: SHARE, stdTokens: '1000000', charged: { amount: '0.00', std: '5000000' } })]);
    expect(lines[0]!.amount).to.equal('0.00');
  });

  it('flat and device-class cards pay for unpaid usage at their price, marked as such', () => {
    const lines = rateServed([served({ stdTokens: '1000000', paidByTenants: false })]);
    expect(lines[0]).to.include({ paidByTenants: false, amount: '1.20' });
  });

  it('usage with no valid rate card is shown at 0.00', () => {
    const lines = rateServed([served({ terms: null, stdTokens: '1000000' })]);
    expect(lines[0]).to.include({ basis: 'no_rate_card', rateCardId: null, amount: '0.00' });
  });

  it('late usage: what each line of the earlier statement would have grown by', () => {
    const before = rateServed([served({ stdTokens: '2087500' })]); // 2.505 → 2.51
    const paid = Object.fromEntries(before.map((l) => [l.key, { amount: l.amount, std: l.stdTokens }]));
    // 4,000 late std: 2,091,500 × 1.20 / 1e6 = 2.5098 → 2.51: the line did not grow, but the tokens show.
    const small = rateLate([served({ stdTokens: '2091500' })], paid);
    expect(small.lines.map((l) => [l.kind, l.stdTokens, l.amount])).to.deep.equal([['late_usage', '4000', '0.00']]);
    // 1,000,000 late std on the same key and a new key on another cluster.
    const { lines, paidNow } = rateLate([served({ stdTokens: '3087500' }), served({ clusterId: 'cl_b', stdTokens: '500000' })], paid);
    // 3,087,500 × 1.2 / 1e6 = 3.705 → 3.71, less 2.51 paid = 1.20; cl_b: 0.60, new.
    expect(lines.map((l) => [l.clusterId, l.stdTokens, l.amount])).to.deep.equal([
      ['cl_a', '1000000', '1.20'],
      ['cl_b', '500000', '0.60'],
    ]);
    expect(Object.values(paidNow).map((p) => p.amount)).to.deep.equal(['3.71', '0.60']);
    expect(rateLate([served({ stdTokens: '3087500' })], paidNow).lines).to.deep.equal([]);
  });

  it("revenue share: the tenants' revenue of a line is the 1,000-digit sum rounded half-up, also a sum of repeating terms on half a fen", () => {
    // 1 × 0.01 / 3 + 1 × 0.01 / 6 = 0.005 exactly → 0.01 (half-up), though each term repeats.
    const half = rateServed([
      served({ terms: SHARE, stdTokens: '1', charged: { amount: '0.01', std: '3' } }),
      served({ terms: SHARE, stdTokens: '1', charged: { amount: '0.01', std: '6' } }),
    ]);
    expect(half.map((l) => l.quantity)).to.deep.equal(['0.01']);
    // Many tenants' terms against the same sum done in decimal.js at 1,000 digits.
    const D = Decimal.clone({ precision: 1000, rounding: Decimal.ROUND_HALF_UP });
    let seed = 7;
    const next = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let round = 0; round < 20; round++) {
      const rows = Array.from({ length: 1 + next(40) }, () =>
        served({
          terms: SHARE,
          stdTokens: `${next(5_000_000)}.${next(1000)}`,
          charged: { amount: `${next(100_000)}.${String(next(100)).padStart(2, '0')}`, std: `${1 + next(90_000_000)}.${next(100)}` },
        }),
      );
      const expected = rows
        .reduce((sum, r) => sum.plus(new D(r.stdTokens).times(r.charged!.amount).div(r.charged!.std)), new D(0))
        .toDecimalPlaces(2, Decimal.ROUND_HALF_UP)
        .toFixed(2);
      expect(rateServed(rows)[0]!.quantity).to.equal(expected);
    }
  });

  it('refuses a negative usage or a share over 100 %', () => {
    expect(() => rateServed([served({ stdTokens: '-1' })])).to.throw(RangeError);
    expect(() => rateServed([served({ terms: { ...SHARE, sharePercent: '100.5' }, stdTokens: '1' })])).to.throw(RangeError);
  });
});
