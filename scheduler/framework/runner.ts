/**
 * The plugin runner, after kube-scheduler's `framework/runtime/framework.go`: runs the phases of
 * one plugin set over candidates.
 *
 * - PreFilter: once per request shape, into the shape's {@link CycleState}, which is then sealed.
 * - Filter: static filters once per shape and candidate (the sampling index keeps who passed);
 *   dynamic filters on every nomination, stopping at the first rejection.
 * - Score: each scorer's raw score for a candidate into a column of this round's scores (static
 *   scorers' once per shape, read back from the sampling index).
 * - Normalize: each scorer's raw scores to 0–100 across the round's candidates, weighed, summed.
 *
 * It decides nothing about which candidates are offered or when to stop looking (sampling.ts and
 * runtime.ts do). Its scratch space is sized once, so a round allocates nothing.
 */
import type { CycleState } from './cycle-state.js';
import type { Candidate, ClusterFilterPlugin, FilterContext, FilterPlugin, PluginSet, ScoreContext, ScorePlugin, SlotFilterPlugin } from './plugin.js';
import { REASON_RANK, SUCCESS, WORST_REASON_RANK } from './status.js';
import type { Status } from './status.js';
import type { ClusterSnap, ModelSnap, WorkloadSnap } from './types.js';
import type { WorkingState } from '../snapshot.js';

/** The runtime's one candidate, filled in place as it walks candidates; plugins see it read-only. */
export type Cursor = { -readonly [K in keyof Candidate]: Candidate[K] };

/** The runtime's one score context, updated in place per round. */
export type MutableScoreContext = { -readonly [K in keyof ScoreContext]: ScoreContext[K] };

/** The most lasting obstacle the static filters found for a candidate; reused, filled in place. */
export interface Obstacle {
  /** Rank in REASON_RANK; −1: none. */
  rank: number;
  /** `plugin: message` of the rejection of that rank. */
  message: string;
}

const EMPTY_SCORES = new Float64Array(0);

export function newCursor(state: WorkingState): Cursor {
  return {
    // Placeholders until the first candidate is loaded; never read before that.
    cluster: state.snapshot.clusters[0]!,
    clusterIndex: 0,
    slot: state.slots[0]!,
    slotIndex: 0,
    devicesPerReplica: 0,
    free: 0,
    replicas: 0,
    replicaStdMicro: 0,
    clusterPlacedMicro: 0,
  };
}

export function newScoreContext(state: WorkingState, model: ModelSnap, cycle: CycleState): MutableScoreContext {
  return {
    // Set per nomination; static scorers, run when a shape is built, have no workload.
    workload: undefined as unknown as WorkloadSnap,
    model,
    state,
    cycle,
    needMicro: 0,
    remainingMicro: 0,
  };
}

export class PluginRunner {
  private readonly preFilters: FilterPlugin[];
  private readonly staticCluster: ClusterFilterPlugin[] = [];
  private readonly staticSlot: SlotFilterPlugin[] = [];
  private readonly dynamicCluster: ClusterFilterPlugin[] = [];
  private readonly dynamicSlot: SlotFilterPlugin[] = [];
  /** Scorers of weight > 0, in plugin set order. */
  readonly scorers: readonly ScorePlugin[];
  /** 1 where a scorer is static: scored once per shape (see {@link scoreStatic}). */
  readonly staticScorer: Uint8Array;
  /** 1 where a scorer's higher raw score is better. */
  private readonly higher: Uint8Array;
  private readonly weights: Float64Array;
  /** This round's raw scores, by scorer, one column per scored candidate. */
  private readonly raw: Float64Array[];
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;
  /** The plugin whose rejection {@link preFilter} or {@link filter} answered last. */
  rejectedBy: FilterPlugin | null = null;

  /** `columns`: the most candidates one round may score (every slot of the working state). */
  constructor(plugins: PluginSet, columns: number) {
    this.preFilters = plugins.filters.filter((f) => f.preFilter !== undefined);
    for (const f of plugins.filters) {
      if (f.level === 'cluster') (f.static ? this.staticCluster : this.dynamicCluster).push(f);
      else (f.static ? this.staticSlot : this.dynamicSlot).push(f);
    }
    const scorers = plugins.scorers.filter((s) => s.weight > 0);
    this.scorers = scorers.map((s) => s.plugin);
    this.staticScorer = Uint8Array.from(this.scorers, (s) => (s.static === true ? 1 : 0));
    this.higher = Uint8Array.from(this.scorers, (s) => (s.direction === 'higher' ? 1 : 0));
    this.weights = Float64Array.from(scorers, (s) => s.weight);
    this.raw = this.scorers.map(() => new Float64Array(columns));
    this.mins = new Float64Array(this.scorers.length);
    this.maxs = new Float64Array(this.scorers.length);
  }

  /**
   * PreFilter: every plugin's preFilter writes to `ctx.cycle`, which is then sealed. Answers the
   * first failure (its plugin in {@link rejectedBy}), or SUCCESS.
   */
  preFilter(ctx: FilterContext): Status {
    let answer = SUCCESS;
    for (const f of this.preFilters) {
      const s = f.preFilter!(ctx);
      if (s.code !== 'Success') {
        this.rejectedBy = f;
        answer = s;
        break;
      }
    }
    ctx.cycle.seal();
    return answer;
  }

  /** Static cluster filters: sets `out` to their most lasting obstacle (rank −1: they all pass). */
  staticClusterObstacle(ctx: FilterContext, cluster: ClusterSnap, out: Obstacle): void {
    out.rank = -1;
    out.message = '';
    for (const f of this.staticCluster) {
      const s = f.filter(ctx, cluster);
      if (s.code === 'Success') continue;
      this.raise(out, s, f);
      if (out.rank === WORST_REASON_RANK) return;
    }
  }

  /** Static slot filters: raises `out` (starting from the cluster's obstacle) to their most lasting one. */
  staticSlotObstacle(ctx: FilterContext, c: Candidate, out: Obstacle): void {
    for (const f of this.staticSlot) {
      if (out.rank === WORST_REASON_RANK) return;
      const s = f.filter(ctx, c);
      if (s.code !== 'Success') this.raise(out, s, f);
    }
  }

  private raise(out: Obstacle, s: Status, f: FilterPlugin): void {
    const rank = REASON_RANK[s.reason ?? f.reason];
    if (rank > out.rank) {
      out.rank = rank;
      out.message = `${f.name}: ${s.message}`;
    }
  }

  /**
   * Filter: the dynamic filters in order, cluster level first. Answers the first rejection (its
   * plugin in {@link rejectedBy}), or null when the candidate passes them all.
   */
  filter(ctx: FilterContext, c: Candidate): Status | null {
    for (const f of this.dynamicCluster) {
      const s = f.filter(ctx, c.cluster);
      if (s.code !== 'Success') {
        this.rejectedBy = f;
        return s;
      }
    }
    for (const f of this.dynamicSlot) {
      const s = f.filter(ctx, c);
      if (s.code !== 'Success') {
        this.rejectedBy = f;
        return s;
      }
    }
    return null;
  }

  /**
   * Whether evicting workloads could let a candidate that passed the static filters pass the
   * dynamic ones too: false when any of them answers `UnschedulableAndUnresolvable` (or `Error`).
   * Unlike {@link filter} it looks past `Unschedulable` answers (a full slot is what preemption is for).
   */
  preemptionMightHelp(ctx: FilterContext, c: Candidate): boolean {
    for (const f of this.dynamicCluster) if (hopeless(f.filter(ctx, c.cluster))) return false;
    for (const f of this.dynamicSlot) if (hopeless(f.filter(ctx, c))) return false;
    return true;
  }

  /** One column per candidate for each static scorer (empty for the others). */
  staticScoreColumns(candidates: number): Float64Array[] {
    return this.scorers.map((_, s) => (this.staticScorer[s] === 1 ? new Float64Array(candidates) : EMPTY_SCORES));
  }

  /** Score, static scorers only: their raw scores of `c` into column `i` of `out`. */
  scoreStatic(sctx: ScoreContext, c: Candidate, out: readonly Float64Array[], i: number): void {
    for (let s = 0; s < this.scorers.length; s++) if (this.staticScorer[s] === 1) out[s]![i] = this.scorers[s]!.score(sctx, c);
  }

  /** Starts a round: no candidate scored yet. */
  beginRound(): void {
    this.mins.fill(Infinity);
    this.maxs.fill(-Infinity);
  }

  /**
   * Score: the raw scores of `c` into column `m` of this round; static scorers' are read from
   * `staticScores` (by scorer) at `pos`.
   */
  score(sctx: ScoreContext, c: Candidate, m: number, staticScores: readonly Float64Array[], pos: number): void {
    const { scorers, staticScorer, raw, mins, maxs } = this;
    for (let s = 0; s < scorers.length; s++) {
      const v = staticScorer[s] === 1 ? staticScores[s]![pos]! : scorers[s]!.score(sctx, c);
      raw[s]![m] = v;
      if (v < mins[s]!) mins[s] = v;
      if (v > maxs[s]!) maxs[s] = v;
    }
  }

  /**
   * Normalize: each scorer's raw scores of this round's first `m` columns to 0–100 (100 for the
   * best; all 100 when they are equal), weighed and summed. Answers the column with the highest
   * total; ties go to the smallest `order[column]` (the slot's place in the snapshot), so the same
   * input always gives the same answer.
   */
  best(m: number, order: Int32Array): number {
    const nScorers = this.scorers.length;
    const { raw, higher, weights, mins, maxs } = this;
    let best = 0;
    let bestScore = -Infinity;
    let bestOrder = Infinity;
    for (let i = 0; i < m; i++) {
      let total = 0;
      for (let s = 0; s < nScorers; s++) {
        const lo = mins[s]!;
        const span = maxs[s]! - lo;
        const v = raw[s]![i]!;
        let norm = 100;
        if (span > 0) norm = higher[s] === 1 ? ((v - lo) / span) * 100 : ((lo + span - v) / span) * 100;
        total += weights[s]! * norm;
      }
      const o = order[i]!;
      if (total > bestScore || (total === bestScore && o < bestOrder)) {
        best = i;
        bestScore = total;
        bestOrder = o;
      }
    }
    return best;
  }
}

function hopeless(s: Status): boolean {
  return s.code === 'UnschedulableAndUnresolvable' || s.code === 'Error';
}
