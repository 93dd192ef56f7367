import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import { deviceCount, hamiDevices, inventoryFromNodes, parseHamiRegister, type DeviceProfileInfo } from '../../../../adapters/kubernetes/inventory.js';
import type { InventoryReport } from '../../../../adapters/platform-client.js';

const PROFILES: DeviceProfileInfo[] = [
  { name: 'NVIDIA-H100-80GB', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', aliases: ['NVIDIA-H100-80GB-HBM3'] },
  { name: 'NVIDIA-A100-80GB', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', aliases: ['NVIDIA-A100-SXM4-80GB'] },
  { name: 'Huawei-Ascend-910B-64GB', vendor: 'huawei', resourceName: 'huawei.com/Ascend910', aliases: ['huawei-Ascend910B'] },
  { name: 'Huawei-Ascend-910C-128GB', vendor: 'huawei', resourceName: 'huawei.com/Ascend910', aliases: ['huawei-Ascend910C'] },
  { name: 'Hygon-DCU-K100-64GB', vendor: 'hygon', resourceName: 'hygon.com/dcu', aliases: ['K100'] },
  { name: 'MooreThreads-S4000-48GB', vendor: 'mthreads', resourceName: 'mthreads.com/gpu', aliases: ['MTT-S4000'] },
];

const H100 = 'NVIDIA-H100-80GB-HBM3';
const A100 = 'NVIDIA-A100-SXM4-80GB';
const PRODUCT = 'nvidia.com/gpu.product';

/** A Node as the API server returns it; Ready and schedulable unless told otherwise. */
class NodeBuilder {
  readonly #name: string;
  #labels: Record<string, string> = {};
  #annotations: Record<string, string> = {};
  #capacity: Record<string, string> = { cpu: '64', memory: '512Gi', pods: '110' };
  #allocatable: Record<string, string> = { cpu: '63500m', memory: '500Gi', pods: '110' };
  #unschedulable = false;
  #ready: string | undefined = 'True';

  constructor(name: string) {
    this.#name = name;
  }
  /** `count` devices of `resource`, `allocatable` of them allocatable (default all). */
  devices(resource: string, count: string, allocatable = count): this {
    this.#capacity[resource] = count;
    this.#allocatable[resource] = allocatable;
    return this;
  }
  label(key: string, value: string): this {
    this.#labels[key] = value;
    return this;
  }
  annotation(key: string, value: string): this {
    this.#annotations[key] = value;
    return this;
  }
  unschedulable(): this {
    this.#unschedulable = true;
    return this;
  }
  /** `undefined`: no Ready condition at all. */
  ready(status: string | undefined): this {
    this.#ready = status;
    return this;
  }
  build(): V1Node {
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.#name, labels: { 'kubernetes.io/hostname': this.#name, ...this.#labels }, annotations: { ...this.#annotations } },
      spec: this.#unschedulable ? { unschedulable: true } : {},
      status: {
        capacity: { ...this.#capacity },
        allocatable: { ...this.#allocatable },
        conditions: [{ type: 'MemoryPressure', status: 'False' }, ...(this.#ready === undefined ? [] : [{ type: 'Ready', status: this.#ready }])],
      },
    };
  }
}

const aNode = (name = 'node-1') => new NodeBuilder(name);
const h100Node = (name = 'gpu-1') => aNode(name).devices('nvidia.com/gpu', '8').label(PRODUCT, H100);

/** HAMi's newer register annotation: `health` is left out when false (Go `omitempty`). */
function hamiJson(healthy: readonly boolean[]): string {
  return JSON.stringify(
    healthy.map((h, i) => ({
      id: `GPU-${i}`,
      count: 5,
      devmem: 81920,
      devcore: 100,
      type: 'NVIDIA-NVIDIA A100-SXM4-80GB',
      numa: 0,
      mode: 'hami-core',
      ...(h ? { health: true } : {}),
    })),
  );
}

/** HAMi's older register annotation, with the trailing colon it writes. */
function hamiLegacy(healthy: readonly boolean[]): string {
  return healthy.map((h, i) => `GPU-${i},5,81920,100,NVIDIA-NVIDIA A100-SXM4-80GB,0,${h}:`).join('');
}

interface Case {
  readonly name: string;
  readonly nodes: readonly V1Node[];
  readonly inventory: readonly InventoryReport[];
  /** Expected node selectors by device model (all resources here are checked). */
  readonly selectors?: Readonly<Record<string, readonly [resourceName: string, nodeSelector: Record<string, string>]>>;
}

describe('inventoryFromNodes', () => {
  const cases: Case[] = [
    {
      name: 'NVIDIA: the GPU feature discovery product label; allocatable is healthy',
      nodes: [aNode().devices('nvidia.com/gpu', '8', '7').label(PRODUCT, H100).build()],
      inventory: [{ deviceModel: H100, total: 8, healthy: 7 }],
      selectors: { [H100]: ['nvidia.com/gpu', { [PRODUCT]: H100 }] },
    },
    {
      name: 'Ascend: the accelerator label, reported as is',
      nodes: [aNode().devices('huawei.com/Ascend910', '16').label('accelerator', 'huawei-Ascend910B').build()],
      inventory: [{ deviceModel: 'huawei-Ascend910B', total: 16, healthy: 16 }],
      selectors: { 'huawei-Ascend910B': ['huawei.com/Ascend910', { accelerator: 'huawei-Ascend910B' }] },
    },
    {
      name: 'the tokenpool.io/device-model label overrides the vendor label',
      nodes: [h100Node().label('tokenpool.io/device-model', 'NVIDIA-H800-80GB').build()],
      inventory: [{ deviceModel: 'NVIDIA-H800-80GB', total: 8, healthy: 8 }],
      selectors: { 'NVIDIA-H800-80GB': ['nvidia.com/gpu', { 'tokenpool.io/device-model': 'NVIDIA-H800-80GB' }] },
    },
    {
      name: 'an unschedulable (cordoned) node has no healthy devices',
      nodes: [h100Node().unschedulable().build()],
      inventory: [{ deviceModel: H100, total: 8, healthy: 0 }],
    },
    {
      name: 'a NotReady node has no healthy devices',
      nodes: [h100Node().ready('False').build()],
      inventory: [{ deviceModel: H100, total: 8, healthy: 0 }],
    },
    {
      name: 'a node whose Ready condition is Unknown or missing has no healthy devices',
      nodes: [h100Node('a').ready('Unknown').build(), h100Node('b').ready(undefined).build()],
      inventory: [{ deviceModel: H100, total: 16, healthy: 0 }],
    },
    {
      name: 'no label, several profiles share the resource: the resource name, any node',
      nodes: [aNode().devices('nvidia.com/gpu', '2').build()],
      inventory: [{ deviceModel: 'nvidia.com/gpu', total: 2, healthy: 2 }],
      selectors: { 'nvidia.com/gpu': ['nvidia.com/gpu', {}] },
    },
    {
      name: 'no label, one profile has the resource: that profile',
      nodes: [aNode().devices('mthreads.com/gpu', '8').build()],
      inventory: [{ deviceModel: 'MooreThreads-S4000-48GB', total: 8, healthy: 8 }],
      selectors: { 'MooreThreads-S4000-48GB': ['mthreads.com/gpu', {}] },
    },
    {
      name: 'Hygon: the DCU name label',
      nodes: [aNode().devices('hygon.com/dcu', '8').label('hygon.com/dcu.name', 'K100_AI').build()],
      inventory: [{ deviceModel: 'K100_AI', total: 8, healthy: 8 }],
      selectors: { K100_AI: ['hygon.com/dcu', { 'hygon.com/dcu.name': 'K100_AI' }] },
    },
    {
      name: "another vendor's label does not name the device",
      nodes: [aNode().devices('hygon.com/dcu', '8').label(PRODUCT, H100).build()],
      inventory: [{ deviceModel: 'Hygon-DCU-K100-64GB', total: 8, healthy: 8 }],
    },
    {
      name: 'resources no profile names, and zero capacity, are not counted',
      nodes: [aNode().devices('example.com/tpu', '8').devices('nvidia.com/gpu', '0').label(PRODUCT, H100).build(), aNode('cpu').build()],
      inventory: [],
    },
    {
      name: 'quantities are Kubernetes quantities; allocatable never exceeds capacity',
      nodes: [aNode().devices('nvidia.com/gpu', '1k', '2k').label(PRODUCT, H100).build()],
      inventory: [{ deviceModel: H100, total: 1000, healthy: 1000 }],
    },
    {
      name: 'a missing or unreadable allocatable counts as no healthy devices',
      nodes: [aNode().devices('nvidia.com/gpu', '8', 'lots').label(PRODUCT, H100).build()],
      inventory: [{ deviceModel: H100, total: 8, healthy: 0 }],
    },
    {
      name: 'HAMi, JSON annotation: 10 slices over 2 cards, one unhealthy',
      nodes: [
        aNode()
          .devices('nvidia.com/gpu', '10')
          .label(PRODUCT, A100)
          .annotation('hami.io/node-nvidia-register', hamiJson([true, false]))
          .build(),
      ],
      inventory: [{ deviceModel: A100, total: 2, healthy: 1 }],
    },
    {
      name: 'HAMi, legacy annotation: 10 slices over 2 cards, one unhealthy',
      nodes: [
        aNode()
          .devices('nvidia.com/gpu', '10')
          .label(PRODUCT, A100)
          .annotation('hami.io/node-nvidia-register', hamiLegacy([false, true]))
          .build(),
      ],
      inventory: [{ deviceModel: A100, total: 2, healthy: 1 }],
    },
    {
      name: 'HAMi on a cordoned node: physical total, none healthy',
      nodes: [
        aNode()
          .devices('nvidia.com/gpu', '10')
          .label(PRODUCT, A100)
          .annotation('hami.io/node-nvidia-register', hamiJson([true, true]))
          .unschedulable()
          .build(),
      ],
      inventory: [{ deviceModel: A100, total: 2, healthy: 0 }],
    },
    {
      name: 'HAMi on Hygon: its dcu annotation',
      nodes: [
        aNode()
          .devices('hygon.com/dcu', '40')
          .annotation('hami.io/node-dcu-register', 'DCU-0,10,65536,100,DCU-K100,0,true:DCU-1,10,65536,100,DCU-K100,0,true:')
          .build(),
      ],
      inventory: [{ deviceModel: 'Hygon-DCU-K100-64GB', total: 2, healthy: 2 }],
    },
    ...['{oops', '[', '[]', '[1, 2]', 'GPU-0,5,81920', 'GPU-0,5,81920,100,A100,0,maybe:', ''].map((bad): Case => ({
      name: `a malformed HAMi annotation (${JSON.stringify(bad)}) falls back to capacity and allocatable`,
      nodes: [aNode().devices('nvidia.com/gpu', '10', '9').label(PRODUCT, A100).annotation('hami.io/node-nvidia-register', bad).build()],
      inventory: [{ deviceModel: A100, total: 10, healthy: 9 }],
    })),
    {
      name: 'sums over nodes by model, sorted by model',
      nodes: [
        aNode('npu-1').devices('huawei.com/Ascend910', '8').label('accelerator', 'huawei-Ascend910B').build(),
        h100Node('gpu-1').build(),
        aNode('gpu-2').devices('nvidia.com/gpu', '8', '6').label(PRODUCT, H100).build(),
        aNode('gpu-3').devices('nvidia.com/gpu', '4').label(PRODUCT, A100).build(),
        h100Node('gpu-4').ready('False').build(),
      ],
      inventory: [
        { deviceModel: A100, total: 4, healthy: 4 },
        { deviceModel: H100, total: 24, healthy: 14 },
        { deviceModel: 'huawei-Ascend910B', total: 8, healthy: 8 },
      ],
      selectors: {
        [A100]: ['nvidia.com/gpu', { [PRODUCT]: A100 }],
        [H100]: ['nvidia.com/gpu', { [PRODUCT]: H100 }],
        'huawei-Ascend910B': ['huawei.com/Ascend910', { accelerator: 'huawei-Ascend910B' }],
      },
    },
    {
      name: 'one node with two kinds of device reports both',
      nodes: [aNode().devices('nvidia.com/gpu', '2').devices('hygon.com/dcu', '4').label(PRODUCT, H100).build()],
      inventory: [
        { deviceModel: 'Hygon-DCU-K100-64GB', total: 4, healthy: 4 },
        { deviceModel: H100, total: 2, healthy: 2 },
      ],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const { inventory, selectors } = inventoryFromNodes(c.nodes, PROFILES);
      expect(inventory).to.deep.equal(c.inventory);
      expect([...selectors.keys()]).to.deep.equal(c.inventory.map((r) => r.deviceModel));
      for (const [model, [resourceName, nodeSelector]] of Object.entries(c.selectors ?? {})) {
        expect(selectors.get(model), model).to.deep.equal({ resourceName, nodeSelector });
      }
    });
  }

  it('picks the same selector whatever the order of the nodes: the override label over the vendor label', () => {
    const byVendor = h100Node('a').build();
    const byOverride = aNode('b').devices('nvidia.com/gpu', '8').label('tokenpool.io/device-model', H100).build();
    const unlabelled = aNode('c').devices('mthreads.com/gpu', '8').build();
    const byProfileLabel = aNode('d').devices('mthreads.com/gpu', '8').label('mthreads.com/gpu.product', 'MooreThreads-S4000-48GB').build();
    for (const nodes of [
      [byVendor, byOverride],
      [byOverride, byVendor],
    ]) {
      expect(inventoryFromNodes(nodes, PROFILES).selectors.get(H100)).to.deep.equal({
        resourceName: 'nvidia.com/gpu',
        nodeSelector: { 'tokenpool.io/device-model': H100 },
      });
    }
    for (const nodes of [
      [unlabelled, byProfileLabel],
      [byProfileLabel, unlabelled],
    ]) {
      const { inventory, selectors } = inventoryFromNodes(nodes, PROFILES);
      expect(inventory).to.deep.equal([{ deviceModel: 'MooreThreads-S4000-48GB', total: 16, healthy: 16 }]);
      expect(selectors.get('MooreThreads-S4000-48GB')?.nodeSelector).to.deep.equal({ 'mthreads.com/gpu.product': 'MooreThreads-S4000-48GB' });
    }
  });

  it('returns nothing for no nodes or no profiles', () => {
    expect(inventoryFromNodes([], PROFILES).inventory).to.deep.equal([]);
    expect(inventoryFromNodes([h100Node().build()], []).inventory).to.deep.equal([]);
  });

  it('survives nodes without metadata, spec or status', () => {
    expect(inventoryFromNodes([{}, { status: {} }, { metadata: {} }], PROFILES).inventory).to.deep.equal([]);
  });
});

describe('HAMi register annotations', () => {
  it('are read for the vendor of the profiles with the resource, and only for them', () => {
    const node = aNode()
      .annotation('hami.io/node-nvidia-register', hamiJson([true, false, true]))
      .build();
    expect(hamiDevices(node, 'nvidia.com/gpu', ['nvidia'])).to.deep.equal({ total: 3, healthy: 2 });
    expect(hamiDevices(node, 'hygon.com/dcu', ['hygon'])).to.equal(undefined);
  });

  it('are found by the profile vendor as well as by HAMi’s own keys', () => {
    const node = aNode()
      .annotation('hami.io/node-iluvatar-register', hamiLegacy([true]))
      .annotation('hami.io/node-register-Ascend910B3', hamiJson([true, true]))
      .annotation('hami.io/node-BI-V150-register', hamiJson([true, true, false]))
      .build();
    expect(hamiDevices(node, 'iluvatar.ai/gpu', ['iluvatar'])).to.deep.equal({ total: 1, healthy: 1 });
    expect(hamiDevices(node, 'huawei.com/Ascend910B3', ['huawei'])).to.deep.equal({ total: 2, healthy: 2 });
    expect(hamiDevices(node, 'iluvatar.ai/BI-V150-vgpu')).to.deep.equal({ total: 3, healthy: 2 });
  });

  const formats: [string, { total: number; healthy: number } | undefined][] = [
    [hamiJson([true, false]), { total: 2, healthy: 1 }],
    ['[{"id":"GPU-0","health":"true"}]', { total: 1, healthy: 0 }],
    [hamiLegacy([true, true, false]), { total: 3, healthy: 2 }],
    ['GPU-0,5,81920,100,A100,0,true', { total: 1, healthy: 1 }],
    ['GPU-0,5,81920,100,A100,0,true,0,hami-core:GPU-1,5,81920,100,A100,0,false,1,hami-core:', { total: 2, healthy: 1 }],
    ['  GPU-0,5,81920,100,A100,0,True : GPU-1,5,81920,100,A100,0,F :  ', { total: 2, healthy: 1 }],
    [':', undefined],
    ['{"id":"GPU-0"}', undefined],
    ['[null]', undefined],
    ['[[]]', undefined],
  ];
  for (const [value, want] of formats) {
    it(`read ${JSON.stringify(value).slice(0, 60)}`, () => expect(parseHamiRegister(value)).to.deep.equal(want));
  }
});

describe('deviceCount', () => {
  const cases: [unknown, number][] = [
    ['8', 8],
    ['0', 0],
    ['1k', 1000],
    ['2Ki', 2048],
    ['1e3', 1000],
    ['1E', 1e18],
    ['1500m', 1],
    ['8.0', 8],
    [' 8 ', 8],
    [8, 8],
    ['-1', 0],
    ['', 0],
    ['eight', 0],
    ['8 GPUs', 0],
    [undefined, 0],
    [null, 0],
    [Number.NaN, 0],
    [-3, 0],
  ];
  for (const [q, want] of cases) it(`reads ${typeof q === 'string' ? JSON.stringify(q) : String(q)} as ${want}`, () => expect(deviceCount(q)).to.equal(want));
});
