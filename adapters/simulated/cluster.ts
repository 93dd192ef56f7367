/**
 * A member cluster in memory, for the demo city and for tests. It has nodes of devices that can
 * fail, and runs placements as simulated deployments whose replicas hold devices. Its own state
 * has no timers: time passes one reconcile (one agent tick) at a time. Each ready replica serves
 * for real: a {@link SimulatedEngine} on loopback, whose base URL the heartbeat reports.
 */
import { randomBytes } from 'node:crypto';
import type { ClusterBackend } from '../agent.js';
import type { DesiredPlacement, InventoryReport, RunningPlacement } from '../platform-client.js';
import { SimulatedEngine } from './engine.js';
import { OUTPUT_TOKENS_PER_MIN_PER_DEVICE } from './serving.js';

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
  /**
   * Tokens per second one answer of a replica's engine is generated at, per device of the
   * replica. Default {@link OUTPUT_TOKENS_PER_MIN_PER_DEVICE} / 60; tests pass a large one.
   */
  readonly tokensPerSecondPerDevice?: number;
  /** Address the engines listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /**
   * Rated power of one device of a device model, in watts (the catalog's TDP); undefined for a
   * model: its placements report no energy. Absent: no energy reported at all, as a cluster that
   * runs no power exporter.
   */
  readonly deviceWatts?: (deviceModel: string) => number | undefined;
  /** Epoch ms, for the energy the devices use. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The simulated devices' draw: a device holding a replica draws this share of its rated power
 * idle, and the rest in proportion to its load (tokens it generates against what it generates at
 * full speed, {@link OUTPUT_TOKENS_PER_MIN_PER_DEVICE}).
 */
export const IDLE_POWER_SHARE = 0.3;

/** Energy is not integrated across a gap longer than this (the devices' draw then is not known). */
const MAX_ENERGY_STEP_MS = 60_000;

/**
 * Endpoints a heartbeat reports per placement at most (API.md); the replicas past them serve
 * but are not routed to.
 */
export const MAX_REPORTED_ENDPOINTS = 64;

/** A ready replica and the engine it serves with. */
export interface SimulatedPodView {
  readonly placementId: string;
  readonly workloadId: string;
  readonly model: string;
  readonly devicesPerReplica: number;
  /** Unique within the placement, kept while the replica lives (ready or not). */
  readonly name: string;
  readonly engine: SimulatedEngine;
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
  readonly name: string;
  /** Allocation order, for evicting the most recently started first; null while pending. */
  startedSeq: number | null;
  /** Reconciles seen while holding devices, after the one that started it. */
  age: number;
  /** The serving engine, while the replica is ready and its engine listens. */
  engine?: SimulatedEngine | undefined;
  starting?: boolean;
}

interface Deployment {
  placement: DesiredPlacement;
  /** Joules its devices used since the cluster began measuring it, and the reading that was last. */
  energy?: { joules: number; atMs: number; generated: number };
  replicas: Replica[];
  /** The placement's `servingKey`, or one of the cluster's own while the platform sends none. */
  servingKey: string;
  /** Replicas made so far, for their names. */
  made: number;
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
  readonly #tokensPerSecondPerDevice: number;
  readonly #host: string | undefined;
  readonly #deviceWatts: ((deviceModel: string) => number | undefined) | undefined;
  readonly #now: () => number;
  // Engines being closed, so that close() can wait for every one.
  readonly #closing = new Set<Promise<void>>();
  #closed = false;
  #seq = 0;
  #reconciles = 0;

  constructor(spec: SimulatedClusterSpec, opts: SimulatedClusterOptions = {}) {
    this.spec = spec;
    this.#readyAfter = opts.readyAfterReconciles ?? 1;
    if (!Number.isInteger(this.#readyAfter) || this.#readyAfter < 0) {
      throw new RangeError('readyAfterReconciles must be a non-negative integer');
    }
    this.#tokensPerSecondPerDevice = opts.tokensPerSecondPerDevice ?? OUTPUT_TOKENS_PER_MIN_PER_DEVICE / 60;
    if (!(this.#tokensPerSecondPerDevice > 0)) throw new RangeError('tokensPerSecondPerDevice must be positive');
    this.#host = opts.host;
    this.#deviceWatts = opts.deviceWatts;
    this.#now = opts.now ?? Date.now;
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

  /**
   * Every deployment, in creation order, with its ready replicas and their engines' base URLs (the
   * first {@link MAX_REPORTED_ENDPOINTS} of them).
   */
  async running(): Promise<RunningPlacement[]> {
    const now = this.#now();
    return [...this.#deployments.values()].map((d) => ({
      id: d.placement.id,
      readyReplicas: readyOf(d, this.#readyAfter),
      endpoints: d.replicas.flatMap((r) => (r.engine ? [r.engine.url] : [])).slice(0, MAX_REPORTED_ENDPOINTS),
      ...this.#power(d, now),
    }));
  }

  /**
   * A placement's power now and the energy its devices used so far, as a power exporter would have
   * it measured: every started replica's devices draw {@link IDLE_POWER_SHARE} of their rated
   * power, plus the rest in proportion to the tokens the replicas generated since the last reading
   * against their full speed. Nothing without a rated power for the device model.
   */
  #power(d: Deployment, now: number): { energyJoules: number; powerWatts: number } | Record<string, never> {
    const rated = this.#deviceWatts?.(d.placement.deviceModel);
    if (rated === undefined || !(rated > 0)) return {};
    const devices = d.replicas.filter((r) => r.startedSeq !== null).length * d.placement.devicesPerReplica;
    let generated = 0;
    for (const r of d.replicas) if (r.engine) generated += r.engine.counters.generationTokensTotal;
    const last = d.energy;
    let watts = devices * rated * IDLE_POWER_SHARE;
    let joules = last?.joules ?? 0;
    if (last && now > last.atMs) {
      const seconds = (now - last.atMs) / 1000;
      const fullSpeed = devices * (OUTPUT_TOKENS_PER_MIN_PER_DEVICE / 60) * seconds;
      // Engines that stopped take their counters with them: what they made is then not known.
      const made = Math.max(0, generated - last.generated);
      const load = fullSpeed > 0 ? Math.min(1, made / fullSpeed) : 0;
      watts = devices * rated * (IDLE_POWER_SHARE + (1 - IDLE_POWER_SHARE) * load);
      if (now - last.atMs <= MAX_ENERGY_STEP_MS) joules += watts * seconds;
    }
    d.energy = { joules, atMs: Math.max(now, last?.atMs ?? now), generated };
    return { energyJoules: Math.round(joules * 1000) / 1000, powerWatts: Math.round(watts * 1000) / 1000 };
  }

  /**
   * One step of the cluster's life: removes deployments not in `desired`, creates and scales the
   * rest (a placement whose device model or replica size changed is started anew), ages started
   * replicas, then starts pending replicas while healthy devices of their model are free. Resolves
   * once every ready replica's engine listens and every other replica's engine is closing.
   */
  async reconcile(desired: readonly DesiredPlacement[]): Promise<void> {
    this.#reconciles += 1;
    const wanted = new Map(desired.map((p) => [p.id, p]));
    for (const [id, d] of this.#deployments) {
      if (!wanted.has(id)) this.#remove(id, d);
    }
    for (const placement of wanted.values()) {
      const current = this.#deployments.get(placement.id);
      if (!current || current.placement.deviceModel !== placement.deviceModel || current.placement.devicesPerReplica !== placement.devicesPerReplica) {
        if (current) this.#remove(placement.id, current);
        const servingKey = placement.servingKey ?? `sk-sim-${randomBytes(18).toString('base64url')}`;
        this.#deployments.set(placement.id, { placement, replicas: [], servingKey, made: 0 });
        continue;
      }
      current.placement = placement;
      // A rotated key is taken by the running engines, as a reloaded secret would be.
      if (placement.servingKey !== undefined && placement.servingKey !== current.servingKey) {
        current.servingKey = placement.servingKey;
        for (const r of current.replicas) if (r.engine) r.engine.servingKey = placement.servingKey;
      }
      for (const replica of current.replicas) {
        if (replica.startedSeq !== null) replica.age += 1;
      }
    }
    for (const d of this.#deployments.values()) for (const gone of scale(d)) this.#stopServing(gone);
    this.#evictOverHealthy();
    this.#startPending();
    await this.#serveReady();
  }

  /** The ready replicas whose engines listen, in deployment order. */
  pods(): SimulatedPodView[] {
    return [...this.#deployments.values()].flatMap((d) =>
      d.replicas.flatMap((r) =>
        r.engine
          ? [
              {
                placementId: d.placement.id,
                workloadId: d.placement.workloadId,
                model: d.placement.model,
                devicesPerReplica: d.placement.devicesPerReplica,
                name: r.name,
                engine: r.engine,
              },
            ]
          : [],
      ),
    );
  }

  /** Closes every engine and starts no more; the cluster keeps its state. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const d of this.#deployments.values()) for (const r of d.replicas) this.#stopServing(r);
    while (this.#closing.size > 0) await Promise.all(this.#closing);
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

  #remove(id: string, d: Deployment): void {
    for (const r of d.replicas) this.#stopServing(r);
    this.#deployments.delete(id);
  }

  #stopServing(replica: Replica): void {
    const engine = replica.engine;
    if (!engine) return;
    replica.engine = undefined;
    const closing = engine.close().finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }

  /** Starts an engine for every ready replica that has none. */
  async #serveReady(): Promise<void> {
    const starts: Promise<void>[] = [];
    for (const d of this.#deployments.values()) {
      for (const replica of d.replicas) {
        if (this.#closed || replica.engine || replica.starting || !isReady(replica, this.#readyAfter)) continue;
        replica.starting = true;
        const start = SimulatedEngine.start({
          model: d.placement.model,
          servingKey: d.servingKey,
          tokensPerSecond: d.placement.devicesPerReplica * this.#tokensPerSecondPerDevice,
          host: this.#host,
        })
          .then((engine) => {
            replica.engine = engine;
            engine.servingKey = d.servingKey;
            // The replica may have lost its devices, or its placement gone, while the engine started.
            if (this.#closed || this.#deployments.get(d.placement.id) !== d || !d.replicas.includes(replica) || !isReady(replica, this.#readyAfter)) {
              this.#stopServing(replica);
            }
          })
          .finally(() => (replica.starting = false));
        starts.push(start);
      }
    }
    await Promise.all(starts);
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
        this.#stopServing(replica);
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

function isReady(r: Replica, readyAfter: number): boolean {
  return r.startedSeq !== null && r.age >= readyAfter;
}

function readyOf(d: Deployment, readyAfter: number): number {
  return d.replicas.filter((r) => isReady(r, readyAfter)).length;
}

/**
 * Adds pending replicas, or removes the surplus: pending ones first, then the youngest started.
 * Answers the removed replicas.
 */
function scale(d: Deployment): Replica[] {
  const want = d.placement.replicas;
  while (d.replicas.length < want) d.replicas.push({ name: `${d.placement.id}-${d.made++}`, startedSeq: null, age: 0 });
  if (d.replicas.length <= want) return [];
  d.replicas.sort((a, b) => rank(a) - rank(b));
  return d.replicas.splice(want);
}

// Lower ranks are kept: started replicas by start order, then pending ones.
function rank(r: Replica): number {
  return r.startedSeq ?? Number.MAX_SAFE_INTEGER;
}

function nonNegativeInt(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('device count must be a non-negative integer');
  return n;
}
