/**
 * The scheduler's data: an immutable snapshot of the pool and the queue goes in, decisions come
 * out. Nothing here does I/O or reads a clock.
 *
 * Units: throughputs in model tokens per minute (`tokensPerMin`) or standard tokens per minute
 * (`…StdPerMin`) as JS numbers; catalog factors as integer millionths (`Micro`, capacity.ts).
 */
import type { Micro } from '../capacity.js';

export type Priority = 'high' | 'normal' | 'low';

/** Why a workload waits (API.md "Workloads"). */
export type PendingReason = 'capacity' | 'quota' | 'plan_exhausted' | 'no_compatible_device';

export interface ProfileSnap {
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly resourceName: string;
  readonly memoryGiB: Micro;
  readonly stdTokensPerSec: Micro;
  readonly tdpWatts: Micro;
}

/**
 * The nodes behind one device slot, as the cluster's agent reported them (heartbeat `nodes`).
 * Absent on a slot whose cluster never reported nodes (older agents, the simulated city): the
 * scheduler then judges the slot by its device count alone, as before nodes were reported.
 */
export interface NodeFit {
  /** Free devices of each node with this device model: allocatable − requested by pods not terminated. */
  readonly free: readonly number[];
  /** The most devices of this model any one of these nodes has (its `total`). */
  readonly largest: number;
}

/** One device model a cluster reports that matches a profile. */
export interface DeviceSlot {
  /** The name the cluster's agent reports (what the agent selects nodes by). */
  readonly deviceModel: string;
  readonly profile: ProfileSnap;
  readonly healthy: number;
  /** Devices that active placements hold on this slot now (may exceed healthy after a loss). */
  readonly held: number;
  /**
   * Joules per standard token measured on this cluster's devices of this profile (power exporters
   * and metered tokens), where there is enough measurement; absent: only the catalog's TDP estimate.
   */
  readonly measuredJoulesPerStdToken?: number;
  /** Free devices per node; absent: the cluster reported no nodes (device counts alone decide). */
  readonly nodes?: NodeFit;
}

export interface ClusterSnap {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  /** Ready and not cordoned: takes new placements. */
  readonly schedulable: boolean;
  readonly devices: readonly DeviceSlot[];
  /**
   * The cluster serves LeaderWorkerSets (leaderworkerset.x-k8s.io): a replica larger than any of
   * its nodes may span several nodes. Absent: false.
   */
  readonly leaderWorkerSet?: boolean;
}

/** Where an engine can read a model's weights from (migration 0025); the agent mounts or downloads them. */
export const WEIGHT_SOURCE_KINDS = ['pvc', 'hostPath', 'modelscope', 's3', 'huggingface'] as const;
export type WeightSourceKind = (typeof WEIGHT_SOURCE_KINDS)[number];

/**
 * A model's weights: a PersistentVolumeClaim (`path` inside it) or a node directory already
 * holding them, or a ModelScope id, an S3-compatible URL (keys in the Secret `secret` of the
 * workloads namespace) or a Hugging Face id (through `mirror`, an endpoint URL) to download.
 */
export type WeightSource =
  | { readonly kind: 'pvc'; readonly claim: string; readonly path?: string }
  | { readonly kind: 'hostPath'; readonly path: string }
  | { readonly kind: 'modelscope'; readonly id: string; readonly revision?: string }
  | { readonly kind: 's3'; readonly url: string; readonly secret: string; readonly endpoint?: string }
  | { readonly kind: 'huggingface'; readonly id: string; readonly mirror?: string; readonly revision?: string };

/** What a cluster's agent says it can load weights from: the kinds, and the PVCs in its workloads namespace. */
export interface WeightSourcesReport {
  readonly kinds: readonly WeightSourceKind[];
  readonly claims: readonly string[];
}

export interface ModelSnap {
  readonly id: string;
  readonly name: string;
  readonly minMemoryGiB: Micro;
  readonly costFactor: Micro;
  /** Vendors whose runtime serves the model; empty: any. */
  readonly vendors: readonly string[];
  /** Where its weights come from; null or absent: none set (nothing to check). */
  readonly source?: WeightSource | null;
}

export interface TenantSnap {
  readonly id: string;
  /** Quota in standard tokens per minute (override, else subscription); null: unlimited. */
  readonly maxStdPerMin: number | null;
  /** A hard-capped plan whose included tokens are used up this period. */
  readonly planExhausted: boolean;
  /** Fair-share weight (operator-set, default 1): multiplies the tenant's entitlement (fair-share.ts). */
  readonly weight: number;
  /** Standard tokens per minute held by the tenant's placed workloads now. */
  readonly heldStdPerMin: number;
  /** Past use, decayed by the configured half-life, in standard tokens per minute (fair-share). */
  readonly decayedStdPerMin: number;
}

export interface WorkloadSnap {
  readonly id: string;
  readonly tenantId: string;
  /** Submission order: lower came first. */
  readonly seq: number;
  readonly modelId: string;
  readonly tokensPerMin: number;
  readonly priority: Priority;
  /** Allowed regions; null: any. */
  readonly regions: readonly string[] | null;
  readonly ha: boolean;
}

/** A placement that holds devices now (placed or running, not lost). */
export interface PlacementSnap {
  readonly id: string;
  readonly workloadId: string;
  readonly tenantId: string;
  readonly priority: Priority;
  /** The workload's submission order (newer victims are preempted first). */
  readonly seq: number;
  readonly clusterId: string;
  readonly deviceModel: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly tokensPerMin: number;
  /**
   * Standard tokens per minute the workload holds against its tenant's quota: the sum over all of
   * its placements of `tokensPerMin × costFactor` (whole replicas, API.md v2), the same on each of
   * its placements (the scheduler counts it once per workload when the workload is preempted).
   */
  readonly stdPerMin: number;
}

export interface Snapshot {
  readonly clusters: readonly ClusterSnap[];
  readonly models: ReadonlyMap<string, ModelSnap>;
  readonly tenants: ReadonlyMap<string, TenantSnap>;
  readonly placements: readonly PlacementSnap[];
  /**
   * Clusters where a placement of a model failed recently (its pods could not run), by model id;
   * the `recent-failure` filter keeps the model off them. Absent: none.
   */
  readonly recentFailures?: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * What each cluster's agent last reported it can load weights from, by cluster id; a cluster
   * absent never reported (an old agent, a simulated cluster) and is taken to load anything.
   */
  readonly weightSources?: ReadonlyMap<string, WeightSourcesReport>;
  /** A cluster's own weights source for a model (the operator's override), by model id, then cluster id. */
  readonly clusterSources?: ReadonlyMap<string, ReadonlyMap<string, WeightSource>>;
}

/** One part of a workload's placement set. */
export interface PlacementDecision {
  readonly clusterId: string;
  readonly deviceModel: string;
  readonly profileId: string;
  readonly profile: string;
  readonly resourceName: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  /** `replicas × devicesPerReplica × stdTokensPerSec × 60 ÷ costFactor`. */
  readonly tokensPerMin: number;
}

export type Decision =
  | {
      readonly kind: 'place';
      readonly workloadId: string;
      readonly placements: readonly PlacementDecision[];
      /** Workloads preempted to make room; they go back to pending with reason `capacity`. */
      readonly preempted: readonly string[];
    }
  | { readonly kind: 'pending'; readonly workloadId: string; readonly reason: PendingReason; readonly message: string };

export interface ScoreWeights {
  readonly energy: number;
  readonly consolidation: number;
  readonly bestFit: number;
}

export interface CycleOptions {
  readonly weights?: Partial<ScoreWeights>;
  /** Whether `high` workloads may preempt `normal`/`low` ones (default true). */
  readonly preemption?: boolean;
  /**
   * The share of a request shape's candidate slots a round scores at least, as kube-scheduler's
   * `percentageOfNodesToScore`: 1–100, or 0 (default) to adapt to the city's size. At least 100
   * candidates are always scored.
   */
  readonly scorePercentage?: number;
}

export interface CycleInput {
  readonly snapshot: Snapshot;
  /** Workloads waiting for placement, in any order: the cycle orders them. */
  readonly pending: readonly WorkloadSnap[];
  readonly options?: CycleOptions;
}

export interface CycleResult {
  /**
   * One decision per pending workload, in the order they were considered. A `place` decision that
   * preempted workloads is followed by one `pending` decision (reason `capacity`) per victim;
   * victims are placed workloads, not pending ones.
   */
  readonly decisions: readonly Decision[];
}
