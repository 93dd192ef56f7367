/**
 * Runs the filter and score plugins over candidates (after kube-scheduler's
 * `framework/runtime/framework.go`) and nominates device slots for one workload.
 *
 * Speed without cheating the plugins: static filters (`static: true`) depend only on the snapshot
 * and the request's shape (model, regions), which do not change within a cycle, so the runtime
 * runs them once per shape and keeps the surviving candidates with the `devicesPerReplica` that
 * memory-fit set. Dynamic filters and all scorers run on every nomination. A candidate that a
 * `monotone` dynamic filter rejected is dropped from its shape's live list until devices are
 * released (taking devices cannot make it pass again).
 *
 * Like kube-scheduler's `percentageOfNodesToScore`, a round stops looking once it has found
 * enough feasible candidates ({@link candidatesToScore}) whose free devices can carry the
 * request: a city of thousands of device slots is then not scanned whole for every workload.
 * Unlike kube-scheduler the scan always starts at the head of the shape's live list, so the same
 * input gives the same answer; the list's order moves as full candidates leave it. The list
 * offers the device models in turn (see {@link Shape.slots}), so a sample never misses a kind of
 * device because the city lists it last. Small cities (up to 100 feasible candidates) are always
 * scored whole. Static scorers (energy) are scored once per shape, like static filters.
 */
import type { WorkingState } from '../snapshot.js';
import type {
  Candidate,
  ClusterFilterPlugin,
  FilterContext,
  PluginSet,
  ScorePlugin,
  SlotFilterPlugin,
} from './plugin.js';
import { REASON_RANK, unschedulable, WORST_REASON_RANK } from './status.js';
import type { Status } from './status.js';
import type { ModelSnap, PendingReason, WorkloadSnap } from './types.js';

const REASONS: readonly PendingReason[] = ['capacity', 'quota', 'plan_exhausted', 'no_compatible_device'];
const EMPTY_SCORES = new Float64Array(0);

/**
 * Reorders `slots` (and `sizes` with it) so that the classes `classOf` tells apart take turns,
 * each keeping its own order: a, a, b, c, c → a, b, c, a, c.
 */
function interleave(slots: number[], sizes: number[], classOf: (slot: number, size: number) => string): void {
  const classes = new Map<string, number[]>();
  for (let i = 0; i < slots.length; i++) {
    const key = classOf(slots[i]!, sizes[i]!);
    let members = classes.get(key);
    if (!members) classes.set(key, (members = []));
    members.push(i);
  }
  if (classes.size < 2) return;
  const lists = [...classes.values()];
  const order: number[] = [];
  for (let round = 0; order.length < slots.length; round++) {
    for (const members of lists) if (round < members.length) order.push(members[round]!);
  }
  const oldSlots = slots.slice();
  const oldSizes = sizes.slice();
  for (let i = 0; i < order.length; i++) {
    slots[i] = oldSlots[order[i]!]!;
    sizes[i] = oldSizes[order[i]!]!;
  }
}

/** kube-scheduler's `minFeasibleNodesToFind`: below this many candidates, all are scored. */
const MIN_CANDIDATES_TO_SCORE = 100;

/** The static part of scheduling one request shape (model, regions), computed once per cycle. */
export interface Shape {
  readonly key: string;
  readonly model: ModelSnap;
  readonly regions: readonly string[] | null;
  /**
   * Flat slot indices that pass every static filter: the device models (with their replica
   * sizes) taken in turn, each in snapshot order, so that any prefix offers every kind of device.
   */
  readonly slots: Int32Array;
  /** `devicesPerReplica` of each entry of `slots`. */
  readonly devicesPerReplica: Int32Array;
  /** Standard millionths per minute of one replica on each entry of `slots`. */
  readonly replicaStdMicro: Float64Array;
  /** Raw scores of the static scorers for each entry of `slots` (by scorer index; empty for dynamic ones). */
  readonly staticScores: readonly Float64Array[];
  /**
   * Among slots rejected by static filters: the least lasting obstacle (each slot counted by its
   * most lasting one), or null when no slot was rejected. When `slots` is empty this is why
   * (null then means the snapshot has no slots at all: reported as `no_compatible_device`).
   */
  readonly staticReason: PendingReason | null;
  readonly staticMessage: string;
  /** Positions into `slots` still worth offering (see the module comment); runtime-owned. */
  live: Int32Array;
  liveCount: number;
  liveEpoch: number;
  /** Least lasting reason among candidates dropped from `live` (rank), +∞ when none. */
  droppedRank: number;
  /**
   * An upper bound on the standard millionths per minute the shape's free devices can carry,
   * valid while `boundEpoch` equals the working state's `releaseEpoch` (taking devices only
   * lowers the true value). NaN: unknown.
   */
  boundMicro: number;
  boundEpoch: number;
  /** Upper bound with every `normal`/`low` placement released; valid while no `high` one is. NaN: unknown. */
  preemptBoundMicro: number;
  /** Position in `slots` of each flat slot index, -1 when not a candidate; built on first use. */
  positions: Int32Array | null;
}

/** Replicas taken from one slot. */
export interface Pick {
  readonly slot: number;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly replicaStdMicro: number;
}

export type Nomination =
  | { readonly ok: true; readonly picks: readonly Pick[] }
  | { readonly ok: false; readonly status: Status };

/** The runtime's one {@link import('./plugin.js').ScoreContext}, updated in place per round. */
interface MutableScoreContext {
  workload: WorkloadSnap;
  model: ModelSnap;
  state: WorkingState;
  needMicro: number;
  remainingMicro: number;
}

/**
 * One cycle's plugin runtime, bound to the cycle's working state. Not reusable across cycles:
 * its shape cache assumes the snapshot it was built on.
 */
export class FrameworkRuntime {
  private readonly staticCluster: ClusterFilterPlugin[] = [];
  private readonly staticSlot: SlotFilterPlugin[] = [];
  private readonly dynamicCluster: ClusterFilterPlugin[] = [];
  private readonly dynamicSlot: SlotFilterPlugin[] = [];
  private readonly scorers: ScorePlugin[];
  private readonly staticScorer: boolean[];
  /** 1 where a scorer's higher raw score is better. */
  private readonly higher: Uint8Array;
  private readonly weights: Float64Array;
  private readonly shapes = new Map<string, Shape>();
  private readonly cursor: Candidate;
  private readonly sctx: MutableScoreContext;
  // Scratch space, sized once for the largest possible candidate list (every slot).
  private readonly candPos: Int32Array;
  private readonly candTake: Int32Array;
  private readonly raw: Float64Array[];
  private readonly usedStamp: Int32Array;
  private readonly clusterStamp: Int32Array;
  private readonly clusterPlaced: Float64Array;
  private readonly mins: Float64Array;
  private readonly maxs: Float64Array;
  private stamp = 0;
  private readonly scorePercentage: number;

  /**
   * `scorePercentage`: the share of a shape's candidates a round scores at least, 1–100; 0 (the
   * default) adapts to the city's size as kube-scheduler does: 50 % less 1 % per 125 candidates,
   * at least 5 %. Never fewer than 100 candidates (or all there are).
   */
  constructor(
    plugins: PluginSet,
    readonly state: WorkingState,
    scorePercentage = 0,
  ) {
    if (!(Number.isInteger(scorePercentage) && scorePercentage >= 0 && scorePercentage <= 100)) {
      throw new RangeError(`scorePercentage must be a whole number from 0 to 100, not ${scorePercentage}`);
    }
    this.scorePercentage = scorePercentage;
    for (const f of plugins.filters) {
      if (f.level === 'cluster') (f.static ? this.staticCluster : this.dynamicCluster).push(f);
      else (f.static ? this.staticSlot : this.dynamicSlot).push(f);
    }
    const scorers = plugins.scorers.filter((s) => s.weight > 0);
    this.scorers = scorers.map((s) => s.plugin);
    this.staticScorer = this.scorers.map((s) => s.static === true);
    this.higher = Uint8Array.from(this.scorers, (s) => (s.direction === 'higher' ? 1 : 0));
    this.weights = Float64Array.from(scorers.map((s) => s.weight));
    const slots = state.slots.length;
    const clusters = state.snapshot.clusters.length;
    this.candPos = new Int32Array(slots);
    this.candTake = new Int32Array(slots);
    this.raw = this.scorers.map(() => new Float64Array(slots));
    this.mins = new Float64Array(this.scorers.length);
    this.maxs = new Float64Array(this.scorers.length);
    this.usedStamp = new Int32Array(slots);
    this.clusterStamp = new Int32Array(clusters);
    this.clusterPlaced = new Float64Array(clusters);
    const firstCluster = state.snapshot.clusters[0];
    const firstSlot = state.slots[0];
    this.cursor = {
      // Placeholders until the first candidate is loaded; never read before that.
      cluster: firstCluster!,
      clusterIndex: 0,
      slot: firstSlot!,
      slotIndex: 0,
      devicesPerReplica: 0,
      free: 0,
      replicas: 0,
      replicaStdMicro: 0,
      clusterPlacedMicro: 0,
    };
    this.sctx = {
      workload: undefined as unknown as WorkloadSnap,
      model: undefined as unknown as ModelSnap,
      state,
      needMicro: 0,
      remainingMicro: 0,
    };
  }

  /** The shape of requests for `model` in `regions`, evaluating the static filters on first use. */
  shapeFor(model: ModelSnap, regions: readonly string[] | null): Shape {
    const key = shapeKey(model.id, regions);
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = this.buildShape(key, model, regions);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  private buildShape(key: string, model: ModelSnap, regions: readonly string[] | null): Shape {
    const { state } = this;
    const ctx: FilterContext = { model, regions, state };
    const c = this.cursor;
    const slots: number[] = [];
    const sizes: number[] = [];
    let bestRank = Infinity;
    let bestMessage = '';
    const clusters = state.snapshot.clusters;
    let flat = 0;
    for (let ci = 0; ci < clusters.length; ci++) {
      const cluster = clusters[ci]!;
      let clusterRank = -1;
      let clusterMessage = '';
      for (const f of this.staticCluster) {
        const s = f.filter(ctx, cluster);
        if (s.code === 'Success') continue;
        const rank = REASON_RANK[s.reason ?? f.reason];
        if (rank > clusterRank) {
          clusterRank = rank;
          clusterMessage = `${f.name}: ${s.message}`;
        }
        if (rank === WORST_REASON_RANK) break;
      }
      const count = cluster.devices.length;
      if (clusterRank === WORST_REASON_RANK) {
        // Every slot of this cluster already has the most lasting obstacle.
        if (count > 0 && clusterRank < bestRank) {
          bestRank = clusterRank;
          bestMessage = clusterMessage;
        }
        flat += count;
        continue;
      }
      for (let k = 0; k < count; k++, flat++) {
        c.cluster = cluster;
        c.clusterIndex = ci;
        c.slot = state.slots[flat]!;
        c.slotIndex = flat;
        c.devicesPerReplica = 0;
        let rank = clusterRank;
        let message = clusterMessage;
        for (const f of this.staticSlot) {
          const s = f.filter(ctx, c);
          if (s.code === 'Success') continue;
          const r = REASON_RANK[s.reason ?? f.reason];
          if (r > rank) {
            rank = r;
            message = `${f.name}: ${s.message}`;
          }
          if (r === WORST_REASON_RANK) break;
        }
        if (rank < 0) {
          slots.push(flat);
          sizes.push(c.devicesPerReplica < 1 ? 1 : c.devicesPerReplica);
        } else if (rank < bestRank) {
          bestRank = rank;
          bestMessage = message;
        }
      }
    }
    interleave(slots, sizes, (slot, size) => `${state.slots[slot]!.profile.id}\u0000${size}`);
    const replicaStd = new Float64Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      replicaStd[i] = sizes[i]! * state.slots[slots[i]!]!.profile.stdTokensPerSec * 60;
    }
    const staticScores = this.scorers.map((scorer) => {
      if (!scorer.static) return EMPTY_SCORES;
      const raw = new Float64Array(slots.length);
      const sctx = { ...this.sctx, model, state };
      for (let i = 0; i < slots.length; i++) {
        c.slotIndex = slots[i]!;
        c.slot = state.slots[c.slotIndex]!;
        c.clusterIndex = state.slotCluster[c.slotIndex]!;
        c.cluster = clusters[c.clusterIndex]!;
        c.devicesPerReplica = sizes[i]!;
        c.replicaStdMicro = replicaStd[i]!;
        raw[i] = scorer.score(sctx, c);
      }
      return raw;
    });
    const live = new Int32Array(slots.length);
    for (let i = 0; i < live.length; i++) live[i] = i;
    return {
      key,
      model,
      regions,
      slots: Int32Array.from(slots),
      devicesPerReplica: Int32Array.from(sizes),
      replicaStdMicro: replicaStd,
      staticScores,
      staticReason: bestRank === Infinity ? null : REASONS[bestRank]!,
      staticMessage: bestRank === Infinity ? 'no cluster reports any profiled device' : bestMessage,
      live,
      liveCount: live.length,
      liveEpoch: state.releaseEpoch,
      droppedRank: Infinity,
      boundMicro: NaN,
      boundEpoch: -1,
      preemptBoundMicro: NaN,
      positions: null,
    };
  }

  /**
   * Whether the shape's free devices certainly cannot carry `needMicro` in the runtime's own
   * working state (an O(1) look at the cached bound; false when unsure).
   */
  certainlyShort(shape: Shape, needMicro: number): boolean {
    return shape.boundEpoch === this.state.releaseEpoch && shape.boundMicro < needMicro;
  }

  /**
   * An upper bound on what the shape could carry if every `normal` and `low` placement were
   * released (for deciding quickly that preemption cannot help). Cached: holding and preempting
   * never raise `healthy − held + preemptible`, only releasing a `high` placement would, and the
   * cycle never does.
   */
  preemptionBound(shape: Shape): number {
    if (!Number.isNaN(shape.preemptBoundMicro)) return shape.preemptBoundMicro;
    const { healthy, held, preemptible } = this.state;
    let bound = 0;
    for (let pos = 0; pos < shape.slots.length; pos++) {
      const slot = shape.slots[pos]!;
      const avail = healthy[slot]! - held[slot]! + preemptible[slot]!;
      const n = shape.devicesPerReplica[pos]!;
      if (avail >= n) bound += Math.floor(avail / n) * shape.replicaStdMicro[pos]!;
    }
    shape.preemptBoundMicro = bound;
    return bound;
  }

  /** The position in `shape.slots` of each flat slot index of the working state (-1: none). */
  positionsOf(shape: Shape): Int32Array {
    if (shape.positions) return shape.positions;
    const positions = new Int32Array(this.state.slots.length).fill(-1);
    for (let pos = 0; pos < shape.slots.length; pos++) positions[shape.slots[pos]!] = pos;
    shape.positions = positions;
    return positions;
  }

  /** What the shape's free devices in `state` can carry now, in standard millionths per minute. */
  freeBound(shape: Shape, state: WorkingState): number {
    const { healthy, held } = state;
    let bound = 0;
    for (let pos = 0; pos < shape.slots.length; pos++) {
      const slot = shape.slots[pos]!;
      const free = healthy[slot]! - held[slot]!;
      const n = shape.devicesPerReplica[pos]!;
      if (free >= n) bound += Math.floor(free / n) * shape.replicaStdMicro[pos]!;
    }
    return bound;
  }

  /** How many feasible candidates a round of a shape with `total` candidates scores before it may stop. */
  candidatesToScore(total: number): number {
    if (total <= MIN_CANDIDATES_TO_SCORE) return total;
    const pct = this.scorePercentage > 0 ? this.scorePercentage : Math.max(5, 50 - Math.floor(total / 125));
    return Math.max(MIN_CANDIDATES_TO_SCORE, Math.ceil((total * pct) / 100));
  }

  /**
   * Nominates slots for a workload: filters the shape's candidates, scores the feasible ones,
   * takes replicas from the best, and repeats on what remains until the replicas carry
   * `needMicro` (standard millionths per minute) — and, for `ha`, span two clusters. No candidate
   * gives more replicas than the request still needs; under `ha` no cluster may carry the whole
   * request alone (beyond its first replica). All or nothing: a failure takes nothing.
   *
   * Reads devices from `whatIf` when given (a simulation copy) and then leaves every cache alone;
   * otherwise from the runtime's working state. Never writes devices: admission does.
   */
  nominate(shape: Shape, workload: WorkloadSnap, needMicro: number, whatIf?: WorkingState): Nomination {
    const state = whatIf ?? this.state;
    const real = whatIf === undefined;
    const ctx: FilterContext = { model: shape.model, regions: shape.regions, state };
    if (real && shape.liveEpoch !== state.releaseEpoch) {
      for (let i = 0; i < shape.live.length; i++) shape.live[i] = i;
      shape.liveCount = shape.live.length;
      shape.liveEpoch = state.releaseEpoch;
      shape.droppedRank = Infinity;
    }
    const live = shape.live;
    let count = real ? shape.liveCount : shape.slots.length;
    const stamp = ++this.stamp;
    const { healthy, held } = state;
    const clusters = state.snapshot.clusters;
    const c = this.cursor;
    const sctx = this.sctx;
    sctx.workload = workload;
    sctx.model = shape.model;
    sctx.state = state;
    sctx.needMicro = needMicro;
    const ha = workload.ha;
    const scorers = this.scorers;
    const nScorers = scorers.length;
    const staticScorer = this.staticScorer;
    const staticScores = shape.staticScores;
    const { mins, maxs, raw } = this;

    let rejectedRank = real ? shape.droppedRank : Infinity;
    let rejectedMessage = '';
    let remaining = needMicro;
    let clustersUsed = 0;
    let bound = 0;
    const picks: Pick[] = [];
    const enough = this.candidatesToScore(shape.slots.length);

    for (let round = 0; ; round++) {
      if (picks.length > 0 && remaining <= 0 && (!ha || clustersUsed >= 2)) {
        if (real) shape.liveCount = count;
        return { ok: true, picks };
      }
      sctx.remainingMicro = remaining;
      mins.fill(Infinity);
      maxs.fill(-Infinity);
      let m = 0;
      let complete = true;
      for (let k = 0; k < count; k++) {
        // Enough to choose from, and (in the first round) enough free devices among them.
        if (m >= enough && (round > 0 || bound >= needMicro)) {
          complete = false;
          break;
        }
        const pos = real ? live[k]! : k;
        if (this.usedStamp[pos] === stamp) continue;
        const slot = shape.slots[pos]!;
        const ci = state.slotCluster[slot]!;
        c.cluster = clusters[ci]!;
        c.clusterIndex = ci;
        c.slot = state.slots[slot]!;
        c.slotIndex = slot;
        const n = shape.devicesPerReplica[pos]!;
        c.devicesPerReplica = n;

        let rejected: Status | null = null;
        let monotone = true;
        let rejectedBy = '';
        for (const f of this.dynamicCluster) {
          const s = f.filter(ctx, c.cluster);
          if (s.code !== 'Success') {
            rejected = s;
            rejectedBy = f.name;
            monotone = f.monotone === true;
            break;
          }
        }
        if (rejected === null) {
          for (const f of this.dynamicSlot) {
            const s = f.filter(ctx, c);
            if (s.code !== 'Success') {
              rejected = s;
              rejectedBy = f.name;
              monotone = f.monotone === true;
              break;
            }
          }
        }
        if (rejected !== null) {
          const rank = REASON_RANK[rejected.reason ?? 'capacity'];
          if (rank < rejectedRank) {
            rejectedRank = rank;
            rejectedMessage = `${rejectedBy}: ${rejected.message}`;
          }
          if (real && monotone) {
            if (rank < shape.droppedRank) shape.droppedRank = rank;
            live[k] = live[count - 1]!;
            live[count - 1] = pos;
            count--;
            k--;
          }
          continue;
        }

        const free = healthy[slot]! - held[slot]!;
        const supply = shape.replicaStdMicro[pos]!;
        const freeReplicas = Math.floor(free / n);
        if (round === 0) bound += freeReplicas * supply;
        let take = remaining > 0 ? Math.ceil(remaining / supply) : 1;
        if (take > freeReplicas) take = freeReplicas;
        const placedHere = this.clusterStamp[ci] === stamp ? this.clusterPlaced[ci]! : 0;
        if (ha) {
          // The largest r with placedHere + r × supply < need, so no cluster carries it all;
          // a cluster's first replica is always allowed.
          const left = needMicro - placedHere;
          let cap = left > 0 ? Math.ceil(left / supply) - 1 : 0;
          if (placedHere === 0 && cap < 1) cap = 1;
          if (take > cap) take = cap;
        }
        if (take <= 0) continue;
        this.candPos[m] = pos;
        this.candTake[m] = take;
        c.free = free;
        c.replicas = take;
        c.replicaStdMicro = supply;
        c.clusterPlacedMicro = placedHere;
        for (let s = 0; s < nScorers; s++) {
          const v = staticScorer[s] ? staticScores[s]![pos]! : scorers[s]!.score(sctx, c);
          raw[s]![m] = v;
          if (v < mins[s]!) mins[s] = v;
          if (v > maxs[s]!) maxs[s] = v;
        }
        m++;
      }
      if (real && round === 0 && complete) {
        shape.boundMicro = bound;
        shape.boundEpoch = state.releaseEpoch;
      }
      // A round that stopped early had found free devices enough; only a complete one can fail.
      if (m === 0 || (round === 0 && bound < needMicro)) {
        if (real) shape.liveCount = count;
        return { ok: false, status: this.shortfall(shape, needMicro, picks, rejectedRank, rejectedMessage, round === 0 ? bound : NaN) };
      }

      const best = m === 1 ? 0 : this.best(shape, m, mins, maxs);
      const pos = this.candPos[best]!;
      const take = this.candTake[best]!;
      const slot = shape.slots[pos]!;
      const supply = shape.replicaStdMicro[pos]!;
      const ci = state.slotCluster[slot]!;
      picks.push({ slot, replicas: take, devicesPerReplica: shape.devicesPerReplica[pos]!, replicaStdMicro: supply });
      this.usedStamp[pos] = stamp;
      remaining -= take * supply;
      if (this.clusterStamp[ci] !== stamp) {
        this.clusterStamp[ci] = stamp;
        this.clusterPlaced[ci] = 0;
        clustersUsed++;
      }
      this.clusterPlaced[ci] = this.clusterPlaced[ci]! + take * supply;
    }
  }

  /** Index among the first `m` scored candidates with the highest weighted normalized score. */
  private best(shape: Shape, m: number, mins: Float64Array, maxs: Float64Array): number {
    const nScorers = this.scorers.length;
    const { raw, higher, weights, candPos } = this;
    const slots = shape.slots;
    let best = 0;
    let bestScore = -Infinity;
    let bestSlot = Infinity;
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
      const slot = slots[candPos[i]!]!;
      // Ties go to the earlier slot in snapshot order, so the same input always gives the same answer.
      if (total > bestScore || (total === bestScore && slot < bestSlot)) {
        best = i;
        bestScore = total;
        bestSlot = slot;
      }
    }
    return best;
  }

  private shortfall(
    shape: Shape,
    needMicro: number,
    picks: readonly Pick[],
    rejectedRank: number,
    rejectedMessage: string,
    bound: number,
  ): Status {
    const staticRank = shape.staticReason === null ? Infinity : REASON_RANK[shape.staticReason];
    // Some candidate passed every filter (it had free replicas, or was picked): capacity.
    const feasibleRank = picks.length > 0 || bound > 0 ? 0 : Infinity;
    const rank = Math.min(staticRank, rejectedRank, feasibleRank);
    const reason = rank === Infinity ? 'capacity' : REASONS[rank]!;
    if (reason !== 'capacity') {
      return unschedulable(reason, rank === rejectedRank ? rejectedMessage : shape.staticMessage);
    }
    const want = `${formatTokens(needMicro, shape.model.costFactor)} tokens/min of ${shape.model.name}`;
    // Past round 0 the free devices could carry the request (greedy then always completes a
    // non-ha request), so only the ha spread can have failed.
    if (Number.isNaN(bound)) return unschedulable('capacity', `not enough free devices to spread ${want} over two clusters`);
    return unschedulable(
      'capacity',
      `needs ${want}; the free compatible devices in the allowed regions carry ${formatTokens(bound, shape.model.costFactor)} tokens/min`,
    );
  }
}

/** Model tokens per minute for standard millionths per minute, as short text. */
export function formatTokens(stdMicro: number, costFactor: number): string {
  const tokens = stdMicro / costFactor;
  return Number.isInteger(tokens) ? String(tokens) : tokens.toFixed(2);
}

function shapeKey(modelId: string, regions: readonly string[] | null): string {
  if (regions === null) return `${modelId}\u0001*`;
  if (regions.length === 0) return `${modelId}\u0002`;
  if (regions.length <= 1) return `${modelId}\u0001${regions[0] ?? ''}`;
  return `${modelId}\u0001${[...new Set(regions)].sort().join('\u0000')}`;
}
