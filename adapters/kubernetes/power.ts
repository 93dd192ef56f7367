/**
 * Energy per placement from the power exporters a cluster already runs (issue 14, "Measured
 * tokens per watt"): NVIDIA's DCGM exporter and Huawei's NPU exporter, read in the Prometheus text
 * format (prometheus-text.ts).
 *
 * A sample belongs to a placement when its pod label names one of the placement's serving pods
 * (and its namespace label, when the exporter sets one, the agent's namespace). The exporters put
 * the pod on a device's series only when their Kubernetes mapping is on (DCGM exporter:
 * `pod`/`namespace`/`container`, with `--kubernetes`; NPU exporter v6: `pod_name`/`namespace`/
 * `container_name`, with its container mode); a series without it is not attributed to anyone:
 * a node's devices are shared by pods of several placements, and nothing the API server says ties
 * a device to a pod, so no honest guess is possible.
 *
 * Per device series (one exporter, one label set): an energy counter where the exporter has one
 * (DCGM's `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`, millijoules since the driver loaded), its increase
 * between two scrapes (a lower reading is a reset: the new reading counts); else the power gauge
 * integrated over time by the trapezoid rule. The first sight of a series, and a gap longer than
 * `maxGapMs`, only start a new baseline. Each placement's `energyJoules` is the sum over its
 * series since the meter began measuring it — a counter the platform reads as Prometheus reads
 * counters, which starts from 0 again when the agent restarts.
 */
import { parseSampleLine } from './prometheus-text.js';

/** One exporter the agent scrapes, with the names its version uses. */
export interface PowerExporter {
  /** The vendor whose devices it measures (for logs and defaults). */
  readonly vendor: string;
  /** Its metrics pages (a DaemonSet's exporter answers per node: one URL per node). */
  readonly urls: readonly string[];
  /** The power gauge, in watts. */
  readonly powerMetric: string;
  /** An energy counter, if the exporter has one; null: power is integrated. */
  readonly energyMetric: string | null;
  /** Joules per unit of the energy counter (DCGM: millijoules, 0.001). */
  readonly energyScale: number;
  /** The label naming the pod that holds the device. */
  readonly podLabel: string;
  /** The label naming the pod's namespace; null: not checked. */
  readonly namespaceLabel: string | null;
}

/**
 * The exporters' defaults, as their sources name them: DCGM exporter (NVIDIA/dcgm-exporter,
 * `pod`/`namespace` attributes; `DCGM_FI_DEV_POWER_USAGE` in W, `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`
 * in mJ) and Huawei's NPU exporter (Ascend/ascend-npu-exporter v6, `npu_chip_info_power` in W,
 * labels `pod_name`/`namespace`; no energy counter). Names vary by version: every one is configurable.
 */
export const EXPORTER_DEFAULTS: Readonly<Record<string, Omit<PowerExporter, 'vendor' | 'urls'>>> = {
  nvidia: {
    powerMetric: 'DCGM_FI_DEV_POWER_USAGE',
    energyMetric: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
    energyScale: 0.001,
    podLabel: 'pod',
    namespaceLabel: 'namespace',
  },
  huawei: { powerMetric: 'npu_chip_info_power', energyMetric: null, energyScale: 1, podLabel: 'pod_name', namespaceLabel: 'namespace' },
};

/** What a placement's devices used and draw, as the agent reports it. */
export interface PlacementPower {
  /** Joules since the meter began measuring the placement. */
  readonly energyJoules: number;
  /** Watts its devices drew at the last scrape. */
  readonly powerWatts: number;
}

/** One device series of one scrape. */
export interface PowerSample {
  /** The series: exporter URL and its labels. */
  readonly series: string;
  readonly placementId: string;
  readonly watts?: number;
  /** The energy counter's reading in joules, when the exporter has one. */
  readonly counterJoules?: number;
}

/**
 * The samples of one exporter page that belong to the agent's placements: `pods` maps a serving
 * pod's name to its placement.
 */
export function placementSamples(text: string, url: string, exporter: PowerExporter, namespace: string, pods: ReadonlyMap<string, string>): PowerSample[] {
  const bySeries = new Map<string, { placementId: string; watts?: number; counterJoules?: number }>();
  for (const line of text.split('\n')) {
    const s = parseSampleLine(line);
    if (!s || !Number.isFinite(s.value) || s.value < 0) continue;
    const isPower = s.name === exporter.powerMetric;
    const isEnergy = exporter.energyMetric !== null && s.name === exporter.energyMetric;
    if (!isPower && !isEnergy) continue;
    const labels = new Map(s.labels);
    const pod = labels.get(exporter.podLabel);
    if (!pod) continue;
    if (exporter.namespaceLabel !== null && labels.has(exporter.namespaceLabel) && labels.get(exporter.namespaceLabel) !== namespace) continue;
    const placementId = pods.get(pod);
    if (!placementId) continue;
    // The device's series: its labels in name order (the two metrics of one device share them).
    const key = `${url}\u0000${[...labels]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('\u0001')}`;
    const entry = bySeries.get(key) ?? { placementId };
    if (isPower) entry.watts = (entry.watts ?? 0) + s.value;
    else entry.counterJoules = (entry.counterJoules ?? 0) + s.value * exporter.energyScale;
    bySeries.set(key, entry);
  }
  return [...bySeries].map(([series, e]) => ({ series, ...e }));
}

interface SeriesState {
  readonly placementId: string;
  readonly atMs: number;
  readonly watts: number | undefined;
  readonly counterJoules: number | undefined;
}

/** Accumulates energy per placement from successive scrapes. Time comes in with each scrape. */
export class EnergyMeter {
  readonly #maxGapMs: number;
  readonly #series = new Map<string, SeriesState>();
  readonly #joules = new Map<string, number>();
  readonly #watts = new Map<string, number>();

  /** `maxGapMs`: the longest time between two scrapes of a series whose energy is still counted. Default 5 minutes. */
  constructor(opts: { maxGapMs?: number } = {}) {
    this.#maxGapMs = opts.maxGapMs ?? 300_000;
  }

  /**
   * Takes one round of scrapes at `nowMs`: every series seen adds its energy since its last
   * scrape; placements no longer among `live` are forgotten (their pods are gone).
   */
  observe(samples: readonly PowerSample[], nowMs: number, live: ReadonlySet<string>): void {
    const watts = new Map<string, number>();
    const seen = new Set<string>();
    for (const s of samples) {
      seen.add(s.series);
      const prev = this.#series.get(s.series);
      const gap = prev ? nowMs - prev.atMs : NaN;
      let joules = 0;
      if (prev && prev.placementId === s.placementId && gap > 0 && gap <= this.#maxGapMs) {
        if (s.counterJoules !== undefined && prev.counterJoules !== undefined) {
          joules = s.counterJoules < prev.counterJoules ? s.counterJoules : s.counterJoules - prev.counterJoules;
        } else if (s.watts !== undefined && prev.watts !== undefined) {
          joules = ((prev.watts + s.watts) / 2) * (gap / 1000);
        }
      }
      if (joules > 0) this.#joules.set(s.placementId, (this.#joules.get(s.placementId) ?? 0) + joules);
      else if (!this.#joules.has(s.placementId)) this.#joules.set(s.placementId, 0);
      if (s.watts !== undefined) watts.set(s.placementId, (watts.get(s.placementId) ?? 0) + s.watts);
      this.#series.set(s.series, { placementId: s.placementId, atMs: nowMs, watts: s.watts, counterJoules: s.counterJoules });
    }
    // A series missing from this round keeps its baseline until the gap runs out.
    for (const [key, state] of this.#series) {
      if (!seen.has(key) && (nowMs - state.atMs > this.#maxGapMs || !live.has(state.placementId))) this.#series.delete(key);
    }
    for (const id of [...this.#joules.keys()]) {
      if (!live.has(id)) {
        this.#joules.delete(id);
        this.#watts.delete(id);
      }
    }
    for (const id of this.#joules.keys()) this.#watts.set(id, watts.get(id) ?? 0);
  }

  /** Energy and power of each placement measured so far. */
  readings(): ReadonlyMap<string, PlacementPower> {
    const out = new Map<string, PlacementPower>();
    for (const [id, energyJoules] of this.#joules) out.set(id, { energyJoules, powerWatts: this.#watts.get(id) ?? 0 });
    return out;
  }
}

/**
 * Scrapes every exporter page, keeps the samples of the agent's serving pods, and feeds them to
 * `meter` at `nowMs`. A page that cannot be read is logged and skipped: its series keep their
 * baselines until the meter's gap runs out.
 */
export async function scrapePower(opts: {
  readonly exporters: readonly PowerExporter[];
  readonly fetchText: (url: string) => Promise<string>;
  readonly namespace: string;
  /** Serving pod name → its placement. */
  readonly pods: ReadonlyMap<string, string>;
  /** The placements the agent runs now. */
  readonly live: ReadonlySet<string>;
  readonly meter: EnergyMeter;
  readonly nowMs: () => number;
  readonly onError?: (url: string, err: unknown) => void;
}): Promise<ReadonlyMap<string, PlacementPower>> {
  const pages = await Promise.all(
    opts.exporters.flatMap((exporter) =>
      exporter.urls.map(async (url) => {
        try {
          return placementSamples(await opts.fetchText(url), url, exporter, opts.namespace, opts.pods);
        } catch (err) {
          opts.onError?.(url, err);
          return [];
        }
      }),
    ),
  );
  opts.meter.observe(pages.flat(), opts.nowMs(), opts.live);
  return opts.meter.readings();
}
