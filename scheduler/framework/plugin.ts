/**
 * The plugin contracts, after kube-scheduler's framework: PreFilter plugins compute what a request
 * shape needs once and write it to the {@link CycleState}; filters answer a {@link Status} for one
 * candidate; scorers answer a raw number that the runtime normalizes to 0–100 across the feasible
 * candidates and multiplies by a weight. Plugins are stateless values; each has one job.
 *
 * A candidate is one device slot (a device model of one cluster). The runtime reuses one
 * {@link Candidate} cursor for all of them: plugins only read it, and must not keep a reference.
 */
import type { WorkingState } from '../snapshot.js';
import type { CycleState } from './cycle-state.js';
import type { Status } from './status.js';
import type { ClusterSnap, DeviceSlot, ModelSnap, PendingReason, WorkloadSnap } from './types.js';

/** What a filter is evaluated for: once per cluster, or once per (cluster, device slot). */
export type FilterLevel = 'cluster' | 'slot';

/** The shape of a request that static filters may depend on, and the cycle's working state. */
export interface FilterContext {
  readonly model: ModelSnap;
  /** Allowed regions; null: any. */
  readonly regions: readonly string[] | null;
  /** Devices held so far in this cycle (or in a what-if copy of it). */
  readonly state: WorkingState;
  /** What PreFilter computed for this request shape; read-only outside PreFilter. */
  readonly cycle: CycleState;
}

/**
 * The candidate a plugin is asked about, as the runtime knows it so far. Read-only to plugins:
 * what a plugin computes goes to the cycle state, never onto the candidate.
 */
export interface Candidate {
  readonly cluster: ClusterSnap;
  /** Index of the cluster in `snapshot.clusters`. */
  readonly clusterIndex: number;
  readonly slot: DeviceSlot;
  /** Index of the slot in the working state's flat slot arrays. */
  readonly slotIndex: number;
  /**
   * Devices one replica of the model spans on this slot, from the cycle state's
   * `DEVICES_PER_REPLICA` (1 when no PreFilter wrote it; 0 where the model does not fit, which
   * memory-fit rejects). Dynamic filters and scorers only see candidates where it is ≥ 1.
   */
  readonly devicesPerReplica: number;
  /** Free devices on the slot now (set by the runtime before scoring). */
  readonly free: number;
  /** Replicas the workload would take from this candidate now (≥ 1 when scored). */
  readonly replicas: number;
  /** Standard tokens per minute of one replica, in millionths: `n × stdTokensPerSec × 60`. */
  readonly replicaStdMicro: number;
  /** What this workload has already taken on the candidate's cluster, in std millionths/min. */
  readonly clusterPlacedMicro: number;
}

/**
 * A filter answers `Unschedulable` when freeing devices could make the candidate pass, so
 * preemption may evict workloads there, and `UnschedulableAndUnresolvable` when nothing evicted
 * could (wrong region, vendor or memory; a cordoned or not ready cluster), so preemption skips the
 * candidate. A static filter's answer cannot change within a cycle at all: a candidate it rejects
 * is never offered, to nomination or preemption, so static filters should answer the latter.
 */
interface FilterPluginBase {
  readonly name: string;
  /** The pending reason this filter's rejections stand for. */
  readonly reason: PendingReason;
  /**
   * True when the answer depends only on the snapshot and the request's shape (model, regions),
   * never on the working state: the runtime evaluates it once per shape per cycle and caches it.
   */
  readonly static: boolean;
  /**
   * Dynamic filters only. True when, once it rejects a candidate, it keeps rejecting it until
   * devices are released (taking devices only ever makes it stricter): the runtime may then stop
   * offering that candidate to later workloads of the same shape until the next release.
   */
  readonly monotone?: boolean;
  /**
   * PreFilter: runs once per request shape before any filter, and may write what the filters and
   * scorers need to `ctx.cycle`. A failure rejects every candidate of the shape.
   */
  preFilter?(ctx: FilterContext): Status;
  /**
   * Whether the plugin has anything to judge in this cycle's working state (after kube-scheduler's
   * PreFilter `Skip`): false leaves it out of the whole cycle, so a plugin for data most cities
   * lack costs them nothing. Absent: always runs.
   */
  relevant?(state: WorkingState): boolean;
}

export interface ClusterFilterPlugin extends FilterPluginBase {
  readonly level: 'cluster';
  filter(ctx: FilterContext, cluster: ClusterSnap): Status;
}

export interface SlotFilterPlugin extends FilterPluginBase {
  readonly level: 'slot';
  filter(ctx: FilterContext, candidate: Candidate): Status;
}

export type FilterPlugin = ClusterFilterPlugin | SlotFilterPlugin;

/** What a scorer knows about the request being nominated. */
export interface ScoreContext {
  readonly workload: WorkloadSnap;
  readonly model: ModelSnap;
  readonly state: WorkingState;
  /** What PreFilter computed for the request's shape. */
  readonly cycle: CycleState;
  /** The whole request in standard millionths per minute: `tokensPerMin × costFactor`. */
  readonly needMicro: number;
  /** What is still to place, in standard millionths per minute (≤ 0 once covered). */
  readonly remainingMicro: number;
}

/** Whether a larger raw score is better (`higher`) or worse (`lower`). */
export type ScoreDirection = 'higher' | 'lower';

export interface ScorePlugin {
  readonly name: string;
  readonly direction: ScoreDirection;
  /**
   * True when the raw score depends only on the candidate's cluster and slot, its
   * `devicesPerReplica` and `replicaStdMicro`, the request's model and the cycle state: the runtime then scores
   * each candidate once per request shape per cycle.
   */
  readonly static?: boolean;
  /** A finite raw score for a feasible candidate; only its order among candidates matters. */
  score(ctx: ScoreContext, candidate: Candidate): number;
}

export interface WeightedScorer {
  readonly plugin: ScorePlugin;
  /** Multiplies the normalized 0–100 score; 0 turns the scorer off. */
  readonly weight: number;
}

/** The plugins one cycle runs: filters in evaluation order, and weighted scorers. */
export interface PluginSet {
  readonly filters: readonly FilterPlugin[];
  readonly scorers: readonly WeightedScorer[];
}
