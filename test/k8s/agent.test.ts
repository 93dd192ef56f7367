/**
 * The cluster agent against a real kube-apiserver and etcd (with kube-controller-manager, so that
 * Deployments make ReplicaSets and Pods), and the platform in-process on PGlite.
 *
 * Fake GPU nodes are Node objects with vendor capacities and labels; serving pods are the Pods the
 * controllers make, whose status the test sets as a kubelet would (Running, Ready, an IP of
 * 127.0.0.1) and whose metrics port points at a tiny HTTP server exposing vLLM-format counters.
 * The agent runs as the ServiceAccount of deploy/agent with the RBAC of deploy/agent, with an
 * ingress base URL: each placement gets a Secret (its serving key), a Service and an Ingress, and
 * its endpoint reaches the platform in heartbeats.
 *
 * When kube-apiserver and etcd cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, NetworkingV1Api, PatchStrategy, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { KubernetesBackend } from '../../adapters/kubernetes/backend.js';
import { deploymentName, LABELS } from '../../adapters/kubernetes/deployment.js';
import { PlatformClient, type DesiredPlacement, type EngineSpec } from '../../adapters/platform-client.js';
import { UsageReporter } from '../../adapters/usage-reporter.js';
import { VLLM_CUDA } from '../engine-specs.js';
import { FakeVllmMetrics } from '../fake-vllm.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { Relay } from '../outage-relay.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const GATEWAY_BASE = 'https://gw.huangpu.example';
const TOLERATIONS = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];

function gpuNode(
  name: string,
  opts: {
    resource: string;
    count: number;
    allocatable?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    unschedulable?: boolean;
    ready?: boolean;
  },
): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kwok.x-k8s.io/node': 'fake', ...opts.labels }, annotations: opts.annotations },
    spec: { unschedulable: opts.unschedulable ?? false },
    status: {
      capacity: { cpu: '64', memory: '512Gi', pods: '110', [opts.resource]: String(opts.count) },
      allocatable: { cpu: '64', memory: '512Gi', pods: '110', [opts.resource]: String(opts.allocatable ?? opts.count) },
      conditions: [
        {
          type: 'Ready',
          status: opts.ready === false ? 'False' : 'True',
          reason: 'KubeletReady',
          message: 'fake node',
          lastHeartbeatTime: new Date(),
          lastTransitionTime: new Date(),
        },
      ],
    },
  };
}

describe('cluster agent on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let objects: KubernetesObjectApi;
  let net: NetworkingV1Api;
  let p: TestPlatform | undefined;
  let cluster: { id: string; agentToken: string };
  let tenant: { id: string; apiKey: string };
  let agentKubeconfig: string;
  let runtime: AgentRuntime | undefined;
  const servings = new Map<string, FakeVllmMetrics>();

  before(async function () {
    this.timeout(600_000);
    try {
      cp = await startControlPlane({ withControllerManager: true });
    } catch (err) {
      console.log(`    (skipped: no Kubernetes API server to test against: ${(err as Error).message})`);
      this.skip();
    }
    admin = new KubeConfig();
    admin.loadFromFile(cp.kubeconfigPath);
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
    net = admin.makeApiClient(NetworkingV1Api);
    objects = KubernetesObjectApi.makeApiClient(admin);
    // The agent's manifests, applied for real: namespaces, ServiceAccount, RBAC, its Deployment.
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    agentKubeconfig = await cp.userKubeconfig(AGENT_SA, SA_GROUPS);

    p = await startPlatform('pglite');
    p.clock.set(new Date());
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-k8s', region: 'huangpu' } })).body;
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huangpu Port', kind: 'enterprise' } })).body;
  });

  after(async () => {
    await runtime?.stop();
    for (const s of servings.values()) await s.stop();
    await p?.close();
    await cp?.stop();
  });

  it('refuses the agent what its RBAC does not grant (Secrets, other namespaces)', async () => {
    const sa = new KubeConfig();
    sa.loadFromFile(agentKubeconfig);
    const saCore = sa.makeApiClient(CoreV1Api);
    const saApps = sa.makeApiClient(AppsV1Api);
    const refused = async (what: string, call: () => Promise<unknown>) => {
      const err = await call().then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(err?.code, `${what} is forbidden`).to.equal(403);
    };
    await refused('reading Secrets in kube-system', () => saCore.listNamespacedSecret({ namespace: 'kube-system' }));
    await refused('reading Secrets in its own workloads namespace', () => saCore.listNamespacedSecret({ namespace: WORKLOADS_NS }));
    await refused('reading one Secret in its own workloads namespace', () => saCore.readNamespacedSecret({ name: 'anything', namespace: WORKLOADS_NS }));
    await refused('creating Services in default', () =>
      saCore.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { ports: [{ port: 80 }] } } }),
    );
    await refused('listing Ingresses anywhere', () => sa.makeApiClient(NetworkingV1Api).listNamespacedIngress({ namespace: WORKLOADS_NS }));
    await refused('creating Deployments in default', () =>
      saApps.createNamespacedDeployment({
        namespace: 'default',
        body: {
          metadata: { name: 'x' },
          spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } },
        },
      }),
    );
    await refused('deleting Nodes', () => saCore.deleteNode({ name: 'anything' }));
    await refused('reading one PersistentVolumeClaim', () => saCore.readNamespacedPersistentVolumeClaim({ name: 'anything', namespace: WORKLOADS_NS }));
    await refused('listing PersistentVolumeClaims in default', () => saCore.listNamespacedPersistentVolumeClaim({ namespace: 'default' }));
    await refused('creating PersistentVolumeClaims', () =>
      saCore.createNamespacedPersistentVolumeClaim({
        namespace: WORKLOADS_NS,
        body: { metadata: { name: 'x' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
      }),
    );
    // What it needs, it may do.
    await saCore.listNode();
    await saApps.listNamespacedDeployment({ namespace: WORKLOADS_NS });
    await saCore.listNamespacedPod({ namespace: WORKLOADS_NS });
    await saCore.listNamespacedPersistentVolumeClaim({ namespace: WORKLOADS_NS });
  });

  it('accepts the platform manifests (server-side dry run)', async () => {
    for (const o of manifests('deploy/platform')) {
      const dryRun = o.kind === 'Namespace' ? undefined : 'All';
      await objects.patch(o, undefined, dryRun, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
  });

  it('reports the inventory of the fake GPU nodes exactly', async () => {
    const nodes = [
      gpuNode('gpu-a', { resource: 'nvidia.com/gpu', count: 8, labels: { 'nvidia.com/gpu.product': H100 } }),
      gpuNode('gpu-b', { resource: 'nvidia.com/gpu', count: 8, allocatable: 7, labels: { 'nvidia.com/gpu.product': H100 } }),
      gpuNode('gpu-c', { resource: 'nvidia.com/gpu', count: 8, labels: { 'nvidia.com/gpu.product': H100 }, unschedulable: true }),
      gpuNode('npu-a', { resource: 'huawei.com/Ascend910', count: 16, labels: { accelerator: 'huawei-Ascend910B' }, ready: false }),
      gpuNode('npu-b', { resource: 'huawei.com/Ascend910', count: 16, labels: { accelerator: 'huawei-Ascend910B' } }),
      // HAMi splits 2 physical A100s into 20 slices; one of the two is unhealthy.
      gpuNode('vgpu-a', {
        resource: 'nvidia.com/gpu',
        count: 20,
        labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' },
        annotations: {
          'hami.io/node-nvidia-register': JSON.stringify([
            { id: 'GPU-0', count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA-NVIDIA A100-SXM4-80GB', numa: 0, health: true },
            { id: 'GPU-1', count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA-NVIDIA A100-SXM4-80GB', numa: 0, health: false },
          ]),
        },
      }),
    ];
    for (const n of nodes) {
      await core.createNode({ body: { ...n, status: undefined } });
      const created = await core.readNode({ name: n.metadata!.name! });
      await core.replaceNodeStatus({ name: n.metadata!.name!, body: { ...created, status: n.status } });
    }

    const config = loadAgentConfig({
      TOKENPOOL_URL: p!.baseUrl,
      TOKENPOOL_AGENT_TOKEN: cluster.agentToken,
      KUBECONFIG: agentKubeconfig,
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
      TOKENPOOL_SERVING_BASE_URL: GATEWAY_BASE,
      TOKENPOOL_INGRESS_CLASS: 'nginx',
      TOKENPOOL_SERVING_TOLERATIONS: JSON.stringify(TOLERATIONS),
      TOKENPOOL_SERVING_NODE_SELECTOR: JSON.stringify({ 'tokenpool.io/serving': 'true' }),
    });
    runtime = await startAgentRuntime(config, { now: () => p!.clock.now(), processMetrics: false });

    // Per model: H100 8 + 7 allocatable + 0 (unschedulable) of 24; Ascend 0 (NotReady) + 16 of 32;
    // the HAMi node's 20 slices are 2 cards, one healthy.
    const expected = [
      { deviceModel: 'NVIDIA-A100-SXM4-80GB', total: 2, healthy: 1 },
      { deviceModel: H100, total: 24, healthy: 15 },
      { deviceModel: 'huawei-Ascend910B', total: 32, healthy: 16 },
    ];
    await until(
      'the inventory the agent reported',
      async () => {
        const c = (await p!.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
        return c.inventory
          .map((i: { deviceModel: string; total: number; healthy: number }) => ({ deviceModel: i.deviceModel, total: i.total, healthy: i.healthy }))
          .sort((a: { deviceModel: string }, b: { deviceModel: string }) => (a.deviceModel < b.deviceModel ? -1 : 1));
      },
      (inv) => JSON.stringify(inv) === JSON.stringify(expected),
      30_000,
    );
    const c = (await p!.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(c.state).to.equal('ready');
    expect(c.unprofiledDevices).to.deep.equal([]);

    const health = await fetch(`${runtime.url}/healthz`);
    expect(health.status).to.equal(200);
    const ready = await fetch(`${runtime.url}/readyz`);
    expect([ready.status, ((await ready.json()) as { consecutiveFailures: number }).consecutiveFailures]).to.deep.equal([200, 0]);
    const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
    expect(metrics).to.match(/^tokenpool_agent_heartbeats_ok_total [1-9]/m);
  });

  it('starts its informers again after the API server went away, and sees what changed meanwhile', async () => {
    await cp!.restartApiServer();
    await core.createNode({
      body: { ...gpuNode('gpu-d', { resource: 'nvidia.com/gpu', count: 8, labels: { 'nvidia.com/gpu.product': H100 } }), status: undefined },
    });
    const created = await core.readNode({ name: 'gpu-d' });
    await core.replaceNodeStatus({ name: 'gpu-d', body: { ...created, status: gpuNode('gpu-d', { resource: 'nvidia.com/gpu', count: 8 }).status } });
    await until(
      'the new node in the inventory',
      async () => {
        const c = (await p!.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
        return c.inventory.find((i: { deviceModel: string }) => i.deviceModel === H100);
      },
      (h100) => h100?.total === 32 && h100?.healthy === 23,
      60_000,
    );
  });

  it('stays live but not ready while the platform cannot be reached', async () => {
    const lonely = await startAgentRuntime(
      loadAgentConfig({
        TOKENPOOL_URL: 'http://127.0.0.1:1',
        TOKENPOOL_AGENT_TOKEN: cluster.agentToken,
        KUBECONFIG: agentKubeconfig,
        TOKENPOOL_AGENT_PORT: '0',
        TOKENPOOL_HEARTBEAT_SECONDS: '1',
        // Not the ConfigMap the agent above keeps its usage in: a second agent must not write it.
        TOKENPOOL_STATE_FILE: join(mkdtempSync(join(tmpdir(), 'tokenpool-lonely-')), 'usage-state.json'),
      }),
      { processMetrics: false },
    );
    try {
      await until(
        'readiness lost',
        async () => (await fetch(`${lonely.url}/readyz`)).status,
        (s) => s === 503,
        30_000,
      );
      expect((await fetch(`${lonely.url}/healthz`)).status).to.equal(200);
    } finally {
      await lonely.stop();
    }
  });

  let workloadId: string;
  let placementId: string;

  it('turns a desired placement into a Deployment with the right resources, selector and labels, applied by tokenpool-agent', async () => {
    const res = await p!.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      // Direct: its counters below are billed usage (a gateway workload's would be a cross-check).
      body: { name: 'port-assistant', model: 'qwen2.5-7b-instruct', tokensPerMin: 300_000, regions: ['huangpu'], access: 'direct' },
    });
    expect(res.status).to.equal(202);
    workloadId = res.body.id;
    await p!.app.scheduler.runCycle();
    const w = (await p!.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    expect(w.state).to.equal('placed');
    expect(w.placements).to.have.length(1);
    const placement = w.placements[0];
    placementId = placement.id;

    const deployment = await until(
      'the Deployment of the placement',
      async () => {
        const list = await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` });
        return list.items[0];
      },
      (d) => d !== undefined,
      20_000,
    ).then((d) => d!);
    expect(deployment.metadata?.labels).to.include({ [LABELS.managedBy]: 'tokenpool-agent', [LABELS.placement]: placementId, [LABELS.workload]: workloadId });
    expect(deployment.spec?.replicas).to.equal(placement.replicas);
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(container.resources?.limits).to.deep.equal({ 'nvidia.com/gpu': String(placement.devicesPerReplica) });
    // The platform sends the NVIDIA default engine (the built-in vLLM): its CPU and memory per device are requested too.
    const vllm = ((await p!.request('GET', '/api/v1/engines?limit=100')).body.items as { name: string; image: string }[]).find((e) => e.name === 'vllm')!;
    expect(container.image).to.equal(vllm.image);
    expect(container.resources?.requests).to.include({ 'nvidia.com/gpu': String(placement.devicesPerReplica) });
    expect(container.resources?.requests).to.have.keys('nvidia.com/gpu', 'cpu', 'memory');
    expect(container.readinessProbe?.httpGet?.path).to.be.a('string');
    expect(pod.nodeSelector).to.deep.equal({ 'tokenpool.io/serving': 'true', 'nvidia.com/gpu.product': placement.deviceModel });
    expect(pod.tolerations).to.deep.equal(TOLERATIONS);
    expect(deployment.metadata?.managedFields?.map((f) => f.manager)).to.include('tokenpool-agent');

    // The serving key reaches the engine from the placement's Secret, owned by the Deployment. The
    // agent applies the Secret, Service and Ingress after the Deployment, the Ingress last.
    const name = deployment.metadata!.name!;
    const ingress = await until(
      'the Ingress of the placement',
      () => net.readNamespacedIngress({ name, namespace: WORKLOADS_NS }).catch(() => undefined),
      (i) => i !== undefined,
      20_000,
    ).then((i) => i!);
    const { serving_key: servingKey } = await p!.database.db
      .selectFrom('placements')
      .select('serving_key')
      .where('id', '=', placementId)
      .executeTakeFirstOrThrow();
    expect(container.env).to.deep.equal([{ name: 'VLLM_API_KEY', valueFrom: { secretKeyRef: { name, key: 'serving-key' } } }]);
    const secret = await core.readNamespacedSecret({ name, namespace: WORKLOADS_NS });
    expect(Buffer.from(secret.data!['serving-key']!, 'base64').toString()).to.equal(servingKey);
    const owner = { kind: 'Deployment', name, uid: deployment.metadata!.uid };
    expect(secret.metadata?.ownerReferences?.map((o) => ({ kind: o.kind, name: o.name, uid: o.uid }))).to.deep.equal([owner]);
    // A Service in front of the pods, and an Ingress routing its host under the base URL to it.
    const service = await core.readNamespacedService({ name, namespace: WORKLOADS_NS });
    expect(service.spec?.selector).to.deep.equal({ [LABELS.placement]: placementId });
    expect(service.spec?.ports?.map((x) => [x.name, x.targetPort])).to.deep.equal([['http', 'http']]);
    expect(service.spec?.clusterIP).to.be.a('string');
    expect(ingress.spec?.ingressClassName).to.equal('nginx');
    expect(ingress.spec?.rules?.[0]?.host).to.equal(`${name}.gw.huangpu.example`);
    expect(ingress.spec?.rules?.[0]?.http?.paths[0]?.backend.service).to.deep.equal({ name, port: { name: 'http' } });
    expect(ingress.metadata?.ownerReferences?.map((o) => ({ kind: o.kind, name: o.name, uid: o.uid }))).to.deep.equal([owner]);
  });

  it('reports ready replicas once the serving pods are ready, and the workload runs', async () => {
    const replicas = (await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` })).items[0]!.spec!
      .replicas!;
    const pods = await until(
      'the serving pods the controllers made',
      async () => (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` })).items,
      (items) => items.length === replicas,
      30_000,
    );
    for (const pod of pods) await becomeReady(pod);
    await until(
      'the workload running',
      async () => (await p!.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body.state,
      (s) => s === 'running',
      30_000,
    );
    // The heartbeat reported the placement's endpoint under the ingress base URL.
    const endpoints = await until(
      'the endpoint reported',
      async () => (await p!.database.db.selectFrom('placements').select('endpoints').where('id', '=', placementId).executeTakeFirstOrThrow()).endpoints,
      (e) => e.length > 0,
      30_000,
    );
    expect(endpoints).to.deep.equal([`https://${deploymentName(placementId)}.gw.huangpu.example`]);
  });

  /** What a kubelet would do: the pod runs on 127.0.0.1, its metrics port is a fake serving engine's. */
  async function becomeReady(pod: V1Pod, restartCount = 0): Promise<void> {
    const name = pod.metadata!.name!;
    let serving = servings.get(name);
    if (!serving) {
      serving = new FakeVllmMetrics();
      await serving.start();
      servings.set(name, serving);
    }
    const annotated = await core.readNamespacedPod({ name, namespace: WORKLOADS_NS });
    annotated.metadata!.annotations = { ...annotated.metadata!.annotations, 'prometheus.io/port': String(serving.port) };
    await core.replaceNamespacedPod({ name, namespace: WORKLOADS_NS, body: annotated });
    const current = await core.readNamespacedPod({ name, namespace: WORKLOADS_NS });
    const now = new Date();
    current.status = {
      phase: 'Running',
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      hostIP: '127.0.0.1',
      startTime: now,
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
      ],
      containerStatuses: [
        { name: 'serving', ready: true, restartCount, image: 'vllm', imageID: 'vllm', started: true, state: { running: { startedAt: now } } },
      ],
    };
    await core.replaceNamespacedPodStatus({ name, namespace: WORKLOADS_NS, body: current });
  }

  it('turns serving counters into usage: deltas and a restart, each token counted once', async () => {
    const pods = (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` })).items;
    const usage = async () => (await p!.request('GET', `/api/v1/usage?tenantId=${tenant.id}`)).body as { inputTokens: number; outputTokens: number };
    const before = await usage();
    let input = 0;
    let output = 0;
    for (const [i, pod] of pods.entries()) {
      const s = servings.get(pod.metadata!.name!)!;
      s.prompt += 1200 * (i + 1);
      s.generation += 300 * (i + 1);
      input += 1200 * (i + 1);
      output += 300 * (i + 1);
    }
    await until(
      'the first deltas reported',
      usage,
      (u) => u.inputTokens === before.inputTokens + input && u.outputTokens === before.outputTokens + output,
      30_000,
    );

    // The first pod restarts: its counters start again from a small value.
    const first = pods[0]!;
    const s = servings.get(first.metadata!.name!)!;
    s.prompt = 50;
    s.generation = 7;
    await becomeReady(first, 1);
    await until(
      'the restarted pod counted from zero',
      usage,
      (u) => u.inputTokens === before.inputTokens + input + 50 && u.outputTokens === before.outputTokens + output + 7,
      30_000,
    );
  });

  it('loses nothing and counts nothing twice across a 10-minute platform outage (on the clock)', async () => {
    // The agent's own reporter stops; one on a relay the test can take down takes over.
    await runtime!.reporter()?.stop();
    const relay = new Relay();
    await relay.start(new URL(p!.baseUrl));
    const reporter = new UsageReporter({
      cluster: cluster.id,
      client: new PlatformClient({ baseUrl: relay.url, token: cluster.agentToken, timeoutMs: 2_000 }),
      now: () => p!.clock.now(),
      maxBackoffMs: 60_000,
    });
    const usage = async () => (await p!.request('GET', `/api/v1/usage?tenantId=${tenant.id}`)).body as { inputTokens: number; outputTokens: number };
    const pods = (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` })).items;
    const step = async () => {
      p!.clock.advance(10_000);
      const at = p!.clock.now();
      reporter.observe(await runtime!.backend.scrape(), at);
      await reporter.flush();
    };
    try {
      await step(); // baselines
      const before = await usage();
      let input = 0;
      let output = 0;
      relay.takeDown();
      for (let i = 0; i < 60; i++) {
        for (const pod of pods) {
          const s = servings.get(pod.metadata!.name!)!;
          s.prompt += 100 + i;
          s.generation += 10 + i;
          input += 100 + i;
          output += 10 + i;
        }
        await step();
      }
      expect(reporter.queued, 'events wait while the platform is down').to.be.greaterThan(0);
      expect((await usage()).inputTokens, 'nothing arrived meanwhile').to.equal(before.inputTokens);
      relay.down = false;
      for (let i = 0; i < 20 && reporter.queued > 0; i++) await step();
      expect(reporter.queued).to.equal(0);
      const after = await usage();
      expect([after.inputTokens - before.inputTokens, after.outputTokens - before.outputTokens]).to.deep.equal([input, output]);
      // The same windows sent again are duplicates, never a second charge.
      expect(reporter.stats.duplicates).to.equal(0);
    } finally {
      await relay.stop();
    }
  });

  it('deletes the Deployment once the placement is no longer desired', async () => {
    expect((await p!.request('DELETE', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).status).to.equal(202);
    await until(
      'the Deployment gone',
      async () =>
        (await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placementId}` })).items.filter(
          (d) => !d.metadata?.deletionTimestamp,
        ),
      (items) => items.length === 0,
      20_000,
    );
    const name = deploymentName(placementId);
    const gone = async (read: () => Promise<unknown>) =>
      read().then(
        () => 200,
        (e: { code?: number }) => e.code,
      );
    expect(await gone(() => core.readNamespacedSecret({ name, namespace: WORKLOADS_NS })), 'Secret').to.equal(404);
    expect(await gone(() => core.readNamespacedService({ name, namespace: WORKLOADS_NS })), 'Service').to.equal(404);
    expect(await gone(() => net.readNamespacedIngress({ name, namespace: WORKLOADS_NS })), 'Ingress').to.equal(404);
  });

  describe('engines as the platform sends them', () => {
    /** vllm-ascend for Huawei Ascend: `vllm serve`, the key as --api-key, non-root. */
    const vllmAscend: EngineSpec = {
      id: 'vllm-ascend',
      image: 'quay.io/ascend/vllm-ascend:v0.8.5rc1',
      args: ['vllm', 'serve', '{model}', '--served-model-name', '{servedName}', '--tensor-parallel-size', '{tensorParallel}', '--port', '{port}'],
      env: { PYTORCH_NPU_ALLOC_CONF: 'expandable_segments:True', HCCL_CONNECT_TIMEOUT: '1200' },
      apiKeyEnv: null,
      port: 8080,
      shmSize: '32Gi',
      cpuPerDevice: '3500m',
      memoryPerDevice: '48Gi',
      healthPath: '/health',
      metricsPath: '/metrics',
      metricsDialect: 'vllm',
      startupSeconds: 2400,
      runAsNonRoot: true,
    };
    const placement = (id: string, engine: EngineSpec, resourceName: string, deviceModel: string): DesiredPlacement => ({
      id,
      workloadId: 'wl_engines',
      model: 'qwen2.5-72b-instruct',
      deviceModel,
      profile: deviceModel,
      resourceName,
      replicas: 1,
      devicesPerReplica: 4,
      servingKey: `sk_${id}`,
      engine,
    });
    const cases: [string, DesiredPlacement, string[]][] = [
      [
        'vLLM on NVIDIA',
        placement('pl_engine_cuda', VLLM_CUDA, 'nvidia.com/gpu', H100),
        ['--model', 'qwen2.5-72b-instruct', '--served-model-name', 'qwen2.5-72b-instruct', '--tensor-parallel-size', '4', '--port', '8000'],
      ],
      [
        'vllm-ascend on Ascend',
        placement('pl_engine_ascend', vllmAscend, 'huawei.com/Ascend910', 'huawei-Ascend910B'),
        [
          'vllm',
          'serve',
          'qwen2.5-72b-instruct',
          '--served-model-name',
          'qwen2.5-72b-instruct',
          '--tensor-parallel-size',
          '4',
          '--port',
          '8080',
          '--api-key',
          '$(TOKENPOOL_SERVING_KEY)',
        ],
      ],
    ];
    let backend: KubernetesBackend;

    before(async () => {
      // The agent of the platform would remove these placements: it is not in its desired set.
      await runtime?.stop();
      runtime = undefined;
      const sa = new KubeConfig();
      sa.loadFromFile(agentKubeconfig);
      // The agent's own backend with the agent's RBAC, driven directly with the desired placements.
      backend = new KubernetesBackend({
        kubeConfig: sa,
        namespace: WORKLOADS_NS,
        serving: { image: 'vllm/vllm-openai:v0.8.5', port: 8000, engineImages: { 'vllm-ascend': 'registry.huangpu.example/ascend/vllm-ascend:v0.8.5rc1' } },
        ingress: { baseUrl: GATEWAY_BASE, className: 'nginx' },
        profiles: async () => [],
      });
      await backend.start();
      await backend.reconcile(cases.map(([, pl]) => pl));
    });

    after(async () => backend?.stop());

    for (const [name, pl, args] of cases) {
      it(`applies ${name} as the engine says, with its key from the Secret`, async () => {
        const engine = pl.engine!;
        const d = await apps.readNamespacedDeployment({ name: deploymentName(pl.id), namespace: WORKLOADS_NS });
        const spec = d.spec!.template.spec!;
        const c = spec.containers[0]!;
        expect(c.image).to.equal(engine.id === 'vllm-ascend' ? 'registry.huangpu.example/ascend/vllm-ascend:v0.8.5rc1' : engine.image);
        expect(c.args).to.deep.equal(args);
        const keyVar = engine.apiKeyEnv ?? 'TOKENPOOL_SERVING_KEY';
        expect(c.env).to.deep.include({ name: keyVar, valueFrom: { secretKeyRef: { name: deploymentName(pl.id), key: 'serving-key' } } });
        for (const [k, v] of Object.entries(engine.env)) expect(c.env).to.deep.include({ name: k, value: v });
        expect(c.resources?.limits).to.deep.equal({ [pl.resourceName]: '4' });
        expect(c.resources?.requests).to.deep.equal(
          engine.id === 'vllm-ascend' ? { cpu: '14', memory: '192Gi', [pl.resourceName]: '4' } : { cpu: '16', memory: '128Gi', [pl.resourceName]: '4' },
        );
        expect(spec.volumes?.map((v) => [v.name, v.emptyDir?.medium, v.emptyDir?.sizeLimit])).to.deep.equal([['dshm', 'Memory', engine.shmSize]]);
        expect(c.volumeMounts?.map((m) => [m.name, m.mountPath])).to.deep.equal([['dshm', '/dev/shm']]);
        expect(c.startupProbe?.httpGet?.path).to.equal(engine.healthPath);
        expect(c.startupProbe!.periodSeconds! * c.startupProbe!.failureThreshold!).to.be.at.least(engine.startupSeconds);
        expect(c.livenessProbe?.httpGet?.path).to.equal(engine.healthPath);
        expect(c.readinessProbe?.httpGet?.path).to.equal(engine.healthPath);
        expect(c.securityContext?.allowPrivilegeEscalation).to.equal(false);
        expect(c.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
        expect(spec.securityContext?.runAsNonRoot ?? false).to.equal(engine.runAsNonRoot);
        expect(d.spec!.template.metadata?.annotations?.['prometheus.io/port']).to.equal(String(engine.port));
        const secret = await core.readNamespacedSecret({ name: deploymentName(pl.id), namespace: WORKLOADS_NS });
        expect(Buffer.from(secret.data!['serving-key']!, 'base64').toString()).to.equal(pl.servingKey);
      });
    }

    it('reports no endpoint before a replica is ready', async () => {
      const running = await until(
        'the engine placements running',
        () => backend.running(),
        (r) => r.filter((x) => x.id.startsWith('pl_engine_')).length === 2,
        20_000,
      );
      // With its health, which has no ready replica yet.
      for (const r of running.filter((x) => x.id.startsWith('pl_engine_'))) {
        expect(r).to.deep.include({ id: r.id, readyReplicas: 0, endpoints: [], desiredReplicas: 1 });
        expect(r.phase).to.be.oneOf(['pending', 'starting']);
      }
    });

    it('removes the Deployments, Secrets, Services and Ingresses once the placements are no longer desired', async () => {
      await until(
        'the informer seeing both Deployments',
        () => backend.running(),
        (r) => r.filter((x) => x.id.startsWith('pl_engine_')).length === 2,
        20_000,
      );
      await backend.reconcile([]);
      for (const [, pl] of cases) {
        const name = deploymentName(pl.id);
        for (const [what, read] of [
          ['Secret', () => core.readNamespacedSecret({ name, namespace: WORKLOADS_NS })],
          ['Service', () => core.readNamespacedService({ name, namespace: WORKLOADS_NS })],
          ['Ingress', () => net.readNamespacedIngress({ name, namespace: WORKLOADS_NS })],
        ] as const) {
          const code = await (read as () => Promise<unknown>)().then(
            () => 200,
            (e: { code?: number }) => e.code,
          );
          expect(code, `${what} of ${pl.id}`).to.equal(404);
        }
      }
      await until(
        'the Deployments gone',
        async () =>
          (await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.workload}=wl_engines` })).items.filter(
            (d) => !d.metadata?.deletionTimestamp,
          ),
        (items) => items.length === 0,
        20_000,
      );
    });

    it('leaves nothing behind when a Deployment is deleted by hand: the garbage collector takes its Secret, Service and Ingress', async () => {
      const pl = cases[0]![1];
      const name = deploymentName(pl.id);
      await backend.reconcile([pl]);
      const codes = async () =>
        Promise.all(
          [
            () => core.readNamespacedSecret({ name, namespace: WORKLOADS_NS }),
            () => core.readNamespacedService({ name, namespace: WORKLOADS_NS }),
            () => net.readNamespacedIngress({ name, namespace: WORKLOADS_NS }),
          ].map((read) =>
            (read as () => Promise<unknown>)().then(
              () => 200,
              (e: { code?: number }) => e.code,
            ),
          ),
        );
      expect(await codes()).to.deep.equal([200, 200, 200]);
      await apps.deleteNamespacedDeployment({ name, namespace: WORKLOADS_NS, propagationPolicy: 'Background' });
      await until('the Secret, Service and Ingress collected', codes, (c) => c.every((x) => x === 404), 60_000);
    });
  });
});
