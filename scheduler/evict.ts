/**
 * Eviction after an inventory shrank: placements that no longer fit their slot's healthy devices.
 */
import type { Snapshot } from './framework/types.js';
import { PRIORITY_RANK, slotKey } from './snapshot.js';

interface Holder {
  readonly id: string;
  readonly rank: number;
  readonly seq: number;
  /** Devices the workload holds per slot key. */
  readonly devices: Map<string, number>;
}

/**
 * Chooses workloads to evict so that no device slot holds more devices than it reports healthy
 * (an agent reported fewer healthy devices than placements hold).
 *
 * - A slot's holding is its `held` in the snapshot; a placement on a device model its (known)
 *   cluster no longer reports counts against a slot with 0 healthy devices. Placements on clusters
 *   missing from the snapshot are not judged here.
 * - Whole workloads are evicted (all their placements), lowest priority first and, within a
 *   priority, newest `seq` first; only workloads holding devices on a slot that still overflows are
 *   taken. Then, most important first, a chosen workload is spared again if every slot still fits
 *   with it kept, so none is evicted needlessly.
 * - Answers the evicted workload ids in eviction order; empty when every slot fits. Pure.
 */
export function evictOvercommitted(snapshot: Snapshot): { evicted: string[] } {
  const clusters = new Set<string>();
  const healthy = new Map<string, number>();
  const held = new Map<string, number>();
  for (const c of snapshot.clusters) {
    clusters.add(c.id);
    for (const d of c.devices) {
      const key = slotKey(c.id, d.deviceModel);
      healthy.set(key, Math.max(0, d.healthy));
      held.set(key, Math.max(0, d.held));
    }
  }

  const holders = new Map<string, Holder>();
  const missing = new Map<string, number>();
  for (const p of snapshot.placements) {
    if (!clusters.has(p.clusterId)) continue;
    const key = slotKey(p.clusterId, p.deviceModel);
    const devices = p.replicas * p.devicesPerReplica;
    if (!healthy.has(key)) missing.set(key, (missing.get(key) ?? 0) + devices);
    let h = holders.get(p.workloadId);
    if (!h) holders.set(p.workloadId, (h = { id: p.workloadId, rank: PRIORITY_RANK[p.priority], seq: p.seq, devices: new Map() }));
    h.devices.set(key, (h.devices.get(key) ?? 0) + devices);
  }
  for (const [key, devices] of missing) {
    healthy.set(key, 0);
    held.set(key, devices);
  }

  const excessOf = (key: string) => Math.max(0, (held.get(key) ?? 0) - (healthy.get(key) ?? 0));
  const overflows = (key: string) => excessOf(key) > 0;
  // Total devices held beyond healthy, over all slots: 0 when everything fits.
  let excess = 0;
  for (const key of held.keys()) excess += excessOf(key);
  if (excess === 0) return { evicted: [] };

  const candidates = [...holders.values()]
    .filter((h) => [...h.devices.keys()].some(overflows))
    .sort((a, b) => a.rank - b.rank || b.seq - a.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const move = (h: Holder, sign: 1 | -1) => {
    for (const [key, devices] of h.devices) {
      excess -= excessOf(key);
      held.set(key, (held.get(key) ?? 0) + sign * devices);
      excess += excessOf(key);
    }
  };

  const chosen: Holder[] = [];
  for (const h of candidates) {
    if (excess === 0) break;
    if (![...h.devices.keys()].some(overflows)) continue;
    move(h, -1);
    chosen.push(h);
  }
  // Spare whoever is not needed. If `held` counts devices no listed placement explains, the
  // excess cannot reach 0; sparing is then judged by whether it makes the excess grow.
  for (let i = chosen.length - 1; i >= 0; i--) {
    const h = chosen[i]!;
    const without = excess;
    move(h, +1);
    if (excess <= without) chosen.splice(i, 1);
    else move(h, -1);
  }
  return { evicted: chosen.map((h) => h.id) };
}
