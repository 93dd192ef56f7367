import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Engine {
  id: string;
  name: string;
  vendors: string[];
  defaultFor: string[];
  image: string;
  clusterImages: Record<string, string>;
  args: string[];
  env: Record<string, string>;
  apiKeyEnv: string | null;
  builtin: boolean;
  basis: string;
}

const custom = (over: Record<string, unknown> = {}) => ({
  name: 'vllm-private',
  vendors: ['nvidia'],
  image: 'registry.example.cn/ai/vllm-openai:v0.11.0',
  args: ['--model', '{model}', '--port', '{port}'],
  env: { VLLM_LOGGING_LEVEL: 'INFO' },
  apiKeyEnv: 'VLLM_API_KEY',
  port: 8000,
  shmSize: '16Gi',
  cpuPerDevice: '8',
  memoryPerDevice: '64Gi',
  healthPath: '/health',
  metricsPath: '/metrics',
  metricsDialect: 'vllm',
  startupSeconds: 1200,
  ...over,
});

async function allEngines(p: TestPlatform, token?: string): Promise<Engine[]> {
  const res = await p.request('GET', '/api/v1/engines?limit=1000', { token });
  expect(res.status).to.equal(200);
  return res.body.items as Engine[];
}

async function byName(p: TestPlatform, name: string): Promise<Engine> {
  const e = (await allEngines(p)).find((x) => x.name === name);
  if (!e) throw new Error(`no engine ${name}`);
  return e;
}

describeOnDatabases('engine catalog: built-ins, operator edits, models naming engines', (platform) => {
  let tenantKey: string;

  before(async () => {
    const t = await platform().request('POST', '/api/v1/tenants', { body: { name: 'Engine Tenant', kind: 'enterprise', billingMode: 'postpaid' } });
    tenantKey = t.body.apiKey;
  });

  it('lists the built-ins, each with its basis, to every principal; vendors without a verified image have none', async () => {
    const p = platform();
    const engines = await allEngines(p, tenantKey);
    const names = engines.map((e) => e.name);
    expect(names).to.include.members([
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
    ]);
    for (const e of engines) {
      expect(e.builtin, e.name).to.equal(true);
      expect(e.basis.length, e.name).to.be.greaterThan(40);
    }
    const vllm = engines.find((e) => e.name === 'vllm')!;
    expect(vllm).to.deep.include({ image: 'vllm/vllm-openai:latest', apiKeyEnv: 'VLLM_API_KEY', defaultFor: ['nvidia'] });
    expect(engines.find((e) => e.name === 'vllm-ascend')).to.deep.include({ image: 'quay.io/ascend/vllm-ascend:latest', defaultFor: ['huawei'] });
    expect(engines.find((e) => e.name === 'sglang')).to.deep.include({ image: 'lmsysorg/sglang:latest', apiKeyEnv: null, defaultFor: [] });
    for (const vendor of ['cambricon', 'hygon', 'kunlunxin', 'metax', 'mthreads', 'iluvatar']) {
      const e = engines.find((x) => x.name === `vllm-${vendor}`)!;
      expect(e.image, vendor).to.equal('');
      expect(e.defaultFor).to.deep.equal([vendor]);
      expect(e.basis).to.match(/must be configured by the operator/);
    }
  });

  it('lets only operators write', async () => {
    const p = platform();
    const vllm = await byName(p, 'vllm');
    expect((await p.request('POST', '/api/v1/engines', { token: tenantKey, body: custom() })).status).to.equal(403);
    expect((await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { token: tenantKey, body: { image: 'x/y:1' } })).status).to.equal(403);
    expect((await p.request('DELETE', `/api/v1/engines/${vllm.id}`, { token: tenantKey })).status).to.equal(403);
    expect((await p.request('GET', '/api/v1/engines', { token: null })).status).to.equal(401);
  });

  it('patches a built-in (image, env, args) but never deletes one', async () => {
    const p = platform();
    const metax = await byName(p, 'vllm-metax');
    const res = await p.request('PATCH', `/api/v1/engines/${metax.id}`, {
      body: { image: 'cr.example.cn/metax/vllm:2026.11', env: { MACA_VISIBLE_DEVICES: 'all' }, args: ['vllm', 'serve', '{model}'] },
    });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.include({
      image: 'cr.example.cn/metax/vllm:2026.11',
      env: { MACA_VISIBLE_DEVICES: 'all' },
      args: ['vllm', 'serve', '{model}'],
      builtin: true,
    });
    expect(res.body.defaultFor).to.deep.equal(['metax']);
    const del = await p.request('DELETE', `/api/v1/engines/${metax.id}`);
    expect(del.status).to.equal(409);
    expect((await p.request('GET', `/api/v1/engines/${metax.id}`)).status).to.equal(200);
  });

  it('creates, patches and deletes an engine; a name taken is 409; a default moves to the engine that claims it', async () => {
    const p = platform();
    const created = await p.request('POST', '/api/v1/engines', { body: custom() });
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.include({ name: 'vllm-private', builtin: false, defaultFor: [], basis: '', runAsNonRoot: false });
    expect((await p.request('POST', '/api/v1/engines', { body: custom() })).status).to.equal(409);

    const claimed = await p.request('PATCH', `/api/v1/engines/${created.body.id}`, { body: { defaultFor: ['nvidia'] } });
    expect(claimed.status).to.equal(200);
    expect(claimed.body.defaultFor).to.deep.equal(['nvidia']);
    expect((await byName(p, 'vllm')).defaultFor).to.deep.equal([]);
    // Not a vendor it serves.
    const refused = await p.request('PATCH', `/api/v1/engines/${created.body.id}`, { body: { defaultFor: ['huawei'] } });
    expect(refused.status).to.equal(400);
    expect(refused.body.errors[0].path).to.equal('defaultFor.0');

    // Back to vLLM, then delete.
    const vllm = await byName(p, 'vllm');
    expect((await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { body: { defaultFor: ['nvidia'] } })).status).to.equal(200);
    // A vendor named twice counts once.
    const twice = await p.request('PATCH', `/api/v1/engines/${created.body.id}`, { body: { vendors: ['nvidia', 'nvidia'], defaultFor: ['nvidia', 'nvidia'] } });
    expect(twice.status).to.equal(200);
    expect(twice.body).to.deep.include({ vendors: ['nvidia'], defaultFor: ['nvidia'] });
    expect((await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { body: { defaultFor: ['nvidia'] } })).status).to.equal(200);
    expect((await p.request('DELETE', `/api/v1/engines/${created.body.id}`)).status).to.equal(204);
    expect((await p.request('DELETE', `/api/v1/engines/${created.body.id}`)).status).to.equal(404);
    expect((await byName(p, 'vllm')).defaultFor).to.deep.equal(['nvidia']);
  });

  it('refuses bad input with 400 and the field path', async () => {
    const p = platform();
    const cases: Array<[string, unknown, string]> = [
      ['a quantity that is not one', custom({ shmSize: 'abc' }), 'shmSize'],
      ['a negative quantity', custom({ memoryPerDevice: '-1Gi' }), 'memoryPerDevice'],
      ['too many arguments', custom({ args: Array.from({ length: 129 }, () => 'x') }), 'args'],
      ['an argument too long', custom({ args: ['x'.repeat(1025)] }), 'args.0'],
      ['a NUL in an argument', custom({ args: ['a\u0000b'] }), 'args.0'],
      ['a bad env name', custom({ env: { '1BAD': 'x' } }), 'env.1BAD'],
      ['a bad port', custom({ port: 70000 }), 'port'],
      ['a bad dialect', custom({ metricsDialect: 'tgi' }), 'metricsDialect'],
      ['an image with spaces', custom({ image: 'a b' }), 'image'],
      ['a relative health path', custom({ healthPath: 'health' }), 'healthPath'],
      ['no vendors', custom({ vendors: [] }), 'vendors'],
      ['an unknown field', custom({ command: ['sh'] }), ''],
    ];
    for (const [what, body, path] of cases) {
      const res = await p.request('POST', '/api/v1/engines', { body });
      expect(res.status, what).to.equal(400);
      if (path)
        expect(
          res.body.errors.map((e: { path: string }) => e.path),
          what,
        ).to.include(path);
    }
    const vllm = await byName(p, 'vllm');
    const patch = await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { body: { shmSize: 'abc' } });
    expect(patch.status).to.equal(400);
    expect(patch.body.errors[0].path).to.equal('shmSize');
  });

  it("keeps a model's vendor → engine map, checks it, and keeps an engine a model names", async () => {
    const p = platform();
    const sglang = await byName(p, 'sglang');
    const own = await p.request('POST', '/api/v1/engines', { body: custom({ name: 'sglang-private', image: 'lmsysorg/sglang:v0.5.0' }) });
    expect(own.status).to.equal(201);
    const model = await p.request('POST', '/api/v1/models', {
      body: { name: 'engine-model', minMemoryGiB: 16, costFactor: 1, inputFactor: 0.25, engines: { nvidia: own.body.id, huawei: null } },
    });
    expect(model.status).to.equal(201);
    expect(model.body.engines).to.deep.equal({ nvidia: own.body.id });
    expect((await p.request('DELETE', `/api/v1/engines/${own.body.id}`)).status).to.equal(409);

    const unknown = await p.request('PATCH', `/api/v1/models/${model.body.id}`, { body: { engines: { nvidia: 'eng_nope' } } });
    expect(unknown.status).to.equal(422);
    expect(unknown.body.errors[0].path).to.equal('engines.nvidia');
    const wrongVendor = await p.request('PATCH', `/api/v1/models/${model.body.id}`, { body: { engines: { huawei: sglang.id } } });
    expect(wrongVendor.status).to.equal(422);
    expect((await p.request('PATCH', `/api/v1/models/${model.body.id}`, { body: { engines: { nvidia: 'x\u0000' } } })).status).to.equal(400);

    const moved = await p.request('PATCH', `/api/v1/models/${model.body.id}`, { body: { engines: { nvidia: sglang.id } } });
    expect(moved.status).to.equal(200);
    expect(moved.body.engines).to.deep.equal({ nvidia: sglang.id });
    expect((await p.request('DELETE', `/api/v1/engines/${own.body.id}`)).status).to.equal(204);
    // A patch without engines leaves the map as it was.
    expect((await p.request('PATCH', `/api/v1/models/${model.body.id}`, { body: { costFactor: 2 } })).body.engines).to.deep.equal({ nvidia: sglang.id });
  });
});

describeOnDatabases('engine catalog: placements carry their engine in the heartbeat answer', (platform) => {
  let tenantKey: string;

  before(async () => {
    const t = await platform().request('POST', '/api/v1/tenants', { body: { name: 'Engine Heartbeats', kind: 'enterprise', billingMode: 'postpaid' } });
    tenantKey = t.body.apiKey;
  });

  async function cluster(p: TestPlatform, name: string, deviceModel: string) {
    const c = await p.request('POST', '/api/v1/clusters', { body: { name, region: name } });
    const token = c.body.agentToken as string;
    const inventory = [{ deviceModel, total: 8, healthy: 8 }];
    const beat = () => p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory } });
    expect((await beat()).status).to.equal(200);
    return beat;
  }

  async function place(p: TestPlatform, name: string, model: string, region: string) {
    const res = await p.request('POST', '/api/v1/workloads', { token: tenantKey, body: { name, model, tokensPerMin: 1000, regions: [region] } });
    expect(res.status).to.equal(202);
    await p.app.scheduler.runCycle();
    return res.body.id as string;
  }

  it('an NVIDIA placement carries vLLM, an Ascend one vllm-ascend, with their templates and API key variable', async () => {
    const p = platform();
    const nvidia = await cluster(p, 'eng-nv', 'NVIDIA-H100-80GB-HBM3');
    const ascend = await cluster(p, 'eng-asc', 'Ascend910B');
    const onNvidia = await place(p, 'on-nvidia', 'qwen2.5-7b-instruct', 'eng-nv');
    const onAscend = await place(p, 'on-ascend', 'qwen2.5-7b-instruct', 'eng-asc');
    const vllm = await byName(p, 'vllm');
    const ascendEngine = await byName(p, 'vllm-ascend');

    const nv = (await nvidia()).body.placements.find((x: { workloadId: string }) => x.workloadId === onNvidia);
    expect(nv.engine).to.deep.include({ id: vllm.id, image: 'vllm/vllm-openai:latest', apiKeyEnv: 'VLLM_API_KEY', port: 8000, metricsDialect: 'vllm' });
    expect(nv.engine.args).to.include('{model}').and.include('{tensorParallel}');
    expect(nv.engineProblem).to.equal(undefined);
    const asc = (await ascend()).body.placements.find((x: { workloadId: string }) => x.workloadId === onAscend);
    expect(asc.engine).to.deep.include({ id: ascendEngine.id, image: 'quay.io/ascend/vllm-ascend:latest', apiKeyEnv: 'VLLM_API_KEY' });
    expect(asc.engine.args.slice(0, 3)).to.deep.equal(['vllm', 'serve', '{model}']);
  });

  it("follows the model's engine for the vendor, and the operator's image edits", async () => {
    const p = platform();
    const beat = await cluster(p, 'eng-nv2', 'NVIDIA-H100-80GB-HBM3');
    const sglang = await byName(p, 'sglang');
    const model = await p.request('POST', '/api/v1/models', {
      body: { name: 'sglang-model', minMemoryGiB: 16, costFactor: 1, inputFactor: 0.25, engines: { nvidia: sglang.id } },
    });
    expect(model.status).to.equal(201);
    const w = await place(p, 'on-sglang', 'sglang-model', 'eng-nv2');
    let desired = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w);
    expect(desired.engine).to.deep.include({ id: sglang.id, apiKeyEnv: null, port: 30000, metricsDialect: 'sglang' });

    expect((await p.request('PATCH', `/api/v1/engines/${sglang.id}`, { body: { image: 'mirror.example.cn/lmsysorg/sglang:v0.5.0' } })).status).to.equal(200);
    desired = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w);
    expect(desired.engine.image).to.equal('mirror.example.cn/lmsysorg/sglang:v0.5.0');
    // Every edit of the engine shows at the next heartbeat, not only its image (read with the placements).
    for (const port of [30001, 30002]) {
      expect((await p.request('PATCH', `/api/v1/engines/${sglang.id}`, { body: { port, env: { SGLANG_PORT: String(port) } } })).status).to.equal(200);
      desired = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w);
      expect(desired.engine).to.deep.include({ port, env: { SGLANG_PORT: String(port) } });
    }
  });

  it("uses a cluster's own image for an engine where one is set, and refuses a cluster that does not exist", async () => {
    const p = platform();
    const beat = await cluster(p, 'eng-nv3', 'NVIDIA-H100-80GB-HBM3');
    const clusterId = (await beat()).body.clusterId as string;
    const w = await place(p, 'on-private-registry', 'qwen2.5-7b-instruct', 'eng-nv3');
    const vllm = await byName(p, 'vllm');
    const set = await p.request('PATCH', `/api/v1/engines/${vllm.id}`, {
      body: { clusterImages: { [clusterId]: 'harbor.nansha.example.cn/ai/vllm-openai:v0.11.0' } },
    });
    expect(set.status).to.equal(200);
    expect(set.body.clusterImages).to.deep.equal({ [clusterId]: 'harbor.nansha.example.cn/ai/vllm-openai:v0.11.0' });
    const desired = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w);
    expect(desired.engine).to.deep.include({ id: vllm.id, image: 'harbor.nansha.example.cn/ai/vllm-openai:v0.11.0' });
    // Elsewhere the engine's own image stays.
    expect((await byName(p, 'vllm')).image).to.equal('vllm/vllm-openai:latest');

    const unknown = await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { body: { clusterImages: { cl_nope: 'x/y:1' } } });
    expect(unknown.status).to.equal(422);
    expect(unknown.body.errors[0].path).to.equal('clusterImages');
    expect((await byName(p, 'vllm')).clusterImages).to.deep.equal({ [clusterId]: 'harbor.nansha.example.cn/ai/vllm-openai:v0.11.0' });
    expect((await p.request('PATCH', `/api/v1/engines/${vllm.id}`, { body: { clusterImages: {} } })).body.clusterImages).to.deep.equal({});
  });

  it('answers a placement whose engine has no image without an engine, saying why, and the heartbeat still succeeds', async () => {
    const p = platform();
    const beat = await cluster(p, 'eng-mlu', 'MLU370-X8');
    const w = await place(p, 'on-mlu', 'qwen2.5-7b-instruct', 'eng-mlu');
    const answer = await beat();
    expect(answer.status).to.equal(200);
    const desired = answer.body.placements.find((x: { workloadId: string }) => x.workloadId === w);
    expect(desired).to.not.equal(undefined);
    expect(desired.engine).to.equal(undefined);
    expect(desired.engineProblem).to.match(/vllm-cambricon.*no image configured/);
    // The operator sees it too.
    const view = await p.request('GET', `/api/v1/clusters/${answer.body.clusterId}/engines`);
    expect(view.status).to.equal(200);
    expect(view.body.items).to.deep.equal([{ placementId: desired.id, engineId: null, image: null, problem: desired.engineProblem }]);
    expect((await p.request('GET', `/api/v1/clusters/${answer.body.clusterId}/engines`, { token: tenantKey })).status).to.equal(403);

    const cambricon = await byName(p, 'vllm-cambricon');
    await p.request('PATCH', `/api/v1/engines/${cambricon.id}`, { body: { image: 'registry.example.cn/cambricon/vllm:1.0' } });
    const after = (await beat()).body.placements.find((x: { workloadId: string }) => x.workloadId === w);
    expect(after.engine.image).to.equal('registry.example.cn/cambricon/vllm:1.0');
    expect(after.engineProblem).to.equal(undefined);
  });
});
