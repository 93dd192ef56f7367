/**
 * The tunnel end to end on a real kube-apiserver: a cluster whose agent runs with
 * `TOKENPOOL_TUNNEL=on` (the RBAC of deploy/agent, no ingress) gets a gateway workload placed, its
 * Deployment becomes ready, the agent reports `tunnel://<service>.<namespace>.svc:80`, and a call
 * through the platform's OpenAI-compatible gateway reaches the placement's engine through the
 * agent's tunnel, metered once.
 *
 * The harness has no kubelet, kube-proxy or cluster DNS: the test sets the Deployment's status as
 * the controllers would, and the agent's tunnel connects the Service's name to a simulated engine
 * on loopback (what cluster DNS and kube-proxy would do for the ClusterIP).
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type V1Node } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { deploymentName } from '../../adapters/kubernetes/deployment.js';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const MODEL = 'qwen2.5-7b-instruct';

const gpuNode: V1Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'gpu-nat-a', labels: { 'kubernetes.io/hostname': 'gpu-nat-a', 'nvidia.com/gpu.product': H100 } },
  spec: { unschedulable: false },
  status: {
    capacity: { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': '8' },
    allocatable: { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': '8' },
    conditions: [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'fake node', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() },
    ],
  },
};

describe('tunnel on a real kube-apiserver: a gateway call reaches a cluster that accepts no inbound connection', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let p: TestPlatform | undefined;
  let runtime: AgentRuntime | undefined;
  let engine: SimulatedEngine | undefined;
  const services = new Map<string, { host: string; port: number }>();

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
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNode({ body: { ...gpuNode, status: undefined } });
    await core.replaceNodeStatus({
      name: gpuNode.metadata!.name!,
      body: { ...(await core.readNode({ name: gpuNode.metadata!.name! })), status: gpuNode.status },
    });
    p = await startPlatform('pglite');
    p.clock.set(new Date());
  });

  after(async () => {
    await runtime?.stop();
    await engine?.close();
    await p?.close();
    await cp?.stop();
  });

  it('places a gateway workload, reports its tunnel endpoint, and serves calls through the tunnel, each metered once', async () => {
    const platform = p!;
    const cluster = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'behind-nat', region: 'huangpu' } })).body;
    const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Huangpu Port', kind: 'enterprise', billingMode: 'postpaid' } })).body;
    const config = loadAgentConfig({
      TOKENPOOL_URL: platform.baseUrl,
      TOKENPOOL_AGENT_TOKEN: cluster.agentToken,
      KUBECONFIG: await cp!.userKubeconfig(AGENT_SA, SA_GROUPS),
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_TUNNEL: 'on',
    });
    runtime = await startAgentRuntime(config, {
      now: () => platform.clock.now(),
      processMetrics: false,
      tunnelConnectTo: (authority) => {
        const engineAt = services.get(authority);
        if (!engineAt) throw new Error(`no engine behind ${authority}`);
        return engineAt;
      },
    });
    await runtime.tunnel!.connected();
    await until(
      'the cluster ready',
      async () => (await platform.request('GET', `/api/v1/clusters/${cluster.id}`)).body.state,
      (s) => s === 'ready',
      30_000,
    );

    const w = await platform.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'port-assistant', model: MODEL, tokensPerMin: 1000 } });
    expect(w.status).to.equal(202);
    await platform.app.scheduler.runCycle();
    const placementId = (await platform.request('GET', `/api/v1/workloads/${w.body.id}`, { token: tenant.apiKey })).body.placements[0].id as string;
    const name = deploymentName(placementId);
    // The test plays the controllers with the administrator's credentials.
    const admin = new KubeConfig();
    admin.loadFromFile(cp!.kubeconfigPath);
    const apps = admin.makeApiClient(AppsV1Api);
    const deployment = await until(
      'the Deployment of the placement',
      () => apps.readNamespacedDeployment({ name, namespace: WORKLOADS_NS }).catch(() => undefined),
      (d) => d !== undefined,
      20_000,
    ).then((d) => d!);

    // The engine behind the placement's Service, with its serving key, and the Deployment ready.
    const { serving_key: servingKey } = await platform.database.db
      .selectFrom('placements')
      .select('serving_key')
      .where('id', '=', placementId)
      .executeTakeFirstOrThrow();
    let calls = 0;
    engine = await SimulatedEngine.start({ model: MODEL, servingKey, tokensPerSecond: 100_000, onServed: () => (calls += 1) });
    const authority = `${name}.${WORKLOADS_NS}.svc:80`;
    services.set(authority, { host: '127.0.0.1', port: Number(new URL(engine.url).port) });
    const replicas = deployment.spec!.replicas!;
    await apps.replaceNamespacedDeploymentStatus({
      name,
      namespace: WORKLOADS_NS,
      body: {
        ...deployment,
        status: {
          observedGeneration: deployment.metadata!.generation,
          replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          updatedReplicas: replicas,
        },
      },
    });
    const endpoints = await until(
      'the tunnel endpoint reported',
      async () => (await platform.database.db.selectFrom('placements').select('endpoints').where('id', '=', placementId).executeTakeFirstOrThrow()).endpoints,
      (e) => e.length > 0,
      30_000,
    );
    expect(endpoints).to.deep.equal([`tunnel://${authority}`]);
    platform.clock.advance(5000); // past the gateway's routing-table cache

    const usage = async () => {
      const u = (await platform.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body as { inputTokens: string; outputTokens: string };
      return BigInt(u.inputTokens) + BigInt(u.outputTokens);
    };
    const client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${platform.baseUrl}/v1`, maxRetries: 0 });
    const before = await usage();
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '你好, Huangpu' }], max_tokens: 7 });
    expect(answer.usage!.completion_tokens).to.equal(7);
    let streamed = 0;
    for await (const chunk of await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream' }],
      max_tokens: 11,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      if (chunk.usage) streamed = chunk.usage.total_tokens;
    }
    expect(streamed).to.be.above(11);
    expect(calls).to.equal(2);
    expect((await usage()) - before).to.equal(BigInt(answer.usage!.total_tokens + streamed));
    const agentMetrics = await (await fetch(`${runtime.url}/metrics`)).text();
    expect(agentMetrics).to.match(/^tokenpool_agent_tunnel_connected 1$/m);
    // One platform process: one tunnel, and it is covered.
    expect(agentMetrics).to.match(/^tokenpool_agent_tunnels_open 1$/m);
    expect(agentMetrics).to.match(/^tokenpool_agent_tunnel_processes 1$/m);
    expect(agentMetrics).to.match(/^tokenpool_agent_tunnel_processes_covered 1$/m);
  });
});
