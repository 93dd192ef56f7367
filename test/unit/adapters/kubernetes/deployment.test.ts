import { expect } from 'chai';
import { deploymentFor, deploymentName, labelValue, LABELS, MANAGED_BY, placementOf, type ServingConfig } from '../../../../adapters/kubernetes/deployment.js';
import type { DeviceSelector } from '../../../../adapters/kubernetes/inventory.js';
import type { DesiredPlacement } from '../../../../adapters/platform-client.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const SERVING: ServingConfig = { image: 'vllm/vllm-openai:v0.8.5', port: 8000 };
const ON_H100: DeviceSelector = { resourceName: 'nvidia.com/gpu', nodeSelector: { 'nvidia.com/gpu.product': H100 } };

function aPlacement(overrides: Partial<DesiredPlacement> = {}): DesiredPlacement {
  return {
    id: 'pl_01jq8x3v4k0000000000000000',
    workloadId: 'wl_01jq8x2m1n0000000000000000',
    model: 'qwen2.5-72b-instruct',
    deviceModel: H100,
    profile: 'NVIDIA-H100-80GB',
    resourceName: 'nvidia.com/gpu',
    replicas: 3,
    devicesPerReplica: 4,
    ...overrides,
  };
}

/** Every path in a JSON value whose value is undefined or null. */
function emptyPaths(v: unknown, path = '$'): string[] {
  if (v === undefined || v === null) return [path];
  if (typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => emptyPaths(x, `${path}.${k}`));
}

describe('deploymentFor', () => {
  const p = aPlacement();
  const d = deploymentFor(p, ON_H100, 'tokenpool-workloads', SERVING);
  const labels = {
    [LABELS.managedBy]: 'tokenpool-agent',
    [LABELS.placement]: p.id,
    [LABELS.workload]: p.workloadId,
    [LABELS.model]: 'qwen2.5-72b-instruct',
  };

  it('is an apps/v1 Deployment named after the placement, in the namespace, with our labels', () => {
    expect(d.apiVersion).to.equal('apps/v1');
    expect(d.kind).to.equal('Deployment');
    expect(d.metadata).to.deep.equal({ name: 'tp-pl-01jq8x3v4k0000000000000000', namespace: 'tokenpool-workloads', labels });
    expect(d).to.not.have.property('status');
  });

  it('runs one pod per replica, selected by the placement label, labelled and annotated for scraping', () => {
    expect(d.spec!.replicas).to.equal(3);
    expect(d.spec!.selector).to.deep.equal({ matchLabels: { [LABELS.placement]: p.id } });
    expect(d.spec!.template.metadata).to.deep.equal({
      labels,
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8000', 'prometheus.io/path': '/metrics' },
    });
  });

  it('asks for devicesPerReplica of the resource on nodes of the device model', () => {
    const pod = d.spec!.template.spec!;
    expect(pod.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.product': H100 });
    expect(pod.containers).to.have.length(1);
    expect(pod.containers[0]!.resources).to.deep.equal({ limits: { 'nvidia.com/gpu': '4' }, requests: { 'nvidia.com/gpu': '4' } });
  });

  it("runs vLLM's OpenAI server for the model, tensor-parallel over the replica's devices, with a readiness probe", () => {
    const c = d.spec!.template.spec!.containers[0]!;
    expect(c.name).to.equal('serving');
    expect(c.image).to.equal('vllm/vllm-openai:v0.8.5');
    expect(c.args).to.deep.equal([
      '--model',
      'qwen2.5-72b-instruct',
      '--served-model-name',
      'qwen2.5-72b-instruct',
      '--tensor-parallel-size',
      '4',
      '--port',
      '8000',
    ]);
    expect(c.ports).to.deep.equal([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
    expect(c.readinessProbe).to.deep.equal({ httpGet: { path: '/health', port: 8000 }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 });
  });

  it('is the same JSON every time, with no undefined or null anywhere', () => {
    const again = deploymentFor(aPlacement(), { resourceName: 'nvidia.com/gpu', nodeSelector: { 'nvidia.com/gpu.product': H100 } }, 'tokenpool-workloads', {
      ...SERVING,
    });
    expect(JSON.stringify(again)).to.equal(JSON.stringify(d));
    expect(emptyPaths(d)).to.deep.equal([]);
    expect(emptyPaths(deploymentFor(p, undefined, 'ns', SERVING))).to.deep.equal([]);
  });

  it('shares no objects between its parts, so changing one leaves the others', () => {
    const copy = deploymentFor(p, ON_H100, 'ns', SERVING);
    copy.metadata!.labels!['extra'] = 'x';
    copy.spec!.template.spec!.containers[0]!.resources!.limits!['cpu'] = '1';
    copy.spec!.template.spec!.nodeSelector!['extra'] = 'x';
    expect(copy.spec!.template.metadata!.labels).to.not.have.property('extra');
    expect(copy.spec!.template.spec!.containers[0]!.resources!.requests).to.not.have.property('cpu');
    expect(ON_H100.nodeSelector).to.not.have.property('extra');
  });

  const selectors: [string, DeviceSelector | undefined][] = [
    ['undefined', undefined],
    ['empty', { resourceName: 'nvidia.com/gpu', nodeSelector: {} }],
  ];
  for (const [name, selector] of selectors) {
    it(`leaves out the node selector when the selector is ${name}`, () => {
      expect(deploymentFor(p, selector, 'ns', SERVING).spec!.template.spec).to.not.have.property('nodeSelector');
    });
  }

  it('requests other vendors’ resources by their own name', () => {
    const npu = deploymentFor(
      aPlacement({ resourceName: 'huawei.com/Ascend910', devicesPerReplica: 8, replicas: 1 }),
      { resourceName: 'huawei.com/Ascend910', nodeSelector: { accelerator: 'huawei-Ascend910B' } },
      'ns',
      SERVING,
    );
    expect(npu.spec!.replicas).to.equal(1);
    expect(npu.spec!.template.spec!.nodeSelector).to.deep.equal({ accelerator: 'huawei-Ascend910B' });
    expect(npu.spec!.template.spec!.containers[0]!.resources).to.deep.equal({
      limits: { 'huawei.com/Ascend910': '8' },
      requests: { 'huawei.com/Ascend910': '8' },
    });
  });

  const images: [string, ServingConfig, string][] = [
    ['the default image', { ...SERVING, images: { 'other-model': 'x' } }, 'vllm/vllm-openai:v0.8.5'],
    ["the model's own image", { ...SERVING, images: { 'qwen2.5-72b-instruct': 'lmsysorg/sglang:v0.4.6' } }, 'lmsysorg/sglang:v0.4.6'],
  ];
  for (const [name, serving, image] of images) {
    it(`runs ${name}`, () => expect(deploymentFor(p, ON_H100, 'ns', serving).spec!.template.spec!.containers[0]!.image).to.equal(image));
  }

  it('does not take an image from Object.prototype for a model named like one of its keys', () => {
    const d2 = deploymentFor(aPlacement({ model: 'constructor' }), undefined, 'ns', { ...SERVING, images: {} });
    expect(d2.spec!.template.spec!.containers[0]!.image).to.equal(SERVING.image);
  });

  it('serves on the configured port everywhere it appears', () => {
    const d2 = deploymentFor(p, ON_H100, 'ns', { ...SERVING, port: 30000 });
    const c = d2.spec!.template.spec!.containers[0]!;
    expect(c.args!.slice(-2)).to.deep.equal(['--port', '30000']);
    expect(c.ports![0]!.containerPort).to.equal(30000);
    expect(c.readinessProbe!.httpGet!.port).to.equal(30000);
    expect(d2.spec!.template.metadata!.annotations!['prometheus.io/port']).to.equal('30000');
  });

  it('labels a model whose name is not a label value with a sanitized one, and passes the name itself to the engine', () => {
    const model = 'Qwen/Qwen2.5-72B-Instruct';
    const d2 = deploymentFor(aPlacement({ model }), undefined, 'ns', SERVING);
    expect(d2.metadata!.labels![LABELS.model]).to.equal('Qwen-Qwen2.5-72B-Instruct');
    expect(d2.spec!.template.spec!.containers[0]!.args!.slice(0, 4)).to.deep.equal(['--model', model, '--served-model-name', model]);
  });

  it('keeps ids that are no label values apart in the selector label', () => {
    const a = deploymentFor(aPlacement({ id: 'pl/a b' }), undefined, 'ns', SERVING).spec!.selector.matchLabels![LABELS.placement]!;
    const b = deploymentFor(aPlacement({ id: 'pl/a+b' }), undefined, 'ns', SERVING).spec!.selector.matchLabels![LABELS.placement]!;
    expect(a).to.match(/^pl-a-b-[0-9a-f]{8}$/);
    expect(a).to.not.equal(b);
  });
});

describe('deploymentName', () => {
  const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const cases: [name: string, id: string, want: string | RegExp][] = [
    ['a platform id', 'pl_01jq8x3v4k0000000000000000', 'tp-pl-01jq8x3v4k0000000000000000'],
    ['uppercase', 'PL_01JQ8X', 'tp-pl-01jq8x'],
    ['underscores and dots', 'pl__a.b', 'tp-pl--a-b'],
    ['non-ASCII', 'pl_ä', /^tp-pl-[0-9a-f]{8}$/],
    ['an id ending in a separator', 'pl_a_', /^tp-pl-a-[0-9a-f]{8}$/],
    ['exactly 63 characters', `pl_${'x'.repeat(57)}`, `tp-pl-${'x'.repeat(57)}`],
    ['64 characters', `pl_${'x'.repeat(58)}`, /^tp-pl-x{48}-[0-9a-f]{8}$/],
    ['a long id', 'x'.repeat(200), /^tp-x{51}-[0-9a-f]{8}$/],
  ];
  for (const [name, id, want] of cases) {
    it(`names the Deployment of ${name} as a DNS-1123 label`, () => {
      const got = deploymentName(id);
      if (typeof want === 'string') expect(got).to.equal(want);
      else expect(got).to.match(want);
      expect(got.length).to.be.at.most(63);
      expect(got).to.match(DNS_LABEL);
      expect(deploymentName(id)).to.equal(got);
    });
  }

  it('keeps long ids that share their first 60 characters apart', () => {
    const stem = `pl_${'a'.repeat(60)}`;
    expect(deploymentName(`${stem}1`)).to.not.equal(deploymentName(`${stem}2`));
  });
});

describe('labelValue', () => {
  const cases: [string, string][] = [
    ['qwen2.5-7b-instruct', 'qwen2.5-7b-instruct'],
    ['Qwen/Qwen2.5-7B-Instruct', 'Qwen-Qwen2.5-7B-Instruct'],
    ['deepseek-ai/DeepSeek-R1:671b', 'deepseek-ai-DeepSeek-R1-671b'],
    ['/models/llama/', 'models-llama'],
    ['', ''],
    ['m'.repeat(62) + '.x', 'm'.repeat(62)],
    ['a'.repeat(100), 'a'.repeat(63)],
  ];
  for (const [model, want] of cases) {
    it(`labels ${JSON.stringify(model).slice(0, 30)} as ${JSON.stringify(want).slice(0, 30)}`, () => {
      const got = labelValue(model);
      expect(got).to.equal(want);
      expect(got).to.match(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
      expect(got.length).to.be.at.most(63);
    });
  }
});

describe('placementOf', () => {
  const cases: [string, { metadata?: { labels?: Record<string, string> } }, string | undefined][] = [
    ['a Deployment we made', deploymentFor(aPlacement({ id: 'pl_1' }), undefined, 'ns', SERVING), 'pl_1'],
    ['a Pod of ours', { metadata: { labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.placement]: 'pl_2', 'pod-template-hash': 'abc' } } }, 'pl_2'],
    ['something managed by another tool', { metadata: { labels: { [LABELS.managedBy]: 'Helm', [LABELS.placement]: 'pl_3' } } }, undefined],
    ['only the placement label', { metadata: { labels: { [LABELS.placement]: 'pl_4' } } }, undefined],
    ['no labels', { metadata: {} }, undefined],
    ['no metadata', {}, undefined],
  ];
  for (const [name, object, want] of cases) it(`reads ${name}`, () => expect(placementOf(object)).to.equal(want));
});
