import type { Clock } from '../clock.js';
import type { NodeReport } from '../domain/node-report.js';
import type { PlacementFailureReason, PlacementPhase } from '../domain/placement-health.js';
import { AppError } from '../errors.js';
import { hashToken, newToken, TOKEN_PREFIX, type IdGenerator } from '../auth/tokens.js';
import type { EventBus } from '../events.js';
import type { ClusterRow, ClustersRepository, InventoryRow, ReportedDevice } from '../repositories/clusters.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { CatalogService, ClusterSource } from './catalog.service.js';
import type { WeightSource, WeightSourcesReport } from '../../scheduler/framework/types.js';
import type { PlacementEngine } from './engines.service.js';
import { computeCluster, computePool, type ClusterComputation, type ClusterFacts, type ClusterView, type PoolView, type ProfileIndex } from './cluster-view.js';

/** Devices that placements hold: cluster id → reported device model → devices. */
export type HeldDevices = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Where the devices held by placements come from (the scheduler's placements). */
export type HeldDevicesSource = (clusterIds?: readonly string[]) => Promise<HeldDevices>;

/** What an agent is told to run; the scheduler fills it. */
export interface DesiredPlacement {
  readonly id: string;
  readonly workloadId: string;
  readonly model: string;
  readonly deviceModel: string;
  readonly profile: string;
  readonly resourceName: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  /** The secret the agent gives the serving engine as its API key (migration 0018). */
  readonly servingKey: string;
  /** The serving engine to run (the engine catalog); absent when none could be resolved. */
  readonly engine?: PlacementEngine;
  /** Why `engine` is absent (no engine for the vendor, no image configured…), for the agent's log and the operator. */
  readonly engineProblem?: string;
  /** Where the weights come from (the cluster's own source for the model, else the model's); absent: none set. */
  readonly source?: WeightSource;
  /** The name the engine serves the model under (`{servedName}`); absent only where the engine catalog is not wired. */
  readonly servedName?: string;
}

/** A placement an agent reports running: its ready replicas, and their serving endpoints when it says. */
export interface RunningReport {
  readonly id: string;
  readonly readyReplicas: number;
  /** Base URLs of the ready replicas' servers; undefined: not reported (left as they were). */
  readonly endpoints?: readonly string[] | undefined;
  /** What its pods do (placement-health.ts); undefined: not reported (health left as it was). */
  readonly phase?: PlacementPhase | undefined;
  /** Why it is failing; null or undefined: no reason given. */
  readonly reason?: PlacementFailureReason | null | undefined;
  readonly message?: string | null | undefined;
  readonly desiredReplicas?: number | undefined;
  /** Joules the placement's devices used since the agent began measuring (a counter that resets when the agent restarts). */
  readonly energyJoules?: number | undefined;
  /** Power the placement's devices draw now, in watts. */
  readonly powerWatts?: number | undefined;
}

/** The placements side of a cluster (the workloads repository): what they hold, what agents run. */
export interface ClusterPlacements {
  /** Devices held per cluster; none before the scheduler places anything. */
  held?: HeldDevicesSource;
  /** The desired set answered to a heartbeat, each placement with its engine and weights (the engine catalog). */
  desired?: (clusterId: string) => Promise<readonly DesiredPlacement[]>;
  /** Records what an agent reports running (ready replicas per placement), before its desired set is answered. */
  recordReady?: (clusterId: string, running: readonly RunningReport[], now: Date) => Promise<unknown>;
  /** Records the energy and ready replicas agents report per placement (energy.service.ts). */
  recordEnergy?: (clusterId: string, running: readonly RunningReport[], now: Date) => Promise<unknown>;
}

/** What an agent may report of its nodes and capabilities beside its inventory (both optional). */
/** What a heartbeat may report beside inventory and placements (all optional: old agents send none). */
export interface HeartbeatReports {
  /** What the cluster can load weights from; absent: unchanged. */
  readonly weightSources?: WeightSourcesReport | undefined;
  /** Free devices per node and device model; absent: not reported (device counts decide). */
  readonly nodes?: readonly NodeReport[] | undefined;
  readonly capabilities?: { readonly leaderWorkerSet: boolean } | undefined;
}

/** A cluster's view with its nodes as its agent last reported them (`GET /api/v1/clusters/:id`). */
export type ClusterDetail = ClusterView & {
  /** null: the agent never reported nodes. */
  readonly nodes: readonly NodeReport[] | null;
  readonly nodesReportedAt: string | null;
  readonly capabilities: { readonly leaderWorkerSet: boolean };
};

const EMPTY: HeldDevices = new Map();

function facts(r: ClusterRow): ClusterFacts {
  return {
    id: r.id,
    name: r.name,
    region: r.region,
    labels: r.labels,
    cordoned: r.cordoned,
    lastHeartbeatAt: r.last_heartbeat_at,
    createdAt: r.created_at,
    providerId: r.provider_id,
  };
}

function groupInventory(rows: readonly InventoryRow[]): Map<string, { deviceModel: string; total: number; healthy: number }[]> {
  const by = new Map<string, { deviceModel: string; total: number; healthy: number }[]>();
  for (const r of rows) {
    const list = by.get(r.cluster_id) ?? [];
    list.push({ deviceModel: r.device_model, total: r.total, healthy: r.healthy });
    by.set(r.cluster_id, list);
  }
  return by;
}

/**
 * Member clusters: registration, agents' heartbeats, cordons, and the cluster and pool views.
 * Emits `heartbeat.recorded`, `inventory.changed`, `cluster.changed` and `credential.revoked`.
 */
export class ClustersService {
  constructor(
    private readonly repo: ClustersRepository,
    private readonly catalog: CatalogService,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly events: EventBus,
    private readonly ttlMs: number,
    private readonly placements: ClusterPlacements = {},
  ) {}

  /** Registers a cluster; the agent token is in the answer only, the database keeps its hash. */
  async register(input: { name: string; region: string; labels?: Record<string, string> }): Promise<ClusterView & { agentToken: string }> {
    const now = this.clock.now();
    const agentToken = newToken(TOKEN_PREFIX.agent);
    const row = await this.repo.insert({
      id: this.ids.next('cl'),
      name: input.name,
      region: input.region,
      labels: input.labels ?? {},
      tokenHash: hashToken(agentToken),
      now,
    });
    const view = (await this.compute([row]))[0]!.view;
    return { ...view, agentToken };
  }

  /** Issues a new agent token for a cluster; the old one stops working at once. */
  async rotateAgentToken(id: string): Promise<{ id: string; agentToken: string }> {
    const agentToken = newToken(TOKEN_PREFIX.agent);
    if (!(await this.repo.setTokenHash(id, hashToken(agentToken)))) throw notFound();
    this.events.emit('credential.revoked', { kind: 'agent', clusterId: id });
    return { id, agentToken };
  }

  /** The cluster with this name, if registered. */
  async findByName(name: string): Promise<ClusterView | undefined> {
    const row = await this.repo.getByName(name);
    return row && (await this.compute([row]))[0]!.view;
  }

  async list(page: PageRequest): Promise<Page<ClusterView>> {
    const rows = await this.repo.list(page);
    const computed = await this.compute(rows.slice(0, page.limit));
    return toPage(rows, page.limit, (r) => computed.find((c) => c.view.id === r.id)!.view);
  }

  async get(id: string): Promise<ClusterDetail> {
    const [row, report] = await Promise.all([this.repo.get(id), this.repo.nodeReport(id)]);
    if (!row) throw notFound();
    const view = (await this.compute([row]))[0]!.view;
    return {
      ...view,
      nodes: report?.nodes ?? null,
      nodesReportedAt: report && report.nodes ? report.reported_at.toISOString() : null,
      capabilities: { leaderWorkerSet: report?.leader_worker_set ?? false },
    };
  }

  async setCordoned(id: string, cordoned: boolean): Promise<ClusterView> {
    const row = await this.repo.setCordoned(id, cordoned);
    if (!row) throw notFound();
    this.events.emit('cluster.changed', { clusterIds: [id], change: cordoned ? 'cordoned' : 'uncordoned' });
    return (await this.compute([row]))[0]!.view;
  }

  async remove(id: string): Promise<void> {
    if (!(await this.repo.delete(id, this.clock.now()))) throw notFound();
    this.events.emit('credential.revoked', { kind: 'agent', clusterId: id });
    // Its workloads went back to pending.
    this.events.emit('cluster.changed', { clusterIds: [id], change: 'removed' });
  }

  /** Records an agent's heartbeat and answers the cluster's complete desired set. */
  async heartbeat(
    clusterId: string,
    inventory: readonly ReportedDevice[],
    running: readonly RunningReport[] = [],
    report: HeartbeatReports = {},
  ): Promise<{ clusterId: string; placements: readonly DesiredPlacement[] }> {
    const now = this.clock.now();
    const recorded = await this.repo.recordHeartbeat(clusterId, inventory, now, report.weightSources);
    // Old agents send neither: nothing to write, and their clusters keep device-count scheduling.
    const nodesChanged =
      report.nodes !== undefined || report.capabilities !== undefined
        ? await this.repo.recordNodes(clusterId, report.nodes, report.capabilities?.leaderWorkerSet ?? false, now)
        : false;
    await this.placements.recordReady?.(clusterId, running, now);
    await this.placements.recordEnergy?.(clusterId, running, now);
    this.events.emit('heartbeat.recorded', { clusterId });
    if (recorded.inventoryChanged || nodesChanged) this.events.emit('inventory.changed', { clusterId });
    if (recorded.previousLiveness !== 'ready') this.events.emit('cluster.changed', { clusterIds: [clusterId], change: 'ready' });
    const desired = this.placements.desired ? await this.placements.desired(clusterId) : [];
    return { clusterId, placements: desired };
  }

  /** What a cluster's agent reported it can load weights from (null: never), and the cluster's own sources by model. */
  async weights(clusterId: string): Promise<{ reported: WeightSourcesReport | null; items: ClusterSource[] }> {
    const row = await this.repo.get(clusterId);
    if (!row) throw notFound();
    return { reported: row.weight_sources ? (row.weight_sources as WeightSourcesReport) : null, items: await this.catalog.clusterSources(clusterId) };
  }

  /** Sets the cluster's own source for a model (404 for an unknown cluster or model); the scheduler looks again. */
  async putWeights(clusterId: string, modelId: string, source: WeightSource): Promise<ClusterSource> {
    if (!(await this.repo.get(clusterId))) throw notFound();
    const set = await this.catalog.putClusterSource(modelId, clusterId, source);
    this.events.emit('inventory.changed', { clusterId });
    return set;
  }

  /** Removes the cluster's own source for a model: the model's applies there again. */
  async deleteWeights(clusterId: string, modelId: string): Promise<void> {
    if (!(await this.catalog.deleteClusterSource(modelId, clusterId))) {
      throw new AppError('not_found', 'This cluster has no source of its own for this model.');
    }
    this.events.emit('inventory.changed', { clusterId });
  }

  async pool(): Promise<PoolView> {
    return computePool(await this.compute(await this.repo.all()));
  }

  /** Views of the given rows, with their inventory, profiles and held devices loaded in bulk. */
  async compute(rows: readonly ClusterRow[], profiles?: ProfileIndex): Promise<ClusterComputation[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [inventory, index, held] = await Promise.all([
      this.repo.inventory(rows.length > 200 ? undefined : ids),
      profiles ?? this.catalog.profileIndex(),
      this.placements.held ? this.placements.held(ids) : EMPTY,
    ]);
    const byCluster = groupInventory(inventory);
    const now = this.clock.now();
    return rows.map((r) => computeCluster(facts(r), byCluster.get(r.id) ?? [], index, held.get(r.id) ?? new Map(), now, this.ttlMs));
  }
}

function notFound(): AppError {
  return new AppError('not_found', 'No cluster has this id.');
}
