/**
 * Model weights against a real kube-apiserver: the agent (with the RBAC of deploy/agent) lists
 * the PersistentVolumeClaims of its workloads namespace and reports them with the kinds it offers;
 * a placement of each source kind becomes a Deployment the API server accepts by server-side
 * apply, with the weights mounted read-only or downloaded by an init container into the cache;
 * and end to end, the platform places a model whose claim the cluster has, and leaves pending,
 * saying why, one whose claim it lacks (or one to download, until the agent has a cache); a
 * download that fails (its init container crash-looping, as the test sets it as a kubelet would)
 * is reported as WeightsUnavailable.
 *
 * When kube-apiserver and etcd cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type V1Deployment } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { KubernetesBackend } from '../../adapters/kubernetes/backend.js';
import { deploymentName, LABELS } from '../../adapters/kubernetes/deployment.js';
import { CACHE_PATH, cacheDirOf, DEFAULT_S3_IMAGE, WEIGHTS_PATH, type WeightsConfig } from '../../adapters/kubernetes/weights.js';
import type { DesiredPlacement, WeightSource } from '../../adapters/platform-client.js';
import { VLLM_CUDA } from '../engine-specs.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';
import { readyGpuNode } from './nodes.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const CACHE_DIR = '/var/lib/tokenpool/weights';
const MODELSCOPE_IMAGE = 'registry.liwan.example/modelscope/downloader:1.20';
const WEIGHTS: WeightsConfig = { cache: { hostPath: CACHE_DIR }, downloaders: { modelscope: { image: MODELSCOPE_IMAGE } } };

const placement = (id: string, source: WeightSource): DesiredPlacement => ({
  id,
  workloadId: `wl_${id}`,
  model: 'qwen2.5-7b-instruct',
  deviceModel: H100,
  profile: 'NVIDIA-H100-80GB',
  resourceName: 'nvidia.com/gpu',
  replicas: 1,
  devicesPerReplica: 1,
  servingKey: `sk-${id}`,
  engine: VLLM_CUDA,
  source,
  servedName: 'qwen-7b',
});

describe('model weights on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let agentKubeconfig: string;

  before(async function () {
    this.timeout(600_000);
    try {
      cp = await startControlPlane({ withControllerManager: true });
    } catch (err) {
      console.log(`    (skipped: no Kubernetes API server to test against: ${(err as Error).message})`);
      this.skip();
    }
    const admin = new KubeConfig();
    admin.loadFromFile(cp.kubeconfigPath);
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    agentKubeconfig = await cp.userKubeconfig(AGENT_SA, SA_GROUPS);
    for (const name of ['qwen-weights', 'shared-models']) {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: WORKLOADS_NS,
        body: { metadata: { name }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '100Gi' } } } },
      });
    }
  });

  after(async () => {
    await cp?.stop();
  });

  describe("the agent's backend", () => {
    let backend: KubernetesBackend;
    const sources: [string, WeightSource][] = [
      ['pvc', { kind: 'pvc', claim: 'qwen-weights', path: 'Qwen2.5-7B-Instruct' }],
      ['hostpath', { kind: 'hostPath', path: '/data/models/qwen2.5-7b-instruct' }],
      ['hf', { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct', mirror: 'https://hf-mirror.com', revision: 'main' }],
      ['ms', { kind: 'modelscope', id: 'qwen/Qwen2.5-7B-Instruct' }],
      ['s3', { kind: 's3', url: 's3://models/qwen2.5-7b-instruct', secret: 'model-store', endpoint: 'https://minio.liwan.example' }],
    ];
    const placements = sources.map(([id, source]) => placement(`pl_w_${id}`, source));
    let reconcileError: unknown;

    before(async () => {
      const sa = new KubeConfig();
      sa.loadFromFile(agentKubeconfig);
      backend = new KubernetesBackend({
        kubeConfig: sa,
        namespace: WORKLOADS_NS,
        serving: { image: 'vllm/vllm-openai:v0.8.5', port: 8000, weights: WEIGHTS },
        profiles: async () => [],
      });
      await backend.verify();
      await backend.start();
      // One placement of a kind this agent does not know fails alone; the others are applied.
      await backend.reconcile([...placements, placement('pl_w_unknown', { kind: 'unknown', sent: 'ftp' })]).catch((err: unknown) => (reconcileError = err));
    });

    after(async () => backend?.stop());

    it('reports the kinds it offers and the PVCs of its workloads namespace, with list alone', async () => {
      expect(await backend.weightSources()).to.deep.equal({
        kinds: ['hostPath', 'huggingface', 'modelscope', 'pvc', 's3'],
        claims: ['qwen-weights', 'shared-models'],
      });
    });

    it('applies every known kind; an unknown one fails alone, saying why', async () => {
      expect(String(reconcileError)).to.match(/^Error: 1 change\(s\) to the cluster failed; first: .*"ftp".*upgrade the agent/);
      const err = await apps.readNamespacedDeployment({ name: deploymentName('pl_w_unknown'), namespace: WORKLOADS_NS }).catch((e: { code?: number }) => e);
      expect((err as { code?: number }).code).to.equal(404);
    });

    const read = (id: string): Promise<V1Deployment> => apps.readNamespacedDeployment({ name: deploymentName(id), namespace: WORKLOADS_NS });
    const modelArg = (d: V1Deployment) => {
      const args = d.spec!.template.spec!.containers[0]!.args!;
      return [args[args.indexOf('--model') + 1], args[args.indexOf('--served-model-name') + 1]];
    };

    it('pvc: the claim mounted read-only, {model} the directory inside it', async () => {
      const d = await read('pl_w_pvc');
      const spec = d.spec!.template.spec!;
      expect(spec.volumes).to.deep.include({ name: 'weights', persistentVolumeClaim: { claimName: 'qwen-weights', readOnly: true } });
      expect(spec.containers[0]!.volumeMounts).to.deep.include({ name: 'weights', mountPath: WEIGHTS_PATH, readOnly: true });
      expect(spec.initContainers ?? []).to.deep.equal([]);
      expect(modelArg(d)).to.deep.equal([`${WEIGHTS_PATH}/Qwen2.5-7B-Instruct`, 'qwen-7b']);
    });

    it('hostPath: the node directory mounted read-only', async () => {
      const d = await read('pl_w_hostpath');
      const spec = d.spec!.template.spec!;
      expect(spec.volumes).to.deep.include({ name: 'weights', hostPath: { path: '/data/models/qwen2.5-7b-instruct', type: 'Directory' } });
      expect(spec.containers[0]!.volumeMounts).to.deep.include({ name: 'weights', mountPath: WEIGHTS_PATH, readOnly: true });
      expect(modelArg(d)).to.deep.equal([WEIGHTS_PATH, 'qwen-7b']);
    });

    for (const [id, source] of sources.filter(([, s]) => s.kind === 'huggingface' || s.kind === 'modelscope' || s.kind === 's3')) {
      it(`${source.kind}: an init container downloads into the cache on the node, the engine reads it read-only`, async () => {
        const d = await read(`pl_w_${id}`);
        const spec = d.spec!.template.spec!;
        const dir = `${CACHE_PATH}/${cacheDirOf(source as Extract<WeightSource, { kind: 'huggingface' | 'modelscope' | 's3' }>)}`;
        expect(spec.volumes).to.deep.include({ name: 'weights-cache', hostPath: { path: CACHE_DIR, type: 'DirectoryOrCreate' } });
        expect(spec.containers[0]!.volumeMounts).to.deep.include({ name: 'weights-cache', mountPath: CACHE_PATH, readOnly: true });
        expect(modelArg(d)).to.deep.equal([dir, 'qwen-7b']);
        const init = spec.initContainers![0]!;
        expect(init.name).to.equal('weights');
        expect(init.image).to.equal({ huggingface: 'vllm/vllm-openai:v0.8.5', modelscope: MODELSCOPE_IMAGE, s3: DEFAULT_S3_IMAGE }[source.kind as string]);
        expect(init.volumeMounts).to.deep.equal([{ name: 'weights-cache', mountPath: CACHE_PATH }]);
        const env = Object.fromEntries((init.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
        expect(env.TP_WEIGHTS_DIR).to.equal(dir);
        if (source.kind === 'huggingface')
          expect(env).to.include({ HF_ENDPOINT: 'https://hf-mirror.com', TP_WEIGHTS_ID: source.id, TP_WEIGHTS_REVISION: 'main' });
        if (source.kind === 's3') {
          expect(env).to.include({ TP_WEIGHTS_URL: source.url, AWS_ENDPOINT_URL: 'https://minio.liwan.example' });
          expect(env.AWS_ACCESS_KEY_ID).to.deep.equal({ secretKeyRef: { name: 'model-store', key: 'AWS_ACCESS_KEY_ID' } });
        }
      });
    }
  });

  describe('end to end with the platform', () => {
    let p: TestPlatform | undefined;
    let runtime: AgentRuntime | undefined;
    let clusterId: string;
    let agentToken: string;
    let tenantKey: string;
    let fromHf: string;

    before(async () => {
      await readyGpuNode(core, 'gpu-w', H100);
      p = await startPlatform('pglite');
      p.clock.set(new Date());
    });

    after(async () => {
      await runtime?.stop();
      await p?.close();
    });

    it('places a model whose claim the cluster has, mounted in its Deployment; one whose claim it lacks waits, saying why', async () => {
      const platform = p!;
      const k8s = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'liwan-weights', region: 'liwan' } })).body;
      clusterId = k8s.id;
      agentToken = k8s.agentToken;
      const config = loadAgentConfig({
        TOKENPOOL_URL: platform.baseUrl,
        TOKENPOOL_AGENT_TOKEN: k8s.agentToken,
        KUBECONFIG: agentKubeconfig,
        TOKENPOOL_AGENT_PORT: '0',
        TOKENPOOL_HEARTBEAT_SECONDS: '1',
        TOKENPOOL_USAGE_SECONDS: '1',
      });
      runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
      // No cache configured: it offers the mounted kinds only.
      await until(
        "the cluster's weight sources reported",
        async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}/weights`)).body.reported,
        (r) => r !== null && r.claims.length === 2,
        30_000,
      ).then((r) => expect(r).to.deep.equal({ kinds: ['hostPath', 'pvc'], claims: ['qwen-weights', 'shared-models'] }));
      await until(
        'the cluster ready with its H100s',
        async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}`)).body,
        (c) => c.state === 'ready' && c.inventory.some((i: { healthy: number }) => i.healthy === 8),
        30_000,
      );

      const model = (body: object) =>
        platform.request('POST', '/api/v1/models', { body: { minMemoryGiB: 16, costFactor: 1, inputFactor: 0.25, servedName: 'qwen-7b', ...body } });
      expect((await model({ name: 'w-on-claim', source: { kind: 'pvc', claim: 'qwen-weights', path: 'qwen' } })).status).to.equal(201);
      expect((await model({ name: 'w-off-claim', source: { kind: 'pvc', claim: 'not-here' } })).status).to.equal(201);
      expect((await model({ name: 'w-from-hf', source: { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct' } })).status).to.equal(201);
      const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Liwan Weights', kind: 'enterprise', billingMode: 'postpaid' } })).body;
      tenantKey = tenant.apiKey;
      const submit = async (name: string, modelName: string) => {
        const res = await platform.request('POST', '/api/v1/workloads', {
          token: tenant.apiKey,
          body: { name, model: modelName, tokensPerMin: 1000, regions: ['liwan'] },
        });
        expect(res.status).to.equal(202);
        return res.body.id as string;
      };
      const onClaim = await submit('on-claim', 'w-on-claim');
      const offClaim = await submit('off-claim', 'w-off-claim');
      fromHf = await submit('from-hf', 'w-from-hf');
      await platform.app.scheduler.runCycle();
      const get = async (id: string) => (await platform.request('GET', `/api/v1/workloads/${id}`, { token: tenant.apiKey })).body;

      const placed = await get(onClaim);
      expect(placed.state).to.equal('placed');
      const d = await until(
        "the placement's Deployment",
        () => apps.readNamespacedDeployment({ name: deploymentName(placed.placements[0].id), namespace: WORKLOADS_NS }).catch(() => undefined),
        (x) => x !== undefined,
        30_000,
      );
      const spec = d!.spec!.template.spec!;
      expect(spec.volumes).to.deep.include({ name: 'weights', persistentVolumeClaim: { claimName: 'qwen-weights', readOnly: true } });
      const args = spec.containers[0]!.args!;
      expect(args[args.indexOf('--model') + 1]).to.equal(`${WEIGHTS_PATH}/qwen`);
      expect(args[args.indexOf('--served-model-name') + 1]).to.equal('qwen-7b');

      for (const [id, pattern] of [
        [offClaim, /"not-here"/],
        [fromHf, /cannot load weights from Hugging Face/],
      ] as const) {
        const w = await get(id);
        expect(w).to.include({ state: 'pending', reason: 'no_compatible_device' });
        expect(w.message, w.message).to.match(pattern);
      }
    });

    it('once the agent has a cache it offers downloads: the model is placed, and a failing download is WeightsUnavailable', async () => {
      const platform = p!;
      await runtime!.stop();
      const config = loadAgentConfig({
        TOKENPOOL_URL: platform.baseUrl,
        TOKENPOOL_AGENT_TOKEN: agentToken,
        KUBECONFIG: agentKubeconfig,
        TOKENPOOL_AGENT_PORT: '0',
        TOKENPOOL_HEARTBEAT_SECONDS: '1',
        TOKENPOOL_USAGE_SECONDS: '1',
        // A claim as the cache: the workloads namespace's baseline Pod Security forbids hostPath volumes.
        TOKENPOOL_WEIGHTS_CACHE_PVC: 'shared-models',
      });
      runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
      await until(
        'the download kinds reported',
        async () => (await platform.request('GET', `/api/v1/clusters/${clusterId}/weights`)).body.reported,
        (r) => r?.kinds.includes('huggingface'),
        30_000,
      );
      await platform.app.scheduler.runCycle();
      const getWorkload = async () => (await platform.request('GET', `/api/v1/workloads/${fromHf}`, { token: tenantKey })).body;
      const placement = (await getWorkload()).placements[0];
      expect(placement).to.include({ clusterId, state: 'placed' });

      const [pod] = await until(
        'the serving pod the controllers made',
        async () => (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placement.id}` })).items,
        (items) => items.length === 1,
        30_000,
      );
      const current = await core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: WORKLOADS_NS });
      const init = current.spec!.initContainers![0]!;
      expect(init.name).to.equal('weights');
      expect(current.spec!.volumes).to.deep.include({ name: 'weights-cache', persistentVolumeClaim: { claimName: 'shared-models' } });
      // The mirror refuses: the download exits 1 again and again, as a kubelet would report it.
      current.status = {
        phase: 'Pending',
        hostIP: '127.0.0.1',
        startTime: new Date(),
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date() }],
        initContainerStatuses: [
          {
            name: 'weights',
            ready: false,
            restartCount: 3,
            image: init.image!,
            imageID: '',
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=weights' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error' } },
          },
        ],
        containerStatuses: [
          {
            name: 'serving',
            ready: false,
            restartCount: 0,
            image: current.spec!.containers[0]!.image!,
            imageID: '',
            state: { waiting: { reason: 'PodInitializing' } },
          },
        ],
      };
      await core.replaceNamespacedPodStatus({ name: current.metadata!.name!, namespace: WORKLOADS_NS, body: current });
      const failing = await until(
        'the placement reported failing',
        async () => (await getWorkload()).placements[0],
        (pl) => pl.phase === 'failing',
        30_000,
      );
      expect(failing).to.include({ id: placement.id, reason: 'WeightsUnavailable' });
      expect(failing.message).to.include('init container weights');
    });
  });
});
