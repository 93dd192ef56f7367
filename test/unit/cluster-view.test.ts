import { expect } from 'chai';

import {
  clusterState,
  computeCluster,
  computePool,
  type ClusterComputation,
  type ClusterFacts,
  type ClusterState,
  type ReportedInventory,
} from '../../server/services/cluster-view.js';
import { aCluster, aProfile, devices, profileIndex, T0 } from '../builders.js';

const TTL = 30_000;
const NOW = new Date(T0.getTime() + 3_600_000);
const ago = (ms: number) => new Date(NOW.getTime() - ms);

const H100 = 3000 * 60; // standard tokens per minute of one NVIDIA-H100-80GB
const ASCEND = 2000 * 60; // … of one Ascend910B
const A100 = 1500 * 60; // … of one NVIDIA-A100-80GB
const TINY = 12.5 * 60; // … of a device with a fractional throughput

const PROFILES = profileIndex(
  aProfile('NVIDIA-H100-80GB').vendor('nvidia').stdTokensPerSec(3000).aliases('NVIDIA-H100-80GB-HBM3', 'H100'),
  aProfile('NVIDIA-A100-80GB').vendor('nvidia').stdTokensPerSec(1500),
  aProfile('Ascend910B').vendor('huawei').stdTokensPerSec(2000).aliases('huawei-Ascend910B'),
  aProfile('Tiny').vendor('acme').stdTokensPerSec('12.5'),
);

/** computeCluster at NOW with the TTL and PROFILES above. */
function compute(c: ClusterFacts, inventory: readonly ReportedInventory[] = [], held: Record<string, number> = {}): ClusterComputation {
  return computeCluster(c, inventory, PROFILES, new Map(Object.entries(held)), NOW, TTL);
}

describe('cluster view', () => {
  describe('clusterState', () => {
    const cases: ReadonlyArray<readonly [string, ClusterFacts, ClusterState]> = [
      ['never reported: pending', aCluster().build(), 'pending'],
      ['reported just now: ready', aCluster().heartbeatAt(NOW).build(), 'ready'],
      [
        'reported 1 ms before the TTL ran out: ready',
        aCluster()
          .heartbeatAt(ago(TTL - 1))
          .build(),
        'ready',
      ],
      ['reported exactly one TTL ago: still ready', aCluster().heartbeatAt(ago(TTL)).build(), 'ready'],
      [
        'reported one TTL and 1 ms ago: not_ready',
        aCluster()
          .heartbeatAt(ago(TTL + 1))
          .build(),
        'not_ready',
      ],
      ['reported long ago: not_ready', aCluster().heartbeatAt(ago(86_400_000)).build(), 'not_ready'],
      ['a heartbeat stamped in the future (clock skew): ready', aCluster().heartbeatAt(ago(-5_000)).build(), 'ready'],
      ['cordoned and reporting: cordoned', aCluster().cordoned().heartbeatAt(NOW).build(), 'cordoned'],
      ['cordoned exactly at the TTL: cordoned', aCluster().cordoned().heartbeatAt(ago(TTL)).build(), 'cordoned'],
      [
        'cordoned and silent past the TTL: not_ready wins',
        aCluster()
          .cordoned()
          .heartbeatAt(ago(TTL + 1))
          .build(),
        'not_ready',
      ],
      ['cordoned before it ever reported: cordoned', aCluster().cordoned().build(), 'cordoned'],
    ];
    for (const [title, facts, state] of cases) {
      it(title, () => {
        expect(clusterState(facts, NOW, TTL)).to.equal(state);
      });
    }

    it('follows the TTL it is given', () => {
      const c = aCluster().heartbeatAt(ago(10_001)).build();
      expect(clusterState(c, NOW, 10_000)).to.equal('not_ready');
      expect(clusterState(c, NOW, 10_001)).to.equal('ready');
    });
  });

  describe('computeCluster', () => {
    it('resolves aliases through the profile index and lists unprofiled devices, which add nothing', () => {
      const { view, total, allocated } = compute(aCluster().heartbeatAt(NOW).build(), [
        devices('NVIDIA-H100-80GB-HBM3', 8, 7),
        devices('Enflame-S60', 4),
        devices('huawei-Ascend910B', 16),
      ]);
      expect(view.inventory).to.deep.equal([
        { deviceModel: 'NVIDIA-H100-80GB-HBM3', profile: 'NVIDIA-H100-80GB', vendor: 'nvidia', total: 8, healthy: 7 },
        { deviceModel: 'Enflame-S60', profile: null, vendor: null, total: 4, healthy: 4 },
        { deviceModel: 'huawei-Ascend910B', profile: 'Ascend910B', vendor: 'huawei', total: 16, healthy: 16 },
      ]);
      expect(view.unprofiledDevices).to.deep.equal(['Enflame-S60']);
      expect(view.capacity).to.deep.equal({ totalStdPerMin: 7 * H100 + 16 * ASCEND, allocatedStdPerMin: 0, freeStdPerMin: 7 * H100 + 16 * ASCEND });
      expect(total).to.equal(BigInt(7 * H100 + 16 * ASCEND) * 1_000_000n);
      expect(allocated).to.equal(0n);
    });

    it('counts a profile reported under two names once per name, summing both', () => {
      const { view, byVendor } = compute(aCluster().heartbeatAt(NOW).build(), [devices('H100', 2), devices('NVIDIA-H100-80GB', 3)]);
      expect(view.capacity.totalStdPerMin).to.equal(5 * H100);
      expect(byVendor.get('nvidia')).to.deep.include({ devices: 5 });
    });

    it('is exact for fractional throughputs', () => {
      const { view } = compute(aCluster().heartbeatAt(NOW).build(), [devices('Tiny', 3)]);
      expect(view.capacity.totalStdPerMin).to.equal(3 * TINY);
    });

    it('reports times as RFC 3339 and a never-reporting cluster with an empty view', () => {
      const pending = compute(aCluster().createdAt('2026-10-01T00:00:00Z').build()).view;
      expect(pending).to.deep.include({
        state: 'pending',
        cordoned: false,
        lastHeartbeatAt: null,
        createdAt: '2026-10-01T00:00:00.000Z',
        inventory: [],
        unprofiledDevices: [],
      });
      expect(pending.capacity).to.deep.equal({ totalStdPerMin: 0, allocatedStdPerMin: 0, freeStdPerMin: 0 });
      expect(compute(aCluster().heartbeatAt(NOW).build()).view.lastHeartbeatAt).to.equal(NOW.toISOString());
    });

    describe('held devices', () => {
      const cases: ReadonlyArray<{
        title: string;
        inventory: ReportedInventory[];
        held: Record<string, number>;
        total: number;
        allocated: number;
        free: number;
      }> = [
        {
          title: "held devices count as allocated, at their profile's throughput",
          inventory: [devices('NVIDIA-H100-80GB-HBM3', 8)],
          held: { 'NVIDIA-H100-80GB-HBM3': 2 },
          total: 8 * H100,
          allocated: 2 * H100,
          free: 6 * H100,
        },
        {
          title: 'every healthy device held: free is 0',
          inventory: [devices('H100', 8)],
          held: { H100: 8 },
          total: 8 * H100,
          allocated: 8 * H100,
          free: 0,
        },
        {
          title: 'more held than healthy (devices broke under a placement): still allocated, free never negative',
          inventory: [devices('H100', 8, 5)],
          held: { H100: 8 },
          total: 5 * H100,
          allocated: 8 * H100,
          free: 0,
        },
        {
          title: 'held devices of a model the cluster does not report add nothing',
          inventory: [devices('H100', 8)],
          held: { 'huawei-Ascend910B': 4 },
          total: 8 * H100,
          allocated: 0,
          free: 8 * H100,
        },
        {
          title: 'held unprofiled devices add nothing',
          inventory: [devices('H100', 8), devices('Enflame-S60', 4)],
          held: { 'Enflame-S60': 4 },
          total: 8 * H100,
          allocated: 0,
          free: 8 * H100,
        },
        {
          title: 'one model over-held does not eat the free capacity of another',
          inventory: [devices('H100', 4, 2), devices('Ascend910B', 4)],
          held: { H100: 4, Ascend910B: 1 },
          total: 2 * H100 + 4 * ASCEND,
          allocated: 4 * H100 + ASCEND,
          free: 3 * ASCEND,
        },
      ];
      for (const { title, inventory, held, total, allocated, free } of cases) {
        it(title, () => {
          const { view } = compute(aCluster().heartbeatAt(NOW).build(), inventory, held);
          expect(view.capacity).to.deep.equal({ totalStdPerMin: total, allocatedStdPerMin: allocated, freeStdPerMin: free });
        });
      }
    });

    describe('free capacity only where new placements go', () => {
      const inventory = [devices('H100', 8)];
      const held = { H100: 3 };
      const cases: ReadonlyArray<readonly [ClusterState, ClusterFacts, number]> = [
        ['ready', aCluster().heartbeatAt(NOW).build(), 5 * H100],
        ['cordoned', aCluster().cordoned().heartbeatAt(NOW).build(), 0],
        [
          'not_ready',
          aCluster()
            .heartbeatAt(ago(TTL + 1))
            .build(),
          0,
        ],
        ['pending', aCluster().build(), 0],
      ];
      for (const [state, facts, free] of cases) {
        it(`${state}: free ${free}, total and allocated as reported`, () => {
          const { view } = compute(facts, inventory, held);
          expect(view.state).to.equal(state);
          expect(view.capacity).to.deep.equal({ totalStdPerMin: 8 * H100, allocatedStdPerMin: 3 * H100, freeStdPerMin: free });
        });
      }

      it('shows the hold in every state', () => {
        expect(
          compute(
            aCluster()
              .cordoned()
              .heartbeatAt(ago(TTL + 1))
              .build(),
          ).view,
        ).to.include({ state: 'not_ready', cordoned: true });
        expect(compute(aCluster().cordoned().build()).view).to.include({ state: 'cordoned', cordoned: true });
        expect(compute(aCluster().heartbeatAt(NOW).build()).view).to.include({ state: 'ready', cordoned: false });
      });
    });
  });

  describe('computePool', () => {
    /** One cluster of the pool, with its reported inventory and held devices. */
    const member = (facts: ClusterFacts, inventory: ReportedInventory[] = [], held: Record<string, number> = {}) => compute(facts, inventory, held);

    it('is all zeros for an empty city', () => {
      expect(computePool([])).to.deep.equal({
        totalStdPerMin: 0,
        allocatedStdPerMin: 0,
        freeStdPerMin: 0,
        clusters: { ready: 0, notReady: 0, cordoned: 0, pending: 0 },
        byVendor: [],
        byCluster: [],
      });
    });

    it('orders vendors of equal capacity by name', () => {
      const pool = computePool([member(aCluster().heartbeatAt(NOW).build(), [devices('Ascend910B', 3), devices('NVIDIA-A100-80GB', 4)])]);
      expect(pool.byVendor.map((v) => v.vendor)).to.deep.equal(['huawei', 'nvidia']);
    });

    describe('a city in every state', () => {
      const clusters = [
        member(aCluster().id('cl_a').named('a').heartbeatAt(NOW).build(), [devices('NVIDIA-H100-80GB-HBM3', 8), devices('Enflame-S60', 4)], {
          'NVIDIA-H100-80GB-HBM3': 2,
        }),
        member(aCluster().id('cl_b').named('b').region('huangpu').heartbeatAt(ago(TTL)).build(), [devices('huawei-Ascend910B', 16, 15)]),
        member(aCluster().id('cl_c').named('c').cordoned().heartbeatAt(NOW).build(), [devices('H100', 4)], { H100: 1 }),
        member(
          aCluster()
            .id('cl_d')
            .named('d')
            .heartbeatAt(ago(TTL + 1))
            .build(),
          [devices('H100', 8)],
          { H100: 8 },
        ),
        member(aCluster().id('cl_e').named('e').build()),
        member(
          aCluster()
            .id('cl_f')
            .named('f')
            .cordoned()
            .heartbeatAt(ago(TTL + 1))
            .build(),
          [devices('Ascend910B', 8)],
        ),
      ];
      const pool = computePool(clusters);

      it('totals and allocations count ready and cordoned clusters only', () => {
        expect(pool.totalStdPerMin).to.equal(8 * H100 + 15 * ASCEND + 4 * H100);
        expect(pool.allocatedStdPerMin).to.equal(2 * H100 + 1 * H100);
      });

      it('free capacity counts ready clusters only', () => {
        expect(pool.freeStdPerMin).to.equal(6 * H100 + 15 * ASCEND);
      });

      it('counts clusters by state, a silent cordoned cluster as not ready', () => {
        expect(pool.clusters).to.deep.equal({ ready: 2, notReady: 2, cordoned: 1, pending: 1 });
      });

      it('sums by vendor, largest first, counting healthy profiled devices', () => {
        expect(pool.byVendor).to.deep.equal([
          { vendor: 'nvidia', devices: 12, totalStdPerMin: 12 * H100, allocatedStdPerMin: 3 * H100, freeStdPerMin: 6 * H100 },
          { vendor: 'huawei', devices: 15, totalStdPerMin: 15 * ASCEND, allocatedStdPerMin: 0, freeStdPerMin: 15 * ASCEND },
        ]);
      });

      it("vendor figures add up to the pool's", () => {
        const sum = (k: 'totalStdPerMin' | 'allocatedStdPerMin' | 'freeStdPerMin') => pool.byVendor.reduce((s, v) => s + v[k], 0);
        expect(sum('totalStdPerMin')).to.equal(pool.totalStdPerMin);
        expect(sum('allocatedStdPerMin')).to.equal(pool.allocatedStdPerMin);
        expect(sum('freeStdPerMin')).to.equal(pool.freeStdPerMin);
      });

      it('lists every cluster, in order, with its own figures', () => {
        expect(pool.byCluster).to.deep.equal([
          { clusterId: 'cl_a', name: 'a', region: 'nansha', state: 'ready', totalStdPerMin: 8 * H100, allocatedStdPerMin: 2 * H100, freeStdPerMin: 6 * H100 },
          { clusterId: 'cl_b', name: 'b', region: 'huangpu', state: 'ready', totalStdPerMin: 15 * ASCEND, allocatedStdPerMin: 0, freeStdPerMin: 15 * ASCEND },
          { clusterId: 'cl_c', name: 'c', region: 'nansha', state: 'cordoned', totalStdPerMin: 4 * H100, allocatedStdPerMin: H100, freeStdPerMin: 0 },
          { clusterId: 'cl_d', name: 'd', region: 'nansha', state: 'not_ready', totalStdPerMin: 8 * H100, allocatedStdPerMin: 8 * H100, freeStdPerMin: 0 },
          { clusterId: 'cl_e', name: 'e', region: 'nansha', state: 'pending', totalStdPerMin: 0, allocatedStdPerMin: 0, freeStdPerMin: 0 },
          { clusterId: 'cl_f', name: 'f', region: 'nansha', state: 'not_ready', totalStdPerMin: 8 * ASCEND, allocatedStdPerMin: 0, freeStdPerMin: 0 },
        ]);
      });
    });

    describe('free capacity is never negative', () => {
      const cases: ReadonlyArray<{ title: string; clusters: ClusterComputation[]; free: number; vendorFree: Record<string, number> }> = [
        {
          title: 'an over-held cluster adds no free capacity and takes none from the others',
          clusters: [
            member(aCluster().heartbeatAt(NOW).build(), [devices('H100', 8, 4)], { H100: 8 }),
            member(aCluster().heartbeatAt(NOW).build(), [devices('H100', 2)]),
          ],
          free: 2 * H100,
          vendorFree: { nvidia: 2 * H100 },
        },
        {
          title: 'an over-held model takes nothing from another vendor in the same cluster',
          clusters: [member(aCluster().heartbeatAt(NOW).build(), [devices('H100', 4, 2), devices('Ascend910B', 4)], { H100: 4 })],
          free: 4 * ASCEND,
          vendorFree: { nvidia: 0, huawei: 4 * ASCEND },
        },
        {
          title: 'an over-held model takes nothing from another model of the same vendor',
          clusters: [member(aCluster().heartbeatAt(NOW).build(), [devices('H100', 4, 2), devices('NVIDIA-A100-80GB', 4)], { H100: 4 })],
          free: 4 * A100,
          vendorFree: { nvidia: 4 * A100 },
        },
      ];
      for (const { title, clusters, free, vendorFree } of cases) {
        it(title, () => {
          const pool = computePool(clusters);
          expect(pool.freeStdPerMin).to.equal(free);
          expect(Object.fromEntries(pool.byVendor.map((v) => [v.vendor, v.freeStdPerMin]))).to.deep.equal(vendorFree);
          expect(pool.byCluster.reduce((s, c) => s + c.freeStdPerMin, 0)).to.equal(free);
        });
      }
    });
  });
});
