import { expect } from 'chai';
import { deploymentFor, deploymentName, labelValue, LABELS, placementOf } from '../../../../adapters/kubernetes/deployment.js';
import type { DesiredPlacement } from '../../../../adapters/platform-client.js';

const P: DesiredPlacement = {
  id: 'pl_01HX2', workloadId: 'wl_01HX1', model: 'qwen2.5-72b-instruct', deviceModel: 'NVIDIA-H100-80GB-HBM3', profile: 'NVIDIA-H100-80GB',
  resourceName: 'nvidia.com/gpu', replicas: 3, devicesPerReplica: 4,
};
const SERVING = { image: 'vllm/vllm-openai:v0.8.5', port: 8000 };

describe('deploymentFor', () => {
  it('asks for devicesPerReplica of the resource per replica, on nodes of the device model, with our labels', () => {
    const d = deploymentFor(P, { resourceName: 'nvidia.com/gpu', nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } }, 'tokenpool-workloads', SERVING);
    expect(d.metadata).to.deep.include({ name: 'tp-pl-01hx2', namespace: 'tokenpool-workloads' });
    const labels = { [LABELS.managedBy]: 'tokenpool-agent', [LABELS.placement]: 'pl_01HX2', [LABELS.workload]: 'wl_01HX1', [LABELS.model]: 'qwen2.5-72b-instruct' };
    expect(d.metadata!.labels).to.deep.equal(labels);
    expect(d.spec!.replicas).to.equal(3);
    expect(d.spec!.selector.matchLabels).to.deep.equal({ [LABELS.placement]: 'pl_01HX2' });
    expect(d.spec!.template.metadata!.labels).to.deep.equal(labels);
    expect(d.spec!.template.metadata!.annotations).to.deep.equal({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8000', 'prometheus.io/path': '/metrics' });
    const pod = d.spec!.template.spec!;
    expect(pod.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
    const c = pod.containers[0]!;
    expect(c.image).to.equal('vllm/vllm-openai:v0.8.5');
    expect(c.args).to.deep.equal(['--model', 'qwen2.5-72b-instruct', '--served-model-name', 'qwen2.5-72b-instruct', '--tensor-parallel-size', '4', '--port', '8000']);
    expect(c.resources).to.deep.equal({ requests: { 'nvidia.com/gpu': '4' }, limits: { 'nvidia.com/gpu': '4' } });
    expect(c.readinessProbe!.httpGet).to.deep.equal({ path: '/health', port: 8000 });
    expect(placementOf(d)).to.equal('pl_01HX2');
  });

  it('leaves out the node selector when the model came from no label, and takes a per-model image', () => {
    const d = deploymentFor(P, { resourceName: 'nvidia.com/gpu', nodeSelector: {} }, 'ns', { ...SERVING, images: { 'qwen2.5-72b-instruct': 'registry.example/sglang:1' } });
    expect(d.spec!.template.spec).to.not.have.property('nodeSelector');
    expect(d.spec!.template.spec!.containers[0]!.image).to.equal('registry.example/sglang:1');
    expect(JSON.stringify(d)).to.equal(JSON.stringify(deploymentFor(P, undefined, 'ns', { ...SERVING, images: { 'qwen2.5-72b-instruct': 'registry.example/sglang:1' } })));
  });

  const names: [string, RegExp | string][] = [
    ['pl_abc', 'tp-pl-abc'],
    ['pl_01HX9', 'tp-pl-01hx9'],
    ['Pl-x.y', /^tp-pl-x-y-[0-9a-f]{8}$/],
    ['x'.repeat(100), /^tp-x{51}-[0-9a-f]{8}$/],
  ];
  for (const [id, want] of names) {
    it(`names the Deployment of ${id.slice(0, 12)} as a DNS label`, () => {
      const name = deploymentName(id);
      if (typeof want === 'string') expect(name).to.equal(want);
      else expect(name).to.match(want);
      expect(name.length).to.be.at.most(63);
      expect(name).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    });
  }

  it('keeps ids apart that only differ in case', () => {
    expect(deploymentName('pl-ab')).to.not.equal(deploymentName('pl_ab'));
    expect(labelValue('a b')).to.match(/^a-b-[0-9a-f]{8}$/);
  });

  it('owns only what carries its managed-by label', () => {
    expect(placementOf({ metadata: { labels: { [LABELS.placement]: 'pl_1' } } })).to.equal(undefined);
    expect(placementOf({})).to.equal(undefined);
  });
});
