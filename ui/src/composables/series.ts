/**
 * Time series for the trend charts. Today the platform keeps no history, so a series starts when
 * the page opens and grows with each refresh (`push`). When GET /api/v1/history lands, `seed()`
 * takes its per-minute points first and the charts open with the past (TrendChart reads only
 * `points`).
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
