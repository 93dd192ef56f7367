/**
 * The sampling index: for each request shape (model, regions), the candidates that passed the
 * static filters, in typed arrays, in the order a round offers them, with what a round needs to
 * stop early.
 *
 * - Order: the device models (with their replica sizes) take turns, each in snapshot order, so any
 *   prefix of the list offers every kind of device: a sample never misses a kind because the city
 *   lists it last.
 * - Sample size ({@link candidatesToScore}): like kube-scheduler's `percentageOfNodesToScore`, a
 *   round may stop once it has scored enough feasible candidates whose free devices can carry the
 *   request; unlike kube-scheduler the scan always starts at the head of the live list, so the same
 *   input gives the same answer.
 * - Live list: candidates that a `monotone` dynamic filter rejected leave it until devices are
 *   released (taking devices cannot make them pass again), so full candidates stop being walked.
 * - Bounds: what the shape's free devices (or, for preemption, its free and preemptible ones) can
 *   carry, so a request that certainly cannot fit is answered without a walk.
 */
import { replicaStdMicro } from '../capacity.js';
import type { WorkingState } from '../snapshot.js';
import { CycleState, DEVICES_PER_REPLICA } from './cycle-state.js';
import type { FilterContext } from './plugin.js';
import { newScoreContext, type Cursor, type Obstacle, type PluginRunner } from './runner.js';
import { REASON_RANK, WORST_REASON_RANK } from './status.js';
import type { ModelSnap, PendingReason } from './types.js';

const REASONS: readonly PendingReason[] = ['capacity', 'quota', 'plan_exhausted', 'no_compatible_device'];

/** kube-scheduler's `minFeasibleNodesToFind`: below this many candidates, all are scored. */
export const MIN_CANDIDATES_TO_SCORE = 100;

/** The static part of scheduling one request shape (model, regions), computed once per cycle. */
export interface Shape {
  readonly key: string;
  readonly model: ModelSnap;
  readonly regions: readonly string[] | null;
  /** What PreFilter wrote for this shape; sealed. */
  readonly cycle: CycleState;
  /** What the filters see for this shape in the runtime's own working state. */
  readonly ctx: FilterContext;
  /**
   * Flat slot indices that pass every static filter: the device models (with their replica
   * sizes) taken in turn, each in snapshot order, so that any prefix offers every kind of device.
   */
  readonly slots: Int32Array;
  /** `devicesPerReplica` of each entry of `slots`. */
  readonly devicesPerReplica: Int32Array;
  /** Standard millionths per minute of one replica on each entry of `slots`. */
  readonly replicaStdMicro: Float64Array;
  /** The smallest of `replicaStdMicro`: whatever is picked holds at least this much (+∞ when no candidate). */
  readonly minReplicaStdMicro: number;
  /** Raw scores of the static scorers for each entry of `slots` (by scorer index; empty for dynamic ones). */
  readonly staticScores: readonly Float64Array[];
  /**
   * Among slots rejected by static filters: the least lasting obstacle (each slot counted by its
   * most lasting one), or null when no slot was rejected. When `slots` is empty this is why
   * (null then means the snapshot has no slots at all: reported as `no_compatible_device`).
   */
  readonly staticReason: PendingReason | null;
  readonly staticMessage: string;
  /** Positions into `slots` still worth offering (see the module comment); the runtime's to reorder. */
  live: Int32Array;
  liveCount: number;
  liveEpoch: number;
  /** Least lasting reason among candidates dropped from `live` (rank), +∞ when none. */
  droppedRank: number;
  /**
   * The rejection that set `droppedRank` — its plugin's name and its message ('' when none) — so
   * later nominations can still say why ({@link droppedMessage}); kept apart to build no string
   * on the hot path.
   */
  droppedBy: string;
  droppedWhy: string;
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

/**
 * Builds a shape's index: PreFilter into a new cycle state, then the static filters over every
 * slot of `state` (a cluster-level rejection of the worst rank skips the cluster's slots), then
 * the static scorers over the survivors. `cursor` is the runtime's, overwritten.
 */
export function buildShape(key: string, model: ModelSnap, regions: readonly string[] | null, state: WorkingState, runner: PluginRunner, cursor: Cursor): Shape {
  const cycle = new CycleState();
  const ctx: FilterContext = { model, regions, state, cycle };
  const slots: number[] = [];
  const sizes: number[] = [];
  let bestRank = Infinity;
  let bestMessage = '';
  // Whether the best obstacle came from a cluster-level filter: on a tie, a slot-level one (a
  // device that is there but cannot serve) says more than "outside the allowed regions".
  let bestAtCluster = false;

  const pre = runner.preFilter(ctx);
  if (pre.code !== 'Success') {
    const plugin = runner.rejectedBy!;
    bestRank = REASON_RANK[pre.reason ?? plugin.reason];
    bestMessage = `${plugin.name}: ${pre.message}`;
  } else {
    const replicaSizes = cycle.read(DEVICES_PER_REPLICA);
    const clusters = state.snapshot.clusters;
    const c = cursor;
    const cluster: Obstacle = { rank: -1, message: '' };
    const slot: Obstacle = { rank: -1, message: '' };
    let flat = 0;
    for (let ci = 0; ci < clusters.length; ci++) {
      const snap = clusters[ci]!;
      runner.staticClusterObstacle(ctx, snap, cluster);
      const count = snap.devices.length;
      if (cluster.rank === WORST_REASON_RANK) {
        // Every slot of this cluster already has the most lasting obstacle.
        if (count > 0 && cluster.rank < bestRank) {
          bestRank = cluster.rank;
          bestMessage = cluster.message;
          bestAtCluster = true;
        }
        flat += count;
        continue;
      }
      for (let k = 0; k < count; k++, flat++) {
        c.cluster = snap;
        c.clusterIndex = ci;
        c.slot = state.slots[flat]!;
        c.slotIndex = flat;
        c.devicesPerReplica = replicaSizes ? replicaSizes[flat]! : 1;
        slot.rank = cluster.rank;
        slot.message = cluster.message;
        runner.staticSlotObstacle(ctx, c, slot);
        if (slot.rank < 0) {
          slots.push(flat);
          sizes.push(c.devicesPerReplica < 1 ? 1 : c.devicesPerReplica);
        } else if (slot.rank < bestRank || (slot.rank === bestRank && bestAtCluster && slot.rank > cluster.rank)) {
          bestRank = slot.rank;
          bestMessage = slot.message;
          bestAtCluster = slot.rank === cluster.rank;
        }
      }
    }
  }

  interleave(slots, sizes, (s, size) => `${state.slots[s]!.profile.id}\u0000${size}`);
  const replicaStd = new Float64Array(slots.length);
  let minReplicaStd = Infinity;
  for (let i = 0; i < slots.length; i++) {
    replicaStd[i] = replicaStdMicro(sizes[i]!, state.slots[slots[i]!]!.profile.stdTokensPerSec);
    if (replicaStd[i]! < minReplicaStd) minReplicaStd = replicaStd[i]!;
  }
  const staticScores = runner.staticScoreColumns(slots.length);
  if (runner.staticScorer.includes(1)) {
    const sctx = newScoreContext(state, model, cycle);
    const c = cursor;
    for (let i = 0; i < slots.length; i++) {
      c.slotIndex = slots[i]!;
      c.slot = state.slots[c.slotIndex]!;
      c.clusterIndex = state.slotCluster[c.slotIndex]!;
      c.cluster = state.snapshot.clusters[c.clusterIndex]!;
      c.devicesPerReplica = sizes[i]!;
      c.replicaStdMicro = replicaStd[i]!;
      runner.scoreStatic(sctx, c, staticScores, i);
    }
  }
  const live = new Int32Array(slots.length);
  for (let i = 0; i < live.length; i++) live[i] = i;
  return {
    key,
    model,
    regions,
    cycle,
    ctx,
    slots: Int32Array.from(slots),
    devicesPerReplica: Int32Array.from(sizes),
    replicaStdMicro: replicaStd,
    minReplicaStdMicro: minReplicaStd,
    staticScores,
    staticReason: bestRank === Infinity ? null : REASONS[bestRank]!,
    staticMessage: bestRank === Infinity ? 'no cluster reports any profiled device' : bestMessage,
    live,
    liveCount: live.length,
    liveEpoch: state.releaseEpoch,
    droppedRank: Infinity,
    droppedBy: '',
    droppedWhy: '',
    boundMicro: NaN,
    boundEpoch: -1,
    preemptBoundMicro: NaN,
    positions: null,
  };
}

/** Why candidates were dropped from the shape's live list (`plugin: message`), or ''. */
export function droppedMessage(shape: Shape): string {
  return shape.droppedBy === '' ? '' : `${shape.droppedBy}: ${shape.droppedWhy}`;
}

/** Puts every candidate back in the live list (after a release of devices at `epoch`). */
export function reviveAll(shape: Shape, epoch: number): void {
  const live = shape.live;
  for (let i = 0; i < live.length; i++) live[i] = i;
  shape.liveCount = live.length;
  shape.liveEpoch = epoch;
  shape.droppedRank = Infinity;
  shape.droppedBy = '';
  shape.droppedWhy = '';
}

/**
 * How many feasible candidates a round of a shape with `total` candidates scores before it may
 * stop: all up to {@link MIN_CANDIDATES_TO_SCORE}; else `scorePercentage` % of them (1–100), or
 * with 0 a share that adapts to the city's size as kube-scheduler's does (50 % less 1 % per 125
 * candidates, at least 5 %); never fewer than the minimum.
 */
export function candidatesToScore(total: number, scorePercentage: number): number {
  if (total <= MIN_CANDIDATES_TO_SCORE) return total;
  const pct = scorePercentage > 0 ? scorePercentage : Math.max(5, 50 - Math.floor(total / 125));
  return Math.max(MIN_CANDIDATES_TO_SCORE, Math.ceil((total * pct) / 100));
}

/**
 * An upper bound on what the shape could carry if every `normal` and `low` placement in `state`
 * were released. Cached on the shape: holding and preempting never raise `healthy − held +
 * preemptible`, only releasing a `high` placement would, and a cycle never does.
 */
export function preemptionBound(shape: Shape, state: WorkingState): number {
  if (!Number.isNaN(shape.preemptBoundMicro)) return shape.preemptBoundMicro;
  const { healthy, held, preemptible } = state;
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

/** The position in `shape.slots` of each of `slotCount` flat slot indices (-1: not a candidate). */
export function positionsOf(shape: Shape, slotCount: number): Int32Array {
  if (shape.positions) return shape.positions;
  const positions = new Int32Array(slotCount).fill(-1);
  for (let pos = 0; pos < shape.slots.length; pos++) positions[shape.slots[pos]!] = pos;
  shape.positions = positions;
  return positions;
}

/** The cache key of a request shape: the model and its set of allowed regions. */
export function shapeKey(modelId: string, regions: readonly string[] | null): string {
  if (regions === null) return `${modelId}\u0001*`;
  if (regions.length === 0) return `${modelId}\u0002`;
  if (regions.length <= 1) return `${modelId}\u0001${regions[0] ?? ''}`;
  return `${modelId}\u0001${[...new Set(regions)].sort().join('\u0000')}`;
}

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
