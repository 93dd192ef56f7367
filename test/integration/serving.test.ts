import { expect } from 'chai';
import { WorkloadsRepository } from '../../server/repositories/workloads.repository.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 16, healthy: 16 }];
const MODEL = 'qwen2.5-7b-instruct';

function heartbeat(p: TestPlatform, token: string, placements: unknown[] = []) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory: H100, placements } });
}

describeOnDatabases('serving: serving keys out, endpoints in (API.md v2 "Token gateway")', (platform) => {
  let agent: string;
  let tenant: { id: string; apiKey: string };

  before(async () => {
    const p = platform();
    const c = await p.request('POST', '/api/v1/clusters', { body: { name: 'serving-1', region: 'nansha' } });
    agent = c.body.agentToken;
    expect((await heartbeat(p, agent)).status).to.equal(200);
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Serving Tenant', kind: 'enterprise' } })).body;
  });

  async function placedWorkload(p: TestPlatform, name: string, access?: 'gateway' | 'direct') {
    const res = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name, model: MODEL, tokensPerMin: 1000, ...(access ? { access } : {}) },
    });
    expect(res.status).to.equal(202);
    expect(res.body.access).to.equal(access ?? 'gateway');
    await p.app.scheduler.runCycle();
    return res.body.id as string;
  }

  it('gives each desired placement a serving key of its own that stays the same across heartbeats', async () => {
    const p = platform();
    const a = await placedWorkload(p, 'keyed-a');
    const b = await placedWorkload(p, 'keyed-b');
    const first = (await heartbeat(p, agent)).body.placements as { workloadId: string; servingKey: string }[];
    const second = (await heartbeat(p, agent)).body.placements as { workloadId: string; servingKey: string }[];
    const keyOf = (list: typeof first, w: string) => list.find((x) => x.workloadId === w)!.servingKey;
    expect(keyOf(first, a)).to.match(/^tp_serve_[0-9a-f]{32}$/);
    expect(keyOf(first, a)).to.not.equal(keyOf(first, b));
    expect(keyOf(second, a)).to.equal(keyOf(first, a));
  });

  it('keeps the endpoints an agent reports, leaves them when a report omits them, and lists them for routing', async () => {
    const p = platform();
    const repo = new WorkloadsRepository(p.database.db);
    const w = await placedWorkload(p, 'routed');
    const desired = ((await heartbeat(p, agent)).body.placements as { id: string; workloadId: string; replicas: number; servingKey: string }[]).find(
      (x) => x.workloadId === w,
    )!;
    expect((await repo.servingTargets(MODEL)).map((t) => t.workloadId)).to.not.include(w);

    const endpoints = ['http://127.0.0.1:40001', 'http://127.0.0.1:40002'];
    expect((await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas, endpoints }])).status).to.equal(200);
    let target = (await repo.servingTargets(MODEL)).find((t) => t.workloadId === w);
    expect(target).to.deep.include({ placementId: desired.id, tenantId: tenant.id, servingKey: desired.servingKey, endpoints });
    expect(target!.tokensPerMin).to.be.greaterThan(0);

    // An agent that does not report endpoints changes nothing; an empty list takes the placement out.
    await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas }]);
    target = (await repo.servingTargets(MODEL)).find((t) => t.workloadId === w);
    expect(target?.endpoints).to.deep.equal(endpoints);
    await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [] }]);
    expect((await repo.servingTargets(MODEL)).map((t) => t.workloadId)).to.not.include(w);

    // A deleted workload's placement is released: never a target.
    await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas, endpoints }]);
    expect((await p.request('DELETE', `/api/v1/workloads/${w}`, { token: tenant.apiKey })).status).to.equal(202);
    expect((await repo.servingTargets(MODEL)).map((t) => t.workloadId)).to.not.include(w);
  });

  it('never routes to a workload called directly', async () => {
    const p = platform();
    const repo = new WorkloadsRepository(p.database.db);
    const w = await placedWorkload(p, 'direct-one', 'direct');
    const desired = ((await heartbeat(p, agent)).body.placements as { id: string; workloadId: string; replicas: number }[]).find((x) => x.workloadId === w)!;
    await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: ['http://127.0.0.1:40003'] }]);
    expect((await repo.servingTargets(MODEL)).map((t) => t.workloadId)).to.not.include(w);
  });

  it('refuses endpoints that are not base URLs with the field path, and records nothing of that heartbeat', async () => {
    const p = platform();
    const repo = new WorkloadsRepository(p.database.db);
    const w = await placedWorkload(p, 'bad-endpoints');
    const desired = ((await heartbeat(p, agent)).body.placements as { id: string; workloadId: string; replicas: number }[]).find((x) => x.workloadId === w)!;
    for (const bad of ['ftp://127.0.0.1:1', 'http://user:pw@127.0.0.1:1', 'http://127.0.0.1:1/?q=1', 'http://a b', 'not a url', `http://${'a'.repeat(2100)}`]) {
      const res = await heartbeat(p, agent, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [bad] }]);
      expect(res.status, bad).to.equal(400);
      expect(res.body.errors[0].path, bad).to.equal('placements.0.endpoints.0');
    }
    expect((await repo.servingTargets(MODEL)).map((t) => t.workloadId)).to.not.include(w);
  });

  it('refuses an access other than gateway or direct', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'x', model: MODEL, tokensPerMin: 1000, access: 'open' } });
    expect(res.status).to.equal(400);
    expect(res.body.errors[0].path).to.equal('access');
  });
});
