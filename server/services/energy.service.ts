import type { Clock } from '../clock.js';
import {
  DEFAULT_LOAD_CRITERIA,
  DEFAULT_MEASURED_ENOUGH,
  energyFigures,
  measuredJoulesPerStd,
  minuteOf,
  throughputFigures,
  type EnergyFigure,
  type EnergyGroup,
  type LoadCriteria,
  type MeasuredEnough,
  type ThroughputFigure,
} from '../domain/energy.js';
import { AppError } from '../errors.js';
import type { EnergyReport, EnergyRepository } from '../repositories/energy.repository.js';

const DAY_MS = 86_400_000;
/** The longest window a figure may be asked for: the reads join every minute of it. */
const MAX_WINDOW_MS = 92 * DAY_MS;
const EMPTY: ReadonlyMap<string, number> = new Map();

export interface EnergyWindow {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

export interface EnergyServiceOptions {
  /** The trailing window the scheduler's measured figures are taken over, in ms. Default 24 hours. */
  readonly schedulerWindowMs?: number;
  /** How long the scheduler's figures are kept before they are read again, in ms. Default 5 minutes. */
  readonly refreshMs?: number;
  readonly enough?: MeasuredEnough;
  /** Days the placement-minutes are kept. Default 92. */
  readonly retentionDays?: number;
}

/**
 * Measured energy per placement (agents' `energyJoules` in heartbeats), tokens per joule over a
 * window, measured throughput at load against the catalog, and the measured figures the energy
 * scorer prefers to the catalog's TDP estimate.
 */
export class EnergyService {
  #figures: { atMs: number; map: ReadonlyMap<string, number> } | undefined;
  /** Per cluster, the ready replicas this process wrote for each placement in the current minute. */
  readonly #written = new Map<string, { minuteMs: number; ready: Map<string, number> }>();
  #refreshing: Promise<void> | undefined;

  constructor(
    private readonly repo: EnergyRepository,
    private readonly clock: Clock,
    private readonly opts: EnergyServiceOptions = {},
  ) {}

  /**
   * Records what a heartbeat said of the cluster's placements' energy and ready replicas. A report
   * without energy that this process already wrote for the same minute, with no fewer ready
   * replicas, is not written again: agents report every few seconds, the minute keeps the fewest.
   */
  async record(clusterId: string, reports: readonly EnergyReport[], now: Date): Promise<void> {
    const minuteMs = minuteOf(now.getTime());
    let seen = this.#written.get(clusterId);
    if (seen?.minuteMs !== minuteMs) {
      seen = { minuteMs, ready: new Map() };
      this.#written.set(clusterId, seen);
    }
    const known = seen.ready;
    const news = reports.filter((r) => {
      const written = known.get(r.id);
      return r.energyJoules !== undefined || written === undefined || r.readyReplicas < written;
    });
    if (news.length === 0) return;
    await this.repo.record(clusterId, news, now);
    for (const r of news) if (r.readyReplicas > 0) known.set(r.id, Math.min(known.get(r.id) ?? Infinity, r.readyReplicas));
  }

  /** Tokens per joule per group over [from, to) (default: the last 24 hours). */
  async figures(window: EnergyWindow, groupBy: EnergyGroup): Promise<{ from: Date; to: Date; groupBy: EnergyGroup; items: EnergyFigure[] }> {
    const { from, to } = this.window(window);
    const now = this.clock.now();
    return { from, to, groupBy, items: energyFigures(await this.repo.placementEnergy(from, to, now), groupBy) };
  }

  /** Measured throughput at load per device profile over [from, to), with proposed catalog corrections. */
  async throughput(
    window: EnergyWindow,
    criteria: Partial<LoadCriteria> = {},
  ): Promise<{ from: Date; to: Date; criteria: LoadCriteria; items: ThroughputFigure[] }> {
    const { from, to } = this.window(window);
    const full: LoadCriteria = {
      minConcurrency: criteria.minConcurrency ?? DEFAULT_LOAD_CRITERIA.minConcurrency,
      minMinutes: criteria.minMinutes ?? DEFAULT_LOAD_CRITERIA.minMinutes,
    };
    return { from, to, criteria: full, items: throughputFigures(await this.repo.loadMinutes(from, to), full) };
  }

  /**
   * Joules per standard token measured on each (cluster, profile name), keyed `clusterId \0 profile`,
   * where there is enough measurement in the trailing window. Never waits for the database: it
   * answers the figures last read (none before the first read completes) and, when they are older
   * than the refresh period, reads them again in the background — the read joins a day of usage,
   * which a scheduling cycle must not wait for.
   */
  measured(now: Date): Promise<ReadonlyMap<string, number>> {
    const stale = this.#figures === undefined || now.getTime() - this.#figures.atMs >= (this.opts.refreshMs ?? 300_000) || now.getTime() < this.#figures.atMs;
    if (stale && !this.#refreshing) {
      const from = new Date(now.getTime() - (this.opts.schedulerWindowMs ?? DAY_MS));
      this.#refreshing = this.repo
        .placementEnergy(from, now, now)
        .then((rows) => {
          this.#figures = { atMs: now.getTime(), map: measuredJoulesPerStd(rows, this.opts.enough ?? DEFAULT_MEASURED_ENOUGH) };
        })
        // A failed read keeps the figures there were (the estimates, at first); the next cycle tries again.
        .catch(() => undefined)
        .finally(() => {
          this.#refreshing = undefined;
        });
    }
    return Promise.resolve(this.#figures?.map ?? EMPTY);
  }

  /** Deletes the placement-minutes, and the counter readings, older than the retention. */
  purge(): Promise<{ minutes: number; readings: number }> {
    return this.repo.deleteBefore(new Date(this.clock.now().getTime() - (this.opts.retentionDays ?? 92) * DAY_MS));
  }

  /** Resolves once a read of the scheduler's figures in progress (if any) has finished. */
  async refreshed(): Promise<void> {
    await this.#refreshing;
  }

  private window(w: EnergyWindow): { from: Date; to: Date } {
    const to = w.to ?? this.clock.now();
    const from = w.from ?? new Date(to.getTime() - DAY_MS);
    if (from.getTime() >= to.getTime()) throw new AppError('invalid', '`from` must be before `to`.');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw new AppError('invalid', 'The window may span at most 92 days.');
    return { from, to };
  }
}
