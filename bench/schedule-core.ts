/**
 * Benchmark of the pure placement core: one scheduling cycle over a mid-size city (DESIGN.md
 * "Scale"): 1,000 clusters × 100 accelerators of three vendors in 10 regions, and 100,000 pending
 * workloads of mixed models, sizes, priorities, regions and tenants.
 *
 * Run: `npx tsx bench/schedule-core.ts` — prints one JSON line. The city is built from a fixed
 * seed, so runs are comparable. The cycle is pure, so it is run once to warm the JIT and then
 * timed on the same input (the leader runs cycles back to back; a cold first cycle is reported
 * as `coldSeconds`).
 *
 * `npx tsx bench/schedule-core.ts --preemption` instead times a steady state heavy on preemption:
 * the city already full of the queue's `normal` and `low` workloads, and the rest of the queue
 * (every `high` workload among it) pending.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

import { parseMicro } from '../scheduler/capacity.js';
import type {
  ClusterSnap,
  CycleResult,
  DeviceSlot,
  ModelSnap,
  PlacementSnap,
  Priority,
  ProfileSnap,
  Snapshot,
  TenantSnap,
  WorkloadSnap,
} from '../scheduler/framework/types.js';
import { scheduleCycle } from '../scheduler/schedule.js';

const CLUSTERS = 1000;
const DEVICES_PER_CLUSTER = 100;
const WORKLOADS = 100_000;
const TENANTS = 200;
const REGIONS = ['nansha', 'huangpu', 'tianhe', 'panyu', 'baiyun', 'haizhu', 'liwan', 'yuexiu', 'huadu', 'zengcheng'];

const m = (text: string) => parseMicro(text);

const PROFILES = {
  h100: {
    id: 'p-h100',
    name: 'NVIDIA-H100-80GB',
    vendor: 'nvidia',
    resourceName: 'nvidia.com/gpu',
    memoryGiB: m('80'),
    stdTokensPerSec: m('3000'),
    tdpWatts: m('700'),
  },
  ascend: {
    id: 'p-910b',
    name: 'Ascend-910B',
    vendor: 'huawei',
    resourceName: 'huawei.com/Ascend910',
    memoryGiB: m('64'),
    stdTokensPerSec: m('1200'),
    tdpWatts: m('400'),
  },
  mlu: {
    id: 'p-mlu590',
    name: 'MLU590',
    vendor: 'cambricon',
    resourceName: 'cambricon.com/mlu',
    memoryGiB: m('80'),
    stdTokensPerSec: m('1100'),
    tdpWatts: m('350'),
  },
} satisfies Record<string, ProfileSnap>;

const MODELS: readonly ModelSnap[] = [
  { id: 'm-7b', name: 'qwen2.5-7b-instruct', minMemoryGiB: m('20'), costFactor: m('1'), vendors: [] },
  { id: 'm-32b', name: 'qwen2.5-32b-instruct', minMemoryGiB: m('80'), costFactor: m('4.5'), vendors: [] },
  { id: 'm-72b', name: 'qwen2.5-72b-instruct', minMemoryGiB: m('160'), costFactor: m('10'), vendors: ['nvidia', 'huawei'] },
];

/** Device mixes of a cluster (100 devices each), as [profile, count] slots. */
const MIXES: ReadonlyArray<ReadonlyArray<readonly [ProfileSnap, number]>> = [
  [[PROFILES.h100, 100]],
  [
    [PROFILES.h100, 50],
    [PROFILES.ascend, 50],
  ],
  [
    [PROFILES.ascend, 60],
    [PROFILES.mlu, 40],
  ],
  [
    [PROFILES.h100, 40],
    [PROFILES.ascend, 30],
    [PROFILES.mlu, 30],
  ],
];

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The benchmark city and its queue, from a fixed seed. */
export function buildCity(seed = 20261020): { snapshot: Snapshot; pending: WorkloadSnap[] } {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const clusters: ClusterSnap[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    const mix = MIXES[i % MIXES.length]!;
    const devices: DeviceSlot[] = mix.map(([profile, count]) => ({
      deviceModel: profile.name,
      profile,
      // A few slots report some devices unhealthy.
      healthy: rnd() < 0.05 ? count - 1 - Math.floor(rnd() * 4) : count,
      held: 0,
    }));
    clusters.push({ id: `cl-${i}`, name: `cluster-${i}`, region: REGIONS[i % REGIONS.length]!, schedulable: rnd() >= 0.02, devices });
  }

  const tenants = new Map<string, TenantSnap>();
  for (let t = 0; t < TENANTS; t++) {
    tenants.set(`t-${t}`, {
      id: `t-${t}`,
      maxStdPerMin: rnd() < 0.2 ? Math.round(5 + rnd() * 45) * 1_000_000 : null,
      planExhausted: t % 50 === 49,
      weight: 1 + Math.floor(rnd() * 3),
      heldStdPerMin: 0,
      decayedStdPerMin: Math.round(rnd() * 5_000_000),
    });
  }

  const pending: WorkloadSnap[] = [];
  for (let i = 0; i < WORKLOADS; i++) {
    const r = rnd();
    const model = r < 0.5 ? MODELS[0]! : r < 0.8 ? MODELS[1]! : MODELS[2]!;
    // Log-uniform between 5,000 and 500,000 tokens/min, in thousands.
    const tokensPerMin = Math.round((5_000 * Math.pow(100, rnd())) / 1000) * 1000;
    const p = rnd();
    const priority: Priority = p < 0.1 ? 'high' : p < 0.7 ? 'normal' : 'low';
    const g = rnd();
    const regions = g < 0.3 ? null : g < 0.8 ? [pick(REGIONS)] : [pick(REGIONS), pick(REGIONS)];
    pending.push({
      id: `w-${i}`,
      tenantId: `t-${Math.floor(rnd() * TENANTS)}`,
      seq: i,
      modelId: model.id,
      tokensPerMin,
      priority,
      regions,
      ha: rnd() < 0.1,
    });
  }

  return { snapshot: { clusters, models: new Map(MODELS.map((x) => [x.id, x])), tenants, placements: [] }, pending };
}

export async function benchScheduleCore(): Promise<Record<string, unknown>> {
  const { snapshot, pending } = buildCity();
  const healthyDevices = snapshot.clusters.reduce((a, c) => a + c.devices.reduce((b, d) => b + d.healthy, 0), 0);
  const { result, seconds, coldSeconds } = timeCycle(snapshot, pending);
  return {
    bench: 'schedule.core',
    clusters: snapshot.clusters.length,
    devices: CLUSTERS * DEVICES_PER_CLUSTER,
    healthyDevices,
    workloads: pending.length,
    ...summary(result),
    seconds: round(seconds),
    coldSeconds: round(coldSeconds),
    decisionsPerSec: Math.round(result.decisions.length / seconds),
  };
}

/**
 * The same city in a steady state: the queue's `normal` and `low` workloads placed by a first
 * cycle and held as placements; the rest (all `high` workloads and what did not fit) pending.
 */
export async function benchSchedulePreemption(): Promise<Record<string, unknown>> {
  const city = buildCity();
  const byId = new Map(city.pending.map((w) => [w.id, w]));
  const first = scheduleCycle({ snapshot: city.snapshot, pending: city.pending.filter((w) => w.priority !== 'high') });
  const placements: PlacementSnap[] = [];
  const held = new Map<string, number>();
  const tenantHeld = new Map<string, number>();
  for (const d of first.decisions) {
    if (d.kind !== 'place') continue;
    const w = byId.get(d.workloadId)!;
    const stdPerMin = (w.tokensPerMin * city.snapshot.models.get(w.modelId)!.costFactor) / 1_000_000;
    tenantHeld.set(w.tenantId, (tenantHeld.get(w.tenantId) ?? 0) + stdPerMin);
    d.placements.forEach((p, i) => {
      placements.push({
        id: `${w.id}-${i}`,
        workloadId: w.id,
        tenantId: w.tenantId,
        priority: w.priority,
        seq: w.seq,
        clusterId: p.clusterId,
        deviceModel: p.deviceModel,
        replicas: p.replicas,
        devicesPerReplica: p.devicesPerReplica,
        tokensPerMin: p.tokensPerMin,
        stdPerMin,
      });
      const key = `${p.clusterId}\u0000${p.deviceModel}`;
      held.set(key, (held.get(key) ?? 0) + p.replicas * p.devicesPerReplica);
    });
  }
  const placed = new Set(placements.map((p) => p.workloadId));
  const snapshot: Snapshot = {
    clusters: city.snapshot.clusters.map((c) => ({
      ...c,
      devices: c.devices.map((d) => ({ ...d, held: held.get(`${c.id}\u0000${d.deviceModel}`) ?? 0 })),
    })),
    models: city.snapshot.models,
    tenants: new Map([...city.snapshot.tenants].map(([id, t]) => [id, { ...t, heldStdPerMin: tenantHeld.get(id) ?? 0 }])),
    placements,
  };
  const pending = city.pending.filter((w) => !placed.has(w.id));
  const { result, seconds, coldSeconds } = timeCycle(snapshot, pending);
  const preempted = result.decisions.reduce((a, d) => a + (d.kind === 'place' ? d.preempted.length : 0), 0);
  return {
    bench: 'schedule.core.preemption',
    clusters: snapshot.clusters.length,
    placements: placements.length,
    workloads: pending.length,
    ...summary(result),
    preempted,
    seconds: round(seconds),
    coldSeconds: round(coldSeconds),
    decisionsPerSec: Math.round(pending.length / seconds),
  };
}

/** One cold cycle, then the median of three warm ones. */
function timeCycle(snapshot: Snapshot, pending: readonly WorkloadSnap[]): { result: CycleResult; seconds: number; coldSeconds: number } {
  const time = () => {
    const start = performance.now();
    const result = scheduleCycle({ snapshot, pending });
    return { result, seconds: (performance.now() - start) / 1000 };
  };
  const cold = time();
  const runs = [time(), time(), time()].sort((a, b) => a.seconds - b.seconds);
  return { ...runs[1]!, coldSeconds: cold.seconds };
}

/** Placed and pending counts of the workloads a cycle decided on (preemption victims aside). */
function summary(result: CycleResult): { placed: number; pending: number; reasons: Record<string, number> } {
  let placed = 0;
  let pending = 0;
  const victims = new Set<string>();
  for (const d of result.decisions) if (d.kind === 'place') for (const v of d.preempted) victims.add(v);
  const reasons: Record<string, number> = {};
  for (const d of result.decisions) {
    if (d.kind === 'place') placed++;
    else if (!victims.has(d.workloadId)) {
      pending++;
      reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    }
  }
  return { placed, pending, reasons };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(process.argv.includes('--preemption') ? await benchSchedulePreemption() : await benchScheduleCore()));
}
