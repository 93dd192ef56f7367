import { expect } from 'chai';

import { Calendar, daysInMonth, nextPeriod, parsePeriod, previousPeriod } from '../../../server/billing/periods.js';

const SHANGHAI = 'Asia/Shanghai';
const BERLIN = 'Europe/Berlin';
const at = (iso: string): Date => new Date(iso);
const HOUR = 3_600_000;
const calendars = new Map<string, Calendar>();
/** One calendar per zone for the whole file, as the app keeps one: its cached months are exercised too. */
const calendar = (tz: string): Calendar => {
  let c = calendars.get(tz);
  if (!c) calendars.set(tz, (c = new Calendar(tz)));
  return c;
};

describe('billing periods', () => {
  describe('parsePeriod', () => {
    const valid: ReadonlyArray<readonly [string, number, number]> = [
      ['2026-10', 2026, 10],
      ['2028-02', 2028, 2],
      ['0001-01', 1, 1],
      ['9999-12', 9999, 12],
    ];
    for (const [text, year, month] of valid) {
      it(`reads ${text}`, () => expect(parsePeriod(text)).to.deep.equal({ year, month }));
    }

    const invalid = ['2026-13', '2026-00', '2026-1', '26-10', '2026-10-01', '', ' 2026-10', '2026/10', '0000-05', '２０２６-10'];
    for (const text of invalid) {
      it(`rejects ${JSON.stringify(text)} with a RangeError`, () => expect(() => parsePeriod(text)).to.throw(RangeError));
    }
  });

  describe('daysInMonth', () => {
    // Gregorian: 2028 is a leap year, 2100 is not (divisible by 100), 2000 is (divisible by 400).
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['2026-02', 28],
      ['2028-02', 29],
      ['2100-02', 28],
      ['2000-02', 29],
      ['2026-04', 30],
      ['2026-10', 31],
      ['2026-12', 31],
    ];
    for (const [period, days] of cases) {
      it(`${period} has ${days} days`, () => expect(daysInMonth(period)).to.equal(days));
    }
  });

  describe('previousPeriod and nextPeriod', () => {
    const pairs: ReadonlyArray<readonly [string, string]> = [
      ['2026-10', '2026-11'],
      ['2026-12', '2027-01'],
      ['2028-02', '2028-03'],
    ];
    for (const [before, after] of pairs) {
      it(`${before} → ${after} and back`, () => {
        expect(nextPeriod(before)).to.equal(after);
        expect(previousPeriod(after)).to.equal(before);
      });
    }
    it('rejects an invalid period', () => {
      expect(() => nextPeriod('2026-13')).to.throw(RangeError);
      expect(() => previousPeriod('x')).to.throw(RangeError);
    });
  });

  describe('periodOf and dayOf read the local date', () => {
    // Asia/Shanghai is UTC+8 all year; America/Los_Angeles is UTC−7 until 2026-11-01 09:00Z.
    const cases: ReadonlyArray<readonly [string, string, string, string]> = [
      // 16:30Z on the last day of October is 00:30 on 1 November in Shanghai.
      ['2026-10-31T16:30:00Z', SHANGHAI, '2026-11', '2026-11-01'],
      ['2026-10-31T15:59:59.999Z', SHANGHAI, '2026-10', '2026-10-31'],
      ['2026-09-30T16:00:00Z', SHANGHAI, '2026-10', '2026-10-01'],
      ['2026-10-31T16:30:00Z', 'UTC', '2026-10', '2026-10-31'],
      ['2026-11-01T06:59:59Z', 'America/Los_Angeles', '2026-10', '2026-10-31'],
      ['2026-11-01T07:00:00Z', 'America/Los_Angeles', '2026-11', '2026-11-01'],
      ['2028-02-29T12:00:00Z', BERLIN, '2028-02', '2028-02-29'],
    ];
    for (const [iso, tz, period, day] of cases) {
      it(`${iso} in ${tz} is ${day}`, () => {
        expect(calendar(tz).periodOf(at(iso))).to.equal(period);
        expect(calendar(tz).dayOf(at(iso))).to.equal(day);
      });
    }
    it('rejects an unknown zone and an invalid Date', () => {
      expect(() => new Calendar('Mars/Olympus_Mons')).to.throw(RangeError);
      expect(() => calendar(SHANGHAI).dayOf(new Date(NaN))).to.throw(RangeError);
    });
  });

  describe('monthBounds', () => {
    // start = local 00:00 on the 1st, end = local 00:00 on the 1st of the next month.
    const cases: ReadonlyArray<readonly [string, string, string, string]> = [
      ['2026-10', SHANGHAI, '2026-09-30T16:00:00.000Z', '2026-10-31T16:00:00.000Z'],
      ['2026-12', SHANGHAI, '2026-11-30T16:00:00.000Z', '2026-12-31T16:00:00.000Z'],
      ['2028-02', 'UTC', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
      // Berlin: CET (+01) on 1 March, CEST (+02) from 29 March 2026 → 1 April starts at 22:00Z.
      ['2026-03', BERLIN, '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
      // Berlin: back to CET on 25 October 2026 → 1 November starts at 23:00Z.
      ['2026-10', BERLIN, '2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z'],
      // Santiago skips 00:00–01:00 on 6 Sept 2026 (−04 → −03); the 1st of each month is unaffected.
      ['2026-09', 'America/Santiago', '2026-09-01T04:00:00.000Z', '2026-10-01T03:00:00.000Z'],
      // Havana repeats 00:00–01:00 on 1 Nov 2026 (−04 → −05): the month starts at the first 00:00.
      ['2026-11', 'America/Havana', '2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z'],
    ];
    for (const [period, tz, start, end] of cases) {
      it(`${period} in ${tz} is ${start} … ${end}`, () => {
        const b = calendar(tz).monthBounds(period);
        expect(b.start.toISOString()).to.equal(start);
        expect(b.end.toISOString()).to.equal(end);
      });
    }

    it('a DST month in Berlin is 31 days long though one of them has 23 hours (743 h)', () => {
      const b = calendar(BERLIN).monthBounds('2026-03');
      expect(daysInMonth('2026-03')).to.equal(31);
      expect((b.end.getTime() - b.start.getTime()) / HOUR).to.equal(31 * 24 - 1);
    });

    it('consecutive months meet exactly', () => {
      expect(calendar(SHANGHAI).monthBounds('2026-10').end.getTime()).to.equal(calendar(SHANGHAI).monthBounds('2026-11').start.getTime());
      expect(calendar(BERLIN).monthBounds('2026-03').end.getTime()).to.equal(calendar(BERLIN).monthBounds('2026-04').start.getTime());
    });

    it('a month asked again is answered from the calendar alike, and a caller cannot change it', () => {
      const c = new Calendar(BERLIN);
      const first = c.monthBounds('2026-03');
      first.start.setTime(0);
      expect(c.monthBounds('2026-03').start.toISOString()).to.equal('2026-02-28T23:00:00.000Z');
      expect(c.activeDays('2026-03', at('2026-03-29T00:00:00+01:00'), null)).to.equal(3);
      expect(() => c.monthBounds('2026-13')).to.throw(RangeError);
    });

    it('every instant inside the bounds belongs to the period', () => {
      const b = calendar(SHANGHAI).monthBounds('2026-10');
      expect(calendar(SHANGHAI).periodOf(b.start)).to.equal('2026-10');
      expect(calendar(SHANGHAI).periodOf(new Date(b.end.getTime() - 1))).to.equal('2026-10');
      expect(calendar(SHANGHAI).periodOf(b.end)).to.equal('2026-11');
    });
  });

  describe('activeDays: days of the month whose local 00:00 lies in [subStart, subEnd)', () => {
    const cases: ReadonlyArray<{
      readonly name: string;
      readonly tz: string;
      readonly period: string;
      readonly start: string;
      readonly end: string | null;
      readonly days: number;
    }> = [
      // October 2026 has 31 days.
      { name: 'open-ended, started before the month', tz: SHANGHAI, period: '2026-10', start: '2026-09-01T00:00:00+08:00', end: null, days: 31 },
      // Days 16…31 begin at or after the start: 16 days.
      { name: 'starting at local midnight of the 16th', tz: SHANGHAI, period: '2026-10', start: '2026-10-16T00:00:00+08:00', end: null, days: 16 },
      // The 16th began one second before the start, so only 17…31 count: 15 days.
      { name: 'starting one second after midnight', tz: SHANGHAI, period: '2026-10', start: '2026-10-16T00:00:01+08:00', end: null, days: 15 },
      { name: 'starting one second before midnight', tz: SHANGHAI, period: '2026-10', start: '2026-10-15T23:59:59+08:00', end: null, days: 16 },
      // UTC midnight is 08:00 in Shanghai: the 16th had already begun.
      { name: 'starting at UTC midnight of the 16th', tz: SHANGHAI, period: '2026-10', start: '2026-10-16T00:00:00Z', end: null, days: 15 },
      // Days 1…15 begin before the end (the end is exclusive).
      {
        name: 'ending at local midnight of the 16th',
        tz: SHANGHAI,
        period: '2026-10',
        start: '2026-09-01T00:00:00+08:00',
        end: '2026-10-16T00:00:00+08:00',
        days: 15,
      },
      {
        name: 'ending one second after midnight of the 16th',
        tz: SHANGHAI,
        period: '2026-10',
        start: '2026-09-01T00:00:00+08:00',
        end: '2026-10-16T00:00:01+08:00',
        days: 16,
      },
      { name: 'ending when the month starts', tz: SHANGHAI, period: '2026-10', start: '2026-09-01T00:00:00+08:00', end: '2026-10-01T00:00:00+08:00', days: 0 },
      { name: 'starting when the next month starts', tz: SHANGHAI, period: '2026-10', start: '2026-11-01T00:00:00+08:00', end: null, days: 0 },
      { name: 'starting at noon on the last day', tz: SHANGHAI, period: '2026-10', start: '2026-10-31T12:00:00+08:00', end: null, days: 0 },
      { name: 'empty (end = start)', tz: SHANGHAI, period: '2026-10', start: '2026-10-10T00:00:00+08:00', end: '2026-10-10T00:00:00+08:00', days: 0 },
      {
        name: 'within one day, not across a midnight',
        tz: SHANGHAI,
        period: '2026-10',
        start: '2026-10-10T01:00:00+08:00',
        end: '2026-10-10T23:00:00+08:00',
        days: 0,
      },
      // Month lengths 28, 29, 30.
      { name: 'whole of February 2026', tz: SHANGHAI, period: '2026-02', start: '2026-01-01T00:00:00+08:00', end: null, days: 28 },
      { name: 'whole of February 2028 (leap)', tz: SHANGHAI, period: '2028-02', start: '2028-01-01T00:00:00+08:00', end: null, days: 29 },
      { name: 'from 29 Feb 2028', tz: SHANGHAI, period: '2028-02', start: '2028-02-29T00:00:00+08:00', end: null, days: 1 },
      { name: 'whole of April 2026', tz: SHANGHAI, period: '2026-04', start: '2026-01-01T00:00:00+08:00', end: null, days: 30 },
      // Berlin, March 2026: the 29th lasts 23 hours (02:00 CET → 03:00 CEST). Still 31 days.
      { name: 'Berlin: whole of March 2026', tz: BERLIN, period: '2026-03', start: '2026-01-01T00:00:00+01:00', end: null, days: 31 },
      // 29th 00:00 CET = 28th 23:00Z; counts 29, 30, 31.
      { name: 'Berlin: from midnight of the 23-hour day', tz: BERLIN, period: '2026-03', start: '2026-03-29T00:00:00+01:00', end: null, days: 3 },
      // 30th 00:00 CEST = 29th 22:00Z, only 23 hours after the 29th began; counts 30, 31.
      { name: 'Berlin: from midnight after the 23-hour day', tz: BERLIN, period: '2026-03', start: '2026-03-30T00:00:00+02:00', end: null, days: 2 },
      // 29th 23:00Z is 01:00 CEST on the 30th: only the 31st.
      { name: 'Berlin: 24 h after the 29th began', tz: BERLIN, period: '2026-03', start: '2026-03-29T23:00:00Z', end: null, days: 1 },
      // Santiago: 6 Sept 2026 has no 00:00; it begins at 01:00 −03 = 04:00Z. Counts 6…30 = 25.
      {
        name: 'Santiago: from the start of a day whose midnight is skipped',
        tz: 'America/Santiago',
        period: '2026-09',
        start: '2026-09-06T04:00:00Z',
        end: null,
        days: 25,
      },
      { name: 'Santiago: one second later', tz: 'America/Santiago', period: '2026-09', start: '2026-09-06T04:00:01Z', end: null, days: 24 },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.days}`, () => {
        expect(calendar(c.tz).activeDays(c.period, at(c.start), c.end === null ? null : at(c.end))).to.equal(c.days);
      });
    }

    it('a plan change at local midnight splits the month without a gap or an overlap', () => {
      const change = at('2026-10-16T00:00:00+08:00');
      const before = calendar(SHANGHAI).activeDays('2026-10', at('2026-09-01T00:00:00+08:00'), change);
      const after = calendar(SHANGHAI).activeDays('2026-10', change, null);
      expect([before, after]).to.deep.equal([15, 16]);
    });

    it('a plan change at any instant splits the month without a gap or an overlap', () => {
      const change = at('2026-03-29T01:30:00Z'); // 03:30 CEST on the 23-hour day
      const before = calendar(BERLIN).activeDays('2026-03', at('2026-01-01T00:00:00Z'), change);
      const after = calendar(BERLIN).activeDays('2026-03', change, null);
      expect([before, after]).to.deep.equal([29, 2]);
    });

    it('rejects an invalid Date', () => {
      expect(() => calendar(SHANGHAI).activeDays('2026-10', new Date(NaN), null)).to.throw(RangeError);
      expect(() => calendar(SHANGHAI).activeDays('2026-10', at('2026-10-01T00:00:00Z'), new Date(NaN))).to.throw(RangeError);
    });
  });

  describe('periodHasEnded', () => {
    const cases: ReadonlyArray<readonly [string, string, boolean]> = [
      ['2026-10-31T15:59:59.999Z', '2026-10', false], // 23:59:59.999 on 31 Oct in Shanghai
      ['2026-10-31T16:00:00Z', '2026-10', true], // 00:00 on 1 Nov in Shanghai
      ['2026-10-15T00:00:00Z', '2026-10', false],
      ['2026-10-15T00:00:00Z', '2026-11', false], // a month in the future
      ['2027-01-01T00:00:00Z', '2026-10', true],
    ];
    for (const [now, period, ended] of cases) {
      it(`${period} at ${now}: ${ended}`, () => expect(calendar(SHANGHAI).periodHasEnded(period, at(now))).to.equal(ended));
    }
  });
});
