/**
 * Placement health against a real kube-apiserver (with kube-controller-manager, so that the
 * agent's Deployment makes a Pod): the test sets the serving pod's status as a kubelet that
 * cannot pull the image would, the agent reports the placement failing with ImagePullBackOff, and
 * past the deadline (on the platform's fake clock) the platform fails the placement, places the
 * workload on another cluster, and the agent deletes the Deployment it no longer owes.
 *
 * When kube-apiserver and etcd cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { LABELS } from '../../adapters/kubernetes/deployment.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';
import { readyGpuNode } from './nodes.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const FAIL_AFTER_S = 60;

describe('placement health on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let p: TestPlatform | undefined;
  let runtime: AgentRuntime | undefined;

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
    p = await startPlatform('pglite', { TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS: String(FAIL_AFTER_S) });
    p.clock.set(new Date());
  });

  after(async () => {
    await runtime?.stop();
    await p?.close();
    await cp?.stop();
  });

  it('a pod in ImagePullBackOff past the deadline: the placement fails, the workload moves to another cluster, the Deployment goes', async () => {
    const platform = p!;
    await readyGpuNode(core, 'gpu-a', H100);

    const k8s = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'liwan-k8s', region: 'liwan' } })).body;
    const config = loadAgentConfig({
      TOKENPOOL_URL: platform.baseUrl,
      TOKENPOOL_AGENT_TOKEN: k8s.agentToken,
      KUBECONFIG: await cp!.userKubeconfig(AGENT_SA, SA_GROUPS),
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
    });
    runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
    await until(
      'the cluster ready with its H100s',
      async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}`)).body,
      (c) => c.state === 'ready' && c.inventory.some((i: { healthy: number }) => i.healthy === 8),
      30_000,
    );

    const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Liwan Clinic', kind: 'enterprise' } })).body;
    const created202 = await platform.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'triage', model: 'qwen2.5-7b-instruct', tokensPerMin: 100_000, regions: ['liwan'] },
    });
    expect(created202.status).to.equal(202);
    const workloadId = created202.body.id as string;
    const getWorkload = async () => (await platform.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    await platform.app.scheduler.runCycle();
    const placement = (await getWorkload()).placements[0];
    expect(placement.clusterId).to.equal(k8s.id);

    // The kubelet cannot pull the image: the pod is scheduled, its container waits in ImagePullBackOff.
    const [pod] = await until(
      'the serving pod the controllers made',
      async () => (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placement.id}` })).items,
      (items) => items.length === 1,
      30_000,
    );
    const current = await core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: WORKLOADS_NS });
    const image = current.spec!.containers[0]!.image!;
    current.status = {
      phase: 'Pending',
      hostIP: '127.0.0.1',
      startTime: new Date(),
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date() }],
      containerStatuses: [
        {
          name: 'serving',
          ready: false,
          restartCount: 0,
          image,
          imageID: '',
          started: false,
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } },
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
    expect(failing).to.include({ id: placement.id, state: 'placed', reason: 'ImagePullBackOff', desiredReplicas: 1 });
    expect(failing.message).to.include(`Back-off pulling image "${image}"`);

    // Another cluster in the region, reported by hand.
    const other = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'liwan-b', region: 'liwan' } })).body;
    const heartbeatOther = () =>
      platform.request('POST', '/api/v1/agent/heartbeat', { token: other.agentToken, body: { inventory: [{ deviceModel: H100, total: 8, healthy: 8 }] } });
    await heartbeatOther();

    // Past the deadline on the platform's clock; both clusters report after it (neither is lost).
    platform.clock.advance((FAIL_AFTER_S + 1) * 1000);
    const advanced = platform.clock.now().getTime();
    await heartbeatOther();
    await until(
      'a heartbeat of the agent after the clock moved',
      async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}`)).body.lastHeartbeatAt as string,
      (at) => new Date(at).getTime() >= advanced,
      30_000,
    );
    expect(await platform.app.scheduler.runCycle()).to.include({ failed: 1, placed: 1, lost: 0 });
    const moved = await getWorkload();
    const active = moved.placements.filter((x: { state: string }) => x.state === 'placed' || x.state === 'running');
    expect(active.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([other.id]);

    await until(
      'the Deployment of the failed placement deleted by the agent',
      async () =>
        (await apps.listNamespacedDeployment({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placement.id}` })).items.filter(
          (d) => !d.metadata?.deletionTimestamp,
        ),
      (items) => items.length === 0,
      30_000,
    );
  });
});
