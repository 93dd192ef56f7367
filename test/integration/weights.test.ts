import { expect } from 'chai';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const hf = { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct', mirror: 'https://hf-mirror.com' };
const pvc = { kind: 'pvc', claim: 'qwen-weights', path: 'Qwen2.5-7B-Instruct' };

const modelBody = (name: string, over: Record<string, unknown> = {}) => ({ name, minMemoryGiB: 16, costFactor: 1, inputFactor: 0.25, ...over });

function paths(res: { body: { errors?: { path: string }[] } }): string[] {
  return (res.body.errors ?? []).map((e) => e.path);
}

describeOnDatabases('model weights: sources, served names, per-cluster overrides', (platform) => {
  it("keeps a model's source and servedName, patches and clears them", async () => {
    const p = platform();
    const created = await p.request('POST', '/api/v1/models', { body: modelBody('w-model-a', { source: hf, servedName: 'qwen' }) });
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.include({ source: hf, servedName: 'qwen' });
    const id = created.body.id as string;

    const patched = await p.request('PATCH', `/api/v1/models/${id}`, { body: { source: pvc } });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.deep.include({ source: pvc, servedName: 'qwen' });
    expect((await p.request('GET', `/api/v1/models/${id}`)).body.source).to.deep.equal(pvc);

    const cleared = await p.request('PATCH', `/api/v1/models/${id}`, { body: { source: null, servedName: null } });
    expect(cleared.body).to.deep.include({ source: null, servedName: null });

    const plain = await p.request('POST', '/api/v1/models', { body: modelBody('w-model-plain') });
    expect(plain.body).to.deep.include({ source: null, servedName: null });
  });

  it("shows the source to operators only (it names the clusters' storage), the served name to all", async () => {
    const p = platform();
    const created = await p.request('POST', '/api/v1/models', { body: modelBody('w-model-seen', { source: pvc, servedName: 'seen' }) });
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Weights Reader', kind: 'enterprise', billingMode: 'postpaid' } })).body;
    const one = await p.request('GET', `/api/v1/models/${created.body.id}`, { token: tenant.apiKey });
    expect(one.body).to.include({ servedName: 'seen' }).and.not.have.property('source');
    const listed = (await p.request('GET', '/api/v1/models?limit=1000', { token: tenant.apiKey })).body.items;
    expect(listed.find((m: { id: string }) => m.id === created.body.id))
      .to.include({ servedName: 'seen' })
      .and.not.have.property('source');
    expect((await p.request('GET', `/api/v1/models/${created.body.id}`)).body.source).to.deep.equal(pvc);
  });

  it('refuses a bad source with 400 and the field path', async () => {
    const p = platform();
    const cases: Array<[string, unknown, string]> = [
      ['an unknown kind', { kind: 'ftp', url: 'ftp://x' }, 'source.kind'],
      ['a claim that is no object name', { kind: 'pvc', claim: 'Bad_Claim' }, 'source.claim'],
      ['a path escaping the claim', { kind: 'pvc', claim: 'c', path: '../etc' }, 'source.path'],
      ['an absolute path in a claim', { kind: 'pvc', claim: 'c', path: '/etc' }, 'source.path'],
      ['a relative host path', { kind: 'hostPath', path: 'models' }, 'source.path'],
      ['a host path with ..', { kind: 'hostPath', path: '/models/../etc' }, 'source.path'],
      ['a host path with a shell character', { kind: 'hostPath', path: '/models/$(id)' }, 'source.path'],
      ['a ModelScope id without owner', { kind: 'modelscope', id: 'qwen' }, 'source.id'],
      ['an S3 URL that is not one', { kind: 's3', url: 'https://bucket/x', secret: 's' }, 'source.url'],
      ['an S3 source without a Secret', { kind: 's3', url: 's3://models/qwen' }, 'source.secret'],
      ['a mirror that is not a URL', { ...hf, mirror: 'hf-mirror.com' }, 'source.mirror'],
      ['a mirror with credentials', { ...hf, mirror: 'https://u:p@hf-mirror.com' }, 'source.mirror'],
      ['a revision with a space', { ...hf, revision: 'a b' }, 'source.revision'],
      ['an unknown field', { ...hf, token: 'hf_x' }, 'source'],
    ];
    for (const [what, source, path] of cases) {
      const res = await p.request('POST', '/api/v1/models', { body: modelBody('w-bad', { source }) });
      expect(res.status, what).to.equal(400);
      expect(
        paths(res).some((x) => x.startsWith(path)),
        `${what}: ${JSON.stringify(paths(res))}`,
      ).to.equal(true);
    }
    const bad = await p.request('POST', '/api/v1/models', { body: modelBody('w-bad', { servedName: 'has space' }) });
    expect(bad.status).to.equal(400);
    expect(paths(bad)).to.include('servedName');
  });

  it("sets, lists and removes a cluster's own source; unknown clusters and models are 404, bad input 400", async () => {
    const p = platform();
    const c = await p.request('POST', '/api/v1/clusters', { body: { name: 'w-override', region: 'w-override' } });
    const model = await p.request('POST', '/api/v1/models', { body: modelBody('w-model-o', { source: hf }) });
    const url = `/api/v1/clusters/${c.body.id}/weights`;

    expect((await p.request('GET', url)).body).to.deep.equal({ reported: null, items: [] });
    const put = await p.request('PUT', `${url}/${model.body.id}`, { body: { source: pvc } });
    expect(put.status).to.equal(200);
    expect(put.body).to.deep.include({ modelId: model.body.id, model: 'w-model-o', clusterId: c.body.id, source: pvc });
    const again = await p.request('PUT', `${url}/${model.body.id}`, { body: { source: { kind: 'hostPath', path: '/data/qwen' } } });
    expect(again.body.source).to.deep.equal({ kind: 'hostPath', path: '/data/qwen' });
    const listed = await p.request('GET', url);
    expect(listed.body.items).to.have.length(1);
    expect(listed.body.items[0].source).to.deep.equal({ kind: 'hostPath', path: '/data/qwen' });

    expect((await p.request('PUT', `${url}/mdl_nope`, { body: { source: pvc } })).status).to.equal(404);
    expect((await p.request('PUT', `/api/v1/clusters/cl_nope/weights/${model.body.id}`, { body: { source: pvc } })).status).to.equal(404);
    expect((await p.request('GET', '/api/v1/clusters/cl_nope/weights')).status).to.equal(404);
    const bad = await p.request('PUT', `${url}/${model.body.id}`, { body: { source: { kind: 'pvc' } } });
    expect(bad.status).to.equal(400);
    expect(paths(bad)).to.include('source.claim');
    expect((await p.request('PUT', `${url}/${model.body.id}`, { body: { source: pvc }, token: 'tp_key_nope' })).status).to.equal(401);

    expect((await p.request('DELETE', `${url}/${model.body.id}`)).status).to.equal(204);
    expect((await p.request('DELETE', `${url}/${model.body.id}`)).status).to.equal(404);
    expect((await p.request('GET', url)).body.items).to.deep.equal([]);
  });

  it("stores an agent's weightSources, refuses bad ones, and keeps them when a heartbeat omits them", async () => {
    const p = platform();
    const c = await p.request('POST', '/api/v1/clusters', { body: { name: 'w-report', region: 'w-report' } });
    const token = c.body.agentToken as string;
    const beat = (body: Record<string, unknown>) => p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory: [], ...body } });
    expect((await beat({ weightSources: { kinds: ['pvc', 'huggingface', 'pvc'], claims: ['b', 'a'] } })).status).to.equal(200);
    const url = `/api/v1/clusters/${c.body.id}/weights`;
    expect((await p.request('GET', url)).body.reported).to.deep.equal({ kinds: ['huggingface', 'pvc'], claims: ['a', 'b'] });
    expect((await beat({})).status).to.equal(200);
    expect((await p.request('GET', url)).body.reported).to.deep.equal({ kinds: ['huggingface', 'pvc'], claims: ['a', 'b'] });

    const bad = await beat({ weightSources: { kinds: ['ftp'], claims: ['Not_A_Claim'] } });
    expect(bad.status).to.equal(400);
    expect(paths(bad)).to.include.members(['weightSources.kinds.0', 'weightSources.claims.0']);
    expect((await beat({ weightSources: { kinds: [] } })).status).to.equal(400);
  });
});

describeOnDatabases('model weights: the heartbeat answer and the scheduler', (platform) => {
  let tenantKey: string;

  before(async () => {
    const t = await platform().request('POST', '/api/v1/tenants', { body: { name: 'Weights Tenant', kind: 'enterprise', billingMode: 'postpaid' } });
    tenantKey = t.body.apiKey;
  });

  /** A cluster in its own region `name`, unless given one. */
  async function cluster(p: TestPlatform, name: string, weightSources?: { kinds: string[]; claims: string[] }, region = name) {
    const c = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
    const token = c.body.agentToken as string;
    const beat = async () => {
      const res = await p.request('POST', '/api/v1/agent/heartbeat', {
        token,
        body: { inventory: [{ deviceModel: H100, total: 8, healthy: 8 }], ...(weightSources ? { weightSources } : {}) },
      });
      expect(res.status).to.equal(200);
      return res.body as { placements: Array<{ workloadId: string; model: string; source?: unknown; servedName?: string }> };
    };
    await beat();
    return { id: c.body.id as string, beat };
  }

  async function submit(p: TestPlatform, name: string, model: string, regions: string[]) {
    const res = await p.request('POST', '/api/v1/workloads', { token: tenantKey, body: { name, model, tokensPerMin: 1000, regions } });
    expect(res.status).to.equal(202);
    await p.app.scheduler.runCycle();
    return (await p.request('GET', `/api/v1/workloads/${res.body.id}`, { token: tenantKey })).body;
  }

  // First in its suite: the pending message is the first refused cluster's, and no cluster outside the region may come before.
  it('places on a cluster that can load the weights, leaves the workload pending with why when none can, and places it once an override makes one able', async () => {
    const p = platform();
    await p.request('POST', '/api/v1/models', { body: modelBody('w-sched', { source: { kind: 'pvc', claim: 'sched-weights' } }) });
    const mounts = await cluster(p, 'w-mounts', { kinds: ['pvc', 'hostPath'], claims: ['other'] }, 'w-sched');
    const loads = await cluster(p, 'w-loads', { kinds: ['pvc', 'hostPath', 'huggingface'], claims: ['sched-weights'] }, 'w-sched');

    const placed = await submit(p, 'w-s1', 'w-sched', ['w-sched']);
    expect(placed.state).to.equal('placed');
    expect(placed.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([loads.id]);

    // A model whose claim no cluster has: pending, saying why.
    const missing = await p.request('POST', '/api/v1/models', { body: modelBody('w-sched-2', { source: { kind: 'pvc', claim: 'missing-weights' } }) });
    const waiting = await submit(p, 'w-s2', 'w-sched-2', ['w-sched']);
    expect(waiting).to.include({ state: 'pending', reason: 'no_compatible_device' });
    expect(waiting.message, waiting.message).to.match(/missing-weights/);

    // The operator points one cluster at a host path it offers: the workload is placed there.
    const put = await p.request('PUT', `/api/v1/clusters/${mounts.id}/weights/${missing.body.id}`, {
      body: { source: { kind: 'hostPath', path: '/models/sched' } },
    });
    expect(put.status).to.equal(200);
    await p.app.scheduler.runCycle();
    const now = (await p.request('GET', `/api/v1/workloads/${waiting.id}`, { token: tenantKey })).body;
    expect(now.state).to.equal('placed');
    expect(now.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([mounts.id]);
    const desired = (await mounts.beat()).placements.find((x) => x.workloadId === waiting.id)!;
    expect(desired.source).to.deep.equal({ kind: 'hostPath', path: '/models/sched' });
  });

  it("carries the effective source and servedName; a cluster's own source wins there", async () => {
    const p = platform();
    const a = await cluster(p, 'w-a');
    const model = await p.request('POST', '/api/v1/models', { body: modelBody('w-served', { source: hf, servedName: 'qwen-7b' }) });
    const w = await p.request('POST', '/api/v1/workloads', { token: tenantKey, body: { name: 'w1', model: 'w-served', tokensPerMin: 1000, regions: ['w-a'] } });
    await p.app.scheduler.runCycle();
    let desired = (await a.beat()).placements.find((x) => x.workloadId === w.body.id)!;
    expect(desired).to.deep.include({ model: 'w-served', servedName: 'qwen-7b', source: hf });

    await p.request('PUT', `/api/v1/clusters/${a.id}/weights/${model.body.id}`, { body: { source: pvc } });
    desired = (await a.beat()).placements.find((x) => x.workloadId === w.body.id)!;
    expect(desired.source).to.deep.equal(pvc);

    // A model with neither: its name is the served name and no source is sent.
    const plain = await submit(p, 'w2', 'qwen2.5-7b-instruct', ['w-a']);
    const d2 = (await a.beat()).placements.find((x) => x.workloadId === plain.id)!;
    expect(d2.servedName).to.equal('qwen2.5-7b-instruct');
    expect(d2).not.to.have.property('source');
  });

  it('a cluster whose agent never reported weightSources takes any source (old agents, the simulated city)', async () => {
    const p = platform();
    await p.request('POST', '/api/v1/models', { body: modelBody('w-any', { source: { kind: 's3', url: 's3://models/any', secret: 'store' } }) });
    const old = await cluster(p, 'w-old');
    const placed = await submit(p, 'w-old-1', 'w-any', ['w-old']);
    expect(placed.state).to.equal('placed');
    expect(placed.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([old.id]);
  });
});

describeOnDatabases('model weights: the gateway calls engines by the served name', (platform) => {
  let engine: SimulatedEngine | undefined;
  after(async () => engine?.close());

  it("sends the model's servedName upstream, which the engine serves under", async () => {
    const p = platform();
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Served Name Tenant', kind: 'enterprise', billingMode: 'postpaid' } })).body;
    const created = await p.request('POST', '/api/v1/models', { body: modelBody('w-gw', { servedName: 'Qwen/Qwen2.5-7B-Instruct' }) });
    expect(created.status).to.equal(201);
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'w-gw', region: 'w-gw' } })).body;
    const beat = (placements: unknown[] = []) =>
      p.request('POST', '/api/v1/agent/heartbeat', {
        token: cluster.agentToken,
        body: { inventory: [{ deviceModel: H100, total: 8, healthy: 8 }], placements },
      });
    await beat();
    const w = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'gw', model: 'w-gw', tokensPerMin: 1000 } });
    expect(w.status).to.equal(202);
    await p.app.scheduler.runCycle();
    const desired = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w.body.id);
    expect(desired.servedName).to.equal('Qwen/Qwen2.5-7B-Instruct');
    engine = await SimulatedEngine.start({ model: 'Qwen/Qwen2.5-7B-Instruct', servingKey: desired.servingKey, tokensPerSecond: 100_000 });
    expect((await beat([{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }])).status).to.equal(200);

    const res = await p.request('POST', '/v1/chat/completions', {
      token: tenant.apiKey,
      body: { model: 'w-gw', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.usage.completion_tokens).to.equal(4);
  });
});
