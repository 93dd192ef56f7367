import { expect } from 'chai';

import { creditAmount, creditFor, creditShares, shortMinutes, slaErrors, windowMinutes, type SlaTerms } from '../../../server/billing/sla.js';

const sla: SlaTerms = {
  availabilityPercent: '99.5',
  graceMinutes: 10,
  credits: [
    { belowPercent: '99.5', creditPercent: '10' },
    { belowPercent: '99', creditPercent: '25' },
  ],
};
const t = (s: string) => new Date(s);
const OCT = { from: t('2026-09-30T16:00:00Z'), to: t('2026-10-31T16:00:00Z') };

describe('SLA credits', () => {
  describe('the credit table', () => {
    // October: 44,640 minutes. 99.5 % allows 223.2 short minutes, 99 % 446.4.
    const cases: [number, string, string | null][] = [
      [0, '100.000', null],
      [223, '99.500', null],
      [224, '99.498', '10'],
      [446, '99.001', '10'],
      [447, '98.999', '25'],
      [44_640, '0.000', '25'],
    ];
    for (const [short, availability, credit] of cases)
      it(`${short} short minutes of 44,640 → ${availability} %, credit ${credit ?? 'none'}`, () => {
        expect(creditFor(sla, windowMinutes(OCT), short)).to.deep.equal({ availability, creditPercent: credit });
      });
    it('no measured minute: no credit', () => expect(creditFor(sla, 0, 0).creditPercent).to.equal(null));
    it('the amount: fee × percent × share, half-up to the fen, negative', () => {
      expect(creditAmount('10000.00', '10', '1', '1')).to.equal('-1000.00');
      expect(creditAmount('5161.29', '25', '1', '3')).to.equal('-430.11');
      expect(creditAmount('0.00', '25', '1', '1')).to.equal('0.00');
    });
  });

  describe('validation', () => {
    it('accepts a well-formed table', () => expect(slaErrors(sla)).to.deep.equal([]));
    const bad: [string, SlaTerms, string][] = [
      ['a percent above 100', { ...sla, availabilityPercent: '100.5' }, 'sla.availabilityPercent'],
      ['a zero credit', { ...sla, credits: [{ belowPercent: '99', creditPercent: '0' }] }, 'sla.credits.0.creditPercent'],
      ['a threshold above the promise', { ...sla, credits: [{ belowPercent: '99.9', creditPercent: '10' }] }, 'sla.credits.0.belowPercent'],
      ['the same threshold twice', { ...sla, credits: [sla.credits[0]!, { belowPercent: '99.5', creditPercent: '20' }] }, 'sla.credits.1.belowPercent'],
      [
        'a lower threshold with a smaller credit',
        {
          ...sla,
          credits: [
            { belowPercent: '99', creditPercent: '5' },
            { belowPercent: '99.5', creditPercent: '10' },
          ],
        },
        'sla.credits.0.creditPercent',
      ],
    ];
    for (const [name, terms, path] of bad) it(`refuses ${name} at ${path}`, () => expect(slaErrors(terms).map((e) => e.path)).to.deep.equal([path]));
  });

  describe('short minutes', () => {
    const asOf = t('2026-11-01T00:00:00Z');
    it('leaves out spells shorter than the grace', () => {
      expect(shortMinutes(OCT, [{ startedAt: t('2026-10-10T00:00:00Z'), endedAt: t('2026-10-10T00:09:59Z') }], 10, asOf)).to.equal(0);
    });
    it('counts every minute a spell of the grace or longer touches', () => {
      expect(shortMinutes(OCT, [{ startedAt: t('2026-10-10T00:00:30Z'), endedAt: t('2026-10-10T00:10:30Z') }], 10, asOf)).to.equal(11);
    });
    it('clips to the window, measures an open spell to asOf, and counts overlaps once', () => {
      const spells = [
        { startedAt: t('2026-09-30T15:00:00Z'), endedAt: t('2026-09-30T16:30:00Z') },
        { startedAt: t('2026-10-31T15:00:00Z'), endedAt: null },
        { startedAt: t('2026-10-31T15:20:00Z'), endedAt: t('2026-10-31T15:40:00Z') },
      ];
      expect(shortMinutes(OCT, spells, 10, asOf)).to.equal(30 + 60);
    });
  });
  describe('shares among the responsible clusters', () => {
    const sum = (shares: { amount: string }[]) => shares.reduce((t, s) => t + Math.round(Number(s.amount) * 100), 0);
    it('one cluster bears the whole credit', () => {
      expect(creditShares('-1000.00', new Map([['cl_a', 300]]))).to.deep.equal([{ clusterId: 'cl_a', shortMinutes: 300, amount: '-1000.00' }]);
    });
    it('two clusters share it by their short minutes', () => {
      expect(
        creditShares(
          '-1000.00',
          new Map([
            ['cl_b', 120],
            ['cl_a', 180],
          ]),
        ),
      ).to.deep.equal([
        { clusterId: 'cl_a', shortMinutes: 180, amount: '-600.00' },
        { clusterId: 'cl_b', shortMinutes: 120, amount: '-400.00' },
      ]);
    });
    it('in whole fen by the largest remainder, adding up to the credit exactly', () => {
      const shares = creditShares(
        '-100.00',
        new Map([
          ['cl_a', 1],
          ['cl_b', 1],
          ['cl_c', 1],
        ]),
      );
      expect(shares.map((s) => s.amount)).to.deep.equal(['-33.34', '-33.33', '-33.33']);
      expect(sum(shares)).to.equal(-10000);
      const odd = creditShares(
        '-0.05',
        new Map([
          ['cl_a', 7],
          ['cl_b', 2],
          ['cl_c', 1],
        ]),
      );
      expect(odd.map((s) => [s.clusterId, s.amount])).to.deep.equal([
        ['cl_a', '-0.04'],
        ['cl_b', '-0.01'],
      ]);
    });
    it('minutes of spells with no cluster count, and no provider bears their part', () => {
      expect(
        creditShares(
          '-90.00',
          new Map<string | null, number>([
            [null, 60],
            ['cl_a', 30],
          ]),
        ),
      ).to.deep.equal([{ clusterId: 'cl_a', shortMinutes: 30, amount: '-30.00' }]);
      expect(creditShares('-90.00', new Map([[null, 60]]))).to.deep.equal([]);
    });
    it('no short minute or no credit: no share', () => {
      expect(creditShares('-90.00', new Map([['cl_a', 0]]))).to.deep.equal([]);
      expect(creditShares('0.00', new Map([['cl_a', 10]]))).to.deep.equal([]);
    });
  });
});
