/**
 * The plugin contracts, after kube-scheduler's framework: filters answer a {@link Status} for one
 * candidate, scorers answer a raw number that the runtime normalizes to 0–100 across the feasible
 * candidates and multiplies by a weight. Plugins are stateless values; each has one job.
 *
 * A candidate is one device slot (a device model of one cluster). The runtime reuses one mutable
 * {@link Candidate} cursor for all of them, so plugins must not keep a reference to it.
 */
import type { WorkingState } from '../snapshot.js';
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
}

/** The runtime's cursor over candidates; fields are filled in as the pipeline learns them. */
export interface Candidate {
  cluster: ClusterSnap;
  /** Index of the cluster in `snapshot.clusters`. */
  clusterIndex: number;
  slot: DeviceSlot;
  /** Index of the slot in the working state's flat slot arrays. */
  slotIndex: number;
  /**
   * Devices one replica of the model spans on this slot; 0 until the memory-fit filter sets it.
   * Filters after memory-fit (and scorers) may rely on it being ≥ 1.
   */
  devicesPerReplica: number;
  /** Free devices on the slot now (set by the runtime before scoring). */
  free: number;
  /** Replicas the workload would take from this candidate now (≥ 1 when scored). */
  replicas: number;
  /** Standard tokens per minute of one replica, in millionths: `n × stdTokensPerSec × 60`. */
  replicaStdMicro: number;
  /** What this workload has already taken on the candidate's cluster, in std millionths/min. */
  clusterPlacedMicro: number;
}

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
}

export interface ClusterFilterPlugin extends FilterPluginBase {
  readonly level: 'cluster';
  filter(ctx: FilterContext, cluster: ClusterSnap): Status;
}

export interface SlotFilterPlugin extends FilterPluginBase {
  readonly level: 'slot';
  /** May set `candidate.devicesPerReplica` (static filters only; the runtime caches it). */
  filter(ctx: FilterContext, candidate: Candidate): Status;
}

export type FilterPlugin = ClusterFilterPlugin | SlotFilterPlugin;

/** What a scorer knows about the request being nominated. */
export interface ScoreContext {
  readonly workload: WorkloadSnap;
  readonly model: ModelSnap;
  readonly state: WorkingState;
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
   * `devicesPerReplica` and `replicaStdMicro`, and the request's model: the runtime then scores
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
