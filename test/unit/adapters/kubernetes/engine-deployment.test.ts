import { expect } from 'chai';
import { deploymentFor, multiplyQuantity, type ServingConfig } from '../../../../adapters/kubernetes/deployment.js';
import type { DeviceSelector } from '../../../../adapters/kubernetes/inventory.js';
import { endpointFor, ingressFor, ingressHost, secretFor, serviceFor, type IngressConfig } from '../../../../adapters/kubernetes/serving-access.js';
import type { DesiredPlacement, EngineSpec } from '../../../../adapters/platform-client.js';
import { VLLM_CUDA } from '../../../engine-specs.js';

const SERVING: ServingConfig = { image: 'vllm/vllm-openai:v0.8.5', port: 8000 };
const ON_H100: DeviceSelector = { resourceName: 'nvidia.com/gpu', nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } };

const VLLM_ASCEND: EngineSpec = {
  id: 'vllm-ascend',
  image: 'quay.io/ascend/vllm-ascend:v0.8.5rc1',
  args: ['vllm', 'serve', '{model}', '--served-model-name={servedName}', '--tensor-parallel-size={tensorParallel}', '--port={port}'],
  env: { ASCEND_RT_VISIBLE_DEVICES: '0,1,2,3,4,5,6,7', PYTORCH_NPU_ALLOC_CONF: 'expandable_segments:True' },
  apiKeyEnv: null,
  port: 8080,
  shmSize: '32Gi',
  cpuPerDevice: '3500m',
  memoryPerDevice: '1.5Gi',
  healthPath: '/healthz',
  metricsPath: '/metrics',
  metricsDialect: 'vllm',
  startupSeconds: 605,
  runAsNonRoot: true,
};

function aPlacement(overrides: Partial<DesiredPlacement> = {}): DesiredPlacement {
  return {
    id: 'pl_01',
    workloadId: 'wl_01',
    model: 'qwen2.5-72b-instruct',
    deviceModel: 'NVIDIA-H100-80GB-HBM3',
    profile: 'NVIDIA-H100-80GB',
    resourceName: 'nvidia.com/gpu',
    replicas: 2,
    devicesPerReplica: 4,
    servingKey: 'sk_serving_secret',
    engine: VLLM_CUDA,
    ...overrides,
  };
}

describe('deploymentFor with an engine', () => {
  const d = deploymentFor(aPlacement(), ON_H100, 'ns', SERVING);
  const pod = d.spec!.template.spec!;
  const c = pod.containers[0]!;

  it('runs the engine image with its argument template filled in', () => {
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
  });

  it('gives the engine its environment and its API key from the placement Secret, never in the spec', () => {
    expect(c.env).to.deep.equal([
      { name: 'VLLM_WORKER_MULTIPROC_METHOD', value: 'spawn' },
      { name: 'VLLM_API_KEY', valueFrom: { secretKeyRef: { name: 'tp-pl-01', key: 'serving-key' } } },
    ]);
    expect(JSON.stringify(d)).to.not.contain('sk_serving_secret');
  });

  it('requests CPU and memory per device times devices, and the devices as requests and limits', () => {
    expect(c.resources).to.deep.equal({
      limits: { 'nvidia.com/gpu': '4' },
      requests: { cpu: '16', memory: '128Gi', 'nvidia.com/gpu': '4' },
    });
  });

  it('mounts a memory-backed /dev/shm of the engine size', () => {
    expect(pod.volumes).to.deep.equal([{ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } }]);
    expect(c.volumeMounts).to.deep.equal([{ name: 'dshm', mountPath: '/dev/shm' }]);
  });

  it('waits startupSeconds for a start before liveness and readiness probe the health path', () => {
    const startup = c.startupProbe!;
    expect(startup.httpGet).to.deep.equal({ path: '/health', port: 'http' });
    expect(startup.periodSeconds! * startup.failureThreshold!).to.equal(1800);
    expect(c.livenessProbe!.httpGet!.path).to.equal('/health');
    expect(c.readinessProbe!.httpGet!.path).to.equal('/health');
    const ascend = deploymentFor(aPlacement({ engine: VLLM_ASCEND }), undefined, 'ns', SERVING).spec!.template.spec!.containers[0]!.startupProbe!;
    expect(ascend.periodSeconds! * ascend.failureThreshold!).to.be.at.least(605);
  });

  it('drops privileges, and runs as non-root only where the engine allows', () => {
    expect(c.securityContext).to.deep.equal({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod).to.not.have.property('securityContext');
    const ascend = deploymentFor(aPlacement({ engine: VLLM_ASCEND }), undefined, 'ns', SERVING).spec!.template.spec!;
    expect(ascend.securityContext).to.deep.equal({ runAsNonRoot: true });
    expect(ascend.containers[0]!.securityContext!.runAsNonRoot).to.equal(true);
  });

  it('annotates the pods for scraping at the engine port and metrics path', () => {
    expect(d.spec!.template.metadata!.annotations).to.deep.equal({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8000',
      'prometheus.io/path': '/metrics',
      'tokenpool.io/metrics-dialect': 'vllm',
      'tokenpool.io/serving-key-hash': d.spec!.template.metadata!.annotations!['tokenpool.io/serving-key-hash']!,
    });
    const silent = deploymentFor(aPlacement({ engine: { ...VLLM_CUDA, metricsDialect: 'none' } }), undefined, 'ns', SERVING);
    expect(silent.spec!.template.metadata!.annotations!['prometheus.io/scrape']).to.equal('false');
  });

  it('passes the key as --api-key from the environment when the engine names no variable', () => {
    const a = deploymentFor(aPlacement({ engine: VLLM_ASCEND, resourceName: 'huawei.com/Ascend910', devicesPerReplica: 8 }), undefined, 'ns', SERVING);
    const ac = a.spec!.template.spec!.containers[0]!;
    expect(ac.image).to.equal('quay.io/ascend/vllm-ascend:v0.8.5rc1');
    expect(ac.args).to.deep.equal([
      'vllm',
      'serve',
      'qwen2.5-72b-instruct',
      '--served-model-name=qwen2.5-72b-instruct',
      '--tensor-parallel-size=8',
      '--port=8080',
      '--api-key',
      '$(TOKENPOOL_SERVING_KEY)',
    ]);
    expect(ac.env!.at(-1)).to.deep.equal({ name: 'TOKENPOOL_SERVING_KEY', valueFrom: { secretKeyRef: { name: 'tp-pl-01', key: 'serving-key' } } });
    expect(ac.resources!.requests).to.deep.equal({ cpu: '28000m', memory: '12Gi', 'huawei.com/Ascend910': '8' });
    expect(ac.ports).to.deep.equal([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('restarts the pods when the serving key changes, and only then', () => {
    const hash = (key: string | undefined) =>
      deploymentFor(aPlacement({ servingKey: key }), ON_H100, 'ns', SERVING).spec!.template.metadata!.annotations!['tokenpool.io/serving-key-hash'];
    expect(hash('sk_a')).to.match(/^[0-9a-f]{8}$/);
    expect(hash('sk_a')).to.equal(hash('sk_a'));
    expect(hash('sk_a')).to.not.equal(hash('sk_b'));
    expect(hash(undefined)).to.equal(undefined);
  });

  it('sets no key when the platform sent none', () => {
    const a = deploymentFor(aPlacement({ engine: VLLM_ASCEND, servingKey: undefined }), undefined, 'ns', SERVING);
    expect(a.spec!.template.spec!.containers[0]!.args).to.not.include('--api-key');
    expect(a.spec!.template.spec!.containers[0]!.env!.map((e) => e.name)).to.deep.equal(['ASCEND_RT_VISIBLE_DEVICES', 'PYTORCH_NPU_ALLOC_CONF']);
  });

  const images: [string, ServingConfig, string][] = [
    ["the engine's image", SERVING, 'vllm/vllm-openai:v0.8.5'],
    ["this cluster's image for the engine", { ...SERVING, engineImages: { 'vllm-cuda': 'registry.local/vllm:0.8.5' } }, 'registry.local/vllm:0.8.5'],
    [
      "this cluster's image for the model, over the engine's",
      { ...SERVING, engineImages: { 'vllm-cuda': 'registry.local/vllm:0.8.5' }, images: { 'qwen2.5-72b-instruct': 'registry.local/qwen:1' } },
      'registry.local/qwen:1',
    ],
    ['not an image from Object.prototype', { ...SERVING, engineImages: {} }, 'vllm/vllm-openai:v0.8.5'],
  ];
  for (const [name, serving, image] of images) {
    it(`runs ${name}`, () => expect(deploymentFor(aPlacement(), ON_H100, 'ns', serving).spec!.template.spec!.containers[0]!.image).to.equal(image));
  }

  it('carries the cluster tolerations and node selectors, the device model selector winning a clash', () => {
    const serving: ServingConfig = {
      ...SERVING,
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { pool: 'inference', 'nvidia.com/gpu.product': 'wrong' },
    };
    for (const engine of [VLLM_CUDA, undefined]) {
      const spec = deploymentFor(aPlacement({ engine }), ON_H100, 'ns', serving).spec!.template.spec!;
      expect(spec.tolerations).to.deep.equal([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      expect(spec.nodeSelector).to.deep.equal({ pool: 'inference', 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
    }
  });

  it('gives the default vLLM its key from the Secret when the platform sends a key but no engine', () => {
    const c0 = deploymentFor(aPlacement({ engine: undefined }), ON_H100, 'ns', SERVING).spec!.template.spec!.containers[0]!;
    expect(c0.env).to.deep.equal([{ name: 'VLLM_API_KEY', valueFrom: { secretKeyRef: { name: 'tp-pl-01', key: 'serving-key' } } }]);
  });

  it('throws on a per-device quantity it cannot read', () => {
    expect(() => deploymentFor(aPlacement({ engine: { ...VLLM_CUDA, cpuPerDevice: '1e3' } }), undefined, 'ns', SERVING)).to.throw(RangeError);
  });
});

describe('multiplyQuantity', () => {
  const cases: [string, number, string][] = [
    ['4', 8, '32'],
    ['3500m', 2, '7000m'],
    ['1.5Gi', 3, '4.5Gi'],
    ['0.1', 3, '0.3'],
    ['0.25', 4, '1'],
    ['32Gi', 1, '32Gi'],
    ['512Mi', 0, '0Mi'],
  ];
  for (const [q, n, want] of cases) it(`${q} × ${n} = ${want}`, () => expect(multiplyQuantity(q, n)).to.equal(want));
  for (const bad of ['', '-1', '1e3', '1.', 'Gi', '4 Gi', '4gi'])
    it(`refuses ${JSON.stringify(bad)}`, () => expect(() => multiplyQuantity(bad, 2)).to.throw(RangeError));
});

describe('a placement’s Secret, Service and Ingress', () => {
  const p = aPlacement();
  const INGRESS: IngressConfig = { baseUrl: 'https://gw.cluster-a.example', className: 'nginx', tlsSecret: 'gw-wildcard', annotations: { 'x/y': 'z' } };

  it('keeps the serving key in a Secret named like the Deployment, with its labels', () => {
    const s = secretFor(p, 'ns')!;
    expect(s.metadata!.name).to.equal('tp-pl-01');
    expect(s.metadata!.labels!['tokenpool.io/placement-id']).to.equal('pl_01');
    expect(Buffer.from(s.data!['serving-key']!, 'base64').toString()).to.equal('sk_serving_secret');
    expect(secretFor(aPlacement({ servingKey: undefined }), 'ns')).to.equal(undefined);
  });

  it('puts a ClusterIP Service with port http in front of the placement pods', () => {
    expect(serviceFor(p, 'ns').spec).to.deep.equal({
      type: 'ClusterIP',
      selector: { 'tokenpool.io/placement-id': 'pl_01' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  it('routes <service>.<base host> to the Service, with the class, TLS and annotations configured', () => {
    const i = ingressFor(p, 'ns', INGRESS);
    expect(i.metadata!.annotations).to.deep.equal({ 'x/y': 'z' });
    expect(i.spec).to.deep.equal({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['tp-pl-01.gw.cluster-a.example'], secretName: 'gw-wildcard' }],
      rules: [
        {
          host: 'tp-pl-01.gw.cluster-a.example',
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'tp-pl-01', port: { name: 'http' } } } }] },
        },
      ],
    });
    const plain = ingressFor(p, 'ns', { baseUrl: 'http://gw.example:8080' });
    expect(plain.spec).to.not.have.property('tls');
    expect(plain.spec).to.not.have.property('ingressClassName');
    expect(plain.metadata).to.not.have.property('annotations');
  });

  it('names the endpoint the gateway calls after the host, with the base URL scheme and port', () => {
    expect(endpointFor('tp-pl-01', INGRESS)).to.equal('https://tp-pl-01.gw.cluster-a.example');
    expect(endpointFor('tp-pl-01', { baseUrl: 'http://gw.example:8080/' })).to.equal('http://tp-pl-01.gw.example:8080');
    expect(ingressHost(p, { baseUrl: 'http://gw.example:8080/' })).to.equal('tp-pl-01.gw.example');
  });
});
