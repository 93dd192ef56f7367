/**
 * A member cluster in memory, for the demo city and for tests. It has nodes of devices that can
 * fail, and runs placements as simulated deployments whose replicas hold devices. It has no
 * timers: time passes one reconcile (one agent tick) at a time.
 */
import type { ClusterBackend } from '../agent.js';
import type { DesiredPlacement, InventoryReport, RunningPlacement } from '../platform-client.js';

/** One node: `devices` accelerators of one model. */
export interface SimulatedNodeSpec {
  readonly name: string;
  /** The name feature discovery would give the device, e.g. `NVIDIA-H100-80GB-HBM3`. */
  readonly deviceModel: string;
  readonly devices: number;
}

/** A simulated member cluster as the demo city declares it. */
export interface SimulatedClusterSpec {
  /** The cluster's name on the platform, e.g. `nansha-1`. */
  readonly name: string;
  /** Lower-case district, e.g. `nansha`. */
  readonly region: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly nodes: readonly SimulatedNodeSpec[];
}

/** Options of a {@link SimulatedCluster}. */
export interface SimulatedClusterOptions {
  /**
   * Reconciles a replica must hold its devices, after the one that started it, before it is ready
   * (image pull and model load, in ticks). 0: ready as soon as it is started. Default 1.
   */
  readonly readyAfterReconciles?: number;
}

/** A node's state: `healthy` devices are those that can take work now. */
export interface SimulatedNodeView {
  readonly name: string;
  readonly deviceModel: string;
  readonly devices: number;
  /** False when the whole node is down (not ready, cordoned by its operator, unreachable). */
  readonly up: boolean;
  readonly failedDevices: number;
  readonly healthy: number;
}

/**
 * A placement as the cluster runs it. This is the seam for the serving simulation: simulated
 * serving pods (with vLLM-style token counters) will attach to a deployment's ready replicas,
 * keyed by `id`, and serve `model` for `workloadId`.
 */
export interface SimulatedDeploymentView {
  readonly id: string;
  readonly workloadId: string;
  readonly model: string;
  readonly deviceModel: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  /** Replicas that hold their devices (started), ready or not. */
  readonly scheduledReplicas: number;
  readonly readyReplicas: number;
}

interface NodeState {
  readonly spec: SimulatedNodeSpec;
  up: boolean;
  failed: number;
}

interface Replica {
  /** Allocation order, for evicting the most recently started first; null while pending. */
  startedSeq: number | null;
  /** Reconciles seen while holding devices, after the one that started it. */
  age: number;
}

interface Deployment {
  placement: DesiredPlacement;
  replicas: Replica[];
}

/**
 * An in-memory {@link ClusterBackend}. Devices are counted per device model across the cluster
 * (a replica may span nodes, as multi-node serving does); node-level bin packing is left to the
 * real scheduler of the Kubernetes adapter. Devices are never overcommitted: replicas that do not
 * fit in the healthy devices stay pending, and when devices fail the most recently started
 * replicas of that model lose theirs at once and wait for capacity again.
 */
export class SimulatedCluster implements ClusterBackend {
  readonly spec: SimulatedClusterSpec;
  readonly #readyAfter: number;
  readonly #nodes = new Map<string, NodeState>();
  // Insertion order is creation order, which decides who gets free devices first.
  readonly #deployments = new Map<string, Deployment>();
  #seq = 0;
  #reconciles = 0;

  constructor(spec: SimulatedClusterSpec, opts: SimulatedClusterOptions = {}) {
    this.spec = spec;
    this.#readyAfter = opts.readyAfterReconciles ?? 1;
    if (!Number.isInteger(this.#readyAfter) || this.#readyAfter < 0) {
      throw new RangeError('readyAfterReconciles must be a non-negative integer');
    }
    for (const node of spec.nodes) {
      if (this.#nodes.has(node.name)) throw new Error(`${spec.name}: duplicate node ${node.name}`);
      if (!Number.isInteger(node.devices) || node.devices < 0) {
        throw new RangeError(`${spec.name}: node ${node.name} must have a non-negative integer of devices`);
      }
      this.#nodes.set(node.name, { spec: node, up: true, failed: 0 });
    }
  }

  get name(): string {
    return this.spec.name;
  }

  get region(): string {
    return this.spec.region;
  }

  /** Reconciles done so far (the cluster's clock). */
  get reconciles(): number {
    return this.#reconciles;
  }

  /** Devices by model, in the order the models first appear among the nodes. */
  async inventory(): Promise<InventoryReport[]> {
    const byModel = new Map<string, { total: number; healthy: number }>();
    for (const node of this.#nodes.values()) {
      const row = byModel.get(node.spec.deviceModel) ?? { total: 0, healthy: 0 };
      row.total += node.spec.devices;
      row.healthy += healthyOf(node);
      byModel.set(node.spec.deviceModel, row);
    }
    return [...byModel].map(([deviceModel, row]) => ({ deviceModel, ...row }));
  }

  /** Every deployment, in creation order, with its ready replicas. */
  async running(): Promise<RunningPlacement[]> {
    return [...this.#deployments.values()].map((d) => ({ id: d.placement.id, readyReplicas: readyOf(d, this.#readyAfter) }));
  }

  /**
   * One step of the cluster's life: removes deployments not in `desired`, creates and scales the
   * rest (a placement whose device model or replica size changed is started anew), ages started
   * replicas, then starts pending replicas while healthy devices of their model are free.
   */
  async reconcile(desired: readonly DesiredPlacement[]): Promise<void> {
    this.#reconciles += 1;
    const wanted = new Map(desired.map((p) => [p.id, p]));
    for (const id of this.#deployments.keys()) {
      if (!wanted.has(id)) this.#deployments.delete(id);
    }
    for (const placement of wanted.values()) {
      const current = this.#deployments.get(placement.id);
      if (!current || current.placement.deviceModel !== placement.deviceModel || current.placement.devicesPerReplica !== placement.devicesPerReplica) {
        this.#deployments.delete(placement.id);
        this.#deployments.set(placement.id, { placement, replicas: [] });
        continue;
      }
      current.placement = placement;
      for (const replica of current.replicas) {
        if (replica.startedSeq !== null) replica.age += 1;
      }
    }
    for (const d of this.#deployments.values()) scale(d);
    this.#evictOverHealthy();
    this.#startPending();
  }

  /** Marks a whole node down (false) or up (true). Replicas that no longer fit lose their devices now. */
  setNodeHealthy(nodeName: string, healthy: boolean): void {
    this.#node(nodeName).up = healthy;
    this.#evictOverHealthy();
  }

  /** Fails `n` more devices of a node (at most all of them). */
  failDevices(nodeName: string, n: number): void {
    const node = this.#node(nodeName);
    node.failed = Math.min(node.spec.devices, node.failed + nonNegativeInt(n));
    this.#evictOverHealthy();
  }

  /** Repairs `n` failed devices of a node (default all). Pending replicas start at the next reconcile. */
  repairDevices(nodeName: string, n?: number): void {
    const node = this.#node(nodeName);
    node.failed = n === undefined ? 0 : Math.max(0, node.failed - nonNegativeInt(n));
  }

  /** The nodes and their health. */
  nodes(): SimulatedNodeView[] {
    return [...this.#nodes.values()].map((node) => ({
      name: node.spec.name,
      deviceModel: node.spec.deviceModel,
      devices: node.spec.devices,
      up: node.up,
      failedDevices: node.failed,
      healthy: healthyOf(node),
    }));
  }

  /** The deployments the cluster runs, in creation order. */
  deployments(): SimulatedDeploymentView[] {
    return [...this.#deployments.values()].map((d) => ({
      id: d.placement.id,
      workloadId: d.placement.workloadId,
      model: d.placement.model,
      deviceModel: d.placement.deviceModel,
      replicas: d.placement.replicas,
      devicesPerReplica: d.placement.devicesPerReplica,
      scheduledReplicas: d.replicas.filter((r) => r.startedSeq !== null).length,
      readyReplicas: readyOf(d, this.#readyAfter),
    }));
  }

  /** Healthy devices of a model that no started replica holds. */
  freeDevices(deviceModel: string): number {
    return this.#healthy(deviceModel) - this.#held(deviceModel);
  }

  #node(name: string): NodeState {
    const node = this.#nodes.get(name);
    if (!node) throw new Error(`${this.spec.name}: no node ${name}`);
    return node;
  }

  #healthy(deviceModel: string): number {
    let n = 0;
    for (const node of this.#nodes.values()) {
      if (node.spec.deviceModel === deviceModel) n += healthyOf(node);
    }
    return n;
  }

  #held(deviceModel: string): number {
    let n = 0;
    for (const d of this.#deployments.values()) {
      if (d.placement.deviceModel !== deviceModel) continue;
      for (const r of d.replicas) if (r.startedSeq !== null) n += d.placement.devicesPerReplica;
    }
    return n;
  }

  #evictOverHealthy(): void {
    const started = new Map<string, { replica: Replica; size: number }[]>();
    for (const d of this.#deployments.values()) {
      for (const replica of d.replicas) {
        if (replica.startedSeq === null) continue;
        const list = started.get(d.placement.deviceModel) ?? [];
        list.push({ replica, size: d.placement.devicesPerReplica });
        started.set(d.placement.deviceModel, list);
      }
    }
    for (const [deviceModel, list] of started) {
      let over = this.#held(deviceModel) - this.#healthy(deviceModel);
      list.sort((a, b) => (b.replica.startedSeq ?? 0) - (a.replica.startedSeq ?? 0));
      for (const { replica, size } of list) {
        if (over <= 0) break;
        replica.startedSeq = null;
        replica.age = 0;
        over -= size;
      }
    }
  }

  #startPending(): void {
    const free = new Map<string, number>();
    for (const d of this.#deployments.values()) {
      const model = d.placement.deviceModel;
      let left = free.get(model) ?? this.freeDevices(model);
      for (const replica of d.replicas) {
        // A replica too big for what is left does not block smaller ones behind it, as pending pods do not.
        if (replica.startedSeq !== null || left < d.placement.devicesPerReplica) continue;
        replica.startedSeq = ++this.#seq;
        replica.age = 0;
        left -= d.placement.devicesPerReplica;
      }
      free.set(model, left);
    }
  }
}

function healthyOf(node: NodeState): number {
  return node.up ? node.spec.devices - node.failed : 0;
}

function readyOf(d: Deployment, readyAfter: number): number {
  return d.replicas.filter((r) => r.startedSeq !== null && r.age >= readyAfter).length;
}

/** Adds pending replicas, or removes the surplus: pending ones first, then the youngest started. */
function scale(d: Deployment): void {
  const want = d.placement.replicas;
  while (d.replicas.length < want) d.replicas.push({ startedSeq: null, age: 0 });
  if (d.replicas.length <= want) return;
  d.replicas.sort((a, b) => rank(a) - rank(b));
  d.replicas.length = want;
}

// Lower ranks are kept: started replicas by start order, then pending ones.
function rank(r: Replica): number {
  return r.startedSeq ?? Number.MAX_SAFE_INTEGER;
}

function nonNegativeInt(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('device count must be a non-negative integer');
  return n;
}
