/**
 * Node-level fit against a real kube-apiserver: the agent, with its own RBAC, reports each node's
 * allocatable devices and those its pods (any namespace, not terminated, init containers counted)
 * leave free, and discovers that the API server serves LeaderWorkerSets (from a minimal CRD,
 * test/k8s/crds/); a model whose replica is larger than any node is then placed across nodes,
 * and the agent applies a LeaderWorkerSet that the API server accepts (server-side apply).
 *
 * When kube-apiserver and etcd cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { ApisApi, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, type V1Pod } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { LABELS } from '../../adapters/kubernetes/deployment.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const GPU = 'nvidia.com/gpu';

describe('node-level fit on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let apps: AppsV1Api;
  let p: TestPlatform | undefined;
  let runtime: AgentRuntime | undefined;

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
    core = admin.makeApiClient(CoreV1Api);
    custom = admin.makeApiClient(CustomObjectsApi);
    apps = admin.makeApiClient(AppsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of [...manifests('deploy/agent'), ...manifests('test/k8s/crds')]) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    const apis = admin.makeApiClient(ApisApi);
    await until(
      'the LeaderWorkerSet API served',
      async () => (await apis.getAPIVersions()).groups.map((g) => g.name),
      (groups) => groups.includes('leaderworkerset.x-k8s.io'),
      30_000,
    );
    p = await startPlatform('pglite');
    p.clock.set(new Date());
  });

  after(async () => {
    await runtime?.stop();
    await p?.close();
    await cp?.stop();
  });

  async function gpuNode(name: string, gpus: number): Promise<void> {
    await core.createNode({
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'nvidia.com/gpu.product': H100 } } },
    });
    const created = await core.readNode({ name });
    const capacity = { cpu: '64', memory: '512Gi', pods: '110', [GPU]: String(gpus) };
    const now = new Date();
    await core.replaceNodeStatus({
      name,
      body: {
        ...created,
        status: {
          capacity,
          allocatable: capacity,
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }],
        },
      },
    });
  }

  /** A pod bound to `node` (as the scheduler would bind it) asking for GPUs; `phase` as its kubelet reports it. */
  async function boundPod(name: string, node: string, gpus: { containers: number; init?: number }, phase?: 'Running' | 'Succeeded'): Promise<void> {
    const container = (n: number, cname: string) => ({
      name: cname,
      image: 'busybox',
      resources: { limits: { [GPU]: String(n) }, requests: { [GPU]: String(n) } },
    });
    const body: V1Pod = {
      metadata: { name, namespace: 'default' },
      spec: {
        nodeName: node,
        containers: [container(gpus.containers, 'main')],
        ...(gpus.init ? { initContainers: [container(gpus.init, 'fetch')] } : {}),
      },
    };
    await core.createNamespacedPod({ namespace: 'default', body });
    if (phase) {
      const current = await core.readNamespacedPod({ name, namespace: 'default' });
      current.status = { phase };
      await core.replaceNamespacedPodStatus({ name, namespace: 'default', body: current });
    }
  }

  it('lets the agent list pods everywhere but change none, and apply LeaderWorkerSets only in its workloads namespace', async () => {
    const sa = new KubeConfig();
    sa.loadFromFile(await cp!.userKubeconfig(AGENT_SA, SA_GROUPS));
    const saCore = sa.makeApiClient(CoreV1Api);
    const saCustom = sa.makeApiClient(CustomObjectsApi);
    await saCore.listPodForAllNamespaces({ limit: 1 });
    const refused = async (what: string, call: () => Promise<unknown>) => {
      const err = await call().then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(err?.code, `${what} is forbidden`).to.equal(403);
    };
    await refused('deleting pods in default', () => saCore.deleteCollectionNamespacedPod({ namespace: 'default' }));
    await refused('reading a pod in kube-system', () => saCore.readNamespacedPod({ name: 'x', namespace: 'kube-system' }));
    const lws = {
      apiVersion: 'leaderworkerset.x-k8s.io/v1',
      kind: 'LeaderWorkerSet',
      metadata: { name: 'x' },
      spec: { leaderWorkerTemplate: { size: 1, workerTemplate: {} } },
    };
    await refused('creating LeaderWorkerSets in default', () =>
      saCustom.createNamespacedCustomObject({ group: 'leaderworkerset.x-k8s.io', version: 'v1', namespace: 'default', plural: 'leaderworkersets', body: lws }),
    );
    await saCustom.createNamespacedCustomObject({
      group: 'leaderworkerset.x-k8s.io',
      version: 'v1',
      namespace: WORKLOADS_NS,
      plural: 'leaderworkersets',
      body: lws,
      dryRun: 'All',
    });
  });

  it('reports free devices per node; a replica larger than any node becomes a LeaderWorkerSet the API server accepts', async () => {
    const platform = p!;
    // No controller manager here to make the namespace's default ServiceAccount, which pod admission wants.
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'default' } } }).catch(() => undefined);
    await gpuNode('gpu-a', 8);
    await gpuNode('gpu-b', 8);
    await gpuNode('gpu-c', 8);
    await boundPod('finished', 'gpu-a', { containers: 2 }, 'Succeeded'); // terminated: holds nothing
    await boundPod('train-1', 'gpu-c', { containers: 3 }, 'Running');
    await boundPod('train-2', 'gpu-c', { containers: 1, init: 4 }); // pending, bound: its init container's 4 count

    const k8s = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'nansha-k8s', region: 'nansha-nodes' } })).body;
    const config = loadAgentConfig({
      TOKENPOOL_URL: platform.baseUrl,
      TOKENPOOL_AGENT_TOKEN: k8s.agentToken,
      KUBECONFIG: await cp!.userKubeconfig(AGENT_SA, SA_GROUPS),
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
    });
    runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
    const shown = await until(
      'the cluster with its nodes reported',
      async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}`)).body,
      (c) => c.state === 'ready' && Array.isArray(c.nodes) && c.nodes.length === 3,
      30_000,
    );
    expect(shown.nodes).to.deep.equal([
      { name: 'gpu-a', deviceModel: H100, total: 8, free: 8 },
      { name: 'gpu-b', deviceModel: H100, total: 8, free: 8 },
      { name: 'gpu-c', deviceModel: H100, total: 8, free: 1 },
    ]);
    expect(shown.capabilities).to.deep.equal({ leaderWorkerSet: true });

    // 16 × 80 GiB per replica: larger than any node, so two pods of 8 on two nodes.
    expect(
      (await platform.request('POST', '/api/v1/models', { body: { name: 'node-fit-16', minMemoryGiB: 1100, costFactor: 10, inputFactor: 0.25 } })).status,
    ).to.equal(201);
    const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Port', kind: 'enterprise' } })).body;
    const created = await platform.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'planner', model: 'node-fit-16', tokensPerMin: 1000, regions: ['nansha-nodes'] },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    await platform.app.scheduler.runCycle();
    const w = (await platform.request('GET', `/api/v1/workloads/${created.body.id}`, { token: tenant.apiKey })).body;
    expect(w.state, w.message).to.equal('placed');
    const placement = w.placements[0];
    expect(placement).to.include({ clusterId: k8s.id, replicas: 1, devicesPerReplica: 16 });

    const [set] = await until(
      'the LeaderWorkerSet the agent applied',
      async () =>
        (
          (await custom.listNamespacedCustomObject({
            group: 'leaderworkerset.x-k8s.io',
            version: 'v1',
            namespace: WORKLOADS_NS,
            plural: 'leaderworkersets',
            labelSelector: `${LABELS.placement}=${placement.id}`,
          })) as { items: any[] }
        ).items,
      (items) => items.length === 1,
      30_000,
    );
    expect(set.spec.replicas).to.equal(1);
    expect(set.spec.leaderWorkerTemplate.size).to.equal(2);
    const container = set.spec.leaderWorkerTemplate.workerTemplate.spec.containers[0];
    expect(container.resources.limits[GPU]).to.equal('8');
    expect(container.resources.requests[GPU]).to.equal('8');
    expect(set.spec.leaderWorkerTemplate.workerTemplate.spec.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.product': H100 });
    expect(set.metadata.managedFields.map((f: { manager: string; operation: string }) => [f.manager, f.operation])).to.deep.include([
      'tokenpool-agent',
      'Apply',
    ]);
    // Its Service came with it, owned by the LeaderWorkerSet.
    const svc = await until(
      'the Service applied after the LeaderWorkerSet',
      () => core.readNamespacedService({ name: set.metadata.name, namespace: WORKLOADS_NS }).catch(() => undefined),
      (s) => s !== undefined,
      30_000,
    );
    expect(svc!.spec!.selector).to.include({ 'leaderworkerset.sigs.k8s.io/worker-index': '0', [LABELS.placement]: placement.id });
    expect(svc!.metadata!.ownerReferences![0]).to.include({ kind: 'LeaderWorkerSet', name: set.metadata.name, uid: set.metadata.uid });
    // And no Deployment for it.
    expect((await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS })).items).to.have.length(0);

    // Deleted on the platform: the agent deletes the LeaderWorkerSet.
    expect((await platform.request('DELETE', `/api/v1/workloads/${created.body.id}`, { token: tenant.apiKey })).status).to.equal(202);
    await until(
      'the LeaderWorkerSet deleted by the agent',
      async () =>
        (
          (await custom.listNamespacedCustomObject({
            group: 'leaderworkerset.x-k8s.io',
            version: 'v1',
            namespace: WORKLOADS_NS,
            plural: 'leaderworkersets',
          })) as {
            items: any[];
          }
        ).items.filter((i) => !i.metadata.deletionTimestamp),
      (items) => items.length === 0,
      30_000,
    );
  });
});
