/**
 * The cycle's mutable working copy of an immutable {@link Snapshot}: device counts per slot and
 * standard tokens held per tenant, as the cycle takes and releases them. The snapshot itself is
 * never written to.
 *
 * Standard tokens per minute are carried here as integer millionths (`…Micro`), so quota and
 * coverage comparisons are exact.
 */
import { MICRO } from './capacity.js';
import type { DeviceSlot, Priority, Snapshot, WorkloadSnap } from './framework/types.js';
import { mostFree, nodeHistogram, podsByPowerOfTwo, replicaPods, takeNodeReplicas, type ReplicaPods } from './node-fit.js';

/** Larger is more important. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = Object.freeze({ high: 2, normal: 1, low: 0 });

/** A placement that holds devices in the working copy. */
export interface WorkingPlacement {
  readonly workloadId: string;
  readonly tenantId: string;
  readonly priority: Priority;
  readonly seq: number;
  /** Flat slot index in the working copy; -1 when the slot is not in the snapshot. */
  readonly slot: number;
  readonly devices: number;
  /** The whole workload's standard millionths per minute against quota (same on each placement). */
  readonly stdMicro: number;
}

/**
 * Working copy of one cycle. The flat slot arrays list every device slot of every cluster in
 * snapshot order (cluster by cluster, slot by slot); index `i` is the same slot in all of them.
 */
export interface WorkingState {
  readonly snapshot: Snapshot;
  readonly slots: readonly DeviceSlot[];
  /** Index into `snapshot.clusters` of each slot's cluster. */
  readonly slotCluster: Int32Array;
  readonly healthy: Int32Array;
  /** Devices held: the snapshot's `held`, plus what this cycle took, minus what it released. */
  readonly held: Int32Array;
  /** Devices held by `normal` and `low` placements: what a `high` workload may preempt. */
  readonly preemptible: Int32Array;
  /** Flat slot index by {@link slotKey}. */
  readonly slotByKey: ReadonlyMap<string, number>;
  /** Standard millionths per minute each tenant's placed workloads hold. */
  readonly tenantHeldMicro: Map<string, number>;
  /** Active placements by workload id (a workload is present iff it holds something). */
  readonly placements: Map<string, WorkingPlacement[]>;
  /** Incremented whenever devices are released: caches that rely on free only shrinking check it. */
  releaseEpoch: number;
  /** Incremented whenever a `normal` or `low` workload is admitted (the preemptible set grew). */
  preemptibleEpoch: number;
  /**
   * Free devices per node of the slots whose cluster reported nodes (node-fit.ts), less what this
   * cycle took; null when no cluster did (then nothing here costs a cycle anything).
   */
  readonly nodes: NodeState | null;
}

/**
 * The working copy of the slots' nodes, by flat slot index. Releases do not give devices back to
 * nodes: which node a released placement's pods ran on is not known, so node fit stays on the
 * safe side.
 */
export interface NodeState {
  /** Free devices per node as a histogram (index: free devices; value: nodes); null: no report. */
  readonly hist: readonly (Int32Array | null)[];
  /** The largest node's devices; -1 where the slot has no node report. */
  readonly largest: Int32Array;
  /** The most devices free on one node now. */
  readonly maxFree: Int32Array;
  /** Pods of each power-of-two size the nodes can take now (node-fit.ts `podsByPowerOfTwo`); null: no report. */
  readonly pods: readonly (Int32Array | null)[];
  /** 1 where the slot's cluster serves LeaderWorkerSets (a replica may span nodes). */
  readonly leaderWorkerSet: Uint8Array;
}

/** The key of a device slot: cluster id and reported device model. */
export function slotKey(clusterId: string, deviceModel: string): string {
  return `${clusterId}\u0000${deviceModel}`;
}

/** A standard-tokens-per-minute number (as in the snapshot) in integer millionths. */
export function toMicro(value: number): number {
  return Math.round(value * MICRO);
}

/** Builds the working copy of a snapshot. The snapshot is only read. */
export function buildWorkingState(snapshot: Snapshot): WorkingState {
  const slots: DeviceSlot[] = [];
  const clusterOf: number[] = [];
  const slotByKey = new Map<string, number>();
  snapshot.clusters.forEach((cluster, ci) => {
    for (const slot of cluster.devices) {
      slotByKey.set(slotKey(cluster.id, slot.deviceModel), slots.length);
      slots.push(slot);
      clusterOf.push(ci);
    }
  });
  const count = slots.length;
  const healthy = new Int32Array(count);
  const held = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const slot = slots[i]!;
    healthy[i] = Math.max(0, slot.healthy);
    held[i] = Math.max(0, slot.held);
  }

  const tenantHeldMicro = new Map<string, number>();
  for (const t of snapshot.tenants.values()) tenantHeldMicro.set(t.id, toMicro(t.heldStdPerMin));
  let nodes: NodeState | null = null;
  for (let i = 0; i < count; i++) {
    const fit = slots[i]!.nodes;
    if (!fit) continue;
    nodes ??= {
      hist: new Array<Int32Array | null>(count).fill(null),
      largest: new Int32Array(count).fill(-1),
      maxFree: new Int32Array(count),
      pods: new Array<Int32Array | null>(count).fill(null),
      leaderWorkerSet: new Uint8Array(count),
    };
    const hist = nodeHistogram(fit);
    (nodes.hist as (Int32Array | null)[])[i] = hist;
    nodes.largest[i] = hist.length - 1;
    nodes.maxFree[i] = mostFree(hist);
    (nodes.pods as (Int32Array | null)[])[i] = podsByPowerOfTwo(hist);
    nodes.leaderWorkerSet[i] = snapshot.clusters[clusterOf[i]!]!.leaderWorkerSet === true ? 1 : 0;
  }

  const state: WorkingState = {
    snapshot,
    slots,
    slotCluster: Int32Array.from(clusterOf),
    healthy,
    held,
    preemptible: new Int32Array(count),
    slotByKey,
    tenantHeldMicro,
    placements: new Map(),
    releaseEpoch: 0,
    preemptibleEpoch: 0,
    nodes,
  };
  for (const p of snapshot.placements) {
    const slot = slotByKey.get(slotKey(p.clusterId, p.deviceModel)) ?? -1;
    // `held` already counts these devices (the snapshot's slot.held); only index them here.
    record(state, {
      workloadId: p.workloadId,
      tenantId: p.tenantId,
      priority: p.priority,
      seq: p.seq,
      slot,
      devices: p.replicas * p.devicesPerReplica,
      stdMicro: toMicro(p.stdPerMin),
    });
  }
  return state;
}

/** Free devices on a slot now: healthy − held, never negative. */
export function freeDevices(state: WorkingState, slot: number): number {
  const free = (state.healthy[slot] ?? 0) - (state.held[slot] ?? 0);
  return free > 0 ? free : 0;
}

/**
 * How a replica of `n` devices runs on the nodes of a slot (node-fit.ts), or null when it fits no
 * node there; undefined when the slot's cluster reported no nodes.
 */
export function slotReplicaPods(state: WorkingState, slot: number, n: number): ReplicaPods | null | undefined {
  const nodes = state.nodes;
  if (nodes === null || nodes.largest[slot]! < 0) return undefined;
  return replicaPods(n, nodes.largest[slot]!, nodes.leaderWorkerSet[slot] === 1);
}

/** One part of a placement being admitted: `replicas × devicesPerReplica` devices of a slot. */
export interface Take {
  readonly slot: number;
  readonly replicas: number;
  readonly devicesPerReplica: number;
}

/**
 * Admits a workload: takes its devices and adds its standard tokens to its tenant. The caller has
 * checked that the devices are free; this does not check again.
 */
export function admit(state: WorkingState, workload: WorkloadSnap, stdMicro: number, takes: readonly Take[]): void {
  for (const t of takes) {
    const devices = t.replicas * t.devicesPerReplica;
    state.held[t.slot] = (state.held[t.slot] ?? 0) + devices;
    const nodes = state.nodes;
    const hist = nodes?.hist[t.slot];
    if (nodes && hist) {
      const pods = slotReplicaPods(state, t.slot, t.devicesPerReplica);
      if (pods) takeNodeReplicas(hist, pods, t.replicas);
      nodes.maxFree[t.slot] = mostFree(hist);
      podsByPowerOfTwo(hist, nodes.pods[t.slot] ?? undefined);
    }
    record(state, {
      workloadId: workload.id,
      tenantId: workload.tenantId,
      priority: workload.priority,
      seq: workload.seq,
      slot: t.slot,
      devices,
      stdMicro,
    });
  }
  state.tenantHeldMicro.set(workload.tenantId, (state.tenantHeldMicro.get(workload.tenantId) ?? 0) + stdMicro);
  if (workload.priority !== 'high') state.preemptibleEpoch++;
}

/**
 * Releases every placement of a workload (its devices and its tenant's standard tokens) and
 * answers them; an unknown or already released workload answers an empty list.
 */
export function release(state: WorkingState, workloadId: string): readonly WorkingPlacement[] {
  const list = state.placements.get(workloadId);
  if (!list || list.length === 0) return [];
  state.placements.delete(workloadId);
  for (const p of list) {
    if (p.slot < 0) continue;
    state.held[p.slot] = (state.held[p.slot] ?? 0) - p.devices;
    if (p.priority !== 'high') state.preemptible[p.slot] = (state.preemptible[p.slot] ?? 0) - p.devices;
  }
  const first = list[0]!;
  const held = (state.tenantHeldMicro.get(first.tenantId) ?? 0) - first.stdMicro;
  state.tenantHeldMicro.set(first.tenantId, held > 0 ? held : 0);
  state.releaseEpoch++;
  return list;
}

function record(state: WorkingState, p: WorkingPlacement): void {
  const list = state.placements.get(p.workloadId);
  if (list) list.push(p);
  else state.placements.set(p.workloadId, [p]);
  if (p.slot >= 0 && p.priority !== 'high') state.preemptible[p.slot] = (state.preemptible[p.slot] ?? 0) + p.devices;
}

/**
 * A what-if copy for simulating releases (preemption): its device counts are its own, everything
 * else is shared with `state` and must only be read through the copy.
 */
export function forkDevices(state: WorkingState): WorkingState {
  return { ...state, held: state.held.slice(), preemptible: state.preemptible.slice() };
}

/**
 * A deep copy of a snapshot that shares nothing mutable with it (profiles included), for callers
 * that want to edit a what-if snapshot (add a workload's placements, drop a cluster) and run the
 * same cycle on it. {@link scheduleCycle} itself never writes to its input, so a dry run of the
 * current state needs no copy.
 */
export function cloneSnapshot(snapshot: Snapshot): Snapshot {
  return {
    clusters: snapshot.clusters.map((c) => ({
      ...c,
      devices: c.devices.map((d) => ({ ...d, profile: { ...d.profile }, ...(d.nodes ? { nodes: { ...d.nodes, free: [...d.nodes.free] } } : {}) })),
    })),
    models: new Map([...snapshot.models].map(([id, m]) => [id, { ...m, vendors: [...m.vendors] }])),
    tenants: new Map([...snapshot.tenants].map(([id, t]) => [id, { ...t }])),
    placements: snapshot.placements.map((p) => ({ ...p })),
    ...(snapshot.weightSources ? { weightSources: new Map(snapshot.weightSources) } : {}),
    ...(snapshot.clusterSources ? { clusterSources: new Map([...snapshot.clusterSources].map(([id, m]) => [id, new Map(m)])) } : {}),
  };
}
