import { expect } from 'chai';
import { SimulatedCluster } from '../../../adapters/simulated/cluster.js';
import type { SimulatedClusterOptions, SimulatedClusterSpec } from '../../../adapters/simulated/cluster.js';
import type { DesiredPlacement } from '../../../adapters/platform-client.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const ASCEND = 'huawei-Ascend910B';

const spec: SimulatedClusterSpec = {
  name: 'tianhe-1',
  region: 'tianhe',
  labels: { operator: 'China Unicom Guangzhou' },
  nodes: [
    { name: 'gpu-01', deviceModel: H100, devices: 8 },
    { name: 'gpu-02', deviceModel: H100, devices: 8 },
    { name: 'npu-01', deviceModel: ASCEND, devices: 8 },
  ],
};

function aPlacement(id: string, replicas: number, devicesPerReplica: number, deviceModel = H100): DesiredPlacement {
  return {
    id,
    workloadId: `wl-${id}`,
    model: 'qwen2.5-72b-instruct',
    deviceModel,
    profile: deviceModel,
    resourceName: 'nvidia.com/gpu',
    replicas,
    devicesPerReplica,
  };
}

// Every cluster made, so that its serving engines are closed after each test.
const made: SimulatedCluster[] = [];

function cluster(opts?: SimulatedClusterOptions): SimulatedCluster {
  const c = new SimulatedCluster(spec, opts);
  made.push(c);
  return c;
}

async function ready(c: SimulatedCluster): Promise<Record<string, number>> {
  return Object.fromEntries((await c.running()).map((p) => [p.id, p.readyReplicas]));
}

describe('SimulatedCluster', () => {
  afterEach(async () => {
    await Promise.all(made.splice(0).map((c) => c.close()));
  });

  describe('inventory', () => {
    it('groups nodes by device model', async () => {
      expect(await cluster().inventory()).to.deep.equal([
        { deviceModel: H100, total: 16, healthy: 16 },
        { deviceModel: ASCEND, total: 8, healthy: 8 },
      ]);
    });

    it('counts failed devices and down nodes as unhealthy, and repairs them', async () => {
      const c = cluster();
      c.failDevices('gpu-01', 3);
      c.setNodeHealthy('npu-01', false);
      expect(await c.inventory()).to.deep.equal([
        { deviceModel: H100, total: 16, healthy: 13 },
        { deviceModel: ASCEND, total: 8, healthy: 0 },
      ]);
      c.failDevices('gpu-01', 100);
      expect((await c.inventory())[0]).to.include({ healthy: 8 });
      c.repairDevices('gpu-01', 2);
      c.setNodeHealthy('npu-01', true);
      expect(await c.inventory()).to.deep.equal([
        { deviceModel: H100, total: 16, healthy: 10 },
        { deviceModel: ASCEND, total: 8, healthy: 8 },
      ]);
      c.repairDevices('gpu-01');
      expect((await c.inventory())[0]).to.include({ healthy: 16 });
    });

    it('refuses an unknown node', () => {
      expect(() => cluster().failDevices('gpu-99', 1)).to.throw(/no node gpu-99/);
    });
  });

  describe('reconcile', () => {
    it('makes replicas ready one reconcile after they start, by default', async () => {
      const c = cluster();
      const desired = [aPlacement('a', 2, 4)];
      await c.reconcile(desired);
      expect(await ready(c)).to.deep.equal({ a: 0 });
      await c.reconcile(desired);
      expect(await ready(c)).to.deep.equal({ a: 2 });
    });

    it('takes as many reconciles as configured, and 0 means at once', async () => {
      const slow = cluster({ readyAfterReconciles: 3 });
      const desired = [aPlacement('a', 1, 8)];
      const seen: number[] = [];
      for (let i = 0; i < 4; i++) {
        await slow.reconcile(desired);
        seen.push((await ready(slow))['a']!);
      }
      expect(seen).to.deep.equal([0, 0, 0, 1]);

      const fast = cluster({ readyAfterReconciles: 0 });
      await fast.reconcile(desired);
      expect(await ready(fast)).to.deep.equal({ a: 1 });
    });

    it('never holds more healthy devices than there are: the excess stays not ready', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      // 3 × 4 + 2 × 4 = 20 H100 wanted, 16 healthy.
      await c.reconcile([aPlacement('a', 3, 4), aPlacement('b', 2, 4)]);
      expect(await ready(c)).to.deep.equal({ a: 3, b: 1 });
      expect(c.freeDevices(H100)).to.equal(0);
    });

    it('lets a smaller replica start where a bigger one does not fit', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('a', 1, 12), aPlacement('big', 1, 8), aPlacement('small', 1, 4)]);
      expect(await ready(c)).to.deep.equal({ a: 1, big: 0, small: 1 });
    });

    it('counts devices per model: Ascend replicas do not use H100s', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('npu', 2, 8, ASCEND)]);
      expect(await ready(c)).to.deep.equal({ npu: 1 });
      expect(c.freeDevices(H100)).to.equal(16);
    });

    it('takes devices away from replicas at once when they fail, and starts them again after repair', async () => {
      const c = cluster();
      const desired = [aPlacement('a', 2, 8)];
      await c.reconcile(desired);
      await c.reconcile(desired);
      expect(await ready(c)).to.deep.equal({ a: 2 });

      c.setNodeHealthy('gpu-02', false);
      expect(await ready(c)).to.deep.equal({ a: 1 });
      await c.reconcile(desired);
      expect(await ready(c)).to.deep.equal({ a: 1 });

      c.setNodeHealthy('gpu-02', true);
      await c.reconcile(desired);
      expect(await ready(c), 'started again, not ready yet').to.deep.equal({ a: 1 });
      await c.reconcile(desired);
      expect(await ready(c)).to.deep.equal({ a: 2 });
    });

    it('evicts the most recently started replicas first when devices fail', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('old', 1, 8)]);
      await c.reconcile([aPlacement('old', 1, 8), aPlacement('new', 1, 8)]);
      c.failDevices('gpu-01', 1);
      expect(await ready(c)).to.deep.equal({ old: 1, new: 0 });
    });

    it('removes deployments that are no longer desired, freeing their devices', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('a', 2, 8), aPlacement('b', 1, 8)]);
      expect(await ready(c)).to.deep.equal({ a: 2, b: 0 });
      await c.reconcile([aPlacement('b', 1, 8)]);
      expect(await ready(c)).to.deep.equal({ b: 1 });
      await c.reconcile([]);
      expect(await c.running()).to.deep.equal([]);
      expect(c.freeDevices(H100)).to.equal(16);
    });

    it('scales a deployment, keeping ready replicas when scaling down', async () => {
      const c = cluster();
      await c.reconcile([aPlacement('a', 1, 4)]);
      await c.reconcile([aPlacement('a', 3, 4)]);
      expect(await ready(c)).to.deep.equal({ a: 1 });
      await c.reconcile([aPlacement('a', 2, 4)]);
      expect(await ready(c)).to.deep.equal({ a: 2 });
      expect(c.deployments()[0]).to.include({ replicas: 2, scheduledReplicas: 2, readyReplicas: 2 });
      expect(c.freeDevices(H100)).to.equal(8);
    });

    it('starts a placement anew when its replica shape changes', async () => {
      const c = cluster();
      await c.reconcile([aPlacement('a', 1, 4)]);
      await c.reconcile([aPlacement('a', 1, 4)]);
      expect(await ready(c)).to.deep.equal({ a: 1 });
      await c.reconcile([aPlacement('a', 1, 8)]);
      expect(await ready(c)).to.deep.equal({ a: 0 });
    });

    it('shows what it runs for the serving simulation', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('a', 1, 4)]);
      expect(c.deployments()).to.deep.equal([
        {
          id: 'a',
          workloadId: 'wl-a',
          model: 'qwen2.5-72b-instruct',
          deviceModel: H100,
          replicas: 1,
          devicesPerReplica: 4,
          scheduledReplicas: 1,
          readyReplicas: 1,
        },
      ]);
    });
  });

  describe('energy, as a power exporter would measure it', () => {
    it('reports no energy without rated power, as a cluster without a power exporter', async () => {
      const c = cluster({ readyAfterReconciles: 0 });
      await c.reconcile([aPlacement('p', 1, 2)]);
      const [p] = await c.running();
      expect(p).to.not.have.property('energyJoules');
      expect(p).to.not.have.property('powerWatts');
    });

    it('draws the idle share of the rated power idle and all of it at full speed, integrated into joules', async () => {
      let now = 1_800_000_000_000;
      const c = cluster({ readyAfterReconciles: 0, deviceWatts: (m) => (m === H100 ? 700 : undefined), now: () => now });
      await c.reconcile([aPlacement('p', 2, 2), aPlacement('npu', 1, 2, ASCEND)]);
      const first = await c.running();
      // Four devices of 700 W, idle: 30% of 2,800 W; nothing measured yet. The Ascend model has no rating.
      expect(first[0]).to.deep.include({ id: 'p', energyJoules: 0, powerWatts: 840 });
      expect(first[1]).to.not.have.property('energyJoules');
      now += 10_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 8_400, powerWatts: 840 });
      // The replicas generate at full speed (100 tokens/s per device) for the next 10 s: 4,000 tokens.
      for (const pod of c.pods().filter((x) => x.placementId === 'p')) pod.engine.countServed(0, 2_000);
      now += 10_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 8_400 + 28_000, powerWatts: 2_800 });
      // Half speed: 30% + 70% × 0.5 of the rating.
      for (const pod of c.pods().filter((x) => x.placementId === 'p')) pod.engine.countServed(0, 1_000);
      now += 10_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 8_400 + 28_000 + 18_200, powerWatts: 1_820 });
    });

    it('does not integrate across a gap longer than a minute, nor count a clock that went back', async () => {
      let now = 1_800_000_000_000;
      const c = cluster({ readyAfterReconciles: 0, deviceWatts: () => 100, now: () => now });
      await c.reconcile([aPlacement('p', 1, 1)]);
      await c.running();
      now += 10 * 60_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 0 });
      now -= 30_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 0 });
      now += 40_000;
      expect((await c.running())[0]).to.deep.include({ energyJoules: 300 });
    });
  });
});
