/**
 * The city's history (GET /api/v1/history, operator) as trend points: the charts open with the
 * last 24 hours and then add live points (composables/series.ts `seed`). A bucket nobody sampled
 * (minutes 0) keeps null figures, drawn as a gap.
 */
import { api, unwrap, type Get } from '@/api/client';
import type { Point } from '@/composables/series';

export type History = Get<'/api/v1/history'>;
export type HistoryPoint = History['points'][number];

const DAY = 24 * 60 * 60_000;

/** Standard tokens served per counted minute; null when no minute was counted. */
export function servedPerMinute(p: HistoryPoint): number | null {
  return p.stdTokens === null || p.countedMinutes === 0 ? null : Number(p.stdTokens) / p.countedMinutes;
}

/** Gateway requests per second over the counted minutes; null when none was counted. */
export function requestsPerSecond(p: HistoryPoint): number | null {
  return p.requests === null || p.countedMinutes === 0 ? null : p.requests / p.countedMinutes / 60;
}

/** A history bucket as a trend point: capacity, allocation, standard tokens served per minute, requests/s, tokens per joule. */
export function toPoint(p: HistoryPoint): Point {
  const sampled = p.minutes > 0;
  return {
    at: Date.parse(p.at),
    values: {
      total: sampled ? p.totalStdPerMin : null,
      allocated: sampled ? p.allocatedStdPerMin : null,
      free: sampled ? p.freeStdPerMin : null,
      served: servedPerMinute(p),
      requestsPerSec: requestsPerSecond(p),
      perJoule: p.stdTokensPerJoule,
    },
  };
}

/** The last 24 hours before `now`, in the server's default step (≤ 300 points). */
export async function lastDay(now = Date.now()): Promise<Point[]> {
  const h = await unwrap(api.GET('/api/v1/history', { params: { query: { from: new Date(now - DAY).toISOString(), to: new Date(now).toISOString() } } }));
  return h.points.map(toPoint);
}
