import { expect } from 'chai';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { MAX_NODE_ENTRIES, nodeDevices, podDevices, type DeviceProfileInfo } from '../../../../adapters/kubernetes/inventory.js';
import { leaderWorkerSetFor, spanOf } from '../../../../adapters/kubernetes/leader-worker-set.js';
import type { DesiredPlacement } from '../../../../adapters/platform-client.js';
import { replicaPods } from '../../../../scheduler/node-fit.js';

const PROFILES: DeviceProfileInfo[] = [
  { name: 'NVIDIA-H100-80GB', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', aliases: ['NVIDIA-H100-80GB-HBM3'] },
  { name: 'Huawei-Ascend-910B-64GB', vendor: 'huawei', resourceName: 'huawei.com/Ascend910', aliases: ['huawei-Ascend910B'] },
];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const GPU = 'nvidia.com/gpu';

function node(name: string, resources: Record<string, string>, labels: Record<string, string> = { 'nvidia.com/gpu.product': H100 }, ready = true): V1Node {
  return {
    metadata: { name, labels },
    status: {
      capacity: { cpu: '64', ...resources },
      allocatable: { cpu: '64', ...resources },
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

function pod(nodeName: string | undefined, gpus: number, opts: { phase?: string; init?: number; limitsOnly?: boolean; resource?: string } = {}): V1Pod {
  const r = opts.resource ?? GPU;
  const res = (n: number) => (opts.limitsOnly ? { limits: { [r]: String(n) } } : { requests: { [r]: String(n) }, limits: { [r]: String(n) } });
  return {
    metadata: { name: `p-${Math.random()}` },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'a', resources: res(gpus) }],
      ...(opts.init ? { initContainers: [{ name: 'i', resources: res(opts.init) }] } : {}),
    },
    ...(opts.phase ? { status: { phase: opts.phase } } : {}),
  };
}

describe('nodeDevices: free devices per node', () => {
  it('subtracts what pods bound to the node request, whatever their namespace, unless they terminated', () => {
    const nodes = [node('gpu-a', { [GPU]: '8' }), node('gpu-b', { [GPU]: '8' })];
    const pods = [
      pod('gpu-a', 3, { phase: 'Running' }),
      pod('gpu-a', 1), // pending, bound: counts
      pod('gpu-a', 2, { phase: 'Succeeded' }),
      pod('gpu-a', 2, { phase: 'Failed' }),
      pod(undefined, 4), // not bound to any node: counts nowhere
      pod('gpu-b', 1, { init: 4 }), // init container's 4 is the larger
      pod('gpu-b', 2, { limitsOnly: true }), // an extended resource's request defaults to its limit
    ];
    expect(nodeDevices(nodes, pods, PROFILES)).to.deep.equal([
      { name: 'gpu-a', deviceModel: H100, total: 8, free: 4 },
      { name: 'gpu-b', deviceModel: H100, total: 8, free: 2 },
    ]);
  });

  it('a node not Ready, or cordoned, has nothing free; an over-requested one is 0, not negative', () => {
    const cordoned = node('gpu-c', { [GPU]: '8' });
    cordoned.spec = { unschedulable: true };
    const nodes = [node('gpu-a', { [GPU]: '8' }, undefined, false), node('gpu-b', { [GPU]: '4' }), cordoned];
    expect(nodeDevices(nodes, [pod('gpu-b', 6)], PROFILES).map((n) => [n.name, n.total, n.free])).to.deep.equal([
      ['gpu-a', 8, 0],
      ['gpu-b', 4, 0],
      ['gpu-c', 8, 0],
    ]);
  });

  it('names models as the inventory does and skips nodes without counted devices', () => {
    const nodes = [node('npu-1', { 'huawei.com/Ascend910': '16' }, { accelerator: 'huawei-Ascend910B' }), node('cpu-1', {}), node('gpu-1', { [GPU]: '2' }, {})];
    expect(nodeDevices(nodes, [pod('npu-1', 8, { resource: 'huawei.com/Ascend910' })], PROFILES)).to.deep.equal([
      // No model label on gpu-1: the only profile with its resource names it.
      { name: 'gpu-1', deviceModel: 'NVIDIA-H100-80GB', total: 2, free: 2 },
      { name: 'npu-1', deviceModel: 'huawei-Ascend910B', total: 16, free: 8 },
    ]);
  });

  it(`keeps at most ${MAX_NODE_ENTRIES} entries, those with the most free devices`, () => {
    const nodes = Array.from({ length: MAX_NODE_ENTRIES + 2 }, (_, i) => node(`gpu-${String(i).padStart(5, '0')}`, { [GPU]: '8' }));
    const pods = [pod('gpu-00000', 8), pod('gpu-00001', 7)];
    const report = nodeDevices(nodes, pods, PROFILES);
    expect(report).to.have.length(MAX_NODE_ENTRIES);
    expect(report.map((n) => n.name)).not.to.include.members(['gpu-00000', 'gpu-00001']);
  });

  it('podDevices: the larger of the containers and any init container', () => {
    expect(podDevices(pod('n', 2, { init: 1 }), GPU)).to.equal(2);
    expect(podDevices(pod('n', 2, { init: 6 }), GPU)).to.equal(6);
    expect(podDevices(pod('n', 2), 'huawei.com/Ascend910')).to.equal(0);
  });
});

describe('LeaderWorkerSet of a placement larger than any node', () => {
  const placement: DesiredPlacement = {
    id: 'pl_01jq8x3v4k0000000000000000',
    workloadId: 'wl_01jq8x2m1n0000000000000000',
    model: 'deepseek-v3',
    deviceModel: H100,
    profile: 'NVIDIA-H100-80GB',
    resourceName: GPU,
    replicas: 2,
    devicesPerReplica: 16,
    servingKey: 'sk-test',
  };

  for (const [n, largest] of [
    [16, 8],
    [16, 6],
    [64, 8],
    [8, 8],
    [4, 8],
  ] as const) {
    it(`${n} devices on nodes of up to ${largest}: the same span as the scheduler's`, () => {
      const span = spanOf(n, largest);
      const pods = replicaPods(n, largest, true)!;
      if (pods.pods === 1) expect(span).to.equal(undefined);
      else expect(span).to.deep.equal({ share: pods.pod, size: pods.pods });
    });
  }

  it("one group of `size` pods per replica, each asking for the share, on the device model's nodes", () => {
    const set = leaderWorkerSetFor(
      placement,
      { share: 8, size: 2 },
      { resourceName: GPU, nodeSelector: { 'nvidia.com/gpu.product': H100 } },
      'tokenpool-workloads',
      {
        image: 'vllm/vllm-openai:v0.8.5',
        port: 8000,
      },
    );
    expect(set).to.include({ apiVersion: 'leaderworkerset.x-k8s.io/v1', kind: 'LeaderWorkerSet' });
    expect(set.metadata).to.include({ name: 'tp-pl-01jq8x3v4k0000000000000000', namespace: 'tokenpool-workloads' });
    expect(set.spec.replicas).to.equal(2);
    expect(set.spec.leaderWorkerTemplate.size).to.equal(2);
    const spec = set.spec.leaderWorkerTemplate.workerTemplate.spec!;
    expect(spec.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.product': H100 });
    const c = spec.containers[0]!;
    expect(c.resources).to.deep.equal({ limits: { [GPU]: '8' }, requests: { [GPU]: '8' } });
    expect(c.args![c.args!.indexOf('--tensor-parallel-size') + 1]).to.equal('8');
    expect(c.env).to.deep.include({ name: 'TOKENPOOL_NODES_PER_REPLICA', value: '2' });
    expect(c.env).to.deep.include({ name: 'TOKENPOOL_DEVICES_PER_REPLICA', value: '16' });
  });
});
