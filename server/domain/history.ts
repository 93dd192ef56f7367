/**
 * The platform's history read by range and step (issue 16): which buckets an answer holds, and
 * what a bucket's figures are made of. Pure: the calendar's local days come in as an argument.
 */
import { sumDecimals } from './energy.js';

export const HISTORY_STEPS = ['1m', '5m', '15m', '1h', '6h', '1d'] as const;
export type HistoryStep = (typeof HISTORY_STEPS)[number];

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** Length of each step; `1d` is a day of the billing time zone, which may be 23 or 25 hours long. */
export const STEP_MS: Readonly<Record<HistoryStep, number>> = {
  '1m': MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '1h': 60 * MINUTE_MS,
  '6h': 360 * MINUTE_MS,
  '1d': DAY_MS,
};

/** The most points one answer holds: a day of minutes. */
export const MAX_HISTORY_POINTS = 1440;
/** A step chosen for the caller keeps the answer to at most this many points (a chart's width). */
export const DEFAULT_HISTORY_POINTS = 300;

/** Local days of the billing time zone (server/billing/periods.ts's Calendar). */
export interface LocalDays {
  dayOf(instant: Date): string;
  dayStart(day: string): Date;
}

/** Why a range cannot be answered: a message for the caller, and the query field it concerns. */
export interface RangeProblem {
  readonly field: 'from' | 'to' | 'step';
  readonly message: string;
}

/** The buckets of an answer: their starts, and the end of the last. */
export interface HistoryBuckets {
  readonly step: HistoryStep;
  /** Start of each bucket, epoch ms, ascending. */
  readonly starts: readonly number[];
  /** End of the last bucket, epoch ms. */
  readonly endMs: number;
}

/**
 * The buckets that cover [from, to): `from` is taken back to the start of its bucket and `to` on to
 * the end of its own, so every bucket is whole. Buckets of `1m` to `6h` are aligned on multiples of
 * the step since the epoch (UTC; also whole hours of any zone whose offset is whole hours); `1d`
 * buckets are the days of the billing time zone. Without a step, the smallest that keeps the answer
 * to {@link DEFAULT_HISTORY_POINTS} points. A problem when `from` is not before `to`, or when the
 * answer would hold more than {@link MAX_HISTORY_POINTS} points.
 */
export function historyBuckets(from: Date, to: Date, step: HistoryStep | undefined, days: LocalDays): HistoryBuckets | RangeProblem {
  const fromMs = from.getTime();
  const toMs = to.getTime();
  if (!(fromMs < toMs)) return { field: 'from', message: 'must be before `to`' };
  const chosen = step ?? HISTORY_STEPS.find((s) => Math.ceil((toMs - fromMs) / STEP_MS[s]) + 1 <= DEFAULT_HISTORY_POINTS) ?? '1d';
  // Counted before the buckets are made, so a span of centuries costs nothing (a day is at least 23 hours).
  const most = Math.ceil((toMs - fromMs) / (chosen === '1d' ? 23 * 3_600_000 : STEP_MS[chosen])) + 1;
  const starts: number[] = [];
  let end: number;
  if (most <= MAX_HISTORY_POINTS + 1) {
    if (chosen === '1d') {
      let start = days.dayStart(days.dayOf(from)).getTime();
      for (; start < toMs; start = nextDay(start, days)) starts.push(start);
      end = start;
    } else {
      const size = STEP_MS[chosen];
      for (let start = Math.floor(fromMs / size) * size; start < toMs; start += size) starts.push(start);
      end = starts[starts.length - 1]! + size;
    }
  } else end = toMs;
  if (most > MAX_HISTORY_POINTS + 1 || starts.length > MAX_HISTORY_POINTS) {
    return {
      field: 'step',
      message: `this range at a step of ${chosen} makes more than ${MAX_HISTORY_POINTS} points; ask for a larger step or a shorter range`,
    };
  }
  return { step: chosen, starts, endMs: end };
}

function nextDay(startMs: number, days: LocalDays): number {
  // 36 hours after a day's start lies inside the next day, whatever the day's length.
  return days.dayStart(days.dayOf(new Date(startMs + 36 * 3_600_000))).getTime();
}

/**
 * A bucket's sums as the repository reads them: gauges over its sampled minutes, flows over those
 * whose flows were counted (null when none was).
 */
export interface BucketSums {
  readonly minutes: number;
  readonly countedMinutes: number;
  readonly totalStdPerMin: number;
  readonly totalStdPerMinMax: number;
  readonly allocatedStdPerMin: number;
  readonly allocatedStdPerMinMax: number;
  readonly freeStdPerMin: number;
  readonly clustersReady: number;
  readonly clustersNotReady: number;
  readonly clustersCordoned: number;
  /** Decimal texts, exact. */
  readonly gatewayStdTokens: string | null;
  readonly agentStdTokens: string | null;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly requests: number | null;
  readonly failedRequests: number | null;
  /** Null: no energy measured in any minute of the bucket. */
  readonly energyJoules: number | null;
  /** Minutes of the bucket with energy measured. */
  readonly energyMinutes: number;
  readonly measuredStdTokens: string | null;
}

/** One point of a history answer; every figure null when no minute of the bucket was sampled. */
export interface HistoryPoint {
  readonly at: Date;
  readonly minutes: number;
  readonly countedMinutes: number;
  readonly totalStdPerMin: number | null;
  readonly totalStdPerMinMax: number | null;
  readonly allocatedStdPerMin: number | null;
  readonly allocatedStdPerMinMax: number | null;
  readonly freeStdPerMin: number | null;
  readonly clustersReady: number | null;
  readonly clustersNotReady: number | null;
  readonly clustersCordoned: number | null;
  readonly stdTokens: string | null;
  readonly gatewayStdTokens: string | null;
  readonly agentStdTokens: string | null;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly requests: number | null;
  readonly failedRequests: number | null;
  readonly energyJoules: number | null;
  readonly meanWatts: number | null;
  readonly measuredStdTokens: string | null;
  readonly stdTokensPerJoule: number | null;
}

const EMPTY = {
  minutes: 0,
  countedMinutes: 0,
  totalStdPerMin: null,
  totalStdPerMinMax: null,
  allocatedStdPerMin: null,
  allocatedStdPerMinMax: null,
  freeStdPerMin: null,
  clustersReady: null,
  clustersNotReady: null,
  clustersCordoned: null,
  stdTokens: null,
  gatewayStdTokens: null,
  agentStdTokens: null,
  inputTokens: null,
  outputTokens: null,
  requests: null,
  failedRequests: null,
  energyJoules: null,
  meanWatts: null,
  measuredStdTokens: null,
  stdTokensPerJoule: null,
} as const;

/**
 * The points of the buckets, in order, one per bucket: `sums` holds the sampled ones by their
 * start (epoch ms). Tokens per joule is the measured standard tokens over the joules of the same
 * placement-minutes; mean watts the joules over the minutes with energy measured.
 */
export function historyPoints(buckets: HistoryBuckets, sums: ReadonlyMap<number, BucketSums>): HistoryPoint[] {
  return buckets.starts.map((start) => {
    const s = sums.get(start);
    if (!s || s.minutes === 0) return { at: new Date(start), ...EMPTY };
    const joules = s.energyJoules;
    const measured = joules !== null && joules > 0;
    return {
      at: new Date(start),
      minutes: s.minutes,
      countedMinutes: s.countedMinutes,
      totalStdPerMin: s.totalStdPerMin,
      totalStdPerMinMax: s.totalStdPerMinMax,
      allocatedStdPerMin: s.allocatedStdPerMin,
      allocatedStdPerMinMax: s.allocatedStdPerMinMax,
      freeStdPerMin: s.freeStdPerMin,
      clustersReady: s.clustersReady,
      clustersNotReady: s.clustersNotReady,
      clustersCordoned: s.clustersCordoned,
      stdTokens: s.gatewayStdTokens === null || s.agentStdTokens === null ? null : sumDecimals([s.gatewayStdTokens, s.agentStdTokens]),
      gatewayStdTokens: decimal(s.gatewayStdTokens),
      agentStdTokens: decimal(s.agentStdTokens),
      inputTokens: s.inputTokens,
      outputTokens: s.outputTokens,
      requests: s.requests,
      failedRequests: s.failedRequests,
      energyJoules: joules,
      meanWatts: joules !== null && s.energyMinutes > 0 ? joules / (60 * s.energyMinutes) : null,
      measuredStdTokens: decimal(s.measuredStdTokens),
      stdTokensPerJoule: measured && s.measuredStdTokens !== null ? Number(s.measuredStdTokens) / joules : null,
    };
  });
}

/** A decimal text (at most 12 places) without trailing zeros. */
function decimal(text: string | null): string | null {
  return text === null ? null : sumDecimals([text]);
}
