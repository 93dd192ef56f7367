/**
 * Time series for the trend charts: `seed()` puts the points of GET /api/v1/history first
 * (views/ops/history.ts), so the charts open with the past, and each refresh adds one (`push`).
 * TrendChart reads only `points`; a null figure is a gap.
 */
import { shallowRef } from 'vue';

/** One point in time: the figures by name (standard tokens/min, requests/s, …); null: not measured. */
export interface Point {
  readonly at: number;
  readonly values: Readonly<Record<string, number | null>>;
}

export function useSeries(maxPoints = 24 * 60) {
  const points = shallowRef<readonly Point[]>([]);
  const trim = (list: readonly Point[]) => (list.length > maxPoints ? list.slice(list.length - maxPoints) : list);
  return {
    points,
    /** Adds a point (a later one than the last). */
    push(at: number, values: Record<string, number | null>) {
      points.value = trim([...points.value, { at, values }]);
    },
    /** Puts points from history before the live ones (older than the first live point). */
    seed(history: readonly Point[]) {
      const first = points.value[0]?.at ?? Infinity;
      points.value = trim([...history.filter((p) => p.at < first), ...points.value]);
    },
  };
}
