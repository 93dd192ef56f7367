/**
 * The framework runtime of one cycle: nominates device slots for a workload by walking the request
 * shape's sampling index (sampling.ts) and running the plugins' phases through the plugin runner
 * (runner.ts), after kube-scheduler's `schedulePod`: find feasible candidates, score them, pick the
 * best.
 *
 * Speed without cheating the plugins: PreFilter and static filters and scorers depend only on the
 * snapshot and the request's shape (model, regions), which do not change within a cycle, so they
 * run once per shape; dynamic filters and scorers run on every nomination, over a sample of the
 * shape's candidates large enough to choose well (sampling.ts).
 */
import { podShare, replicasOnNodes } from '../node-fit.js';
import type { NodeState, WorkingState } from '../snapshot.js';
import { CycleState } from './cycle-state.js';
import type { FilterContext, PluginSet } from './plugin.js';
import { PluginRunner, newCursor, newScoreContext, type Cursor, type MutableScoreContext } from './runner.js';
import { buildShape, candidatesToScore, droppedMessage, positionsOf, preemptionBound, reviveAll, shapeKey, type Shape } from './sampling.js';
import { REASON_RANK, unschedulable } from './status.js';
import type { Status } from './status.js';
import type { ModelSnap, PendingReason, WorkloadSnap } from './types.js';

export type { Shape } from './sampling.js';

const REASONS: readonly PendingReason[] = ['capacity', 'quota', 'plan_exhausted', 'no_compatible_device'];

/** Replicas taken from one slot. */
export interface Pick {
  readonly slot: number;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly replicaStdMicro: number;
}

export type Nomination = { readonly ok: true; readonly picks: readonly Pick[] } | { readonly ok: false; readonly status: Status };

/**
 * One cycle's plugin runtime, bound to the cycle's working state. Not reusable across cycles:
 * its shape cache assumes the snapshot it was built on.
 */
export class FrameworkRuntime {
  private readonly runner: PluginRunner;
  private readonly shapes = new Map<string, Shape>();
  private readonly cursor: Cursor;
  private readonly sctx: MutableScoreContext;
  // Scratch space, sized once for the largest possible candidate list (every slot).
  private readonly candPos: Int32Array;
  private readonly candTake: Int32Array;
  private readonly candSlot: Int32Array;
  private readonly usedStamp: Int32Array;
  private readonly clusterStamp: Int32Array;
  private readonly clusterPlaced: Float64Array;
  private stamp = 0;
  private readonly scorePercentage: number;

  /**
   * `scorePercentage`: the share of a shape's candidates a round scores at least, 1–100; 0 (the
   * default) adapts to the city's size (see {@link candidatesToScore}). Never fewer than 100
   * candidates (or all there are).
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
    const slots = state.slots.length;
    const filters = plugins.filters.filter((f) => f.relevant?.(state) ?? true);
    this.runner = new PluginRunner(filters.length === plugins.filters.length ? plugins : { ...plugins, filters }, slots);
    this.candPos = new Int32Array(slots);
    this.candTake = new Int32Array(slots);
    this.candSlot = new Int32Array(slots);
    this.usedStamp = new Int32Array(slots);
    this.clusterStamp = new Int32Array(state.snapshot.clusters.length);
    this.clusterPlaced = new Float64Array(state.snapshot.clusters.length);
    this.cursor = newCursor(state);
    // Model and cycle state are set per nomination.
    this.sctx = newScoreContext(state, undefined as unknown as ModelSnap, new CycleState());
  }

  /** The shape of requests for `model` in `regions`: PreFilter and static filters run on first use. */
  shapeFor(model: ModelSnap, regions: readonly string[] | null): Shape {
    const key = shapeKey(model.id, regions);
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = buildShape(key, model, regions, this.state, this.runner, this.cursor);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  /**
   * Whether the shape's free devices certainly cannot carry `needMicro` in the runtime's own
   * working state (an O(1) look at the cached bound; false when unsure).
   */
  certainlyShort(shape: Shape, needMicro: number): boolean {
    return shape.boundEpoch === this.state.releaseEpoch && shape.boundMicro < needMicro;
  }

  /** An upper bound on what the shape could carry with every `normal` and `low` placement released. */
  preemptionBound(shape: Shape): number {
    return preemptionBound(shape, this.state);
  }

  /** The position in `shape.slots` of each flat slot index of the working state (-1: none). */
  positionsOf(shape: Shape): Int32Array {
    return positionsOf(shape, this.state.slots.length);
  }

  /** How many feasible candidates a round of a shape with `total` candidates scores before it may stop. */
  candidatesToScore(total: number): number {
    return candidatesToScore(total, this.scorePercentage);
  }

  /**
   * Whether evicting workloads could let the shape's candidate at `pos` take the request: false
   * when a dynamic filter rejects it as `UnschedulableAndUnresolvable` in the runtime's working
   * state (static filters already kept every candidate they reject out of the shape).
   */
  preemptionMightHelp(shape: Shape, pos: number): boolean {
    return this.runner.preemptionMightHelp(shape.ctx, this.load(shape, pos));
  }

  /** Points the cursor at the shape's candidate at `pos`. */
  private load(shape: Shape, pos: number): Cursor {
    const c = this.cursor;
    const slot = shape.slots[pos]!;
    const ci = this.state.slotCluster[slot]!;
    c.cluster = this.state.snapshot.clusters[ci]!;
    c.clusterIndex = ci;
    c.slot = this.state.slots[slot]!;
    c.slotIndex = slot;
    c.devicesPerReplica = shape.devicesPerReplica[pos]!;
    return c;
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
    const ctx: FilterContext = real ? shape.ctx : { model: shape.model, regions: shape.regions, state, cycle: shape.cycle };
    if (real && shape.liveEpoch !== state.releaseEpoch) reviveAll(shape, state.releaseEpoch);
    const live = shape.live;
    let count = real ? shape.liveCount : shape.slots.length;
    const stamp = ++this.stamp;
    const { healthy, held, nodes } = state;
    const clusters = state.snapshot.clusters;
    const c = this.cursor;
    const sctx = this.sctx;
    sctx.workload = workload;
    sctx.model = shape.model;
    sctx.state = state;
    sctx.cycle = shape.cycle;
    sctx.needMicro = needMicro;
    const ha = workload.ha;
    const runner = this.runner;
    const staticScores = shape.staticScores;

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
      runner.beginRound();
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

        const rejected = runner.filter(ctx, c);
        if (rejected !== null) {
          const rank = REASON_RANK[rejected.reason ?? 'capacity'];
          if (rank < rejectedRank) {
            rejectedRank = rank;
            rejectedMessage = `${runner.rejectedBy!.name}: ${rejected.message}`;
          }
          if (real && runner.rejectedBy!.monotone === true) {
            // Out of the live list until devices are released.
            if (rank < shape.droppedRank) {
              shape.droppedRank = rank;
              shape.droppedBy = runner.rejectedBy!.name;
              shape.droppedWhy = rejected.message;
            }
            live[k] = live[count - 1]!;
            live[count - 1] = pos;
            count--;
            k--;
          }
          continue;
        }

        const free = healthy[slot]! - held[slot]!;
        const supply = shape.replicaStdMicro[pos]!;
        let freeReplicas = Math.floor(free / n);
        // A cluster that reported nodes: each replica needs its own node (or nodes) with room.
        if (nodes !== null) freeReplicas = nodeLimit(nodes, slot, n, freeReplicas);
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
        this.candSlot[m] = slot;
        c.free = free;
        c.replicas = take;
        c.replicaStdMicro = supply;
        c.clusterPlacedMicro = placedHere;
        runner.score(sctx, c, m, staticScores, pos);
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

      const best = m === 1 ? 0 : runner.best(m, this.candSlot);
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

  private shortfall(shape: Shape, needMicro: number, picks: readonly Pick[], rejectedRank: number, rejected: string, bound: number): Status {
    const staticRank = shape.staticReason === null ? Infinity : REASON_RANK[shape.staticReason];
    // Some candidate passed every filter (it had free replicas, or was picked): capacity.
    const feasibleRank = picks.length > 0 || bound > 0 ? 0 : Infinity;
    const rank = Math.min(staticRank, rejectedRank, feasibleRank);
    const reason = rank === Infinity ? 'capacity' : REASONS[rank]!;
    if (reason !== 'capacity') {
      // A rank carried over from candidates dropped earlier comes with no message of this walk.
      return unschedulable(reason, rank === rejectedRank ? rejected || droppedMessage(shape) : shape.staticMessage);
    }
    const want = `${formatTokens(needMicro, shape.model.costFactor)} tokens/min of ${shape.model.name}`;
    // Past round 0 the free devices could carry the request (greedy then always completes a
    // non-ha request), so only the ha spread can have failed.
    if (Number.isNaN(bound)) return unschedulable('capacity', `not enough free devices to spread ${want} over two clusters`);
    // When nothing free could be offered, the filter that said why is worth reading (no node with
    // room, say); otherwise the shortfall in tokens says it all.
    // Only where nodes were reported, so messages of cities without node reports stay as they were.
    const why = this.state.nodes !== null && bound === 0 && picks.length === 0 ? rejected || droppedMessage(shape) : '';
    const detail = why !== '' ? ` (${why})` : '';
    return unschedulable(
      'capacity',
      `needs ${want}; the free compatible devices in the allowed regions carry ${formatTokens(bound, shape.model.costFactor)} tokens/min${detail}`,
    );
  }
}

/**
 * The replicas of `n` devices a slot can take once its nodes have their say: at most `replicas`
 * (what its device count allows), fewer where its nodes hold fewer (node-fit.ts). Kept out of
 * `nominate`'s loop, which cities without node reports run without it.
 */
function nodeLimit(nodes: NodeState, slot: number, n: number, replicas: number): number {
  const largest = nodes.largest[slot]!;
  if (largest < 0) return replicas;
  const pod = n <= largest ? n : podShare(n, largest, nodes.leaderWorkerSet[slot] === 1);
  const onNodes = replicasOnNodes(nodes.pods[slot]!, n, pod);
  return onNodes < replicas ? onNodes : replicas;
}

/** Model tokens per minute for standard millionths per minute, as short text. */
export function formatTokens(stdMicro: number, costFactor: number): string {
  const tokens = stdMicro / costFactor;
  return Number.isInteger(tokens) ? String(tokens) : tokens.toFixed(2);
}
