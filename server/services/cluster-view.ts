/**
 * The cluster and pool read models of API.md, computed from rows in memory. Pure: the caller
 * passes the time, the TTL, the profiles and the devices that placements hold.
 */
import { inventoryCapacity, microToNumber, type InventoryCapacityRow, type Micro } from '../../scheduler/capacity.js';

export type ClusterState = 'pending' | 'ready' | 'not_ready' | 'cordoned';

/** A device profile as the capacity math needs it. */
export interface ProfileRef {
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly stdTokensPerSec: Micro;
}

/** Every name an agent may report (profile names and aliases) to its profile. */
export type ProfileIndex = ReadonlyMap<string, ProfileRef>;

export interface ClusterFacts {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly cordoned: boolean;
  readonly lastHeartbeatAt: Date | null;
  readonly createdAt: Date;
  /** The provider that owns it (migration 0029); absent or null: none. */
  readonly providerId?: string | null;
}

export interface ReportedInventory {
  readonly deviceModel: string;
  readonly total: number;
  readonly healthy: number;
}

/**
 * `pending` before the first heartbeat, `not_ready` once the last one is older than the TTL
 * (this wins over a cordon), else `cordoned` under an operator's hold, else `ready`.
 */
export function clusterState(c: Pick<ClusterFacts, 'cordoned' | 'lastHeartbeatAt'>, now: Date, ttlMs: number): ClusterState {
  if (c.lastHeartbeatAt === null) return c.cordoned ? 'cordoned' : 'pending';
  if (now.getTime() - c.lastHeartbeatAt.getTime() > ttlMs) return 'not_ready';
  return c.cordoned ? 'cordoned' : 'ready';
}

/** A state that takes new placements. */
export function takesPlacements(state: ClusterState): boolean {
  return state === 'ready';
}

export interface ClusterView {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: ClusterState;
  readonly cordoned: boolean;
  readonly lastHeartbeatAt: string | null;
  readonly createdAt: string;
  readonly providerId: string | null;
  readonly inventory: readonly { deviceModel: string; profile: string | null; vendor: string | null; total: number; healthy: number }[];
  readonly capacity: { readonly totalStdPerMin: number; readonly allocatedStdPerMin: number; readonly freeStdPerMin: number };
  readonly unprofiledDevices: readonly string[];
}

/** Per-vendor sums of one cluster, in exact millionths of standard tokens per minute. */
interface VendorSums {
  devices: number;
  total: bigint;
  allocated: bigint;
  free: bigint;
}

export interface ClusterComputation {
  readonly view: ClusterView;
  readonly total: bigint;
  readonly allocated: bigint;
  /** Σ over reported device models of max(0, healthy − held); 0 unless the cluster takes placements. */
  readonly free: bigint;
  readonly byVendor: ReadonlyMap<string, VendorSums>;
}

/**
 * Computes one cluster's view. `held` maps a reported device model to the devices placements
 * hold on it; held devices beyond the healthy count still count as allocated, but free capacity
 * is counted per device model and is never negative, so an over-held model takes nothing from
 * the others.
 */
export function computeCluster(
  c: ClusterFacts,
  inventory: readonly ReportedInventory[],
  profiles: ProfileIndex,
  held: ReadonlyMap<string, number>,
  now: Date,
  ttlMs: number,
): ClusterComputation {
  const state = clusterState(c, now, ttlMs);
  const open = takesPlacements(state);
  const vendorRows = new Map<string, InventoryCapacityRow[]>();
  const unprofiled: string[] = [];
  const rows = inventory.map((item) => {
    const p = profiles.get(item.deviceModel);
    if (!p) {
      unprofiled.push(item.deviceModel);
      return { deviceModel: item.deviceModel, profile: null, vendor: null, total: item.total, healthy: item.healthy };
    }
    const list = vendorRows.get(p.vendor) ?? [];
    list.push({ healthy: item.healthy, held: held.get(item.deviceModel) ?? 0, stdTokensPerSec: p.stdTokensPerSec });
    vendorRows.set(p.vendor, list);
    return { deviceModel: item.deviceModel, profile: p.name, vendor: p.vendor, total: item.total, healthy: item.healthy };
  });
  const byVendor = new Map<string, VendorSums>();
  let total = 0n;
  let allocated = 0n;
  let free = 0n;
  for (const [vendor, list] of vendorRows) {
    const capacity = inventoryCapacity(list);
    const v = { devices: list.reduce((n, r) => n + r.healthy, 0), ...capacity, free: open ? capacity.free : 0n };
    byVendor.set(vendor, v);
    total += v.total;
    allocated += v.allocated;
    free += v.free;
  }
  return {
    total,
    allocated,
    free,
    byVendor,
    view: {
      id: c.id,
      name: c.name,
      region: c.region,
      labels: c.labels,
      state,
      cordoned: c.cordoned,
      lastHeartbeatAt: c.lastHeartbeatAt?.toISOString() ?? null,
      createdAt: c.createdAt.toISOString(),
      providerId: c.providerId ?? null,
      inventory: rows,
      capacity: { totalStdPerMin: microToNumber(total), allocatedStdPerMin: microToNumber(allocated), freeStdPerMin: microToNumber(free) },
      unprofiledDevices: unprofiled,
    },
  };
}

export interface PoolView {
  readonly totalStdPerMin: number;
  readonly allocatedStdPerMin: number;
  readonly freeStdPerMin: number;
  readonly clusters: { readonly ready: number; readonly notReady: number; readonly cordoned: number; readonly pending: number };
  readonly byVendor: readonly { vendor: string; devices: number; totalStdPerMin: number; allocatedStdPerMin: number; freeStdPerMin: number }[];
  readonly byCluster: readonly {
    clusterId: string;
    name: string;
    region: string;
    state: ClusterState;
    totalStdPerMin: number;
    allocatedStdPerMin: number;
    freeStdPerMin: number;
  }[];
}

/**
 * The pool: totals over `ready` and `cordoned` clusters; free capacity only over clusters that
 * take new placements; `byCluster` lists every cluster with its own figures.
 */
export function computePool(clusters: readonly ClusterComputation[]): PoolView {
  let total = 0n;
  let allocated = 0n;
  let free = 0n;
  const counts = { ready: 0, notReady: 0, cordoned: 0, pending: 0 };
  const vendors = new Map<string, { devices: number; total: bigint; allocated: bigint; free: bigint }>();
  for (const c of clusters) {
    const state = c.view.state;
    if (state === 'ready') counts.ready++;
    else if (state === 'not_ready') counts.notReady++;
    else if (state === 'cordoned') counts.cordoned++;
    else counts.pending++;
    if (state !== 'ready' && state !== 'cordoned') continue;
    total += c.total;
    allocated += c.allocated;
    free += c.free;
    for (const [vendor, s] of c.byVendor) {
      const v = vendors.get(vendor) ?? { devices: 0, total: 0n, allocated: 0n, free: 0n };
      v.devices += s.devices;
      v.total += s.total;
      v.allocated += s.allocated;
      v.free += s.free;
      vendors.set(vendor, v);
    }
  }
  return {
    totalStdPerMin: microToNumber(total),
    allocatedStdPerMin: microToNumber(allocated),
    freeStdPerMin: microToNumber(free),
    clusters: counts,
    byVendor: [...vendors.entries()]
      .sort((a, b) => (a[1].total === b[1].total ? a[0].localeCompare(b[0]) : a[1].total > b[1].total ? -1 : 1))
      .map(([vendor, v]) => ({
        vendor,
        devices: v.devices,
        totalStdPerMin: microToNumber(v.total),
        allocatedStdPerMin: microToNumber(v.allocated),
        freeStdPerMin: microToNumber(v.free),
      })),
    byCluster: clusters.map((c) => ({
      clusterId: c.view.id,
      name: c.view.name,
      region: c.view.region,
      state: c.view.state,
      totalStdPerMin: c.view.capacity.totalStdPerMin,
      allocatedStdPerMin: c.view.capacity.allocatedStdPerMin,
      freeStdPerMin: c.view.capacity.freeStdPerMin,
    })),
  };
}
