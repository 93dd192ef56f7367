/**
 * Fluent builders for the scheduler's snapshot types (after Kueue's
 * `pkg/util/testing/wrappers.go`): a valid default, one method per fact a test cares about.
 * Catalog factors are written as the decimals API.md shows and stored in millionths.
 */
import { MICRO, parseMicro } from '../../../scheduler/capacity.js';
import type {
  ClusterSnap,
  DeviceSlot,
  ModelSnap,
  NodeFit,
  PlacementSnap,
  Priority,
  ProfileSnap,
  Snapshot,
  TenantSnap,
  WorkloadSnap,
} from '../../../scheduler/framework/types.js';
import { CycleState } from '../../../scheduler/framework/cycle-state.js';
import type { Candidate, FilterContext, ScoreContext } from '../../../scheduler/framework/plugin.js';
import { buildWorkingState, slotKey } from '../../../scheduler/snapshot.js';
import type { WorkingState } from '../../../scheduler/snapshot.js';

const micro = (value: number | string) => parseMicro(String(value));

export class ProfileBuilder {
  private p: { -readonly [K in keyof ProfileSnap]: ProfileSnap[K] };

  constructor(name: string) {
    this.p = {
      id: `prof-${name}`,
      name,
      vendor: 'nvidia',
      resourceName: 'nvidia.com/gpu',
      memoryGiB: micro(80),
      stdTokensPerSec: micro(3000),
      tdpWatts: micro(700),
    };
  }

  vendor(vendor: string, resourceName = this.p.resourceName): this {
    this.p.vendor = vendor;
    this.p.resourceName = resourceName;
    return this;
  }

  memoryGiB(gib: number | string): this {
    this.p.memoryGiB = micro(gib);
    return this;
  }

  stdTokensPerSec(value: number | string): this {
    this.p.stdTokensPerSec = micro(value);
    return this;
  }

  tdpWatts(value: number | string): this {
    this.p.tdpWatts = micro(value);
    return this;
  }

  build(): ProfileSnap {
    return { ...this.p };
  }
}

export const aProfile = (name: string) => new ProfileBuilder(name);

/** NVIDIA H100 80 GiB, 3000 std tokens/s, 700 W. */
export const h100 = aProfile('NVIDIA-H100-80GB').build();
/** Huawei Ascend 910B 64 GiB, 1200 std tokens/s, 400 W. */
export const ascend910b = aProfile('Ascend-910B').vendor('huawei', 'huawei.com/Ascend910').memoryGiB(64).stdTokensPerSec(1200).tdpWatts(400).build();
/** Cambricon MLU590 80 GiB, 1100 std tokens/s, 350 W. */
export const mlu590 = aProfile('MLU590').vendor('cambricon', 'cambricon.com/mlu').memoryGiB(80).stdTokensPerSec(1100).tdpWatts(350).build();

export class ModelBuilder {
  private m: { -readonly [K in keyof ModelSnap]: ModelSnap[K] };

  constructor(name: string) {
    this.m = { id: `model-${name}`, name, minMemoryGiB: micro(20), costFactor: micro(1), vendors: [] };
  }

  minMemoryGiB(gib: number | string): this {
    this.m.minMemoryGiB = micro(gib);
    return this;
  }

  costFactor(value: number | string): this {
    this.m.costFactor = micro(value);
    return this;
  }

  vendors(...vendors: string[]): this {
    this.m.vendors = vendors;
    return this;
  }

  build(): ModelSnap {
    return { ...this.m, vendors: [...this.m.vendors] };
  }
}

export const aModel = (name: string) => new ModelBuilder(name);

/** Any vendor, 20 GiB, cost factor 1. */
export const qwen7b = aModel('qwen2.5-7b-instruct').minMemoryGiB(20).costFactor(1).build();
/** Any vendor, 80 GiB, cost factor 4.5. */
export const qwen32b = aModel('qwen2.5-32b-instruct').minMemoryGiB(80).costFactor('4.5').build();
/** NVIDIA and Huawei, 160 GiB, cost factor 10: 4 H100 per replica, 72,000 tokens/min each. */
export const qwen72b = aModel('qwen2.5-72b-instruct').minMemoryGiB(160).costFactor(10).vendors('nvidia', 'huawei').build();

interface SlotSpec {
  readonly deviceModel: string;
  readonly profile: ProfileSnap;
  readonly healthy: number;
  /** Explicit held devices; undefined: computed from the snapshot's placements. */
  readonly held: number | undefined;
  nodes?: NodeFit;
}

export class ClusterBuilder {
  private regionName = 'nansha';
  private ready = true;
  private isCordoned = false;
  private lws = false;
  private readonly slots: SlotSpec[] = [];

  constructor(private readonly id: string) {}

  region(region: string): this {
    this.regionName = region;
    return this;
  }

  /** A device model the agent reports; `held` defaults to what the snapshot's placements hold. */
  slot(deviceModel: string, profile: ProfileSnap, healthy: number, held?: number): this {
    this.slots.push({ deviceModel, profile, healthy, held });
    return this;
  }

  /**
   * The nodes of the last added slot: free devices per node, and the largest node's total
   * (default: the most free).
   */
  nodes(free: readonly number[], largest = Math.max(0, ...free)): this {
    const slot = this.slots[this.slots.length - 1];
    if (!slot) throw new Error('add a slot before its nodes');
    slot.nodes = { free: [...free], largest };
    return this;
  }

  /** The cluster serves LeaderWorkerSets: replicas may span nodes. */
  leaderWorkerSet(): this {
    this.lws = true;
    return this;
  }

  notReady(): this {
    this.ready = false;
    return this;
  }

  cordoned(): this {
    this.isCordoned = true;
    return this;
  }

  /** Slots with `held` left to the snapshot builder. */
  spec(): { id: string; region: string; schedulable: boolean; slots: readonly SlotSpec[]; leaderWorkerSet?: boolean } {
    return {
      id: this.id,
      region: this.regionName,
      schedulable: this.ready && !this.isCordoned,
      slots: this.slots,
      ...(this.lws ? { leaderWorkerSet: true } : {}),
    };
  }

  /** The cluster alone, with unset `held` as 0. */
  build(): ClusterSnap {
    return materialize(this.spec(), new Map());
  }
}

export const aCluster = (id: string) => new ClusterBuilder(id);

export class TenantBuilder {
  private t: { -readonly [K in keyof TenantSnap]: TenantSnap[K] };
  private heldSet = false;

  constructor(id: string) {
    this.t = { id, maxStdPerMin: null, planExhausted: false, weight: 1, heldStdPerMin: 0, decayedStdPerMin: 0 };
  }

  quota(maxStdPerMin: number | null): this {
    this.t.maxStdPerMin = maxStdPerMin;
    return this;
  }

  planExhausted(exhausted = true): this {
    this.t.planExhausted = exhausted;
    return this;
  }

  weight(weight: number): this {
    this.t.weight = weight;
    return this;
  }

  /** Explicit held std/min; by default the snapshot builder sums the tenant's placed workloads. */
  held(stdPerMin: number): this {
    this.t.heldStdPerMin = stdPerMin;
    this.heldSet = true;
    return this;
  }

  decayed(stdPerMin: number): this {
    this.t.decayedStdPerMin = stdPerMin;
    return this;
  }

  hasExplicitHeld(): boolean {
    return this.heldSet;
  }

  build(): TenantSnap {
    return { ...this.t };
  }
}

export const aTenant = (id: string) => new TenantBuilder(id);

let seqCounter = 0;

export class WorkloadBuilder {
  private w: { -readonly [K in keyof WorkloadSnap]: WorkloadSnap[K] };

  constructor(id: string) {
    this.w = {
      id,
      tenantId: 't1',
      seq: ++seqCounter,
      modelId: qwen7b.id,
      tokensPerMin: 10_000,
      priority: 'normal',
      regions: null,
      ha: false,
    };
  }

  tenant(tenantId: string): this {
    this.w.tenantId = tenantId;
    return this;
  }

  seq(seq: number): this {
    this.w.seq = seq;
    return this;
  }

  model(model: ModelSnap): this {
    this.w.modelId = model.id;
    return this;
  }

  tokensPerMin(tokensPerMin: number): this {
    this.w.tokensPerMin = tokensPerMin;
    return this;
  }

  priority(priority: Priority): this {
    this.w.priority = priority;
    return this;
  }

  regions(...regions: string[]): this {
    this.w.regions = regions;
    return this;
  }

  ha(ha = true): this {
    this.w.ha = ha;
    return this;
  }

  build(): WorkloadSnap {
    return { ...this.w, regions: this.w.regions === null ? null : [...this.w.regions] };
  }
}

export const aWorkload = (id: string) => new WorkloadBuilder(id);

let placementCounter = 0;

export class PlacementBuilder {
  private p: { -readonly [K in keyof PlacementSnap]: PlacementSnap[K] };

  /** A placement of `workload` (its tenant, priority, seq and std/min against quota). */
  constructor(workload: WorkloadSnap, model: ModelSnap) {
    this.p = {
      id: `pl-${++placementCounter}`,
      workloadId: workload.id,
      tenantId: workload.tenantId,
      priority: workload.priority,
      seq: workload.seq,
      clusterId: 'c1',
      deviceModel: 'H100',
      replicas: 1,
      devicesPerReplica: 1,
      tokensPerMin: workload.tokensPerMin,
      stdPerMin: (workload.tokensPerMin * model.costFactor) / MICRO,
    };
  }

  on(clusterId: string, deviceModel: string): this {
    this.p.clusterId = clusterId;
    this.p.deviceModel = deviceModel;
    return this;
  }

  replicas(replicas: number, devicesPerReplica: number): this {
    this.p.replicas = replicas;
    this.p.devicesPerReplica = devicesPerReplica;
    return this;
  }

  build(): PlacementSnap {
    return { ...this.p };
  }
}

export const aPlacement = (workload: WorkloadSnap, model: ModelSnap) => new PlacementBuilder(workload, model);

export class SnapshotBuilder {
  private readonly clusterSpecs: (ClusterBuilder | ClusterSnap)[] = [];
  private readonly modelMap = new Map<string, ModelSnap>([qwen7b, qwen32b, qwen72b].map((m) => [m.id, m]));
  private readonly tenantBuilders = new Map<string, TenantBuilder>();
  private readonly placementList: PlacementSnap[] = [];

  cluster(...clusters: (ClusterBuilder | ClusterSnap)[]): this {
    this.clusterSpecs.push(...clusters);
    return this;
  }

  model(...models: ModelSnap[]): this {
    for (const m of models) this.modelMap.set(m.id, m);
    return this;
  }

  tenant(...tenants: TenantBuilder[]): this {
    for (const t of tenants) this.tenantBuilders.set(t.build().id, t);
    return this;
  }

  placement(...placements: (PlacementBuilder | PlacementSnap)[]): this {
    for (const p of placements) this.placementList.push(p instanceof PlacementBuilder ? p.build() : p);
    return this;
  }

  /**
   * Slots without an explicit `held` hold what the placements on them hold; tenants without an
   * explicit `held` hold the std/min of their placed workloads (counted once per workload).
   * Tenants named by placements but not added are added with defaults.
   */
  build(): Snapshot {
    const heldBySlot = new Map<string, number>();
    const tenantHeld = new Map<string, number>();
    const counted = new Set<string>();
    for (const p of this.placementList) {
      const key = slotKey(p.clusterId, p.deviceModel);
      heldBySlot.set(key, (heldBySlot.get(key) ?? 0) + p.replicas * p.devicesPerReplica);
      if (!counted.has(p.workloadId)) {
        counted.add(p.workloadId);
        tenantHeld.set(p.tenantId, (tenantHeld.get(p.tenantId) ?? 0) + p.stdPerMin);
      }
      if (!this.tenantBuilders.has(p.tenantId)) this.tenantBuilders.set(p.tenantId, aTenant(p.tenantId));
    }
    const tenants = new Map<string, TenantSnap>();
    for (const [id, b] of this.tenantBuilders) {
      const t = b.build();
      tenants.set(id, b.hasExplicitHeld() ? t : { ...t, heldStdPerMin: tenantHeld.get(id) ?? 0 });
    }
    return {
      clusters: this.clusterSpecs.map((c) => (c instanceof ClusterBuilder ? materialize(c.spec(), heldBySlot) : c)),
      models: new Map(this.modelMap),
      tenants,
      placements: [...this.placementList],
    };
  }
}

export const aSnapshot = () => new SnapshotBuilder();

function materialize(
  spec: { id: string; region: string; schedulable: boolean; slots: readonly SlotSpec[]; leaderWorkerSet?: boolean },
  heldBySlot: ReadonlyMap<string, number>,
): ClusterSnap {
  const devices: DeviceSlot[] = spec.slots.map((s) => ({
    deviceModel: s.deviceModel,
    profile: s.profile,
    healthy: s.healthy,
    held: s.held ?? heldBySlot.get(slotKey(spec.id, s.deviceModel)) ?? 0,
    ...(s.nodes ? { nodes: s.nodes } : {}),
  }));
  return {
    id: spec.id,
    name: spec.id,
    region: spec.region,
    schedulable: spec.schedulable,
    devices,
    ...(spec.leaderWorkerSet ? { leaderWorkerSet: true } : {}),
  };
}

/**
 * A deeply read-only view of a value: any write through it — to an object, an array or a Map, at
 * any depth — throws a TypeError. A Proxy rather than Object.freeze, because tsx runs these
 * modules as sloppy-mode CommonJS, where a write to a frozen object is silently ignored and a
 * mutating scheduler would go unnoticed. The original stays writable; give the view to the code
 * under test.
 */
export function deepFreeze<T>(value: T): T {
  const views = new WeakMap<object, unknown>();
  const refuse = (what: string) => () => {
    throw new TypeError(`write to read-only test input (${what})`);
  };
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const seen = views.get(v);
    if (seen !== undefined) return seen;
    if (v instanceof Map) {
      const copy = new Map<unknown, unknown>();
      views.set(v, copy);
      for (const [k, x] of v) copy.set(wrap(k), wrap(x));
      Object.defineProperties(copy, { set: { value: refuse('Map.set') }, delete: { value: refuse('Map.delete') }, clear: { value: refuse('Map.clear') } });
      return copy;
    }
    const view = new Proxy(v, {
      get: (target, key, receiver) => wrap(Reflect.get(target, key, receiver)),
      set: (_t, key) => refuse(`set ${String(key)}`)(),
      defineProperty: (_t, key) => refuse(`define ${String(key)}`)(),
      deleteProperty: (_t, key) => refuse(`delete ${String(key)}`)(),
      setPrototypeOf: () => refuse('setPrototypeOf')(),
    });
    views.set(v, view);
    return view;
  };
  return wrap(value) as T;
}

/** A small seeded pseudo-random generator (mulberry32): the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a plugin sees: a filter context over a snapshot's working copy, with an empty cycle state. */
export function filterContext(snapshot: Snapshot, model: ModelSnap = qwen7b, regions: readonly string[] | null = null): FilterContext {
  return { model, regions, state: buildWorkingState(snapshot), cycle: new CycleState() };
}

/** The runtime's cursor on one slot of `state`, with `fields` over sensible defaults. */
export function candidateOf(state: WorkingState, clusterId: string, deviceModel: string, fields: Partial<Candidate> = {}): Candidate {
  const slotIndex = state.slotByKey.get(slotKey(clusterId, deviceModel));
  if (slotIndex === undefined) throw new Error(`no slot ${clusterId}/${deviceModel}`);
  const clusterIndex = state.slotCluster[slotIndex]!;
  return {
    cluster: state.snapshot.clusters[clusterIndex]!,
    clusterIndex,
    slot: state.slots[slotIndex]!,
    slotIndex,
    devicesPerReplica: 0,
    free: 0,
    replicas: 0,
    replicaStdMicro: 0,
    clusterPlacedMicro: 0,
    ...fields,
  };
}

/** A score context for `workload` with `needMicro` and `remainingMicro` standard millionths/min. */
export function scoreContext(
  workload: WorkloadSnap,
  needMicro: number,
  remainingMicro = needMicro,
  state: WorkingState = buildWorkingState(aSnapshot().build()),
): ScoreContext {
  return { workload, model: qwen7b, state, cycle: new CycleState(), needMicro, remainingMicro };
}
