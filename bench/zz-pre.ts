import { buildCity } from './schedule-core.js';
import { scheduleCycle } from '../scheduler/schedule.js';
import type { PlacementSnap, Snapshot } from '../scheduler/framework/types.js';
const { snapshot, pending } = buildCity();
// Steady state: place the low/normal part of the queue first, then feed all of it again.
const lowFirst = pending.filter((w) => w.priority !== 'high');
const r0 = scheduleCycle({ snapshot, pending: lowFirst });
const byId = new Map(pending.map((w) => [w.id, w]));
const placements: PlacementSnap[] = [];
const held = new Map<string, number>();
for (const d of r0.decisions) {
  if (d.kind !== 'place') continue;
  const w = byId.get(d.workloadId)!;
  const cf = snapshot.models.get(w.modelId)!.costFactor;
  d.placements.forEach((p, i) => {
    placements.push({ id: `${w.id}-${i}`, workloadId: w.id, tenantId: w.tenantId, priority: w.priority, seq: w.seq, clusterId: p.clusterId, deviceModel: p.deviceModel, replicas: p.replicas, devicesPerReplica: p.devicesPerReplica, tokensPerMin: p.tokensPerMin, stdPerMin: (w.tokensPerMin * cf) / 1e6 });
    const k = `${p.clusterId}/${p.deviceModel}`;
    held.set(k, (held.get(k) ?? 0) + p.replicas * p.devicesPerReplica);
  });
}
const placedIds = new Set(placements.map((p) => p.workloadId));
const steady: Snapshot = {
  ...snapshot,
  clusters: snapshot.clusters.map((c) => ({ ...c, devices: c.devices.map((d) => ({ ...d, held: held.get(`${c.id}/${d.deviceModel}`) ?? 0 })) })),
  placements,
};
const rest = pending.filter((w) => !placedIds.has(w.id));
for (let i = 0; i < 2; i++) {
  const t = performance.now();
  const r = scheduleCycle({ snapshot: steady, pending: rest });
  const s = (performance.now() - t) / 1000;
  let pre = 0, pl = 0;
  for (const d of r.decisions) if (d.kind === 'place') { pl++; pre += d.preempted.length; }
  console.log({ placements: placements.length, pending: rest.length, placed: pl, preempted: pre, seconds: s.toFixed(3), perSec: Math.round(rest.length / s) });
}
