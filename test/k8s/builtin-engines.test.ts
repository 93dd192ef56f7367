/**
 * Every built-in engine of the platform's catalog, as the platform serves it (`GET
 * /api/v1/engines` of a fresh platform, images configured by the operator where the catalog leaves
 * them empty), rendered by the agent with its own RBAC and applied server-side to a real
 * kube-apiserver: the API server accepts each Deployment, and each has the engine's image,
 * arguments with every placeholder filled, environment and key, resources per device, shared
 * memory, probes on the engine's port and security context, on its vendor's devices.
 *
 * A new built-in engine is covered without touching this file. When kube-apiserver and etcd
 * cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { KubernetesBackend } from '../../adapters/kubernetes/backend.js';
import { deploymentName, LABELS, multiplyQuantity } from '../../adapters/kubernetes/deployment.js';
import type { DesiredPlacement, EngineSpec } from '../../adapters/platform-client.js';
import { BUILTIN_DEVICE_PROFILES } from '../../server/catalog/builtin-catalog.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const MODEL = 'qwen2.5-72b-instruct';
const DEVICES = 4;

/** An engine as `GET /api/v1/engines` shows it (the fields a placement carries, and its vendors). */
type CatalogEngine = EngineSpec & { readonly name: string; readonly vendors: readonly string[] };

describe('every built-in engine on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let p: TestPlatform | undefined;
  let backend: KubernetesBackend | undefined;
  const placements: { engine: CatalogEngine; placement: DesiredPlacement }[] = [];

  before(async function () {
    this.timeout(600_000);
    try {
      cp = await startControlPlane();
    } catch (err) {
      console.log(`    (skipped: no Kubernetes API server to test against: ${(err as Error).message})`);
      this.skip();
    }
    const admin = new KubeConfig();
    admin.loadFromFile(cp.kubeconfigPath);
    apps = admin.makeApiClient(AppsV1Api);
    core = admin.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }

    p = await startPlatform('pglite');
    const listed = (await p.request('GET', '/api/v1/engines?limit=100')).body as { items: (CatalogEngine & { id: string; builtin: boolean })[] };
    for (const e of listed.items.filter((x) => x.builtin)) {
      // Where the catalog names no image (a vendor publishes none we could verify), the operator sets one.
      const engine =
        e.image === ''
          ? ((await p.request('PATCH', `/api/v1/engines/${e.id}`, { body: { image: `registry.city.example/${e.name}:1.0` } })).body as typeof e)
          : e;
      expect(engine.image, engine.name).to.not.equal('');
      const vendor = engine.vendors[0]!;
      const profile = BUILTIN_DEVICE_PROFILES.find((d) => d.vendor === vendor);
      expect(profile, `a device profile of ${vendor}`).to.not.equal(undefined);
      placements.push({
        engine,
        placement: {
          id: `pl_builtin_${engine.name.replaceAll('-', '_')}`,
          workloadId: 'wl_builtin_engines',
          model: MODEL,
          deviceModel: profile!.name,
          profile: profile!.name,
          resourceName: profile!.resourceName,
          replicas: 1,
          devicesPerReplica: DEVICES,
          servingKey: `sk_${engine.name}`,
          engine: {
            id: engine.id,
            image: engine.image,
            args: engine.args,
            env: engine.env,
            apiKeyEnv: engine.apiKeyEnv,
            port: engine.port,
            shmSize: engine.shmSize,
            cpuPerDevice: engine.cpuPerDevice,
            memoryPerDevice: engine.memoryPerDevice,
            healthPath: engine.healthPath,
            metricsPath: engine.metricsPath,
            metricsDialect: engine.metricsDialect,
            startupSeconds: engine.startupSeconds,
            runAsNonRoot: engine.runAsNonRoot,
          },
        },
      });
    }

    const sa = new KubeConfig();
    sa.loadFromFile(await cp.userKubeconfig(AGENT_SA, SA_GROUPS));
    backend = new KubernetesBackend({ kubeConfig: sa, namespace: WORKLOADS_NS, serving: { image: 'unused', port: 8000 }, profiles: async () => [] });
    await backend.start();
    await backend.reconcile(placements.map((x) => x.placement));
  });

  after(async () => {
    await backend?.stop();
    await p?.close();
    await cp?.stop();
  });

  it('has the catalog entries the issue names: vLLM, vllm-ascend, MindIE, SGLang and the vendors’ vLLM builds', () => {
    const names = placements.map((x) => x.engine.name);
    for (const name of [
      'vllm',
      'vllm-ascend',
      'mindie',
      'sglang',
      'vllm-cambricon',
      'vllm-hygon',
      'vllm-kunlunxin',
      'vllm-metax',
      'vllm-mthreads',
      'vllm-iluvatar',
    ]) {
      expect(names).to.include(name);
    }
  });

  it('renders each as a Deployment the API server accepts, with what its engine entry says', async () => {
    const deployments = await until(
      'every built-in engine applied',
      async () => (await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.workload}=wl_builtin_engines` })).items,
      (items) => items.length === placements.length,
      30_000,
    );
    for (const { engine, placement } of placements) {
      const d = deployments.find((x) => x.metadata?.name === deploymentName(placement.id));
      expect(d, engine.name).to.not.equal(undefined);
      const spec = d!.spec!.template.spec!;
      const c = spec.containers[0]!;
      const what = `${engine.name}: `;
      expect(c.image, `${what}image`).to.equal(engine.image);
      const filled = engine.args.map((a) =>
        a
          .replaceAll('{model}', MODEL)
          .replaceAll('{servedName}', MODEL)
          .replaceAll('{tensorParallel}', String(DEVICES))
          .replaceAll('{port}', String(engine.port)),
      );
      const keyVar = engine.apiKeyEnv ?? 'TOKENPOOL_SERVING_KEY';
      expect(c.args ?? [], `${what}arguments`).to.deep.equal(engine.apiKeyEnv === null ? [...filled, '--api-key', `$(${keyVar})`] : filled);
      expect((c.args ?? []).join(' '), `${what}no placeholder left`).to.not.match(/\{(model|servedName|tensorParallel|port)\}/);
      expect(c.env, `${what}key`).to.deep.include({ name: keyVar, valueFrom: { secretKeyRef: { name: deploymentName(placement.id), key: 'serving-key' } } });
      for (const [k, v] of Object.entries(engine.env)) expect(c.env, `${what}env ${k}`).to.deep.include({ name: k, value: v });
      expect(c.resources?.limits, `${what}limits`).to.deep.equal({ [placement.resourceName]: String(DEVICES) });
      expect(c.resources?.requests, `${what}requests`).to.deep.equal({
        cpu: multiplyQuantity(engine.cpuPerDevice, DEVICES),
        memory: multiplyQuantity(engine.memoryPerDevice, DEVICES),
        [placement.resourceName]: String(DEVICES),
      });
      expect(
        spec.volumes?.find((v) => v.name === 'dshm'),
        `${what}shared memory`,
      ).to.deep.include({ emptyDir: { medium: 'Memory', sizeLimit: engine.shmSize } });
      expect(c.volumeMounts, `${what}/dev/shm`).to.deep.include({ name: 'dshm', mountPath: '/dev/shm' });
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
        expect(probe?.httpGet?.path, `${what}probe path`).to.equal(engine.healthPath);
        expect(String(probe?.httpGet?.port), `${what}probe port`).to.be.oneOf([String(engine.port), 'http']);
      }
      expect(c.startupProbe!.periodSeconds! * c.startupProbe!.failureThreshold!, `${what}start-up time`).to.be.at.least(engine.startupSeconds);
      expect(
        c.ports?.map((x) => x.containerPort),
        `${what}port`,
      ).to.include(engine.port);
      expect(c.securityContext?.allowPrivilegeEscalation, `${what}privilege escalation`).to.equal(false);
      expect(spec.securityContext?.runAsNonRoot ?? false, `${what}non-root`).to.equal(engine.runAsNonRoot);
      const secret = await core.readNamespacedSecret({ name: deploymentName(placement.id), namespace: WORKLOADS_NS });
      expect(Buffer.from(secret.data!['serving-key']!, 'base64').toString(), `${what}serving key`).to.equal(placement.servingKey);
    }
  });
});
