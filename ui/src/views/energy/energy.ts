/**
 * The energy view's reading of GET /api/v1/energy (per cluster) and /api/v1/energy/throughput:
 * the API computes every figure; these only total what the page shows above its tables and put
 * the figures in the units a person reads (kWh rather than joules).
 */
import type { Get } from '@/api/client';

export type EnergyFigure = Get<'/api/v1/energy'>['items'][number];
export type ThroughputFigure = Get<'/api/v1/energy/throughput'>['items'][number];

const JOULES_PER_KWH = 3.6e6;

/** Joules as kilowatt-hours. */
export const kWh = (joules: number): number => joules / JOULES_PER_KWH;

/** A figure's name: its cluster's name, else its id, else '—' (a group whose placements differ). */
export const clusterLabel = (f: EnergyFigure): string => f.clusterName ?? f.clusterId ?? '—';

/**
 * What the cards above the table show: energy used in the window (kWh) over every cluster, and
 * the power drawn now (W) by the clusters that report it — null when none does.
 */
export function totals(items: readonly EnergyFigure[]): { kWh: number; powerWatts: number | null } {
  const reporting = items.filter((f) => f.powerWatts !== null);
  return {
    kWh: kWh(items.reduce((s, f) => s + f.joules, 0)),
    powerWatts: reporting.length === 0 ? null : reporting.reduce((s, f) => s + (f.powerWatts ?? 0), 0),
  };
}
