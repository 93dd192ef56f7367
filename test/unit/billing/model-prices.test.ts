import { expect } from 'chai';

import { planExhausted, pricedStd, rateLateUsage, rateSubscription, type PlanTerms, type SubscriptionUsage } from '../../../server/billing/rating.js';

const unit = (modelPrices?: PlanTerms['modelPrices']): PlanTerms => ({ type: 'unit', pricePerMillionStd: '2.00', modelPrices });
const periodic = (modelPrices: PlanTerms['modelPrices'], overage: string | null = '8.00'): PlanTerms => ({
  type: 'periodic',
  fee: '1000.00',
  includedStd: '1000000',
  overagePricePerMillionStd: overage,
  modelPrices,
});

function usage(terms: PlanTerms, stdTokens: string, byModel?: Record<string, string>): SubscriptionUsage {
  return { subscriptionId: 'sub-1', planName: 'p', terms, activeDays: 31, stdTokens, byModel };
}

const lines = (s: SubscriptionUsage) => rateSubscription('2026-10', 31, s).map((l) => [l.kind, l.quantity, l.unitPrice, l.amount]);

describe('per-model prices', () => {
  describe('unit plans: a usage line per differently priced model', () => {
    const cases: { name: string; terms: PlanTerms; std: string; byModel?: Record<string, string>; want: string[][] }[] = [
      { name: 'no modelPrices: one line, as before', terms: unit(), std: '1500000', want: [['usage', '1.5', '2.00', '3.00']] },
      { name: 'an empty modelPrices: as before', terms: unit({}), std: '1500000', want: [['usage', '1.5', '2.00', '3.00']] },
      {
        name: 'a multiplier: the plan price times it',
        terms: unit({ frontier: { multiplier: '1.5' } }),
        std: '3000000',
        byModel: { frontier: '1000000' },
        want: [
          ['usage', '2', '2.00', '4.00'],
          ['usage', '1', '3.00', '3.00'],
        ],
      },
      {
        name: 'an own price, half-up to the fen per line',
        terms: unit({ big: { pricePerMillionStd: '12.00' }, small: { multiplier: '0.333333' } }),
        std: '1000125',
        byModel: { big: '125', small: '1000000' },
        want: [
          ['usage', '0', '2.00', '0.00'],
          ['usage', '0.000125', '12.00', '0.00'],
          ['usage', '1', '0.666666', '0.67'],
        ],
      },
      {
        name: 'a named model without usage has no line',
        terms: unit({ frontier: { multiplier: '2' } }),
        std: '1000000',
        byModel: {},
        want: [['usage', '1', '2.00', '2.00']],
      },
    ];
    for (const c of cases) it(c.name, () => expect(lines(usage(c.terms, c.std, c.byModel))).to.deep.equal(c.want));

    it('refuses usage per model that exceeds the total', () => {
      expect(() => lines(usage(unit({ a: { multiplier: '2' } }), '10', { a: '11' }))).to.throw(RangeError);
    });
  });

  describe('periodic plans: priced std consumes the included amount, dearest first', () => {
    it('the example of the module comment', () => {
      const s = usage(periodic({ frontier: { multiplier: '2' }, small: { pricePerMillionStd: '1.00' } }), '1200000', { frontier: '400000', small: '500000' });
      expect(pricedStd(s)).to.equal('1600000');
      expect(lines(s)).to.deep.equal([
        ['fee', '1', '1000.00', '1000.00'],
        ['overage', '0.1', '8.00', '0.80'],
        ['overage', '0.5', '1.00', '0.50'],
      ]);
    });
    it('a multiplier model past the included amount: priced std at the overage price', () => {
      const s = usage(periodic({ frontier: { multiplier: '1.5' } }), '1000000', { frontier: '1000000' });
      expect(lines(s)).to.deep.equal([
        ['fee', '1', '1000.00', '1000.00'],
        ['overage', '0.5', '8.00', '4.00'],
      ]);
    });
    it('a dearer own price is covered first', () => {
      const s = usage(periodic({ frontier: { pricePerMillionStd: '20.00' } }), '1500000', { frontier: '900000' });
      // frontier (¥20) takes 900,000 of the 1,000,000; the rest 600,000 has 500,000 over at ¥8.
      expect(lines(s)).to.deep.equal([
        ['fee', '1', '1000.00', '1000.00'],
        ['overage', '0.5', '8.00', '4.00'],
      ]);
    });
    it('within the included amount: the fee only', () => {
      expect(lines(usage(periodic({ a: { multiplier: '2' } }), '400000', { a: '400000' }))).to.deep.equal([['fee', '1', '1000.00', '1000.00']]);
    });
    it('a hard cap bills no overage, but a multiplier exhausts it sooner', () => {
      const s = usage(periodic({ a: { multiplier: '2' } }, null), '500000', { a: '500000' });
      expect(lines(s)).to.deep.equal([['fee', '1', '1000.00', '1000.00']]);
      expect(planExhausted('2026-10', 31, s)).to.equal(true);
      expect(planExhausted('2026-10', 31, usage(periodic({ a: { multiplier: '2' } }, null), '500000', { b: '500000' }))).to.equal(false);
    });
  });

  it('late usage adds per model, exactly', () => {
    const terms = unit({ a: { multiplier: '3' } });
    const { line, rating } = rateLateUsage('2026-10', 31, [usage(terms, '1000000', { a: '1000000' })], [usage(terms, '1000000', { a: '500000' })]);
    expect(rating[0]!.byModel).to.deep.equal({ a: '1500000' });
    // 6.00 → 1.5 × 6 + 0.5 × 2 = 10.00
    expect(line!.amount).to.equal('4.00');
  });
});
