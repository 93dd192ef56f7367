/**
 * The platform's history (issue 16, "Foundation"): every minute the city's totals — the pool's
 * capacity and allocation, tokens served, the gateway's requests, measured energy — go into one
 * row per minute (migration 0034), read back by range and step for the charts.
 *
 * Sampling is safe on any number of replicas at once: a minute's gauges are written by whoever
 * samples it first (the others change nothing), and its flows are counts of committed data that
 * come out the same whoever counts them. A minute's flows are counted when it ends, and once more
 * `settleMs` later, which takes in usage and energy that arrived late (agents report every few
 * seconds, the gateway's metering in batches); what arrives later still is in the usage and energy
 * reports but not in the history.
 */
import type { Calendar } from '../billing/periods.js';
import type { Clock } from '../clock.js';
import { minuteOf, sumDecimals, type EnergyFigure } from '../domain/energy.js';
import { historyBuckets, historyPoints, type HistoryPoint, type HistoryStep } from '../domain/history.js';
import { AppError } from '../errors.js';
import type { HistoryGauges, HistoryRepository, MinuteEnergyTotals } from '../repositories/history.repository.js';
import type { PoolView } from './cluster-view.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** How far back a run still makes up minutes never counted (after an outage, say). */
const CATCH_UP_MS = 60 * MINUTE_MS;

export interface HistoryDeps {
  /** The pool as `GET /api/v1/pool` answers it. */
  readonly pool: () => Promise<PoolView>;
  /** Measured energy per cluster over [from, to), as `GET /api/v1/energy` answers it. */
  readonly energy: (from: Date, to: Date) => Promise<readonly EnergyFigure[]>;
}

export interface HistoryOptions {
  /** Days a minute is kept. */
  readonly retentionDays: number;
  /** How long after a minute ends its flows are counted the final time, in ms. Default 5 minutes. */
  readonly settleMs?: number;
}

export interface HistoryQuery {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly step?: HistoryStep | undefined;
}

export interface HistoryAnswer {
  readonly from: Date;
  readonly to: Date;
  readonly step: HistoryStep;
  readonly points: HistoryPoint[];
}

export class HistoryService {
  constructor(
    private readonly repo: HistoryRepository,
    private readonly clock: Clock,
    private readonly calendar: Calendar,
    private readonly deps: HistoryDeps,
    private readonly opts: HistoryOptions,
  ) {}

  /**
   * Samples the current minute's gauges (unless it has them already), then counts the flows of the
   * minute that just ended and makes the final count of those that have settled. Answers the
   * minute sampled and how many minutes were counted.
   */
  async sample(): Promise<{ minute: Date; sampled: boolean; counted: number }> {
    const now = this.clock.now();
    const minute = new Date(minuteOf(now.getTime()));
    const sampled = await this.repo.sample(minute, now, await this.gauges());
    const latest = new Date(minute.getTime() - MINUTE_MS);
    const due = await this.repo.toCount(latest, new Date(minute.getTime() - CATCH_UP_MS), now, this.opts.settleMs ?? 5 * MINUTE_MS);
    for (const m of due) await this.repo.count(m, now, await this.energyOf(m));
    return { minute, sampled, counted: due.length };
  }

  /**
   * Records minutes already past (each one's start in `minutes`) as if they had been sampled then,
   * with the pool's gauges as they are now (a minute that has its gauges keeps them), and counts
   * their flows from what is stored: for a platform that begins with a past it never sampled — the
   * demo city's last day (bin/demo.ts), whose usage its agents reported afterwards.
   */
  async recordPast(minutes: readonly Date[]): Promise<void> {
    const gauges = await this.gauges();
    const now = this.clock.now();
    for (const minute of minutes) {
      if (minute.getTime() + MINUTE_MS > now.getTime()) continue;
      await this.repo.sample(minute, now, gauges);
      await this.repo.count(minute, now, await this.energyOf(minute));
    }
  }

  /** The points of [from, to) at `step` (defaults: the last 24 hours, the step that keeps it to 300 points). */
  async read(q: HistoryQuery): Promise<HistoryAnswer> {
    const to = q.to ?? this.clock.now();
    const from = q.from ?? new Date(to.getTime() - DAY_MS);
    const buckets = historyBuckets(from, to, q.step, this.calendar);
    if ('field' in buckets) {
      throw new AppError('invalid', `\`${buckets.field}\` ${buckets.message}.`, [{ path: `query.${buckets.field}`, message: buckets.message }]);
    }
    const end = new Date(buckets.endMs);
    const sums = await this.repo.buckets(buckets.starts, end);
    return { from: new Date(buckets.starts[0]!), to: end, step: buckets.step, points: historyPoints(buckets, sums) };
  }

  /** Deletes the minutes older than the retention; answers how many. */
  purge(): Promise<number> {
    return this.repo.deleteBefore(new Date(this.clock.now().getTime() - this.opts.retentionDays * DAY_MS));
  }

  /** The pool's gauges now. */
  private async gauges(): Promise<HistoryGauges> {
    const pool = await this.deps.pool();
    return {
      totalStdPerMin: pool.totalStdPerMin,
      allocatedStdPerMin: pool.allocatedStdPerMin,
      freeStdPerMin: pool.freeStdPerMin,
      clustersReady: pool.clusters.ready,
      clustersNotReady: pool.clusters.notReady,
      clustersCordoned: pool.clusters.cordoned,
    };
  }

  private async energyOf(minute: Date): Promise<MinuteEnergyTotals> {
    const figures = await this.deps.energy(minute, new Date(minute.getTime() + MINUTE_MS));
    if (figures.length === 0) return { joules: null, seconds: 0, measuredStdTokens: null };
    return {
      joules: figures.reduce((s, f) => s + f.joules, 0),
      seconds: figures.reduce((s, f) => s + f.measuredSeconds, 0),
      measuredStdTokens: sumDecimals(figures.map((f) => f.stdTokens)),
    };
  }
}
