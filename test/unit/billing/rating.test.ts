import { expect } from 'chai';
import { Decimal } from 'decimal.js';

import {
  costSoFar,
  invoiceTotal,
  isHardCap,
  planExhausted,
  proratedIncludedStd,
  rateLateUsage,
  ratePeriod,
  rateSubscription,
  roundHalfUpToFen,
} from '../../../server/billing/rating.js';
import type { InvoiceLine, PlanTerms, SubscriptionUsage } from '../../../server/billing/rating.js';

// --- builders -------------------------------------------------------------------------------

const payAsYouGo: PlanTerms = { type: 'unit', pricePerMillionStd: '2.00' };
const govStandard: PlanTerms = { type: 'periodic', fee: '10000.00', includedStd: '1000000000', overagePricePerMillionStd: '8.00' };
const govBasic: PlanTerms = { type: 'periodic', fee: '3000.00', includedStd: '200000000', overagePricePerMillionStd: '10.00' };
const govCapped: PlanTerms = { type: 'periodic', fee: '10000.00', includedStd: '1000000000', overagePricePerMillionStd: null };

class SubscriptionUsageBuilder {
  private value: SubscriptionUsage = { subscriptionId: 'sub-1', planName: 'pay-as-you-go', terms: payAsYouGo, activeDays: 31, stdTokens: '0' };
  id(subscriptionId: string | null): this {
    this.value = { ...this.value, subscriptionId };
    return this;
  }
  plan(planName: string, terms: PlanTerms): this {
    this.value = { ...this.value, planName, terms };
    return this;
  }
  days(activeDays: number): this {
    this.value = { ...this.value, activeDays };
    return this;
  }
  std(stdTokens: string): this {
    this.value = { ...this.value, stdTokens };
    return this;
  }
  build(): SubscriptionUsage {
    return this.value;
  }
}
const aSubscription = (): SubscriptionUsageBuilder => new SubscriptionUsageBuilder();

/** kind and amount of each line: what a tenant reads first on an invoice. */
const amounts = (lines: readonly InvoiceLine[]): string[][] => lines.map((l) => [l.kind, l.amount]);

describe('billing rating', () => {
  describe('roundHalfUpToFen', () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['0.005', '0.01'], // a tie rounds up
      ['0.004999', '0.00'],
      ['2.675', '2.68'], // (2.675).toFixed(2) is "2.67" with a binary float
      ['1.005', '1.01'], // (1.005).toFixed(2) is "1.00" with a binary float
      ['0', '0.00'],
      ['10', '10.00'],
      ['5161.290322580645', '5161.29'],
      ['123456789012345678.995', '123456789012345679.00'], // beyond 2^53, still exact
      ['-0.001', '0.00'], // never "-0.00"
      ['-0.005', '-0.01'], // a negative tie rounds away from zero
    ];
    for (const [input, output] of cases) {
      it(`${input} → ${output}`, () => expect(roundHalfUpToFen(input)).to.equal(output));
    }
    it('takes a Decimal', () => expect(roundHalfUpToFen(new Decimal('0.125'))).to.equal('0.13'));
    it('rejects what is not a finite decimal', () => {
      expect(() => roundHalfUpToFen('abc')).to.throw(RangeError);
      expect(() => roundHalfUpToFen('Infinity')).to.throw(RangeError);
    });
  });

  describe('proratedIncludedStd = floor(includedStd × activeDays ÷ daysInMonth)', () => {
    const cases: ReadonlyArray<readonly [string, number, number, string]> = [
      ['1000000000', 31, 31, '1000000000'],
      ['1000000000', 16, 31, '516129032'], // 16e9 / 31 = 516129032.26
      ['1000000000', 15, 31, '483870967'], // 15e9 / 31 = 483870967.74 (floored, not rounded)
      ['1000000000', 14, 28, '500000000'],
      ['1000000000', 10, 29, '344827586'], // 1e10 / 29 = 344827586.21
      ['1000000000', 7, 30, '233333333'], // 7e9 / 30 = 233333333.33
      ['1000000000', 0, 31, '0'],
      ['1000000000000000000000', 1, 31, '32258064516129032258'], // 1e21 / 31, exact beyond 2^53
    ];
    for (const [included, days, month, out] of cases) {
      it(`${included} × ${days}/${month} → ${out}`, () => expect(proratedIncludedStd(included, days, month)).to.equal(out));
    }
    it('rejects a fractional included amount and days out of range', () => {
      expect(() => proratedIncludedStd('1.5', 1, 31)).to.throw(RangeError);
      expect(() => proratedIncludedStd('100', 32, 31)).to.throw(RangeError);
      expect(() => proratedIncludedStd('100', 1.5, 31)).to.throw(RangeError);
    });
  });

  describe('unit plan: one usage line, std ÷ 10^6 × pricePerMillionStd', () => {
    const cases: ReadonlyArray<{ readonly name: string; readonly std: string; readonly price: string; readonly quantity: string; readonly amount: string }> = [
      // 12.345678 × 2.00 = 24.691356
      { name: 'ordinary usage', std: '12345678', price: '2.00', quantity: '12.345678', amount: '24.69' },
      // No usage still makes a line, so a subscribed tenant gets an invoice.
      { name: 'no usage', std: '0', price: '2.00', quantity: '0', amount: '0.00' },
      // 0.002675 × 1000 = 2.675 exactly → 2.68
      { name: 'a tie at the fen', std: '2675', price: '1000.00', quantity: '0.002675', amount: '2.68' },
      // 0.0024995 × 2 = 0.004999 → 0.00
      { name: 'just below a tie', std: '2499.5', price: '2.00', quantity: '0.0024995', amount: '0.00' },
      // Fractional std (inputFactor): 1.5000005 million × 0.0125 = 0.01875000625
      { name: 'fractional tokens and a six-decimal price', std: '1500000.5', price: '0.012500', quantity: '1.5000005', amount: '0.02' },
      // 10^15 std = 10^9 million × 2 = 2 000 000 000.00
      { name: '10^15 standard tokens', std: '1000000000000000', price: '2.00', quantity: '1000000000', amount: '2000000000.00' },
      // (10^15 + 0.4) million × 0.0125 = 12 500 000 000 000.005 exactly → .01; a double cannot hold it.
      { name: 'a tie at the fen on 10^21 tokens', std: '1000000000000000400000', price: '0.0125', quantity: '1000000000000000.4', amount: '12500000000000.01' },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.amount}`, () => {
        const s = aSubscription().id('sub-9').plan('pay-as-you-go', { type: 'unit', pricePerMillionStd: c.price }).std(c.std).build();
        const lines = rateSubscription('2026-10', 31, s);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.include({ kind: 'usage', quantity: c.quantity, amount: c.amount, subscriptionId: 'sub-9' });
      });
    }

    it('describes the line in words and shows the price with at least two decimals', () => {
      const [line] = rateSubscription('2026-10', 31, aSubscription().std('12345678').build());
      expect(line).to.deep.equal({
        kind: 'usage',
        description: 'pay-as-you-go: 12.345678 million standard tokens at ¥2.00 per million',
        quantity: '12.345678',
        unitPrice: '2.00',
        amount: '24.69',
        subscriptionId: 'sub-1',
      });
    });

    it('ignores active days', () => {
      const a = rateSubscription('2026-10', 31, aSubscription().days(31).std('5000000').build());
      const b = rateSubscription('2026-10', 31, aSubscription().days(3).std('5000000').build());
      expect(amounts(a))
        .to.deep.equal(amounts(b))
        .and.to.deep.equal([['usage', '10.00']]);
    });
  });

  describe('periodic plan: prorated fee and included amount, overage past it', () => {
    // fee 10000.00, 1e9 included, overage 8.00 per million unless stated.
    const cases: ReadonlyArray<{
      readonly name: string;
      readonly period: string;
      readonly days: number;
      readonly active: number;
      readonly std: string;
      readonly terms?: PlanTerms;
      readonly lines: string[][];
    }> = [
      // Whole month, 1.2e9 used: 0.2e9 over → 200 × 8 = 1600.00 (total 11600.00).
      {
        name: 'whole month with overage',
        period: '2026-10',
        days: 31,
        active: 31,
        std: '1200000000',
        lines: [
          ['fee', '10000.00'],
          ['overage', '1600.00'],
        ],
      },
      { name: 'whole month within the included amount', period: '2026-10', days: 31, active: 31, std: '999999999', lines: [['fee', '10000.00']] },
      { name: 'exactly the included amount', period: '2026-10', days: 31, active: 31, std: '1000000000', lines: [['fee', '10000.00']] },
      // 1 std over: 0.000001 × 8 = 0.000008 → 0.00, but the overage line still shows.
      {
        name: 'one token over',
        period: '2026-10',
        days: 31,
        active: 31,
        std: '1000000001',
        lines: [
          ['fee', '10000.00'],
          ['overage', '0.00'],
        ],
      },
      // From 16 Oct 00:00: 16 of 31 days. Fee 10000 × 16/31 = 5161.2903 → 5161.29. Included
      // floor(1e9 × 16/31) = 516129032; 6e8 used → 83870968 over → 83.870968 × 8 = 670.967744 → 670.97.
      {
        name: 'mid-month start (16 of 31 days)',
        period: '2026-10',
        days: 31,
        active: 16,
        std: '600000000',
        lines: [
          ['fee', '5161.29'],
          ['overage', '670.97'],
        ],
      },
      // 15 of 31: 10000 × 15/31 = 4838.7097 → 4838.71; included 483870967; 4e8 used: no overage.
      { name: 'one second later (15 of 31 days)', period: '2026-10', days: 31, active: 15, std: '400000000', lines: [['fee', '4838.71']] },
      // 28 days: 10000 × 14/28 = 5000.00; included 5e8; 5.5e8 used → 50 × 8 = 400.00.
      {
        name: 'February 2026 (28 days), 14 active',
        period: '2026-02',
        days: 28,
        active: 14,
        std: '550000000',
        lines: [
          ['fee', '5000.00'],
          ['overage', '400.00'],
        ],
      },
      // 29 days: 10000 × 10/29 = 3448.2759 → 3448.28; included floor(1e10/29) = 344827586;
      // 3.5e8 used → 5172414 over → 5.172414 × 8 = 41.379312 → 41.38.
      {
        name: 'February 2028 (29 days), 10 active',
        period: '2028-02',
        days: 29,
        active: 10,
        std: '350000000',
        lines: [
          ['fee', '3448.28'],
          ['overage', '41.38'],
        ],
      },
      // 30 days: 10000 × 7/30 = 2333.3333 → 2333.33; included floor(7e9/30) = 233333333;
      // 2.4e8 used → 6666667 over → 6.666667 × 8 = 53.333336 → 53.33.
      {
        name: 'April 2026 (30 days), 7 active',
        period: '2026-04',
        days: 30,
        active: 7,
        std: '240000000',
        lines: [
          ['fee', '2333.33'],
          ['overage', '53.33'],
        ],
      },
      // 10.85 × 15/30 = 5.425 exactly → 5.43 ((10.85 * 15 / 30).toFixed(2) is "5.42" with a binary float).
      {
        name: 'a prorated fee on a tie',
        period: '2026-04',
        days: 30,
        active: 15,
        std: '0',
        terms: { type: 'periodic', fee: '10.85', includedStd: '0', overagePricePerMillionStd: '1.00' },
        lines: [['fee', '5.43']],
      },
      // No active day (started at noon on the 31st): no fee, nothing included, all usage is overage.
      {
        name: 'no active day',
        period: '2026-10',
        days: 31,
        active: 0,
        std: '1000000',
        lines: [
          ['fee', '0.00'],
          ['overage', '8.00'],
        ],
      },
      // 10^15 used: 999999000000000 over → 999999000 × 8 = 7999992000.00.
      {
        name: '10^15 standard tokens',
        period: '2026-10',
        days: 31,
        active: 31,
        std: '1000000000000000',
        lines: [
          ['fee', '10000.00'],
          ['overage', '7999992000.00'],
        ],
      },
      // Hard cap: usage past the included amount is not billed, and no overage line is made.
      {
        name: 'hard cap, twice the included amount',
        period: '2026-10',
        days: 31,
        active: 31,
        std: '2000000000',
        terms: govCapped,
        lines: [['fee', '10000.00']],
      },
      { name: 'hard cap, mid-month', period: '2026-10', days: 31, active: 16, std: '2000000000', terms: govCapped, lines: [['fee', '5161.29']] },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.lines.map((l) => l.join(' ')).join(', ')}`, () => {
        const s = aSubscription()
          .plan('gov-standard', c.terms ?? govStandard)
          .days(c.active)
          .std(c.std)
          .build();
        expect(amounts(rateSubscription(c.period, c.days, s))).to.deep.equal(c.lines);
      });
    }

    it('describes the fee and the overage, with quantity × unit price = amount', () => {
      const s = aSubscription().id('sub-gov').plan('gov-standard', govStandard).days(16).std('600000000').build();
      expect(rateSubscription('2026-10', 31, s)).to.deep.equal([
        {
          kind: 'fee',
          description: 'gov-standard: fee for 16 of 31 days (¥10000.00 a month)',
          quantity: '1',
          unitPrice: '5161.29',
          amount: '5161.29',
          subscriptionId: 'sub-gov',
        },
        {
          kind: 'overage',
          description: 'gov-standard: 83.870968 million standard tokens past the 516.129032 million included, at ¥8.00 per million',
          quantity: '83.870968',
          unitPrice: '8.00',
          amount: '670.97',
          subscriptionId: 'sub-gov',
        },
      ]);
    });
  });

  describe('ratePeriod', () => {
    it('a plan change inside the month bills each subscription for its own days and usage', () => {
      // gov-basic 1–15 Oct (15 days): fee 3000 × 15/31 = 1451.6129 → 1451.61; included
      //   floor(2e8 × 15/31) = 96774193; 1.5e8 used → 53225807 over → 53.225807 × 10 = 532.25807 → 532.26.
      // gov-standard from 16 Oct (16 days): 5161.29 + overage 670.97 (as above).
      // Default plan (no subscription) for usage before any subscription: 1e6 × 2.00 = 2.00.
      // Total 1451.61 + 532.26 + 5161.29 + 670.97 + 2.00 = 7818.13.
      const { lines, total } = ratePeriod('2026-10', 31, [
        aSubscription().id('sub-a').plan('gov-basic', govBasic).days(15).std('150000000').build(),
        aSubscription().id('sub-b').plan('gov-standard', govStandard).days(16).std('600000000').build(),
        aSubscription().id(null).plan('pay-as-you-go', payAsYouGo).days(0).std('1000000').build(),
      ]);
      expect(lines.map((l) => [l.subscriptionId, l.kind, l.amount])).to.deep.equal([
        ['sub-a', 'fee', '1451.61'],
        ['sub-a', 'overage', '532.26'],
        ['sub-b', 'fee', '5161.29'],
        ['sub-b', 'overage', '670.97'],
        [null, 'usage', '2.00'],
      ]);
      expect(total).to.equal('7818.13');
    });

    it('total is the sum of the rounded lines, not the rounded sum', () => {
      // Each: 0.002002 million × 2.00 = 0.004004 → 0.00; unrounded sum 0.008008 would give 0.01.
      const { lines, total } = ratePeriod('2026-10', 31, [aSubscription().id('a').std('2002').build(), aSubscription().id('b').std('2002').build()]);
      expect(amounts(lines)).to.deep.equal([
        ['usage', '0.00'],
        ['usage', '0.00'],
      ]);
      expect(total).to.equal('0.00');
    });

    it('a whole month of gov-standard with overage totals 11600.00', () => {
      const s = aSubscription().plan('gov-standard', govStandard).std('1200000000').build();
      expect(ratePeriod('2026-10', 31, [s]).total).to.equal('11600.00');
    });

    it('nothing to rate totals 0.00', () => expect(ratePeriod('2026-10', 31, [])).to.deep.equal({ lines: [], total: '0.00' }));

    it('invoiceTotal adds rounded amounts exactly, past 2^53 fen', () => {
      expect(invoiceTotal([])).to.equal('0.00');
      expect(invoiceTotal([{ amount: '0.10' }, { amount: '0.20' }])).to.equal('0.30'); // 0.1 + 0.2 is 0.30000000000000004 as a float
      expect(invoiceTotal([{ amount: '90071992547409.93' }, { amount: '0.01' }])).to.equal('90071992547409.94');
      expect(() => invoiceTotal([{ amount: 'n/a' }])).to.throw(RangeError);
    });

    it('costSoFar is the total of ratePeriod', () => {
      const subs = [aSubscription().plan('gov-standard', govStandard).days(16).std('600000000').build()];
      expect(costSoFar('2026-10', 31, subs))
        .to.equal(ratePeriod('2026-10', 31, subs).total)
        .and.to.equal('5832.26');
    });

    const invalid: ReadonlyArray<readonly [string, number, SubscriptionUsage]> = [
      ['daysInMonth not that of the period', 30, aSubscription().build()],
      ['negative usage', 31, aSubscription().std('-1').build()],
      ['usage that is not a decimal', 31, aSubscription().std('lots').build()],
      ['more active days than the month has', 31, aSubscription().plan('gov-standard', govStandard).days(32).build()],
      ['a negative price', 31, aSubscription().plan('x', { type: 'unit', pricePerMillionStd: '-2.00' }).build()],
      [
        'an unknown plan type',
        31,
        aSubscription()
          .plan('x', { type: 'tiered' } as unknown as PlanTerms)
          .build(),
      ],
    ];
    for (const [name, days, s] of invalid) {
      it(`rejects ${name} with a RangeError`, () => expect(() => ratePeriod('2026-10', days, [s])).to.throw(RangeError));
    }
  });

  describe('isHardCap: a periodic plan without an overage price', () => {
    const cases: ReadonlyArray<readonly [string, PlanTerms, boolean]> = [
      ['periodic, no overage price', govCapped, true],
      ['periodic with an overage price', govStandard, false],
      ['unit', payAsYouGo, false],
    ];
    for (const [name, terms, capped] of cases) it(`${name}: ${capped}`, () => expect(isHardCap(terms)).to.equal(capped));
  });

  describe('planExhausted (hard cap: included tokens used up)', () => {
    const cases: ReadonlyArray<readonly [string, string, number, PlanTerms, number, string, boolean]> = [
      ['capped, one token short', '2026-10', 31, govCapped, 31, '999999999', false],
      ['capped, exactly the included amount', '2026-10', 31, govCapped, 31, '1000000000', true],
      ['capped, 16 of 31 days: included 516129032, reached', '2026-10', 31, govCapped, 16, '516129032', true],
      ['capped, 16 of 31 days: a fraction short', '2026-10', 31, govCapped, 16, '516129031.9', false],
      // floor(1e9 × 14 / 28) = 5e8 in February 2026.
      ['capped, 14 of 28 days: included 500000000, reached', '2026-02', 28, govCapped, 14, '500000000', true],
      ['capped, no active day includes nothing', '2026-10', 31, govCapped, 0, '0', true],
      ['with an overage price, never', '2026-10', 31, govStandard, 31, '5000000000', false],
      ['unit plan, never', '2026-10', 31, payAsYouGo, 31, '5000000000', false],
    ];
    for (const [name, period, days, terms, active, std, exhausted] of cases) {
      it(`${name}: ${exhausted}`, () => {
        const s = aSubscription().plan('plan', terms).days(active).std(std).build();
        expect(planExhausted(period, days, s)).to.equal(exhausted);
      });
    }
    it('rejects a month that does not match the period, and negative usage', () => {
      expect(() => planExhausted('2026-10', 30, aSubscription().plan('capped', govCapped).build())).to.throw(RangeError);
      expect(() => planExhausted('2026-10', 31, aSubscription().plan('capped', govCapped).std('-1').build())).to.throw(RangeError);
    });
  });

  describe('rateLateUsage: what the earlier invoice would have grown by', () => {
    /** Late tokens of subscriptions the billed rating lists, as the close builds them: same plan and days, the late tokens alone. */
    const lateOf = (billed: readonly SubscriptionUsage[], entries: ReadonlyArray<readonly [string | null, string]>): SubscriptionUsage[] =>
      entries.map(([id, std]) => ({ ...billed.find((s) => s.subscriptionId === id)!, stdTokens: std }));

    const cases: ReadonlyArray<{
      readonly name: string;
      readonly billed: readonly SubscriptionUsage[];
      readonly late: ReadonlyArray<readonly [string | null, string]>;
      readonly amount: string | null;
      readonly subscriptionId?: string | null;
    }> = [
      // 8e8 + 1e8 = 9e8 ≤ 1e9 included: the invoice would not have changed.
      {
        name: 'within the included amount of a periodic plan',
        billed: [aSubscription().id('s1').plan('gov-standard', govStandard).std('800000000').build()],
        late: [['s1', '100000000']],
        amount: null,
      },
      // 9.5e8 + 1e8 = 1.05e9 → 5e7 over → 50 × 8 = 400.00 (was no overage).
      {
        name: 'past the included amount',
        billed: [aSubscription().id('s1').plan('gov-standard', govStandard).std('950000000').build()],
        late: [['s1', '100000000']],
        amount: '400.00',
        subscriptionId: 's1',
      },
      // Already 1.2e9 (1600.00 overage); +1e6 → 201 × 8 = 1608.00 → grows by 8.00.
      {
        name: 'more overage',
        billed: [aSubscription().id('s1').plan('gov-standard', govStandard).std('1200000000').build()],
        late: [['s1', '1000000']],
        amount: '8.00',
        subscriptionId: 's1',
      },
      // Hard cap: usage past the included amount is never billed.
      {
        name: 'past a hard cap',
        billed: [aSubscription().id('s1').plan('gov-capped', govCapped).std('950000000').build()],
        late: [['s1', '100000000']],
        amount: null,
      },
      // Unit: before 1.232 × 2 = 2.464 → 2.46; after 1.233 × 2 = 2.466 → 2.47; difference 0.01
      // (the late 1000 tokens alone, 0.002, would round to 0.00).
      {
        name: 'unit plan, a difference of rounded totals',
        billed: [aSubscription().id('s1').std('1232000').build()],
        late: [['s1', '1000']],
        amount: '0.01',
        subscriptionId: 's1',
      },
      // Unit: before 1.234567 × 2 = 2.469134 → 2.47; after 1.235567 × 2 = 2.471134 → 2.47: no change.
      {
        name: 'unit plan, too little to change the rounded total',
        billed: [aSubscription().id('s1').std('1234567').build()],
        late: [['s1', '1000']],
        amount: null,
      },
      // Default plan: 5e6 + 2.5e6 → 5.00 more.
      { name: 'the default plan', billed: [aSubscription().id(null).std('5000000').build()], late: [[null, '2500000']], amount: '5.00', subscriptionId: null },
      // Two subscriptions grow: 400.00 (as above) + 1e6 × 2.00 = 2.00.
      {
        name: 'two subscriptions',
        billed: [
          aSubscription().id('s1').plan('gov-standard', govStandard).days(15).std('483870967').build(),
          aSubscription().id('s2').days(16).std('0').build(),
        ],
        // 15 days include 483870967; +50000000 → 50 × 8 = 400.00; s2: 1e6 × 2 = 2.00.
        late: [
          ['s1', '50000000'],
          ['s2', '1000000'],
        ],
        amount: '402.00',
        subscriptionId: null,
      },
      { name: 'zero late tokens', billed: [aSubscription().id('s1').std('1000000').build()], late: [['s1', '0']], amount: null },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.amount ?? 'no line'}`, () => {
        const { line } = rateLateUsage('2026-10', 31, c.billed, lateOf(c.billed, c.late));
        if (c.amount === null) {
          expect(line).to.equal(null);
          return;
        }
        expect(line).to.include({ kind: 'late_usage', quantity: '1', unitPrice: c.amount, amount: c.amount, subscriptionId: c.subscriptionId });
      });
    }

    it('describes the period and the late tokens', () => {
      const billed = [aSubscription().id('s1').plan('gov-standard', govStandard).days(30).std('950000000').build()];
      const { line } = rateLateUsage('2026-09', 30, billed, lateOf(billed, [['s1', '100000000']]));
      expect(line?.description).to.equal('late usage of 2026-09: 100 million standard tokens that arrived after its invoice');
    });

    it('adds the tokens exactly to the billed rating and leaves the rest alone', () => {
      const billed = [aSubscription().id('s1').std('0.1').build(), aSubscription().id('s2').std('7').build()];
      const { rating } = rateLateUsage('2026-10', 31, billed, lateOf(billed, [['s1', '0.2']]));
      expect(rating.map((s) => [s.subscriptionId, s.stdTokens])).to.deep.equal([
        ['s1', '0.3'],
        ['s2', '7'],
      ]);
      expect(billed.map((s) => s.stdTokens)).to.deep.equal(['0.1', '7']);
    });

    it('keeps the plan and days the period was billed on', () => {
      // Billed on gov-standard for 31 days with 9.5e8; the late entry claims a unit plan and 1 day.
      const billed = [aSubscription().id('s1').plan('gov-standard', govStandard).std('950000000').build()];
      const late = [aSubscription().id('s1').plan('pay-as-you-go', payAsYouGo).days(1).std('100000000').build()];
      const { rating, line } = rateLateUsage('2026-10', 31, billed, late);
      expect(rating).to.deep.equal([{ ...billed[0], stdTokens: '1050000000' }]);
      expect(line?.amount).to.equal('400.00');
    });

    it('adds a subscription the billed rating lacks, as given', () => {
      // Billed: gov-standard within its included amount. Late: 3e6 default-plan tokens (6.00).
      const billed = [aSubscription().id('s1').plan('gov-standard', govStandard).std('800000000').build()];
      const late = [aSubscription().id(null).days(0).std('3000000').build()];
      const { rating, line } = rateLateUsage('2026-10', 31, billed, late);
      expect(rating).to.deep.equal([...billed, ...late]);
      expect(line).to.include({ amount: '6.00', subscriptionId: null });
    });

    it('bills the fee of a subscription backdated into an invoiced period', () => {
      // Nothing billed; a periodic subscription of 16 days appears with late usage inside its included amount: its fee, 5161.29.
      const late = [aSubscription().id('s9').plan('gov-standard', govStandard).days(16).std('1000').build()];
      expect(rateLateUsage('2026-10', 31, [], late).line?.amount).to.equal('5161.29');
    });

    it('rejects a subscription listed twice', () => {
      const s = aSubscription().id('s1').std('1').build();
      expect(() => rateLateUsage('2026-10', 31, [s, s], [])).to.throw(RangeError);
      expect(() => rateLateUsage('2026-10', 31, [s], [s, s])).to.throw(RangeError);
    });
  });
});
