/**
 * Measured tokens per joule against a real kube-apiserver (with kube-controller-manager, so that
 * the agent's Deployment makes a Pod): a fake DCGM exporter — a local HTTP server writing the
 * exporter's format, its GPU series labelled with the serving pod as the exporter's Kubernetes
 * mapping does — is the cluster's power exporter; the agent maps the GPU to the placement by its
 * pod, reports the energy it used in heartbeats, and the platform turns it, with the tokens the
 * gateway metered for the placement, into standard tokens per joule.
 *
 * When kube-apiserver and etcd cannot be had (test/k8s/assets.sh says why), the suite is skipped.
 */
import { expect } from 'chai';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { loadAgentConfig } from '../../adapters/agent-config.js';
import { startAgentRuntime, type AgentRuntime } from '../../adapters/agent-runtime.js';
import { LABELS } from '../../adapters/kubernetes/deployment.js';
import { microFromNumber, usageStdTokens } from '../../scheduler/capacity.js';
import { dcgmPage, FakeExporter } from '../fake-power-exporter.js';
import { startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { manifests } from './manifests.js';
import { readyGpuNode } from './nodes.js';

const WORKLOADS_NS = 'tokenpool-workloads';
const AGENT_SA = 'system:serviceaccount:tokenpool-agent:tokenpool-agent';
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:tokenpool-agent', 'system:authenticated'];
const H100 = 'NVIDIA-H100-80GB-HBM3';
const MODEL = 'qwen2.5-7b-instruct';

describe('measured tokens per joule on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let p: TestPlatform | undefined;
  let runtime: AgentRuntime | undefined;
  const exporter = new FakeExporter();

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
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifests('deploy/agent')) {
      await objects.patch(o, undefined, undefined, 'tokenpool-test', true, PatchStrategy.ServerSideApply);
    }
    p = await startPlatform('pglite');
  });

  after(async () => {
    await runtime?.stop();
    await exporter.stop();
    await p?.close();
    await cp?.stop();
  });

  it('a DCGM exporter naming the serving pod: the agent reports its energy, the platform computes tokens per joule', async () => {
    const platform = p!;
    // The platform's minutes, on its clock: it moves only when the test says.
    const t0 = Math.floor(Date.now() / 60_000) * 60_000;
    platform.clock.set(new Date(t0));
    await readyGpuNode(core, 'gpu-e', H100);
    // Before anything runs, the exporter shows the node's GPUs with no pod.
    exporter.set(dcgmPage('gpu-e', [{ gpu: 0, uuid: 'GPU-e0', watts: 60, totalEnergyMj: 1_000_000 }]));
    const exporterUrl = await exporter.start();

    const k8s = (await platform.request('POST', '/api/v1/clusters', { body: { name: 'panyu-k8s', region: 'panyu' } })).body;
    const config = loadAgentConfig({
      TOKENPOOL_URL: platform.baseUrl,
      TOKENPOOL_AGENT_TOKEN: k8s.agentToken,
      KUBECONFIG: await cp!.userKubeconfig(AGENT_SA, SA_GROUPS),
      TOKENPOOL_AGENT_PORT: '0',
      TOKENPOOL_HEARTBEAT_SECONDS: '1',
      TOKENPOOL_USAGE_SECONDS: '1',
      // A second node's exporter that does not answer: counted, and the first is read all the same.
      TOKENPOOL_POWER_EXPORTERS: JSON.stringify([{ vendor: 'nvidia', urls: [exporterUrl, 'http://127.0.0.1:1/metrics'] }]),
    });
    runtime = await startAgentRuntime(config, { now: () => platform.clock.now(), processMetrics: false });
    await until(
      'the cluster ready with its H100s',
      async () => (await platform.request('GET', `/api/v1/clusters/${k8s.id}`)).body,
      (c) => c.state === 'ready' && c.inventory.some((i: { healthy: number }) => i.healthy === 8),
      30_000,
    );

    const tenant = (await platform.request('POST', '/api/v1/tenants', { body: { name: 'Panyu Hospital', kind: 'enterprise' } })).body;
    const res = await platform.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'records', model: MODEL, tokensPerMin: 100_000, regions: ['panyu'] },
    });
    expect(res.status).to.equal(202);
    const workloadId = res.body.id as string;
    await platform.app.scheduler.runCycle();
    const placement = (await platform.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body.placements[0];
    expect(placement.clusterId).to.equal(k8s.id);
    const [pod] = await until(
      'the serving pod the controllers made',
      async () => (await core.listNamespacedPod({ namespace: WORKLOADS_NS, labelSelector: `${LABELS.placement}=${placement.id}` })).items,
      (items) => items.length === 1,
      30_000,
    );
    const servingPod = { name: pod!.metadata!.name!, namespace: WORKLOADS_NS };

    // The exporter's Kubernetes mapping now names the serving pod on GPU 0 (GPU 1 holds nobody's).
    const page = (mj: number, watts: number) =>
      dcgmPage('gpu-e', [
        { gpu: 0, uuid: 'GPU-e0', watts, totalEnergyMj: mj, pod: servingPod },
        { gpu: 1, uuid: 'GPU-e1', watts: 61, totalEnergyMj: 9_000_000 },
      ]);
    exporter.set(page(5_000_000, 640));
    const energyState = () => platform.database.db.selectFrom('placement_energy_state').selectAll().where('placement_id', '=', placement.id).executeTakeFirst();
    const baseline = await until('the platform has a first energy reading', energyState, (s) => s !== undefined, 30_000);
    expect(Number(baseline!.counter_joules)).to.equal(0);
    expect(baseline!.reported_at.getTime()).to.equal(t0);

    // 42,000 J later on the GPU's counter; the agent's reports carry it...
    exporter.set(page(47_000_000, 700));
    await until(
      "the agent's report of the placement's energy",
      async () => (await runtime!.backend.running()).find((r) => r.id === placement.id),
      (r) => r?.energyJoules === 42_000 && r.powerWatts === 700,
      30_000,
    );
    // ...and, one minute on on the platform's clock, it is the minute's energy.
    platform.clock.set(new Date(t0 + 60_000));
    await until(
      'the energy recorded for the minute',
      async () =>
        (
          await platform.database.db
            .selectFrom('placement_minutes')
            .selectAll()
            .where('placement_id', '=', placement.id)
            .where('energy_seconds', '>', 0)
            .execute()
        ).map((m) => [m.minute.getTime(), Number(m.joules), Number(m.energy_seconds)]),
      (rows) => rows.length === 1,
      30_000,
    );

    // The gateway metered one call for the placement in that minute.
    const model = (await platform.request('GET', '/api/v1/models')).body.items.find((m: { name: string }) => m.name === MODEL);
    const std = usageStdTokens(1_000, 5_000, microFromNumber(model.costFactor), microFromNumber(model.inputFactor));
    const metered = await platform.app.context.services.usage.meter([
      {
        requestId: 'req-energy-1',
        tenantId: tenant.id,
        apiKeyId: null,
        workloadId,
        placementId: placement.id,
        clusterId: k8s.id,
        inputTokens: 1_000,
        outputTokens: 5_000,
        occurredAt: new Date(t0 + 30_000),
      },
    ]);
    expect(metered).to.equal(1);

    const from = new Date(t0).toISOString();
    const to = new Date(t0 + 3_600_000).toISOString();
    const figures = await platform.request('GET', `/api/v1/energy?from=${from}&to=${to}&groupBy=placement`);
    expect(figures.status, JSON.stringify(figures.body)).to.equal(200);
    expect(figures.body.items).to.have.length(1);
    expect(figures.body.items[0]).to.include({
      placementId: placement.id,
      clusterId: k8s.id,
      vendor: 'nvidia',
      model: MODEL,
      joules: 42_000,
      measuredSeconds: 60,
      stdTokens: std,
      stdTokensPerJoule: Number(std) / 42_000,
      tdpStdTokensPerJoule: 3000 / 700,
      powerWatts: 700,
    });
    const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
    const failures = /^tokenpool_agent_power_scrape_failures_total (\d+)$/m.exec(metrics);
    expect(Number(failures?.[1])).to.be.above(0);
  });
});
