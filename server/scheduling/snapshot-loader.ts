/**
 * Reads what one scheduling cycle needs from the database into the scheduler's immutable
 * Snapshot (scheduler/framework/types.ts).
 */
import { MICRO, parseMicro, placementStdMicro } from '../../scheduler/capacity.js';
import type {
  ClusterSnap,
  DeviceSlot,
  ModelSnap,
  PlacementSnap,
  Priority,
  ProfileSnap,
  Snapshot,
  TenantSnap,
  WeightSource,
  WeightSourceKind,
  WeightSourcesReport,
  WorkloadSnap,
} from '../../scheduler/framework/types.js';
import { decayUsage } from '../../scheduler/fair-share.js';
import { PRIORITY_RANK } from '../../scheduler/snapshot.js';
import type { CatalogRepository, ModelRow } from '../repositories/catalog.repository.js';
import type { ClustersRepository } from '../repositories/clusters.repository.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { PlanRow, PlansRepository, SubscriptionRow } from '../repositories/plans.repository.js';
import type { ActivePlacement, PendingWorkload, WorkloadsRepository } from '../repositories/workloads.repository.js';
import { clusterState, takesPlacements } from '../services/cluster-view.js';

export interface LoadedState {
  readonly snapshot: Snapshot;
  /** Clusters not ready by the TTL that still have active placements. */
  readonly lostClusterIds: readonly string[];
  /**
   * The priority a tenant's workload is scheduled with: its own, lowered to the tenant's
   * `maxPriority` (priority is granted, not self-declared: a grant taken back, or a workload from
   * before grants existed, never preempts above it).
   */
  readonly priorityOf: (tenantId: string, priority: string) => Priority;
}

export interface SnapshotSources {
  readonly clusters: ClustersRepository;
  readonly catalog: CatalogRepository;
  readonly tenants: TenantsRepository;
  readonly workloads: WorkloadsRepository;
  readonly plans: PlansRepository;
  /** Tenants whose hard-capped plan is used up this period. */
  readonly exhausted?: (known: { active: readonly SubscriptionRow[]; plans: readonly PlanRow[] }) => Promise<ReadonlySet<string>>;
  readonly ttlMs: number;
  readonly halfLifeMs: number;
  /** How long a cluster where a placement of a model failed is avoided for that model, in ms; 0 or absent: not at all. */
  readonly avoidFailedMs?: number;
  /**
   * Joules per standard token measured on (cluster, profile name), keyed `clusterId \0 profile`,
   * where there is enough measurement (energy.service.ts); the energy scorer prefers it to the TDP estimate.
   */
  readonly measuredEnergy?: (now: Date) => Promise<ReadonlyMap<string, number>>;
}

export function modelSnap(m: ModelRow): ModelSnap {
  return {
    id: m.id,
    name: m.name,
    minMemoryGiB: parseMicro(m.min_memory_gib),
    costFactor: parseMicro(m.cost_factor),
    vendors: m.vendors,
    source: (m.source as WeightSource | null) ?? null,
  };
}

export function workloadSnap(w: PendingWorkload, priorityOf: LoadedState['priorityOf'] = (_, p) => p as Priority): WorkloadSnap {
  return {
    id: w.id,
    tenantId: w.tenant_id,
    seq: w.seq,
    modelId: w.model_id,
    tokensPerMin: w.tokens_per_min,
    priority: priorityOf(w.tenant_id, w.priority),
    regions: w.regions,
    ha: w.ha,
  };
}

/**
 * Reads a snapshot. `activePlacements` gives the active placements: read from the database unless the
 * caller keeps a copy (the leading scheduler does, see active-placements.ts).
 */
export async function loadSnapshot(
  src: SnapshotSources,
  now: Date,
  activePlacements: () => Promise<readonly ActivePlacement[]> = () => src.workloads.active(),
): Promise<LoadedState> {
  const avoidMs = src.avoidFailedMs ?? 0;
  const [clusterRows, inventory, profileRows, modelRows, tenantRows, active, subscriptions, planRows, recentFailures, sourceRows, nodeRows] = await Promise.all(
    [
      src.clusters.forScheduling(),
      src.clusters.healthyDevices(),
      src.catalog.allProfiles(),
      src.catalog.allModels(),
      src.tenants.all(),
      activePlacements(),
      src.plans.activeAt(now),
      src.plans.all(),
      avoidMs > 0 ? src.workloads.recentFailures(new Date(now.getTime() - avoidMs)) : undefined,
      src.catalog.clusterSources(),
      // A node report older than the TTL is stale (an agent that stopped sending it): device counts decide.
      src.clusters.nodeFits(new Date(now.getTime() - src.ttlMs)),
    ],
  );
  const nodesOf = new Map(nodeRows.map((r) => [r.cluster_id, r]));
  // A failed read of the measured figures leaves the scorer on the catalog's TDP estimate.
  const measured = src.measuredEnergy ? await src.measuredEnergy(now).catch(() => undefined) : undefined;
  const exhausted = src.exhausted ? await src.exhausted({ active: subscriptions, plans: planRows }) : new Set<string>();
  const plans = new Map(planRows.map((p) => [p.id, p]));
  // Quota: the tenant's override, else its subscription's reserved throughput, else none.
  const reserved = new Map(subscriptions.map((s) => [s.tenant_id, plans.get(s.plan_id)?.reserved_std_per_min ?? null]));

  const maxPriority = new Map(tenantRows.map((t) => [t.id, (t.max_priority as Priority | undefined) ?? 'normal']));
  const priorityOf = (tenantId: string, priority: string): Priority => {
    const max = maxPriority.get(tenantId) ?? 'normal';
    return PRIORITY_RANK[priority as Priority] > PRIORITY_RANK[max] ? max : (priority as Priority);
  };

  const profiles = new Map<string, ProfileSnap>();
  for (const p of profileRows) {
    const snap: ProfileSnap = {
      id: p.id,
      name: p.name,
      vendor: p.vendor,
      resourceName: p.resource_name,
      memoryGiB: parseMicro(p.memory_gib),
      stdTokensPerSec: parseMicro(p.std_tokens_per_sec),
      tdpWatts: parseMicro(p.tdp_watts),
    };
    profiles.set(p.name, snap);
    for (const a of p.aliases) profiles.set(a, snap);
  }

  const held = new Map<string, number>();
  const placements: PlacementSnap[] = [];
  // Quota counts what placements hold (whole replicas), so a workload's standard tokens are the
  // sum over its placements, summed in whole millionths (exact below 2^53) and divided once: the
  // division rounds to the double nearest the exact decimal, which the working copy's toMicro
  // reads back as the same integer below 2^50 millionths (10^9 std/min).
  const workloadHeld = new Map<string, number>();
  const tenantHeld = new Map<string, number>();
  const clustersWithPlacements = new Set<string>();
  for (const a of active) {
    const stdMicro = placementStdMicro(a.tokens_per_min, parseMicro(a.cost_factor));
    workloadHeld.set(a.workload_id, (workloadHeld.get(a.workload_id) ?? 0) + stdMicro);
    tenantHeld.set(a.tenant_id, (tenantHeld.get(a.tenant_id) ?? 0) + stdMicro);
  }
  for (const a of active) {
    const key = `${a.cluster_id}\u0000${a.device_model}`;
    held.set(key, (held.get(key) ?? 0) + a.replicas * a.devices_per_replica);
    clustersWithPlacements.add(a.cluster_id);
    placements.push({
      id: a.id,
      workloadId: a.workload_id,
      tenantId: a.tenant_id,
      priority: priorityOf(a.tenant_id, a.priority),
      seq: a.workload_seq,
      clusterId: a.cluster_id,
      deviceModel: a.device_model,
      replicas: a.replicas,
      devicesPerReplica: a.devices_per_replica,
      tokensPerMin: a.tokens_per_min,
      stdPerMin: workloadHeld.get(a.workload_id)! / MICRO,
    });
  }

  const invByCluster = new Map<string, typeof inventory>();
  for (const row of inventory) {
    const list = invByCluster.get(row.cluster_id) ?? [];
    list.push(row);
    invByCluster.set(row.cluster_id, list);
  }

  const lostClusterIds: string[] = [];
  const clusters: ClusterSnap[] = clusterRows.map((c) => {
    const state = clusterState({ cordoned: c.cordoned, lastHeartbeatAt: c.last_heartbeat_at }, now, src.ttlMs);
    if (state === 'not_ready' && clustersWithPlacements.has(c.id)) lostClusterIds.push(c.id);
    const devices: DeviceSlot[] = [];
    const report = nodesOf.get(c.id);
    for (const row of invByCluster.get(c.id) ?? []) {
      const profile = profiles.get(row.device_model);
      if (!profile) continue;
      const joulesPerStd = measured?.get(`${c.id}\u0000${profile.name}`);
      const nodes = report?.fit?.[row.device_model];
      devices.push({
        deviceModel: row.device_model,
        profile,
        healthy: row.healthy,
        held: held.get(`${c.id}\u0000${row.device_model}`) ?? 0,
        ...(joulesPerStd !== undefined ? { measuredJoulesPerStdToken: joulesPerStd } : {}),
        ...(nodes ? { nodes } : {}),
      });
    }
    return {
      id: c.id,
      name: c.name,
      region: c.region,
      schedulable: takesPlacements(state),
      devices,
      ...(report?.leader_worker_set ? { leaderWorkerSet: true } : {}),
    };
  });

  // Clusters whose agent never reported weight sources are absent: they are taken to load anything.
  const weightSources = new Map<string, WeightSourcesReport>();
  for (const c of clusterRows) {
    if (c.weight_sources) weightSources.set(c.id, { kinds: c.weight_sources.kinds as WeightSourceKind[], claims: c.weight_sources.claims });
  }
  const clusterSources = new Map<string, Map<string, WeightSource>>();
  for (const r of sourceRows) {
    const byCluster = clusterSources.get(r.modelId) ?? new Map<string, WeightSource>();
    byCluster.set(r.clusterId, r.source);
    clusterSources.set(r.modelId, byCluster);
  }

  const tenants = new Map<string, TenantSnap>();
  for (const t of tenantRows) {
    const heldStd = (tenantHeld.get(t.id) ?? 0) / MICRO;
    const elapsed = t.fair_share_at ? Math.max(0, now.getTime() - t.fair_share_at.getTime()) : 0;
    tenants.set(t.id, {
      id: t.id,
      maxStdPerMin: t.max_std_per_min ?? reserved.get(t.id) ?? null,
      planExhausted: exhausted.has(t.id),
      weight: t.weight,
      heldStdPerMin: heldStd,
      decayedStdPerMin: decayUsage(t.fair_share_std_per_min, elapsed, src.halfLifeMs, heldStd),
    });
  }

  return {
    snapshot: {
      clusters,
      models: new Map(modelRows.map((m) => [m.id, modelSnap(m)])),
      tenants,
      placements,
      ...(recentFailures ? { recentFailures } : {}),
      ...(weightSources.size > 0 ? { weightSources } : {}),
      ...(clusterSources.size > 0 ? { clusterSources } : {}),
    },
    lostClusterIds,
    priorityOf,
  };
}
