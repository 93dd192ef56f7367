/**
 * Gateway API routes on a real kube-apiserver: with `TOKENPOOL_SERVING_ROUTE=httproute` the agent
 * makes each placement reachable through an HTTPRoute (gateway.networking.k8s.io/v1) attached to
 * the configured Gateways, instead of an Ingress, with the RBAC of deploy/agent.
 *
 * The API server has no Gateway API CRDs of its own: the suite installs the official HTTPRoute CRD
 * of Gateway API v1.3.0 (standard channel, test/k8s/gateway-api/httproutes-v1.3.0.yaml, copied
 * unchanged from kubernetes-sigs/gateway-api `config/crd/standard/`), so the API server validates
 * the routes the agent writes against the real schema, CEL rules included.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadYaml,
  NetworkingV1Api,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { KubernetesBackend } from '../../adapters/kubernetes/backend.js';
import { deploymentName } from '../../adapters/kubernetes/deployment.js';
import { HTTP_ROUTE, type HttpRoute } from '../../adapters/kubernetes/serving-access.js';
import type { DesiredPlacement } from '../../adapters/platform-client.js';
import { VLLM_CUDA } from '../engine-specs.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const CRD_FILE = 'test/k8s/gateway-api/httproutes-v1.3.0.yaml';
const ROUTES = { group: HTTP_ROUTE.group, version: HTTP_ROUTE.version, plural: HTTP_ROUTE.plural, namespace: WORKLOADS_NS };

const placement: DesiredPlacement = {
  id: 'pl_route_1',
  workloadId: 'wl_route',
  model: 'qwen2.5-7b-instruct',
  deviceModel: 'NVIDIA-H100-80GB-HBM3',
  profile: 'NVIDIA-H100-80GB-HBM3',
  resourceName: 'nvidia.com/gpu',
  replicas: 1,
  devicesPerReplica: 1,
  servingKey: 'sk_route_1',
  engine: VLLM_CUDA,
};

describe('Gateway API HTTPRoutes for placements on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let admin: KubeConfig;
  let custom: CustomObjectsApi;
  let sa: KubeConfig;
  let backend: KubernetesBackend | undefined;

  const backendWith = (env: Record<string, string>) => {
    const config = loadAgentConfig({ TOKENPOOL_URL: 'https://tokenpool.example', TOKENPOOL_AGENT_TOKEN: 'tp_agent_x', KUBECONFIG: '/unused', ...env });
    return new KubernetesBackend({
      kubeConfig: sa,
      namespace: WORKLOADS_NS,
      serving: { image: 'unused', port: 8000 },
      ingress: config.ingress,
      profiles: async () => [],
    });
  };
  const readRoute = () => custom.getNamespacedCustomObject({ ...ROUTES, name: deploymentName(placement.id) }) as Promise<HttpRoute>;
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => 200,
      (e: { code?: number }) => e.code,
    );

  before(async function () {
    this.timeout(600_000);
    try {
      cp = await startControlPlane();
    } catch (err) {
      console.log(`    (skipped: no Kubernetes API server to test against: ${(err as Error).message})`);
      this.skip();
    }
    admin = new KubeConfig();
    admin.loadFromFile(cp.kubeconfigPath);
    custom = admin.makeApiClient(CustomObjectsApi);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(CRD_FILE, 'utf8'));
    await admin.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd });
    await until(
      'the HTTPRoute CRD to be established',
      async () => (await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: crd.metadata!.name! })).status?.conditions ?? [],
      (conditions) => conditions.some((c) => c.type === 'Established' && c.status === 'True'),
      30_000,
    );
    sa = new KubeConfig();
    sa.loadFromFile(await cp.userKubeconfig(AGENT_SA, SA_GROUPS));
  });

  after(async () => {
    await backend?.stop();
    await cp?.stop();
  });

  it('refuses the agent HTTPRoutes it should not touch: reading them, or writing outside its namespace', async () => {
    const saCustom = sa.makeApiClient(CustomObjectsApi);
    expect(await codeOf(saCustom.listNamespacedCustomObject(ROUTES)), 'listing HTTPRoutes').to.equal(403);
    const body = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'x' }, spec: {} };
    expect(await codeOf(saCustom.createNamespacedCustomObject({ ...ROUTES, namespace: 'default', body })), 'creating one in default').to.equal(403);
  });

  it('refuses httproute without the Gateways to attach to, naming the variables', () => {
    expect(() =>
      loadAgentConfig({
        TOKENPOOL_URL: 'https://t.example',
        TOKENPOOL_AGENT_TOKEN: 'tp_agent_x',
        KUBECONFIG: '/k',
        TOKENPOOL_SERVING_ROUTE: 'httproute',
        TOKENPOOL_SERVING_BASE_URL: 'https://gw.example',
      }),
    ).to.throw(/TOKENPOOL_GATEWAY_PARENT_REFS/);
  });

  it('creates an HTTPRoute for the placement, attached to the Gateways, routing its host to its Service, and no Ingress', async () => {
    backend = backendWith({
      TOKENPOOL_SERVING_BASE_URL: 'https://gw.huangpu.example',
      TOKENPOOL_SERVING_ROUTE: 'httproute',
      TOKENPOOL_GATEWAY_PARENT_REFS: JSON.stringify([{ name: 'public', namespace: 'gateways', sectionName: 'https' }]),
      TOKENPOOL_INGRESS_ANNOTATIONS: JSON.stringify({ 'example.com/timeout': '3600s' }),
    });
    // The start-up check dry-runs an HTTPRoute: the CRD is there and the RBAC allows it.
    await backend.verify();
    await backend.start();
    await backend.reconcile([placement]);
    const name = deploymentName(placement.id);
    const route = await readRoute();
    expect(route.spec.parentRefs).to.deep.equal([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways', sectionName: 'https' },
    ]);
    expect(route.spec.hostnames).to.deep.equal([`${name}.gw.huangpu.example`]);
    expect(route.spec.rules).to.have.length(1);
    expect(route.spec.rules[0]!.matches).to.deep.equal([{ path: { type: 'PathPrefix', value: '/' } }]);
    expect(route.spec.rules[0]!.backendRefs[0]).to.include({ name, port: 80 });
    expect(route.metadata?.annotations?.['example.com/timeout']).to.equal('3600s');
    const deployment = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace: WORKLOADS_NS });
    expect(route.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid])).to.deep.equal([['Deployment', name, deployment.metadata!.uid]]);
    expect(route.metadata?.managedFields?.map((f) => f.manager)).to.include('tokenpool-agent');
    expect(await codeOf(admin.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name, namespace: WORKLOADS_NS })), 'an Ingress').to.equal(404);
  });

  it('updates the HTTPRoute when the Gateways or the base host change', async () => {
    await backend!.stop();
    backend = backendWith({
      TOKENPOOL_SERVING_BASE_URL: 'https://serve.huangpu.example',
      TOKENPOOL_SERVING_ROUTE: 'httproute',
      TOKENPOOL_GATEWAY_PARENT_REFS: JSON.stringify([{ name: 'internal', port: 443 }]),
    });
    await backend.start();
    await backend.reconcile([placement]);
    const route = await readRoute();
    expect(route.spec.hostnames).to.deep.equal([`${deploymentName(placement.id)}.serve.huangpu.example`]);
    expect(route.spec.parentRefs).to.deep.equal([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'internal', port: 443 }]);
    expect(route.metadata?.annotations?.['example.com/timeout']).to.equal(undefined);
  });

  it('deletes the HTTPRoute once the placement is no longer desired', async () => {
    await until(
      'the informer seeing the Deployment',
      () => backend!.running(),
      (r) => r.some((x) => x.id === placement.id),
      20_000,
    );
    await backend!.reconcile([]);
    expect(await codeOf(readRoute()), 'the HTTPRoute').to.equal(404);
  });
});
