import { expect } from 'chai';

import { Calendar } from '../../server/billing/periods.js';
import { historyBuckets, historyPoints, MAX_HISTORY_POINTS, type BucketSums, type HistoryBuckets, type HistoryStep } from '../../server/domain/history.js';

const shanghai = new Calendar('Asia/Shanghai');
const berlin = new Calendar('Europe/Berlin');
const d = (s: string) => new Date(s);
const iso = (ms: number) => new Date(ms).toISOString();

function buckets(from: string, to: string, step: HistoryStep | undefined, calendar = shanghai): HistoryBuckets {
  const b = historyBuckets(d(from), d(to), step, calendar);
  if ('field' in b) throw new Error(`unexpected problem: ${b.message}`);
  return b;
}

describe('history buckets', () => {
  const cases: ReadonlyArray<{
    name: string;
    from: string;
    to: string;
    step?: HistoryStep;
    calendar?: Calendar;
    step_: HistoryStep;
    first: string;
    end: string;
    count: number;
  }> = [
    {
      name: 'aligned minutes',
      from: '2026-10-20T02:00:00Z',
      to: '2026-10-20T02:05:00Z',
      step: '1m',
      step_: '1m',
      first: '2026-10-20T02:00:00.000Z',
      end: '2026-10-20T02:05:00.000Z',
      count: 5,
    },
    {
      name: 'from taken back, to taken on to whole buckets',
      from: '2026-10-20T02:07:10Z',
      to: '2026-10-20T02:31:00Z',
      step: '15m',
      step_: '15m',
      first: '2026-10-20T02:00:00.000Z',
      end: '2026-10-20T02:45:00.000Z',
      count: 3,
    },
    {
      name: '6h buckets on UTC multiples',
      from: '2026-10-20T05:00:00Z',
      to: '2026-10-20T13:00:00Z',
      step: '6h',
      step_: '6h',
      first: '2026-10-20T00:00:00.000Z',
      end: '2026-10-20T18:00:00.000Z',
      count: 3,
    },
    {
      name: 'days of the billing time zone',
      from: '2026-10-20T17:00:00Z',
      to: '2026-10-22T01:00:00Z',
      step: '1d',
      step_: '1d',
      first: '2026-10-20T16:00:00.000Z',
      end: '2026-10-22T16:00:00.000Z',
      count: 2,
    },
    {
      name: 'a 25-hour day where clocks go back',
      from: '2026-10-25T12:00:00Z',
      to: '2026-10-26T12:00:00Z',
      step: '1d',
      calendar: berlin,
      step_: '1d',
      first: '2026-10-24T22:00:00.000Z',
      end: '2026-10-26T23:00:00.000Z',
      count: 2,
    },
    {
      name: 'default step: an hour at 1m',
      from: '2026-10-20T02:00:00Z',
      to: '2026-10-20T03:00:00Z',
      step_: '1m',
      first: '2026-10-20T02:00:00.000Z',
      end: '2026-10-20T03:00:00.000Z',
      count: 60,
    },
    {
      name: 'default step: a day at 5m',
      from: '2026-10-20T00:00:00Z',
      to: '2026-10-21T00:00:00Z',
      step_: '5m',
      first: '2026-10-20T00:00:00.000Z',
      end: '2026-10-21T00:00:00.000Z',
      count: 288,
    },
    {
      name: 'default step: a month at 6h',
      from: '2026-10-01T00:00:00Z',
      to: '2026-11-01T00:00:00Z',
      step_: '6h',
      first: '2026-10-01T00:00:00.000Z',
      end: '2026-11-01T00:00:00.000Z',
      count: 124,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const b = buckets(c.from, c.to, c.step, c.calendar);
      expect(b.step).to.equal(c.step_);
      expect(iso(b.starts[0]!)).to.equal(c.first);
      expect(iso(b.endMs)).to.equal(c.end);
      expect(b.starts).to.have.length(c.count);
    });
  }

  it('the 25-hour day is one bucket, and the next starts at its local midnight', () => {
    const b = buckets('2026-10-25T12:00:00Z', '2026-10-26T12:00:00Z', '1d', berlin);
    expect(b.starts.map(iso)).to.deep.equal(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
  });

  it('problems: from not before to, and more points than the bound (counted without making them)', () => {
    expect(historyBuckets(d('2026-10-20T03:00:00Z'), d('2026-10-20T02:00:00Z'), '1m', shanghai)).to.deep.include({ field: 'from' });
    expect(historyBuckets(d('2026-10-20T02:00:00Z'), d('2026-10-20T02:00:00Z'), '1m', shanghai)).to.deep.include({ field: 'from' });
    const day = buckets('2026-10-20T00:00:00Z', '2026-10-21T00:00:00Z', '1m');
    expect(day.starts).to.have.length(MAX_HISTORY_POINTS);
    expect(historyBuckets(d('2026-10-20T00:00:00Z'), d('2026-10-21T00:00:30Z'), '1m', shanghai)).to.deep.include({ field: 'step' });
    expect(historyBuckets(d('1970-01-01T00:00:00Z'), d('9999-12-31T00:00:00Z'), '1d', shanghai)).to.deep.include({ field: 'step' });
    expect(historyBuckets(d('1970-01-01T00:00:00Z'), d('9999-12-31T00:00:00Z'), undefined, shanghai)).to.deep.include({ field: 'step' });
  });
});

describe('history points', () => {
  const b = buckets('2026-10-20T02:00:00Z', '2026-10-20T02:10:00Z', '5m');
  const sums: BucketSums = {
    minutes: 5,
    countedMinutes: 4,
    totalStdPerMin: 540_000,
    totalStdPerMinMax: 540_000,
    allocatedStdPerMin: 300_000,
    allocatedStdPerMinMax: 360_000,
    freeStdPerMin: 240_000,
    clustersReady: 1,
    clustersNotReady: 1,
    clustersCordoned: 0,
    gatewayStdTokens: '10.500000000000',
    agentStdTokens: '0.250000000000',
    inputTokens: 7,
    outputTokens: 9,
    requests: 3,
    failedRequests: 1,
    energyJoules: 1200,
    energyMinutes: 2,
    measuredStdTokens: '6.000000000000',
  };

  it('a bucket with sampled minutes: exact decimals, tokens per joule and mean watts from the measured minutes only', () => {
    const [p] = historyPoints(b, new Map([[b.starts[0]!, sums]]));
    expect(p).to.deep.include({ minutes: 5, countedMinutes: 4, stdTokens: '10.75', gatewayStdTokens: '10.5', agentStdTokens: '0.25', measuredStdTokens: '6' });
    expect(p!.stdTokensPerJoule).to.equal(6 / 1200);
    expect(p!.meanWatts).to.equal(1200 / 120);
  });

  it('energy never measured: null, never 0; an empty bucket: every figure null', () => {
    const [p, empty] = historyPoints(b, new Map([[b.starts[0]!, { ...sums, energyJoules: null, energyMinutes: 0, measuredStdTokens: null }]]));
    expect(p).to.deep.include({ energyJoules: null, meanWatts: null, measuredStdTokens: null, stdTokensPerJoule: null });
    expect(empty!.at.toISOString()).to.equal('2026-10-20T02:05:00.000Z');
    const { at: _at, minutes, countedMinutes, ...figures } = empty!;
    expect({ minutes, countedMinutes }).to.deep.equal({ minutes: 0, countedMinutes: 0 });
    expect(Object.values(figures).every((v) => v === null)).to.equal(true);
  });
});
