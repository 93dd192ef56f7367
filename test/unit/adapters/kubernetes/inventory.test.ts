import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import { hamiDevices, inventoryFromNodes, type DeviceProfileInfo } from '../../../../adapters/kubernetes/inventory.js';

const PROFILES: DeviceProfileInfo[] = [
  { name: 'NVIDIA-H100-80GB', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', aliases: ['NVIDIA-H100-80GB-HBM3'] },
  { name: 'NVIDIA-A100-80GB', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', aliases: [] },
  { name: 'Huawei-Ascend-910B-64GB', vendor: 'huawei', resourceName: 'huawei.com/Ascend910', aliases: ['huawei-Ascend910B'] },
  { name: 'Hygon-DCU-K100-64GB', vendor: 'hygon', resourceName: 'hygon.com/dcu', aliases: ['K100'] },
];

function node(resource: string, capacity: string, opts: { allocatable?: string; labels?: Record<string, string>; annotations?: Record<string, string>; unschedulable?: boolean; ready?: string | null } = {}): V1Node {
  return {
    metadata: { name: 'n', labels: opts.labels, annotations: opts.annotations },
    spec: { unschedulable: opts.unschedulable },
    status: {
      capacity: { cpu: '64', [resource]: capacity },
      allocatable: { cpu: '64', [resource]: opts.allocatable ?? capacity },
      conditions: opts.ready === null ? [] : [{ type: 'Ready', status: opts.ready ?? 'True' }],
    },
  };
}

const nv = (labels: Record<string, string> = { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' }) => labels;
const hamiJson = JSON.stringify([
  { id: 'GPU-0', count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA-NVIDIA A100', numa: 0, health: true },
  { id: 'GPU-1', count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA-NVIDIA A100', numa: 0, health: false },
]);
const hamiLegacy = 'GPU-0,10,81920,100,NVIDIA-NVIDIA A100,0,true:GPU-1,10,81920,100,NVIDIA-NVIDIA A100,0,true:GPU-2,10,81920,100,NVIDIA-NVIDIA A100,0,false:';

describe('inventoryFromNodes', () => {
  const cases: { name: string; nodes: V1Node[]; inventory: { deviceModel: string; total: number; healthy: number }[]; selector?: [string, Record<string, string>] }[] = [
    { name: 'NVIDIA node by its product label; allocatable is healthy', nodes: [node('nvidia.com/gpu', '8', { allocatable: '7', labels: nv() })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 7 }], selector: ['NVIDIA-H100-80GB-HBM3', { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' }] },
    { name: 'Ascend node by its accelerator label', nodes: [node('huawei.com/Ascend910', '16', { labels: { accelerator: 'huawei-Ascend910B' } })],
      inventory: [{ deviceModel: 'huawei-Ascend910B', total: 16, healthy: 16 }], selector: ['huawei-Ascend910B', { accelerator: 'huawei-Ascend910B' }] },
    { name: 'the override label wins', nodes: [node('nvidia.com/gpu', '4', { labels: { ...nv(), 'tokenpool.io/device-model': 'NVIDIA-A100-80GB' } })],
      inventory: [{ deviceModel: 'NVIDIA-A100-80GB', total: 4, healthy: 4 }], selector: ['NVIDIA-A100-80GB', { 'tokenpool.io/device-model': 'NVIDIA-A100-80GB' }] },
    { name: 'an unschedulable node has no healthy devices', nodes: [node('nvidia.com/gpu', '8', { labels: nv(), unschedulable: true })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 0 }] },
    { name: 'a NotReady node has no healthy devices', nodes: [node('nvidia.com/gpu', '8', { labels: nv(), ready: 'Unknown' })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 0 }] },
    { name: 'a node without a Ready condition has no healthy devices', nodes: [node('nvidia.com/gpu', '8', { labels: nv(), ready: null })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 0 }] },
    { name: 'no label, several profiles share the resource: the resource name', nodes: [node('nvidia.com/gpu', '2', { labels: {} })],
      inventory: [{ deviceModel: 'nvidia.com/gpu', total: 2, healthy: 2 }], selector: ['nvidia.com/gpu', {}] },
    { name: 'no label, one profile has the resource: its name', nodes: [node('hygon.com/dcu', '8')],
      inventory: [{ deviceModel: 'Hygon-DCU-K100-64GB', total: 8, healthy: 8 }] },
    { name: 'resources no profile carries are not counted', nodes: [node('example.com/tpu', '8')], inventory: [] },
    { name: 'HAMi (JSON annotation): 20 slices over 2 cards, one unhealthy', nodes: [node('nvidia.com/gpu', '20', { labels: nv({ 'nvidia.com/gpu.product': 'NVIDIA-A100-80GB' }), annotations: { 'hami.io/node-nvidia-register': hamiJson } })],
      inventory: [{ deviceModel: 'NVIDIA-A100-80GB', total: 2, healthy: 1 }] },
    { name: 'HAMi (legacy annotation): 30 slices over 3 cards, two healthy', nodes: [node('nvidia.com/gpu', '30', { labels: nv(), annotations: { 'hami.io/node-nvidia-register': hamiLegacy } })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 3, healthy: 2 }] },
    { name: 'a malformed HAMi annotation falls back to capacity', nodes: [node('nvidia.com/gpu', '8', { labels: nv(), annotations: { 'hami.io/node-nvidia-register': '{oops' } })],
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }] },
    { name: 'sums over nodes, sorted by model', nodes: [
      node('nvidia.com/gpu', '8', { labels: nv() }), node('nvidia.com/gpu', '8', { allocatable: '6', labels: nv() }),
      node('huawei.com/Ascend910', '8', { labels: { accelerator: 'huawei-Ascend910B' } }),
    ], inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 16, healthy: 14 }, { deviceModel: 'huawei-Ascend910B', total: 8, healthy: 8 }] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { inventory, selectors } = inventoryFromNodes(c.nodes, PROFILES);
      expect(inventory).to.deep.equal(c.inventory);
      if (c.selector) expect(selectors.get(c.selector[0])?.nodeSelector).to.deep.equal(c.selector[1]);
    });
  }

  it('reads HAMi annotations only for the resource’s vendor', () => {
    const n = node('hygon.com/dcu', '8', { annotations: { 'hami.io/node-nvidia-register': hamiJson } });
    expect(hamiDevices(n, 'hygon.com/dcu')).to.equal(undefined);
    expect(hamiDevices(n, 'nvidia.com/gpu')).to.deep.equal({ total: 2, healthy: 1 });
  });
});
