import { expect } from 'chai';

import { evictOvercommitted } from '../../../scheduler/evict.js';
import { decayUsage } from '../../../scheduler/fair-share.js';
import type {
  CycleOptions,
  Decision,
  ModelSnap,
  PendingReason,
  PlacementDecision,
  Priority,
  ProfileSnap,
  Snapshot,
  WorkloadSnap,
} from '../../../scheduler/framework/types.js';
import { scheduleCycle, whatIf } from '../../../scheduler/schedule.js';
import { cloneSnapshot, slotKey } from '../../../scheduler/snapshot.js';
import {
  aCluster,
  aModel,
  aPlacement,
  aSnapshot,
  aTenant,
  aWorkload,
  ascend910b,
  deepFreeze,
  h100,
  mlu590,
  qwen32b,
  qwen72b,
  qwen7b,
  seededRandom,
} from './builders.js';

type Place = Extract<Decision, { kind: 'place' }>;
type Pending = Extract<Decision, { kind: 'pending' }>;

/** Runs one cycle on a deep-frozen input, so any write to the input throws. */
function run(snapshot: Snapshot, pending: WorkloadSnap[], options?: CycleOptions): readonly Decision[] {
  const input = deepFreeze({ snapshot, pending, ...(options ? { options } : {}) });
  return scheduleCycle(input).decisions;
}

function decision(decisions: readonly Decision[], id: string): Decision {
  const d = decisions.find((x) => x.workloadId === id);
  if (!d) throw new Error(`no decision for ${id}`);
  return d;
}

function placed(decisions: readonly Decision[], id: string): Place {
  const d = decision(decisions, id);
  if (d.kind !== 'place') throw new Error(`${id} is pending (${d.reason}: ${d.message})`);
  return d;
}

function pendingReason(decisions: readonly Decision[], id: string): PendingReason | 'placed' {
  const d = decision(decisions, id);
  return d.kind === 'pending' ? d.reason : 'placed';
}

/** `clusterId/deviceModel×replicas×devicesPerReplica`, sorted: what a reader checks. */
function shape(d: Place): string[] {
  return d.placements.map((p) => `${p.clusterId}/${p.deviceModel}×${p.replicas}×${p.devicesPerReplica}`).sort();
}

const sum = (ps: readonly PlacementDecision[]) => ps.reduce((a, p) => a + p.tokensPerMin, 0);

describe('scheduleCycle', () => {
  describe('replica math (API.md "Formulas")', () => {
    const cases: ReadonlyArray<{
      name: string;
      model: ModelSnap;
      tokensPerMin: number;
      profile: ProfileSnap;
      devices: number;
      want: string[] | PendingReason;
      placedTokens?: number;
    }> = [
      {
        name: 'qwen2.5-72b, 100,000/min on H100: 2 replicas of 4',
        model: qwen72b,
        tokensPerMin: 100_000,
        profile: h100,
        devices: 8,
        want: ['c1/dev×2×4'],
        placedTokens: 144_000,
      },
      { name: 'exactly one replica (72,000/min)', model: qwen72b, tokensPerMin: 72_000, profile: h100, devices: 8, want: ['c1/dev×1×4'], placedTokens: 72_000 },
      {
        name: 'one token/min over a replica takes two',
        model: qwen72b,
        tokensPerMin: 72_001,
        profile: h100,
        devices: 8,
        want: ['c1/dev×2×4'],
        placedTokens: 144_000,
      },
      {
        name: 'qwen2.5-72b on Ascend 910B: 4 devices, 28,800/min a replica',
        model: qwen72b,
        tokensPerMin: 57_600,
        profile: ascend910b,
        devices: 8,
        want: ['c1/dev×2×4'],
        placedTokens: 57_600,
      },
      {
        name: 'qwen2.5-7b on H100: 1 device, 180,000/min',
        model: qwen7b,
        tokensPerMin: 10_000,
        profile: h100,
        devices: 32,
        want: ['c1/dev×1×1'],
        placedTokens: 180_000,
      },
      {
        name: 'qwen2.5-32b (cost 4.5, 80 GiB) on H100: 2 devices, 80,000/min',
        model: qwen32b,
        tokensPerMin: 160_000,
        profile: h100,
        devices: 4,
        want: ['c1/dev×2×2'],
        placedTokens: 160_000,
      },
      { name: 'all or nothing: 3 replicas needed, room for 2', model: qwen72b, tokensPerMin: 150_000, profile: h100, devices: 8, want: 'capacity' },
      { name: 'qwen2.5-72b is not served on Cambricon', model: qwen72b, tokensPerMin: 1000, profile: mlu590, devices: 64, want: 'no_compatible_device' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const snap = aSnapshot()
          .cluster(aCluster('c1').slot('dev', c.profile, c.devices))
          .build();
        const decisions = run(snap, [aWorkload('w').model(c.model).tokensPerMin(c.tokensPerMin).build()]);
        if (typeof c.want === 'string') {
          expect(pendingReason(decisions, 'w')).to.equal(c.want);
          return;
        }
        const d = placed(decisions, 'w');
        expect(shape(d)).to.deep.equal(c.want);
        expect(sum(d.placements)).to.equal(c.placedTokens);
      });
    }

    it('reports the profile, resource name and per-placement tokens/min', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('NVIDIA-H100-80GB-HBM3', h100, 8))
        .build();
      const d = placed(run(snap, [aWorkload('w').model(qwen72b).tokensPerMin(100_000).build()]), 'w');
      expect(d.placements).to.deep.equal([
        {
          clusterId: 'c1',
          deviceModel: 'NVIDIA-H100-80GB-HBM3',
          profileId: h100.id,
          profile: h100.name,
          resourceName: 'nvidia.com/gpu',
          replicas: 2,
          devicesPerReplica: 4,
          tokensPerMin: 144_000,
        },
      ]);
      expect(d.preempted).to.deep.equal([]);
    });
  });

  describe('across clusters and device types', () => {
    const cases: ReadonlyArray<{ name: string; clusters: ReturnType<typeof aCluster>[]; tokensPerMin: number; want: string[] | PendingReason }> = [
      {
        name: 'two half-sized clusters carry it together',
        clusters: [aCluster('c1').slot('H100', h100, 4), aCluster('c2').slot('H100', h100, 4)],
        tokensPerMin: 100_000,
        want: ['c1/H100×1×4', 'c2/H100×1×4'],
      },
      {
        name: 'H100 and Ascend in one cluster: 72,000 + 28,800',
        clusters: [aCluster('c1').slot('H100', h100, 4).slot('910B', ascend910b, 8)],
        tokensPerMin: 100_000,
        want: ['c1/910B×1×4', 'c1/H100×1×4'],
      },
      {
        name: 'nothing is taken when all clusters together fall short',
        clusters: [aCluster('c1').slot('H100', h100, 4), aCluster('c2').slot('910B', ascend910b, 4)],
        tokensPerMin: 101_000,
        want: 'capacity',
      },
      {
        name: 'one cluster that can carry it all wins over splitting',
        clusters: [aCluster('c1').slot('H100', h100, 4), aCluster('c2').slot('H100', h100, 8), aCluster('c3').slot('H100', h100, 4)],
        tokensPerMin: 100_000,
        want: ['c2/H100×2×4'],
      },
      {
        name: 'the tighter fit of two equal clusters is taken (best fit)',
        clusters: [aCluster('c1').slot('H100', h100, 16), aCluster('c2').slot('H100', h100, 8)],
        tokensPerMin: 100_000,
        want: ['c2/H100×2×4'],
      },
      {
        name: 'H100 is preferred to Ascend when both carry it (energy)',
        clusters: [aCluster('c1').slot('910B', ascend910b, 16), aCluster('c2').slot('H100', h100, 8)],
        tokensPerMin: 50_000,
        want: ['c2/H100×1×4'],
      },
      {
        name: 'a cluster that is not ready or is cordoned takes nothing',
        clusters: [aCluster('c1').slot('H100', h100, 8).notReady(), aCluster('c2').slot('H100', h100, 8).cordoned(), aCluster('c3').slot('H100', h100, 4)],
        tokensPerMin: 72_000,
        want: ['c3/H100×1×4'],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const decisions = run(
          aSnapshot()
            .cluster(...c.clusters)
            .build(),
          [aWorkload('w').model(qwen72b).tokensPerMin(c.tokensPerMin).build()],
        );
        if (typeof c.want === 'string') expect(pendingReason(decisions, 'w')).to.equal(c.want);
        else expect(shape(placed(decisions, 'w'))).to.deep.equal(c.want);
      });
    }
  });

  describe('pending reasons', () => {
    const huge = aModel('huge').minMemoryGiB(6000).build();
    const cases: ReadonlyArray<{ name: string; snapshot: () => Snapshot; workload: WorkloadSnap; want: PendingReason | 'placed' }> = [
      {
        name: 'plan exhausted',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').planExhausted())
            .build(),
        workload: aWorkload('w').tenant('t1').build(),
        want: 'plan_exhausted',
      },
      {
        name: 'plan exhausted is reported before quota',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').planExhausted().quota(0))
            .build(),
        workload: aWorkload('w').tenant('t1').build(),
        want: 'plan_exhausted',
      },
      {
        name: 'quota: whole replicas exactly at the limit fit (100,000 × 10 needs 2 replicas of 4 H100 = 1,440,000)',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(1_440_000))
            .build(),
        workload: aWorkload('w').tenant('t1').model(qwen72b).tokensPerMin(100_000).build(),
        want: 'placed',
      },
      {
        name: 'quota counts whole replicas: a request within the quota whose replicas pass it waits (1,000,000 ≤ 1,439,999 < 1,440,000)',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(1_439_999))
            .build(),
        workload: aWorkload('w').tenant('t1').model(qwen72b).tokensPerMin(100_000).build(),
        want: 'quota',
      },
      {
        name: 'quota: a tiny workload holds a whole replica (1,000 tokens/min holds 180,000 of a 200,000 quota with 30,000 held)',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(200_000).held(30_000))
            .build(),
        workload: aWorkload('w').tenant('t1').tokensPerMin(1_000).build(),
        want: 'quota',
      },
      {
        name: 'quota: one token/min over the limit waits',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(1_000_000))
            .build(),
        workload: aWorkload('w').tenant('t1').model(qwen72b).tokensPerMin(100_001).build(),
        want: 'quota',
      },
      {
        name: 'quota is exact with a decimal cost factor (100,001 × 4.5 = 450,004.5 > 450,004)',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(450_004))
            .build(),
        workload: aWorkload('w').tenant('t1').model(qwen32b).tokensPerMin(100_001).build(),
        want: 'quota',
      },
      {
        name: 'quota counts what the tenant already holds',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').quota(100_000).held(95_000))
            .build(),
        workload: aWorkload('w').tenant('t1').tokensPerMin(5_001).build(),
        want: 'quota',
      },
      {
        name: 'a tenant with no quota is unlimited',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .tenant(aTenant('t1').held(1e12))
            .build(),
        workload: aWorkload('w').tenant('t1').build(),
        want: 'placed',
      },
      {
        name: 'no cluster in the allowed regions: no compatible device',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').region('nansha').slot('H100', h100, 8))
            .build(),
        workload: aWorkload('w').regions('huangpu').build(),
        want: 'no_compatible_device',
      },
      {
        name: 'the allowed region is full: capacity',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').region('nansha').slot('H100', h100, 8, 8), aCluster('c2').region('huangpu').slot('H100', h100, 8))
            .build(),
        workload: aWorkload('w').regions('nansha').build(),
        want: 'capacity',
      },
      {
        name: 'any of several regions',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').region('nansha').slot('H100', h100, 8, 8), aCluster('c2').region('huangpu').slot('H100', h100, 8))
            .build(),
        workload: aWorkload('w').regions('nansha', 'huangpu').build(),
        want: 'placed',
      },
      {
        name: 'vendor not served anywhere: no compatible device',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('MLU', mlu590, 64))
            .build(),
        workload: aWorkload('w').model(qwen72b).tokensPerMin(1_000).build(),
        want: 'no_compatible_device',
      },
      {
        name: 'too large for 64 devices: no compatible device',
        snapshot: () =>
          aSnapshot()
            .model(huge)
            .cluster(aCluster('c1').slot('H100', h100, 64))
            .build(),
        workload: aWorkload('w').model(huge).tokensPerMin(1_000).build(),
        want: 'no_compatible_device',
      },
      {
        name: 'compatible devices only on a cluster that is not ready: capacity, not incompatibility',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8).notReady(), aCluster('c2').slot('MLU', mlu590, 8))
            .build(),
        workload: aWorkload('w').model(qwen72b).tokensPerMin(1_000).build(),
        want: 'capacity',
      },
      {
        name: 'compatible devices only on a cordoned cluster: capacity',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8).cordoned())
            .build(),
        workload: aWorkload('w').model(qwen72b).tokensPerMin(1_000).build(),
        want: 'capacity',
      },
      {
        name: 'no clusters at all: no compatible device',
        snapshot: () => aSnapshot().build(),
        workload: aWorkload('w').build(),
        want: 'no_compatible_device',
      },
      {
        name: 'unknown model: no compatible device',
        snapshot: () =>
          aSnapshot()
            .cluster(aCluster('c1').slot('H100', h100, 8))
            .build(),
        workload: { ...aWorkload('w').build(), modelId: 'model-gone' },
        want: 'no_compatible_device',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(pendingReason(run(c.snapshot(), [c.workload]), 'w')).to.equal(c.want);
      });
    }

    it('explains itself in the message', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8))
        .tenant(aTenant('t1').quota(1_000_000).held(999_000))
        .build();
      const d = decision(run(snap, [aWorkload('w').tenant('t1').tokensPerMin(1_001).build()]), 'w') as Pending;
      expect(d.message).to.equal('needs 1001 std/min (whole replicas); the tenant holds 999000 of its 1000000 std/min quota');
    });

    it('quota counts the whole replicas the cycle placed before, in the same cycle', () => {
      // Each 10,000 tokens/min of qwen7b holds one whole H100 replica: 180,000 std/min.
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8))
        .tenant(aTenant('t1').quota(400_000))
        .build();
      const decisions = run(snap, [
        aWorkload('a').tenant('t1').tokensPerMin(10_000).build(),
        aWorkload('b').tenant('t1').tokensPerMin(10_000).build(),
        aWorkload('c').tenant('t1').tokensPerMin(10_000).build(),
      ]);
      expect(['a', 'b', 'c'].map((id) => pendingReason(decisions, id))).to.deep.equal(['placed', 'placed', 'quota']);
    });

    it('a request smaller than every replica waits when even the smallest replica would pass the quota', () => {
      // 20,000 std/min left: the request fits in it, but any H100 replica holds 180,000.
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8))
        .tenant(aTenant('t1').quota(1_000_000).held(980_000))
        .build();
      const d = decision(run(snap, [aWorkload('w').tenant('t1').tokensPerMin(10_000).build()]), 'w') as Pending;
      expect(d.reason).to.equal('quota');
      expect(d.message).to.equal('needs at least 180000 std/min (whole replicas); the tenant holds 980000 of its 1000000 std/min quota');
    });

    it("a high request smaller than every replica may still make room within its quota by preempting the tenant's own low workload", () => {
      const low = aWorkload('low').tenant('t1').priority('low').seq(1).model(qwen72b).tokensPerMin(72_000).build();
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 4))
        .tenant(aTenant('t1').quota(800_000))
        .placement(aPlacement(low, qwen72b).on('c1', 'H100').replicas(1, 4))
        .build();
      const high = aWorkload('high').tenant('t1').priority('high').seq(2).model(qwen72b).tokensPerMin(1_000).build();
      expect(placed(run(snap, [high]), 'high').preempted).to.deep.equal(['low']);
    });
  });

  describe('ha', () => {
    const cases: ReadonlyArray<{ name: string; clusters: ReturnType<typeof aCluster>[]; tokensPerMin: number; want: string[] | PendingReason }> = [
      {
        name: 'spreads over two clusters although one could carry it',
        clusters: [aCluster('c1').slot('H100', h100, 16), aCluster('c2').slot('H100', h100, 16)],
        tokensPerMin: 100_000,
        want: ['c1/H100×1×4', 'c2/H100×1×4'],
      },
      {
        name: 'a request one replica covers still gets a replica on each of two clusters',
        clusters: [aCluster('c1').slot('H100', h100, 16), aCluster('c2').slot('H100', h100, 16)],
        tokensPerMin: 72_000,
        want: ['c1/H100×1×4', 'c2/H100×1×4'],
      },
      {
        name: 'a cluster carries as much as it may without carrying it all',
        clusters: [aCluster('c1').slot('H100', h100, 16), aCluster('c2').slot('H100', h100, 16)],
        tokensPerMin: 200_000,
        want: ['c1/H100×2×4', 'c2/H100×1×4'],
      },
      {
        name: 'one cluster alone cannot serve it',
        clusters: [aCluster('c1').slot('H100', h100, 64)],
        tokensPerMin: 100_000,
        want: 'capacity',
      },
      {
        name: 'two device slots of one cluster are not two clusters',
        clusters: [aCluster('c1').slot('H100', h100, 16).slot('910B', ascend910b, 16)],
        tokensPerMin: 50_000,
        want: 'capacity',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const decisions = run(
          aSnapshot()
            .cluster(...c.clusters)
            .build(),
          [aWorkload('w').model(qwen72b).tokensPerMin(c.tokensPerMin).ha().build()],
        );
        if (typeof c.want === 'string') expect(pendingReason(decisions, 'w')).to.equal(c.want);
        else expect(shape(placed(decisions, 'w'))).to.deep.equal(c.want);
      });
    }
  });

  describe('queue order', () => {
    it('places high before normal before low, whatever the submission order', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 4))
        .build();
      const ws = [
        aWorkload('low').priority('low').seq(1).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('normal').priority('normal').seq(2).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('high').priority('high').seq(3).model(qwen72b).tokensPerMin(72_000).build(),
      ];
      const decisions = run(snap, ws);
      expect(decisions.map((d) => d.workloadId)).to.deep.equal(['high', 'normal', 'low']);
      expect(decisions.map((d) => pendingReason(decisions, d.workloadId))).to.deep.equal(['placed', 'capacity', 'capacity']);
    });

    it('first come, first served within a priority', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 4))
        .build();
      const ws = [3, 1, 2].map((seq) => aWorkload(`w${seq}`).seq(seq).model(qwen72b).tokensPerMin(72_000).build());
      const decisions = run(snap, ws);
      expect(decisions.map((d) => `${d.workloadId}:${pendingReason(decisions, d.workloadId)}`)).to.deep.equal(['w1:placed', 'w2:capacity', 'w3:capacity']);
    });

    it('a workload that does not fit does not block later ones (best-effort FIFO)', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8))
        .build();
      const decisions = run(snap, [
        aWorkload('big').seq(1).model(qwen72b).tokensPerMin(200_000).build(),
        aWorkload('small').seq(2).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('incompatible').seq(3).model(qwen72b).regions('mars').build(),
        aWorkload('small2').seq(4).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('small3').seq(5).model(qwen72b).tokensPerMin(72_000).build(),
      ]);
      expect(['big', 'small', 'incompatible', 'small2', 'small3'].map((id) => pendingReason(decisions, id))).to.deep.equal([
        'capacity',
        'placed',
        'no_compatible_device',
        'placed',
        'capacity',
      ]);
    });

    it('devices taken by an earlier workload of the cycle are not offered again', () => {
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8, 2))
        .build();
      const decisions = run(snap, [
        aWorkload('a').seq(1).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('b').seq(2).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('c').seq(3).model(qwen7b).tokensPerMin(1_000).build(),
        aWorkload('d').seq(4).model(qwen7b).tokensPerMin(1_000).build(),
        aWorkload('e').seq(5).model(qwen7b).tokensPerMin(1_000).build(),
      ]);
      expect(['a', 'b', 'c', 'd', 'e'].map((id) => pendingReason(decisions, id))).to.deep.equal(['placed', 'capacity', 'placed', 'placed', 'capacity']);
    });

    it('shares an oversubscribed pool fairly between two tenants, not first come first served', () => {
      // 10 H100: room for 10 small workloads. t1 submitted all of its 10 before t2's 10.
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 10))
        .tenant(aTenant('t1'), aTenant('t2'))
        .build();
      const ws = [
        ...Array.from({ length: 10 }, (_, i) => aWorkload(`t1-${i}`).tenant('t1').seq(i).tokensPerMin(100_000).build()),
        ...Array.from({ length: 10 }, (_, i) =>
          aWorkload(`t2-${i}`)
            .tenant('t2')
            .seq(100 + i)
            .tokensPerMin(100_000)
            .build(),
        ),
      ];
      const decisions = run(snap, ws);
      const placedBy = (t: string) => decisions.filter((d) => d.kind === 'place' && d.workloadId.startsWith(t)).length;
      expect([placedBy('t1'), placedBy('t2')]).to.deep.equal([5, 5]);
      // FIFO within each tenant: the oldest five of each.
      expect(
        decisions
          .filter((d) => d.kind === 'place')
          .map((d) => d.workloadId)
          .sort(),
      ).to.deep.equal(['t1-0', 't1-1', 't1-2', 't1-3', 't1-4', 't2-0', 't2-1', 't2-2', 't2-3', 't2-4']);
    });

    const shareCases: ReadonlyArray<{ name: string; t1: ReturnType<typeof aTenant>; t2: ReturnType<typeof aTenant>; first: string }> = [
      { name: 'past usage (decayed) sends a tenant back', t1: aTenant('t1').decayed(500_000), t2: aTenant('t2'), first: 't2' },
      { name: 'held capacity sends a tenant back', t1: aTenant('t1').held(500_000), t2: aTenant('t2'), first: 't2' },
      { name: 'a larger weight brings a tenant forward', t1: aTenant('t1').held(400_000).weight(4), t2: aTenant('t2').held(200_000), first: 't1' },
      {
        name: 'share is measured against the quota when there is one',
        t1: aTenant('t1').held(400_000).quota(10_000_000),
        t2: aTenant('t2').held(200_000),
        first: 't1',
      },
    ];
    for (const c of shareCases) {
      it(`${c.name}`, () => {
        const snap = aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 1))
          .tenant(c.t1, c.t2)
          .build();
        const decisions = run(snap, [aWorkload('t1-w').tenant('t1').seq(1).build(), aWorkload('t2-w').tenant('t2').seq(2).build()]);
        expect(decisions[0]!.workloadId).to.equal(`${c.first}-w`);
        expect(decision(decisions, `${c.first}-w`).kind).to.equal('place');
      });
    }
  });

  describe('preemption', () => {
    /** One 8-H100 cluster holding the given 72b workloads (1 replica of 4 devices, or `devices`). */
    function full(holders: ReadonlyArray<{ id: string; priority: Priority; seq: number; devices?: number }>, healthy = 8) {
      const b = aSnapshot().cluster(aCluster('c1').slot('H100', h100, healthy));
      for (const h of holders) {
        const w = aWorkload(h.id).priority(h.priority).seq(h.seq).model(qwen72b).tokensPerMin(72_000).build();
        b.placement(
          aPlacement(w, qwen72b)
            .on('c1', 'H100')
            .replicas(1, h.devices ?? 4),
        );
      }
      return b.build();
    }
    const incoming = (priority: Priority, tokensPerMin = 72_000) =>
      aWorkload('new').priority(priority).seq(1000).model(qwen72b).tokensPerMin(tokensPerMin).build();

    const cases: ReadonlyArray<{
      name: string;
      holders: ReadonlyArray<{ id: string; priority: Priority; seq: number; devices?: number }>;
      priority: Priority;
      tokensPerMin?: number;
      options?: CycleOptions;
      preempted: string[] | PendingReason;
    }> = [
      {
        name: 'high evicts the newest low',
        holders: [
          { id: 'old-low', priority: 'low', seq: 1 },
          { id: 'new-low', priority: 'low', seq: 2 },
        ],
        priority: 'high',
        preempted: ['new-low'],
      },
      {
        name: 'low goes before normal, even an older low',
        holders: [
          { id: 'low', priority: 'low', seq: 1 },
          { id: 'normal', priority: 'normal', seq: 2 },
        ],
        priority: 'high',
        preempted: ['low'],
      },
      {
        name: 'only as many as needed: two lows for two replicas',
        holders: [
          { id: 'l1', priority: 'low', seq: 1 },
          { id: 'l2', priority: 'low', seq: 2 },
        ],
        priority: 'high',
        tokensPerMin: 144_000,
        preempted: ['l2', 'l1'],
      },
      {
        name: 'a small newer victim whose release is not needed is spared',
        holders: [
          { id: 'big-low', priority: 'low', seq: 1, devices: 4 },
          { id: 'small-low', priority: 'low', seq: 2, devices: 1 },
          { id: 'normal', priority: 'normal', seq: 3, devices: 3 },
        ],
        priority: 'high',
        preempted: ['big-low'],
      },
      {
        name: 'high never evicts high',
        holders: [
          { id: 'h1', priority: 'high', seq: 1 },
          { id: 'h2', priority: 'high', seq: 2 },
        ],
        priority: 'high',
        preempted: 'capacity',
      },
      {
        name: 'normal never preempts',
        holders: [
          { id: 'l1', priority: 'low', seq: 1 },
          { id: 'l2', priority: 'low', seq: 2 },
        ],
        priority: 'normal',
        preempted: 'capacity',
      },
      {
        name: 'no preemption when even evicting all would not make room',
        holders: [
          { id: 'l1', priority: 'low', seq: 1 },
          { id: 'h1', priority: 'high', seq: 2 },
        ],
        priority: 'high',
        tokensPerMin: 144_000,
        preempted: 'capacity',
      },
      {
        name: 'turned off by options',
        holders: [
          { id: 'l1', priority: 'low', seq: 1 },
          { id: 'l2', priority: 'low', seq: 2 },
        ],
        priority: 'high',
        options: { preemption: false },
        preempted: 'capacity',
      },
      { name: 'no eviction when the workload fits on free devices', holders: [{ id: 'l1', priority: 'low', seq: 1 }], priority: 'high', preempted: [] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const decisions = run(full(c.holders), [incoming(c.priority, c.tokensPerMin)], c.options);
        if (typeof c.preempted === 'string') {
          expect(pendingReason(decisions, 'new')).to.equal(c.preempted);
          expect(decisions).to.have.length(1);
          return;
        }
        const d = placed(decisions, 'new');
        expect(d.preempted).to.deep.equal(c.preempted);
        // Each victim is reported pending with reason capacity, right after the preemptor.
        expect(decisions.slice(1).map((x) => `${x.workloadId}:${pendingReason(decisions, x.workloadId)}`)).to.deep.equal(
          c.preempted.map((id) => `${id}:capacity`),
        );
      });
    }

    it('an ha workload evicts on two clusters; the same request without ha evicts on one', () => {
      const lows = ['c1', 'c2', 'c3'].map((c, i) => ({
        c,
        w: aWorkload(`low-${c}`)
          .priority('low')
          .seq(i + 1)
          .model(qwen72b)
          .tokensPerMin(72_000)
          .build(),
      }));
      const b = aSnapshot().cluster(aCluster('c1').slot('H100', h100, 4), aCluster('c2').slot('H100', h100, 4), aCluster('c3').slot('H100', h100, 4));
      for (const { c, w } of lows) b.placement(aPlacement(w, qwen72b).on(c, 'H100').replicas(1, 4));
      const snap = b.build();
      const high = (ha: boolean) => aWorkload('high').priority('high').seq(10).model(qwen72b).tokensPerMin(72_000).ha(ha).build();
      expect(placed(run(snap, [high(true)]), 'high').preempted).to.deep.equal(['low-c3', 'low-c2']);
      expect(placed(run(snap, [high(false)]), 'high').preempted).to.deep.equal(['low-c3']);
    });

    it('releases every placement of a victim, and later workloads may use what is left', () => {
      const low = aWorkload('low').priority('low').seq(1).model(qwen72b).tokensPerMin(144_000).build();
      const snap = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 4), aCluster('c2').slot('H100', h100, 4))
        .placement(aPlacement(low, qwen72b).on('c1', 'H100').replicas(1, 4), aPlacement(low, qwen72b).on('c2', 'H100').replicas(1, 4))
        .build();
      const decisions = run(snap, [
        aWorkload('high').priority('high').seq(2).model(qwen72b).tokensPerMin(72_000).build(),
        aWorkload('normal').priority('normal').seq(3).model(qwen72b).tokensPerMin(72_000).build(),
      ]);
      expect(placed(decisions, 'high').preempted).to.deep.equal(['low']);
      expect(pendingReason(decisions, 'low')).to.equal('capacity');
      expect(pendingReason(decisions, 'normal')).to.equal('placed');
    });
  });

  describe('never overcommits (seeded random snapshots)', () => {
    const profiles = [h100, ascend910b, mlu590];
    const models = [qwen7b, qwen32b, qwen72b];
    const regions = ['nansha', 'huangpu', 'tianhe'];
    const priorities: Priority[] = ['high', 'normal', 'low'];

    function randomCase(seed: number): { snapshot: Snapshot; pending: WorkloadSnap[] } {
      const rnd = seededRandom(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const b = aSnapshot();
      const slots: { cluster: string; device: string; free: number; profile: ProfileSnap }[] = [];
      for (let c = 0; c < int(1, 6); c++) {
        const cluster = aCluster(`c${c}`).region(pick(regions));
        if (rnd() < 0.15) cluster.cordoned();
        if (rnd() < 0.1) cluster.notReady();
        for (const profile of profiles) {
          if (rnd() < 0.4) continue;
          const healthy = int(0, 24);
          cluster.slot(profile.name, profile, healthy);
          slots.push({ cluster: `c${c}`, device: profile.name, free: healthy, profile });
        }
        b.cluster(cluster);
      }
      for (let t = 0; t < 3; t++)
        b.tenant(
          aTenant(`t${t}`)
            .quota(rnd() < 0.3 ? int(1, 40) * 100_000 : null)
            .decayed(int(0, 5) * 100_000),
        );
      // Existing placements that fit.
      for (let p = 0; p < int(0, 8); p++) {
        const s = slots[int(0, slots.length - 1)];
        if (!s) break;
        const n = pick([1, 2, 4]);
        if (s.free < n) continue;
        s.free -= n;
        const w = aWorkload(`old${p}`)
          .tenant(`t${int(0, 2)}`)
          .priority(pick(priorities))
          .seq(p)
          .tokensPerMin(1000)
          .build();
        b.placement(aPlacement(w, qwen7b).on(s.cluster, s.device).replicas(1, n));
      }
      const pending = Array.from({ length: int(1, 30) }, (_, i) => {
        const w = aWorkload(`w${i}`)
          .tenant(`t${int(0, 2)}`)
          .seq(100 + int(0, 50))
          .model(pick(models))
          .tokensPerMin(int(1, 100) * 5_000)
          .priority(pick(priorities))
          .ha(rnd() < 0.2);
        if (rnd() < 0.4) w.regions(...regions.filter(() => rnd() < 0.5));
        return w.build();
      });
      return { snapshot: b.build(), pending };
    }

    for (let seed = 1; seed <= 300; seed++) {
      it(`seed ${seed}`, () => {
        const { snapshot, pending } = randomCase(seed);
        const decisions = run(snapshot, pending);
        const models = snapshot.models;

        const held = new Map<string, number>();
        const healthy = new Map<string, number>();
        const clusterOf = new Map(snapshot.clusters.map((c) => [c.id, c]));
        for (const c of snapshot.clusters) for (const d of c.devices) healthy.set(slotKey(c.id, d.deviceModel), d.healthy);
        for (const p of snapshot.placements) {
          const k = slotKey(p.clusterId, p.deviceModel);
          held.set(k, (held.get(k) ?? 0) + p.replicas * p.devicesPerReplica);
        }
        const preempted = new Set<string>();
        for (const d of decisions) if (d.kind === 'place') for (const v of d.preempted) preempted.add(v);
        for (const p of snapshot.placements) {
          if (!preempted.has(p.workloadId)) continue;
          const k = slotKey(p.clusterId, p.deviceModel);
          held.set(k, held.get(k)! - p.replicas * p.devicesPerReplica);
        }

        const byId = new Map(pending.map((w) => [w.id, w]));
        const mine = decisions.filter((d) => byId.has(d.workloadId)).map((d) => d.workloadId);
        expect(new Set(mine).size).to.equal(pending.length);
        expect(mine).to.have.length(pending.length);
        for (const d of decisions) {
          if (d.kind !== 'place') continue;
          const w = byId.get(d.workloadId)!;
          const model = models.get(w.modelId)!;
          // Exact: Σ replicas × n × std/s × 60 ≥ tokensPerMin × costFactor (in millionths).
          let supply = 0n;
          for (const p of d.placements) {
            const c = clusterOf.get(p.clusterId)!;
            const slot = c.devices.find((x) => x.deviceModel === p.deviceModel)!;
            expect(c.schedulable, `${d.workloadId} on a cluster taking no placements`).to.equal(true);
            if (w.regions) expect(w.regions).to.include(c.region);
            if (model.vendors.length > 0) expect(model.vendors).to.include(slot.profile.vendor);
            supply += BigInt(p.replicas * p.devicesPerReplica) * BigInt(slot.profile.stdTokensPerSec) * 60n;
            const k = slotKey(p.clusterId, p.deviceModel);
            held.set(k, (held.get(k) ?? 0) + p.replicas * p.devicesPerReplica);
          }
          expect(supply >= BigInt(w.tokensPerMin) * BigInt(model.costFactor), `${d.workloadId} placed short`).to.equal(true);
          expect(sum(d.placements)).to.be.at.least(w.tokensPerMin - 1e-6);
          if (w.ha) expect(new Set(d.placements.map((p) => p.clusterId)).size).to.be.at.least(2);
          if (d.preempted.length > 0) expect(w.priority).to.equal('high');
        }
        for (const [k, n] of held) expect(n, `slot ${k.replace('\u0000', '/')}`).to.be.at.most(healthy.get(k) ?? 0);
      });
    }
  });

  describe('purity', () => {
    it('does not write to its input, and answers the same twice', () => {
      const low = aWorkload('low').priority('low').seq(1).model(qwen72b).tokensPerMin(72_000).build();
      const snapshot = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8), aCluster('c2').region('huangpu').slot('910B', ascend910b, 8))
        .tenant(aTenant('t1').quota(5_000_000).decayed(1000))
        .placement(aPlacement(low, qwen72b).on('c1', 'H100').replicas(1, 8))
        .build();
      const pending = [
        aWorkload('a').tenant('t1').priority('high').model(qwen72b).tokensPerMin(100_000).build(),
        aWorkload('b').tenant('t1').model(qwen32b).tokensPerMin(20_000).ha().build(),
        aWorkload('c').tenant('t2').tokensPerMin(5_000).regions('huangpu').build(),
      ];
      const text = () => JSON.stringify({ ...snapshot, models: [...snapshot.models], tenants: [...snapshot.tenants], pending });
      const before = text();
      const first = run(snapshot, pending); // through a read-only view: a write would throw
      const second = scheduleCycle({ snapshot, pending }).decisions; // on the plain objects
      expect(text()).to.equal(before);
      expect(second).to.deep.equal(first);
      expect(placed(first, 'a').preempted).to.deep.equal(['low']);
    });

    it('whatIf answers the decision a cycle would make for one workload, changing nothing', () => {
      const low = aWorkload('low').priority('low').seq(1).model(qwen72b).tokensPerMin(72_000).build();
      const snapshot = deepFreeze(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 4))
          .placement(aPlacement(low, qwen72b).on('c1', 'H100').replicas(1, 4))
          .build(),
      );
      const high = aWorkload('high').priority('high').model(qwen72b).tokensPerMin(72_000).build();
      expect(shape(whatIf(snapshot, high) as Place)).to.deep.equal(['c1/H100×1×4']);
      expect((whatIf(snapshot, high) as Place).preempted).to.deep.equal(['low']);
      expect(whatIf(snapshot, high, { preemption: false })).to.include({ kind: 'pending', reason: 'capacity' });
    });

    it('the deep freeze used by these tests refuses writes, Maps included', () => {
      const snapshot = deepFreeze(
        aSnapshot()
          .cluster(aCluster('c1').slot('H100', h100, 4))
          .tenant(aTenant('t1'))
          .build(),
      );
      expect(() => (snapshot.tenants as Map<string, unknown>).set('t2', {})).to.throw(TypeError);
      expect(() => ((snapshot.clusters[0]!.devices[0] as { held: number }).held = 1)).to.throw(TypeError);
      expect(() => (snapshot.clusters as unknown as unknown[]).push({})).to.throw(TypeError);
      expect(() => (snapshot.clusters as unknown as unknown[]).fill(undefined)).to.throw(TypeError);
    });

    it('a what-if on a cloned snapshot leaves the original alone', () => {
      const snapshot = aSnapshot()
        .cluster(aCluster('c1').slot('H100', h100, 8))
        .build();
      const copy = cloneSnapshot(snapshot);
      (copy.clusters[0]!.devices[0] as { healthy: number }).healthy = 0;
      expect(snapshot.clusters[0]!.devices[0]!.healthy).to.equal(8);
      const w = aWorkload('w').model(qwen72b).tokensPerMin(72_000).build();
      expect(pendingReason(run(copy, [w]), 'w')).to.equal('capacity');
      expect(pendingReason(run(snapshot, [w]), 'w')).to.equal('placed');
    });
  });
});

describe('evictOvercommitted', () => {
  /** A slot of `healthy` H100 (`held` as the placements add up) holding 7b workloads. */
  function slotWith(healthy: number, holders: ReadonlyArray<{ id: string; priority: Priority; seq: number; devices: number; device?: string }>) {
    const b = aSnapshot().cluster(aCluster('c1').slot('H100', h100, healthy).slot('910B', ascend910b, 8));
    for (const h of holders) {
      const w = aWorkload(h.id).priority(h.priority).seq(h.seq).build();
      b.placement(
        aPlacement(w, qwen7b)
          .on('c1', h.device ?? 'H100')
          .replicas(1, h.devices),
      );
    }
    return b.build();
  }
  const cases: ReadonlyArray<{ name: string; snapshot: () => Snapshot; evicted: string[] }> = [
    { name: 'nothing when every slot fits', snapshot: () => slotWith(8, [{ id: 'a', priority: 'low', seq: 1, devices: 8 }]), evicted: [] },
    {
      name: 'the newest low first, and only until it fits',
      snapshot: () =>
        slotWith(6, [
          { id: 'old-low', priority: 'low', seq: 1, devices: 2 },
          { id: 'new-low', priority: 'low', seq: 2, devices: 2 },
          { id: 'normal', priority: 'normal', seq: 3, devices: 4 },
        ]),
      evicted: ['new-low'],
    },
    {
      name: 'lower priority before newer',
      snapshot: () =>
        slotWith(4, [
          { id: 'low', priority: 'low', seq: 1, devices: 4 },
          { id: 'high', priority: 'high', seq: 3, devices: 4 },
        ]),
      evicted: ['low'],
    },
    {
      name: 'a newer victim whose eviction turned out unneeded is kept',
      snapshot: () =>
        slotWith(4, [
          { id: 'old-low', priority: 'low', seq: 1, devices: 4 },
          { id: 'new-low', priority: 'low', seq: 2, devices: 1 },
          { id: 'normal', priority: 'normal', seq: 3, devices: 3 },
        ]),
      evicted: ['old-low'],
    },
    {
      name: 'workloads on slots that fit are left alone',
      snapshot: () =>
        slotWith(4, [
          { id: 'elsewhere', priority: 'low', seq: 9, devices: 8, device: '910B' },
          { id: 'a', priority: 'normal', seq: 1, devices: 4 },
          { id: 'b', priority: 'normal', seq: 2, devices: 2 },
        ]),
      evicted: ['b'],
    },
    {
      name: 'a device model the cluster no longer reports holds nothing',
      snapshot: () => slotWith(8, [{ id: 'gone', priority: 'high', seq: 1, devices: 2, device: 'V100' }]),
      evicted: ['gone'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(evictOvercommitted(deepFreeze(c.snapshot())).evicted).to.deep.equal(c.evicted);
    });
  }

  it('evicts a workload once however many placements it has, and releases all of them', () => {
    const w = aWorkload('two').priority('low').seq(5).build();
    const keep = aWorkload('keep').priority('normal').seq(1).build();
    const snap = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 2).slot('910B', ascend910b, 2))
      .placement(
        aPlacement(w, qwen7b).on('c1', 'H100').replicas(1, 2),
        aPlacement(w, qwen7b).on('c1', '910B').replicas(1, 2),
        aPlacement(keep, qwen7b).on('c1', 'H100').replicas(1, 2),
        aPlacement(keep, qwen7b).on('c1', '910B').replicas(1, 1),
      )
      .build();
    expect(evictOvercommitted(deepFreeze(snap)).evicted).to.deep.equal(['two']);
  });
});

describe('decayUsage', () => {
  const H = 3_600_000;
  const cases: ReadonlyArray<{ name: string; previous: number; elapsed: number; halfLife: number; held: number; want: number }> = [
    { name: 'no time passed: unchanged', previous: 1000, elapsed: 0, halfLife: H, held: 0, want: 1000 },
    { name: 'one half-life towards nothing held halves', previous: 1000, elapsed: H, halfLife: H, held: 0, want: 500 },
    { name: 'two half-lives quarter', previous: 1000, elapsed: 2 * H, halfLife: H, held: 0, want: 250 },
    { name: 'one half-life from nothing goes halfway to what is held', previous: 0, elapsed: H, halfLife: H, held: 800, want: 400 },
    { name: 'a constant holding stays put', previous: 600, elapsed: 12_345, halfLife: H, held: 600, want: 600 },
    { name: 'no memory (half-life 0): what is held', previous: 1000, elapsed: 1, halfLife: 0, held: 7, want: 7 },
    { name: 'negative elapsed time (clock skew): unchanged', previous: 1000, elapsed: -5, halfLife: H, held: 0, want: 1000 },
    { name: 'a broken previous value counts as 0', previous: Number.NaN, elapsed: H, halfLife: H, held: 800, want: 400 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(decayUsage(c.previous, c.elapsed, c.halfLife, c.held)).to.be.closeTo(c.want, 1e-9);
    });
  }

  it('advancing by a then b equals advancing by a + b', () => {
    const step = decayUsage(decayUsage(900, 1_000, H, 300), 2_500, H, 300);
    expect(step).to.be.closeTo(decayUsage(900, 3_500, H, 300), 1e-9);
  });
});
