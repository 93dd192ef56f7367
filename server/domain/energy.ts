/**
 * Measured energy and throughput (issue 14, "Measured tokens per watt"), as the platform judges
 * them. Pure: readings and times come in as arguments.
 *
 * An agent reports, per placement, `energyJoules`: a counter of the joules the placement's devices
 * used since the agent began measuring it, which starts again from zero when the agent restarts.
 * The platform turns consecutive readings into energy per minute, as Prometheus's `increase()`
 * does: a reading lower than the last is a reset, and the increase is then the new reading (what
 * was used since the restart; what was used between the last reading and the restart is not
 * known, and is missed). The increase is spread evenly over the time between the two readings.
 */

/** The last reading of a placement's energy counter. */
export interface EnergyReading {
  readonly counterJoules: number;
  /** When the platform received it, in epoch ms. */
  readonly atMs: number;
}

/** Energy used over a stretch of time. */
export interface EnergyInterval {
  readonly joules: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * The longest time between two readings whose increase is still counted: past it, nobody knows
 * when the energy was used (an agent away for an hour, say), so the new reading only starts a new
 * baseline, and the minutes between stay unmeasured (their tokens are not counted either).
 */
export const MAX_READING_GAP_MS = 15 * 60_000;

/**
 * The energy used between `previous` and a new reading `counterJoules` at `atMs`; undefined when
 * nothing can be said: the first reading (a baseline), a reading no later than the previous one,
 * or one after more than {@link MAX_READING_GAP_MS}.
 */
export function energyIncrease(previous: EnergyReading | undefined, counterJoules: number, atMs: number): EnergyInterval | undefined {
  if (!previous) return undefined;
  const gap = atMs - previous.atMs;
  if (!(gap > 0) || gap > MAX_READING_GAP_MS) return undefined;
  const joules = counterJoules < previous.counterJoules ? counterJoules : counterJoules - previous.counterJoules;
  return { joules, fromMs: previous.atMs, toMs: atMs };
}

export const MINUTE_MS = 60_000;

/** Energy and measured seconds of one UTC minute. */
export interface MinuteEnergy {
  /** Start of the minute, epoch ms. */
  readonly minuteMs: number;
  readonly joules: number;
  readonly seconds: number;
}

/** Spreads an interval's energy evenly over the UTC minutes it covers, each with its share of the time. */
export function spreadOverMinutes(interval: EnergyInterval): MinuteEnergy[] {
  const { fromMs, toMs, joules } = interval;
  const span = toMs - fromMs;
  if (!(span > 0)) return [];
  const out: MinuteEnergy[] = [];
  for (let start = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS; start < toMs; start += MINUTE_MS) {
    const covered = Math.min(toMs, start + MINUTE_MS) - Math.max(fromMs, start);
    if (covered <= 0) continue;
    out.push({ minuteMs: start, joules: (joules * covered) / span, seconds: covered / 1000 });
  }
  return out;
}

/** The start of the UTC minute holding `ms`. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** What is known of one placement over a window, for the figures below. */
export interface PlacementEnergy {
  readonly placementId: string;
  readonly clusterId: string;
  readonly clusterName: string;
  readonly vendor: string;
  readonly model: string;
  readonly profile: string;
  /** The profile's catalog figures. */
  readonly tdpWatts: number;
  readonly stdTokensPerSec: number;
  /** Joules measured in the window. */
  readonly joules: number;
  /** Seconds the measurement covered. */
  readonly measuredSeconds: number;
  /** Standard tokens the placement served in the measured minutes, a decimal text (exact). */
  readonly stdTokens: string;
  /** The power its agent last reported, if recent; null: none. */
  readonly powerWatts: number | null;
}

export const ENERGY_GROUPS = ['placement', 'cluster', 'vendor', 'model', 'profile'] as const;
export type EnergyGroup = (typeof ENERGY_GROUPS)[number];

/** Tokens per joule of a group of placements, measured and as the catalog's TDP figures estimate it. */
export interface EnergyFigure {
  readonly placementId: string | null;
  readonly clusterId: string | null;
  readonly clusterName: string | null;
  readonly vendor: string | null;
  readonly model: string | null;
  readonly profile: string | null;
  readonly placements: number;
  readonly joules: number;
  readonly measuredSeconds: number;
  readonly stdTokens: string;
  /** Measured standard tokens per joule; null when no energy was measured. */
  readonly stdTokensPerJoule: number | null;
  /**
   * The catalog's estimate for the same devices, `stdTokensPerSec ÷ tdpWatts` of each placement's
   * profile, weighted by the energy each used.
   */
  readonly tdpStdTokensPerJoule: number | null;
  /** Sum of the latest power readings of its placements that report one now. */
  readonly powerWatts: number | null;
}

const KEY: Readonly<Record<EnergyGroup, (p: PlacementEnergy) => string>> = {
  placement: (p) => p.placementId,
  cluster: (p) => p.clusterId,
  vendor: (p) => p.vendor,
  model: (p) => p.model,
  profile: (p) => p.profile,
};

/** Figures per group, in the order groups were first seen; fields the group's placements share are named, others null. */
export function energyFigures(placements: readonly PlacementEnergy[], groupBy: EnergyGroup): EnergyFigure[] {
  const groups = new Map<string, PlacementEnergy[]>();
  for (const p of placements) {
    const key = KEY[groupBy](p);
    const list = groups.get(key);
    if (list) list.push(p);
    else groups.set(key, [p]);
  }
  return [...groups.values()].map((list) => {
    const shared = <K extends keyof PlacementEnergy>(k: K): PlacementEnergy[K] | null => (list.every((p) => p[k] === list[0]![k]) ? list[0]![k] : null);
    const joules = list.reduce((s, p) => s + p.joules, 0);
    const stdTokens = sumDecimals(list.map((p) => p.stdTokens));
    const tdpWeighted = list.reduce((s, p) => s + (p.tdpWatts > 0 ? (p.joules * p.stdTokensPerSec) / p.tdpWatts : 0), 0);
    const powered = list.filter((p) => p.powerWatts !== null);
    return {
      placementId: shared('placementId'),
      clusterId: shared('clusterId'),
      clusterName: shared('clusterName'),
      vendor: shared('vendor'),
      model: shared('model'),
      profile: shared('profile'),
      placements: list.length,
      joules,
      measuredSeconds: list.reduce((s, p) => s + p.measuredSeconds, 0),
      stdTokens,
      stdTokensPerJoule: joules > 0 ? Number(stdTokens) / joules : null,
      tdpStdTokensPerJoule: joules > 0 ? tdpWeighted / joules : null,
      powerWatts: powered.length > 0 ? powered.reduce((s, p) => s + p.powerWatts!, 0) : null,
    };
  });
}

/** The exact sum of non-negative decimal texts with at most 12 places, as a decimal text without trailing zeros. */
export function sumDecimals(texts: readonly string[]): string {
  const SCALE = 12;
  let total = 0n;
  for (const t of texts) {
    const [whole = '0', frac = ''] = t.split('.');
    total += BigInt(whole) * 10n ** BigInt(SCALE) + BigInt(frac.slice(0, SCALE).padEnd(SCALE, '0'));
  }
  const whole = total / 10n ** BigInt(SCALE);
  const frac = (total % 10n ** BigInt(SCALE)).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

/** One placement-minute for the throughput measure. */
export interface LoadMinute {
  readonly profile: string;
  readonly vendor: string;
  readonly catalogStdTokensPerSec: number;
  readonly clusterId: string;
  readonly readyReplicas: number;
  readonly devicesPerReplica: number;
  /** Standard tokens served in the minute. */
  readonly stdTokens: number;
  /** Seconds of requests in flight on the placement in the minute (durations of the requests started in it). */
  readonly requestSeconds: number;
}

/** When a placement-minute counts as "at load", and when a measure is worth proposing. */
export interface LoadCriteria {
  /** Average requests in flight per ready replica over the minute, at least. */
  readonly minConcurrency: number;
  /** Minutes at load a profile needs before a correction is proposed. */
  readonly minMinutes: number;
}

export const DEFAULT_LOAD_CRITERIA: LoadCriteria = Object.freeze({ minConcurrency: 8, minMinutes: 10 });

/** Measured throughput of a device profile against its catalog figure. */
export interface ThroughputFigure {
  readonly profile: string;
  readonly vendor: string;
  readonly catalogStdTokensPerSec: number;
  /** Placement-minutes at load. */
  readonly loadMinutes: number;
  readonly clusters: number;
  /** Standard tokens per second per device over the minutes at load; null: none. */
  readonly measuredStdTokensPerSec: number | null;
  /** The measured figure when there are enough minutes at load; null otherwise. Never applied by itself. */
  readonly proposedStdTokensPerSec: number | null;
}

/**
 * Served standard tokens per second per device, over the placement-minutes "at load": those in
 * which the placement's requests in flight averaged at least `minConcurrency` per ready replica. A
 * replica kept that busy is serving as fast as it can at that concurrency, so its rate is a fair
 * measure of the device's throughput; a replica that sits idle part of the minute says nothing
 * about its capacity. The measure is `Σ std tokens ÷ Σ (60 × ready replicas × devices per replica)`
 * over those minutes, per profile; proposed as a correction once `minMinutes` minutes count.
 */
export function throughputFigures(minutes: readonly LoadMinute[], criteria: LoadCriteria = DEFAULT_LOAD_CRITERIA): ThroughputFigure[] {
  const by = new Map<string, { first: LoadMinute; minutes: number; std: number; deviceSeconds: number; clusters: Set<string> }>();
  for (const m of minutes) {
    const g = by.get(m.profile) ?? { first: m, minutes: 0, std: 0, deviceSeconds: 0, clusters: new Set<string>() };
    by.set(m.profile, g);
    if (m.readyReplicas <= 0 || m.requestSeconds / 60 / m.readyReplicas < criteria.minConcurrency) continue;
    g.minutes += 1;
    g.std += m.stdTokens;
    g.deviceSeconds += 60 * m.readyReplicas * m.devicesPerReplica;
    g.clusters.add(m.clusterId);
  }
  return [...by.values()].map((g) => {
    const measured = g.deviceSeconds > 0 ? g.std / g.deviceSeconds : null;
    return {
      profile: g.first.profile,
      vendor: g.first.vendor,
      catalogStdTokensPerSec: g.first.catalogStdTokensPerSec,
      loadMinutes: g.minutes,
      clusters: g.clusters.size,
      measuredStdTokensPerSec: measured,
      proposedStdTokensPerSec: measured !== null && g.minutes >= criteria.minMinutes ? Math.round(measured * 1000) / 1000 : null,
    };
  });
}

/** Whether a (cluster, profile)'s measurement is enough for the scheduler to prefer it to the TDP estimate. */
export interface MeasuredEnough {
  /** Measured seconds, at least. */
  readonly minSeconds: number;
  /** Standard tokens served in them, at least. */
  readonly minStdTokens: number;
}

/** An hour of measurement with at least a million standard tokens served in it. */
export const DEFAULT_MEASURED_ENOUGH: MeasuredEnough = Object.freeze({ minSeconds: 3600, minStdTokens: 1_000_000 });

/**
 * Joules per standard token measured on each (cluster, profile), keyed `clusterId \0 profile`,
 * where the measurement is enough; what the energy scorer prefers to the TDP estimate.
 */
export function measuredJoulesPerStd(placements: readonly PlacementEnergy[], enough: MeasuredEnough = DEFAULT_MEASURED_ENOUGH): Map<string, number> {
  const out = new Map<string, number>();
  const groups = new Map<string, PlacementEnergy[]>();
  for (const p of placements) {
    const key = `${p.clusterId}\u0000${p.profile}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  for (const [key, list] of groups) {
    const joules = list.reduce((s, p) => s + p.joules, 0);
    const seconds = list.reduce((s, p) => s + p.measuredSeconds, 0);
    const std = Number(sumDecimals(list.map((p) => p.stdTokens)));
    if (seconds >= enough.minSeconds && std >= enough.minStdTokens && joules > 0) out.set(key, joules / std);
  }
  return out;
}
