/**
 * The agent keeps what it owes (issue 14), against a real kube-apiserver: the agent runs as the
 * ServiceAccount of deploy/agent with its RBAC, and keeps counter baselines and unsent usage in the
 * ConfigMap tokenpool-agent/tokenpool-agent-state. Mid-outage (a relay to the platform that refuses
 * connections) the agent is stopped and a new one started; when the platform comes back the usage
 * billed equals the serving counters' growth exactly: nothing lost, nothing counted twice.
 *
 * The serving pod is made by hand with the agent's labels (no controller-manager needed); its
 * status is set as a kubelet would, its metrics port a fake vLLM page. When kube-apiserver and etcd
 * cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { AgentStartError, startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { ConfigMapStateStore, STATE_KEY, StateConflictError } from '../../adapters/kubernetes/configmap-state-store.js';
import { LABELS, MANAGED_BY } from '../../adapters/kubernetes/deployment.js';
import { parseUsageState, type UsageState } from '../../adapters/usage-state.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { FakeVllmMetrics } from '../fake-vllm.js';
import { Relay } from '../outage-relay.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_NS = 'tokenpool-agent';
const STATE = 'tokenpool-agent-state';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';

describe('the agent keeps what it owes, in a ConfigMap, on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let agentKubeconfig: string;
  let p: TestPlatform | undefined;
  let runtime: AgentRuntime | undefined;
  let relay: Relay | undefined;
  let engine: FakeVllmMetrics | undefined;
  let agentToken: string;

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
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    agentKubeconfig = await cp.userKubeconfig(AGENT_SA, SA_GROUPS);
    p = await startPlatform('pglite');
    p.clock.set(new Date());
  });

  after(async () => {
    await runtime?.stop();
    await relay?.stop();
    await engine?.stop();
    await p?.close();
    await cp?.stop();
  });

  it('lets the agent get and update its state ConfigMap, and nothing more of ConfigMaps', async () => {
    const sa = new KubeConfig();
    sa.loadFromFile(agentKubeconfig);
    const saCore = sa.makeApiClient(CoreV1Api);
    const refused = async (what: string, call: () => Promise<unknown>) => {
      const err = await call().then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      expect(err?.code, `${what} is forbidden`).to.equal(403);
    };
    const body = { metadata: { name: 'other', namespace: AGENT_NS }, data: {} };
    await core.createNamespacedConfigMap({ namespace: AGENT_NS, body });
    await refused('reading another ConfigMap of its namespace', () => saCore.readNamespacedConfigMap({ name: 'other', namespace: AGENT_NS }));
    await refused('updating another ConfigMap of its namespace', () => saCore.replaceNamespacedConfigMap({ name: 'other', namespace: AGENT_NS, body }));
    await refused('listing ConfigMaps', () => saCore.listNamespacedConfigMap({ namespace: AGENT_NS }));
    await refused('creating ConfigMaps', () => saCore.createNamespacedConfigMap({ namespace: AGENT_NS, body: { metadata: { name: 'mine' } } }));
    await refused('deleting its state', () => saCore.deleteNamespacedConfigMap({ name: STATE, namespace: AGENT_NS }));
    await refused('reading kube-system ConfigMaps', () => saCore.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'kube-system' }));
    await refused('reading a ConfigMap of that name in the workloads namespace', () =>
      saCore.readNamespacedConfigMap({ name: STATE, namespace: WORKLOADS_NS }),
    );
    // What it needs, it may do.
    const state = await saCore.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    await saCore.replaceNamespacedConfigMap({ name: STATE, namespace: AGENT_NS, body: state });
  });

  it('loses nothing and counts nothing twice when the agent restarts while the platform is unreachable', async () => {
    const platform = p!;
    // A GPU node, a direct workload placed on the cluster, and its serving pod running an engine.
    await core.createNode({ body: { metadata: { name: 'gpu-a', labels: { 'kubernetes.io/hostname': 'gpu-a', 'nvidia.com/gpu.product': H100 } } } });
    const node = await core.readNode({ name: 'gpu-a' });
    const capacity = { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': '8' };
    const now = new Date();
    await core.replaceNodeStatus({
      name: 'gpu-a',
      body: {
        ...node,
        status: {
          capacity,
          allocatable: capacity,
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }],
        },
      },
    });
    const cluster = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-k8s', region: 'huangpu' } })).body;
    agentToken = cluster.agentToken;
    const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Huangpu Port', kind: 'enterprise' } })).body;
    relay = new Relay();
    await relay.start(new URL(platform.baseUrl));
    const config = loadAgentConfig({
      TOKENPOOL_URL: relay.url,
      TOKENPOOL_AGENT_TOKEN: cluster.agentToken,
      KUBECONFIG: agentKubeconfig,
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
    });
    runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
    await until(
      'the inventory reported',
      async () => (await platform.request('GET', `/api/v1/clusters/${cluster.id}`)).body.state,
      (s) => s === 'ready',
      30_000,
    );
    const created = await platform.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'port-assistant', model: 'qwen2.5-7b-instruct', tokensPerMin: 300_000, regions: ['huangpu'], access: 'direct' },
    });
    expect(created.status).to.equal(202);
    await platform.app.scheduler.runCycle();
    const w = (await platform.request('GET', `/api/v1/workloads/${created.body.id}`, { token: tenant.apiKey })).body;
    expect(w.placements).to.have.length(1);
    engine = new FakeVllmMetrics(12_000, 1_200);
    await engine.start();
    await servingPod('serving-0', w.placements[0].id, w.id, engine.port);

    const saved = async (): Promise<UsageState | undefined> => {
      const cm = await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
      const text = cm.data?.[STATE_KEY];
      return text === undefined ? undefined : parseUsageState(text);
    };
    const caughtUp = (what: string) => until(what, saved, (s) => s?.baselines[0]?.[3] === engine!.prompt && s.baselines[0][4] === engine!.generation, 30_000);
    const usage = async () => (await platform.request('GET', `/api/v1/usage?tenantId=${tenant.id}`)).body as { inputTokens: number; outputTokens: number };

    await caughtUp('the first baseline in the ConfigMap'); // the engine ran before the agent saw it
    engine.grow(1_000, 100);
    await until('the first growth billed', usage, (u) => u.inputTokens === 1_000 && u.outputTokens === 100, 30_000);

    relay.takeDown();
    for (let i = 0; i < 3; i++) {
      engine.grow(200 + i, 20 + i);
      await caughtUp(`window ${i} of the outage in the ConfigMap`);
    }
    expect((await saved())!.queue, 'the outage’s windows wait in the ConfigMap').to.have.length(3);

    // The agent's pod is replaced; its engine goes on meanwhile.
    await runtime.stop();
    runtime = undefined;
    engine.grow(333, 33);
    runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
    await caughtUp('the new agent continuing from the saved baseline, before any heartbeat succeeded');
    expect(runtime.agent.stats.heartbeatsOk, 'the platform is still unreachable').to.equal(0);
    engine.grow(77, 7);
    await caughtUp('a window of the new agent in the ConfigMap');
    expect((await saved())!.queue).to.have.length(5);
    expect((await usage()).inputTokens, 'nothing arrived during the outage').to.equal(1_000);

    relay.down = false;
    // Past the reporter's longest backoff, on the clock it reads.
    platform.clock.advance(61_000);
    await until(
      'every window sent',
      async () => (await saved())?.queue.length,
      (n) => n === 0,
      30_000,
    );
    const billed = await usage();
    expect({ input: billed.inputTokens, output: billed.outputTokens }).to.deep.equal(engine.grown);
    const rows = await platform.database.db
      .selectFrom('usage_events')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.sum<string>('input_tokens').as('input')])
      .where('cluster_id', '=', cluster.id)
      .executeTakeFirstOrThrow();
    expect([Number(rows.n), Number(rows.input)], 'one stored event per window, none twice').to.deep.equal([6, engine.grown.input]);
  });

  it('writes optimistically: a write by anyone else in between fails as a conflict, and the next save writes over it', async () => {
    await runtime?.stop();
    runtime = undefined;
    const sa = new KubeConfig();
    sa.loadFromFile(agentKubeconfig);
    const store = new ConfigMapStateStore({ kubeConfig: sa, namespace: AGENT_NS, name: STATE });
    await store.load();
    const edited = await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    await core.replaceNamespacedConfigMap({ name: STATE, namespace: AGENT_NS, body: { ...edited, data: { [STATE_KEY]: 'edited by hand' } } });
    const err = await store.save('first').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(StateConflictError);
    expect((await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS })).data?.[STATE_KEY]).to.equal('edited by hand');
    await store.save('second');
    const after = await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    expect(after.data?.[STATE_KEY]).to.equal('second');
    // Only the state's key changes: the manifest's labels stay.
    expect(after.metadata?.labels).to.include({ 'app.kubernetes.io/part-of': 'tokenpool' });
    // Deleted under it, it cannot be made again by the agent; applied again, it is written again.
    await core.deleteNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    expect(await store.save('third').catch((e: unknown) => e)).to.be.instanceOf(StateConflictError);
    expect(await store.save('third').catch((e: { code?: number }) => e.code)).to.equal(403);
    await core.createNamespacedConfigMap({ namespace: AGENT_NS, body: { metadata: after.metadata && { name: STATE, labels: after.metadata.labels } } });
    await store.save('fourth');
    expect((await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS })).data?.[STATE_KEY]).to.equal('fourth');
  });

  it('starts from an unreadable state, says so, and replaces it with a good one', async () => {
    const cm = await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    await core.replaceNamespacedConfigMap({ name: STATE, namespace: AGENT_NS, body: { ...cm, data: { [STATE_KEY]: '{"version":1,"cluster":' } } });
    const logs: string[] = [];
    const config = loadAgentConfig({
      TOKENPOOL_URL: p!.baseUrl,
      TOKENPOOL_AGENT_TOKEN: agentToken,
      KUBECONFIG: agentKubeconfig,
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
    });
    runtime = await startAgentRuntime(config, { now: () => p!.clock.now(), processMetrics: false, log: (m) => logs.push(m) });
    const state = await until(
      'a good state in the ConfigMap',
      async () => (await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS })).data?.[STATE_KEY],
      (text) => {
        try {
          return parseUsageState(text!).cluster.length > 0;
        } catch {
          return false;
        }
      },
      30_000,
    );
    expect(parseUsageState(state!).baselines.map((b) => b[1])).to.deep.equal(['serving-0']);
    expect(logs).to.include('usage: the saved state is unreadable; starting fresh (pods seen first now only set their baselines)');
    await runtime.stop();
    runtime = undefined;
  });

  it("drops a saved state of another cluster id once the platform names the agent's own", async () => {
    const cm = await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    const gone: UsageState = {
      version: 1,
      cluster: 'cl_reregistered',
      firstScrapeAt: 0,
      baselines: [['pl_gone', 'serving-0', null, 0, 0, 0, 0]],
      queue: [],
    };
    await core.replaceNamespacedConfigMap({ name: STATE, namespace: AGENT_NS, body: { ...cm, data: { [STATE_KEY]: JSON.stringify(gone) } } });
    const logs: string[] = [];
    const config = loadAgentConfig({
      TOKENPOOL_URL: p!.baseUrl,
      TOKENPOOL_AGENT_TOKEN: agentToken,
      KUBECONFIG: agentKubeconfig,
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
    });
    runtime = await startAgentRuntime(config, { now: () => p!.clock.now(), processMetrics: false, log: (m) => logs.push(m) });
    const cluster = (await p!.request('GET', '/api/v1/clusters')).body.items.find((c: { name: string }) => c.name === 'huangpu-k8s').id as string;
    await until(
      "the agent's own cluster id in the ConfigMap",
      async () => parseUsageState((await core.readNamespacedConfigMap({ name: STATE, namespace: AGENT_NS })).data![STATE_KEY]!).cluster,
      (c) => c === cluster,
      30_000,
    );
    expect(logs).to.include('usage: the platform names another cluster id than the saved usage state; starting the usage reporter again');
    expect(runtime.reporter()?.cluster).to.equal(cluster);
    await runtime.stop();
    runtime = undefined;
  });

  it('refuses to start, saying what to apply, when its ConfigMap is missing', async () => {
    await core.deleteNamespacedConfigMap({ name: STATE, namespace: AGENT_NS });
    const config = loadAgentConfig({ TOKENPOOL_URL: p!.baseUrl, TOKENPOOL_AGENT_TOKEN: agentToken, KUBECONFIG: agentKubeconfig, TOKENPOOL_AGENT_PORT: '0' });
    const err = await startAgentRuntime(config, { processMetrics: false }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AgentStartError);
    expect((err as Error).message).to.match(/ConfigMap tokenpool-agent\/tokenpool-agent-state .*apply deploy\/agent\/state-configmap\.yaml.*403/);
  });

  /** A serving pod of the placement as a kubelet would run it: on 127.0.0.1, its metrics on `port`. */
  async function servingPod(name: string, placementId: string, workloadId: string, port: number): Promise<void> {
    await core.createNamespacedPod({
      namespace: WORKLOADS_NS,
      body: {
        metadata: {
          name,
          labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.placement]: placementId, [LABELS.workload]: workloadId },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' },
        },
        spec: { containers: [{ name: 'serving', image: 'vllm' }] },
      },
    });
    const pod = await core.readNamespacedPod({ name, namespace: WORKLOADS_NS });
    const started = new Date(Date.now() - 3_600_000);
    pod.status = {
      phase: 'Running',
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      hostIP: '127.0.0.1',
      startTime: started,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }],
      containerStatuses: [
        { name: 'serving', ready: true, restartCount: 0, image: 'vllm', imageID: 'vllm', started: true, state: { running: { startedAt: started } } },
      ],
    };
    await core.replaceNamespacedPodStatus({ name, namespace: WORKLOADS_NS, body: pod });
  }
});
