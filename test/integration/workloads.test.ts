import { expect } from 'chai';
import { WorkloadsRepository } from '../../server/repositories/workloads.repository.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const QWEN72_REPLICA = (4 * 3000 * 60) / 10; // 72,000 tokens/min: 4 × H100 per replica, costFactor 10

async function cluster(p: TestPlatform, name: string, region: string, inventory: { deviceModel: string; total: number; healthy: number }[]) {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status).to.equal(201);
  const c = { id: res.body.id as string, token: res.body.agentToken as string };
  await heartbeat(p, c.token, inventory);
  return c;
}

function heartbeat(
  p: TestPlatform,
  token: string,
  inventory: { deviceModel: string; total: number; healthy: number }[],
  placements: { id: string; readyReplicas: number }[] = [],
) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory, placements } });
}

const h100 = (n: number) => [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: n, healthy: n }];

describeOnDatabases('workloads: placement through the API', (platform) => {
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let nansha: { id: string; token: string };
  let tianhe: { id: string; token: string };

  before(async () => {
    const p = platform();
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Hospital', kind: 'enterprise' } })).body;
    nansha = await cluster(p, 'nansha-1', 'nansha', h100(8));
    tianhe = await cluster(p, 'tianhe-1', 'tianhe', h100(8));
  });

  let workloadId: string;

  it('accepts a workload as pending (202) and places it all-or-nothing by the formulas', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: {
        name: 'traffic-assistant',
        kind: 'service',
        model: 'qwen2.5-72b-instruct',
        tokensPerMin: 100_000,
        priority: 'normal',
        regions: ['nansha'],
        ha: false,
      },
    });
    expect(res.status).to.equal(202);
    expect(res.body).to.include({ state: 'pending', tenantId: tenant.id, model: 'qwen2.5-72b-instruct', tokensPerMin: 100_000, placedTokensPerMin: 0 });
    workloadId = res.body.id;

    await p.app.scheduler.runCycle();
    const w = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    expect(w.state).to.equal('placed');
    expect(w.reason).to.equal(null);
    expect(w.placements).to.have.length(1);
    expect(w.placements[0]).to.include({
      clusterId: nansha.id,
      deviceModel: 'NVIDIA-H100-80GB-HBM3',
      replicas: 2,
      devicesPerReplica: 4,
      tokensPerMin: 2 * QWEN72_REPLICA,
      state: 'placed',
    });
    expect(w.placedTokensPerMin).to.equal(2 * QWEN72_REPLICA);
  });

  it('shows the allocation in the pool and tells the agent its desired set', async () => {
    const p = platform();
    const pool = (await p.request('GET', '/api/v1/pool')).body;
    expect(pool.allocatedStdPerMin).to.equal(8 * 3000 * 60);
    expect(pool.byCluster.find((c: { clusterId: string }) => c.clusterId === nansha.id).freeStdPerMin).to.equal(0);
    const hb = await heartbeat(p, nansha.token, h100(8));
    expect(hb.body.placements).to.have.length(1);
    expect(hb.body.placements[0]).to.deep.include({
      workloadId,
      model: 'qwen2.5-72b-instruct',
      deviceModel: 'NVIDIA-H100-80GB-HBM3',
      profile: 'NVIDIA-H100-80GB',
      resourceName: 'nvidia.com/gpu',
      replicas: 2,
      devicesPerReplica: 4,
    });
    expect((await heartbeat(p, tianhe.token, h100(8))).body.placements).to.deep.equal([]);
  });

  it('turns running once the agent reports every replica ready', async () => {
    const p = platform();
    const w = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    await heartbeat(p, nansha.token, h100(8), [{ id: w.placements[0].id, readyReplicas: 1 }]);
    expect((await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body.state).to.equal('placed');
    await heartbeat(p, nansha.token, h100(8), [{ id: w.placements[0].id, readyReplicas: 2 }]);
    const running = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    expect(running.state).to.equal('running');
    expect(running.placements[0]).to.include({ state: 'running', readyReplicas: 2 });
  });

  it('answers a dry run with what would be placed now, changing nothing', async () => {
    const p = platform();
    const before = (await p.request('GET', '/api/v1/workloads', { token: tenant.apiKey })).body.items.length;
    const res = await p.request('POST', '/api/v1/workloads?dryRun=true', {
      token: tenant.apiKey,
      body: { name: 'preview', model: 'qwen2.5-72b-instruct', tokensPerMin: 100_000 },
    });
    expect(res.status).to.equal(200);
    expect(res.body.dryRun).to.equal(true);
    expect(res.body.reason).to.equal(null);
    expect(res.body.placements).to.have.length(1);
    expect(res.body.placements[0]).to.include({ clusterId: tianhe.id, replicas: 2, devicesPerReplica: 4 });
    const full = await p.request('POST', '/api/v1/workloads?dryRun=true', {
      token: tenant.apiKey,
      body: { name: 'too-big', model: 'qwen2.5-72b-instruct', tokensPerMin: 500_000 },
    });
    expect(full.body).to.include({ reason: 'capacity' });
    expect(full.body.placements).to.deep.equal([]);
    expect((await p.request('GET', '/api/v1/workloads', { token: tenant.apiKey })).body.items.length).to.equal(before);
  });

  it('refuses bad input with the documented errors and creates nothing', async () => {
    const p = platform();
    const post = (body: unknown) => p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body });
    const base = { name: 'x', model: 'qwen2.5-72b-instruct', tokensPerMin: 1000 };
    expect((await post({ ...base, model: 'gpt-17' })).status).to.equal(422);
    expect((await post({ ...base, kind: 'batch' })).status).to.equal(422);
    for (const [body, path] of [
      [{ ...base, tokensPerMin: -5 }, 'tokensPerMin'],
      [{ ...base, tokensPerMin: 1e12 }, 'tokensPerMin'],
      [{ ...base, tokensPerMin: 1.5 }, 'tokensPerMin'],
      [{ ...base, regions: ['Nansha!'] }, 'regions.0'],
      [{ ...base, regions: [] }, 'regions'],
      [{ ...base, colour: 'red' }, 'colour'],
      [{ ...base, priority: 'urgent' }, 'priority'],
    ] as const) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
    }
    const list = (await p.request('GET', '/api/v1/workloads', { token: tenant.apiKey })).body.items;
    expect(list.map((w: { name: string }) => w.name)).to.deep.equal(['traffic-assistant']);
  });

  it('creates concurrent workloads in shared statements, each answered with its own fields', async () => {
    const p = platform();
    const repo = new WorkloadsRepository(p.app.context.database.db);
    const now = p.clock.now();
    // Written in one turn, so in one statement: regions absent, one, several; an unknown model.
    const rows = Array.from({ length: 12 }, (_, i) => ({
      id: `wl_batch_${i}`,
      tenantId: other.id,
      name: `batch-${i}`,
      kind: 'service',
      modelName: i === 5 ? 'no-such-model' : 'qwen2.5-7b-instruct',
      tokensPerMin: 1000 + i,
      priority: i % 2 ? 'low' : 'normal',
      regions: i % 3 === 0 ? null : i % 3 === 1 ? ['nansha'] : ['nansha', 'tianhe'],
      ha: i % 4 === 0,
      access: i % 2 ? 'direct' : 'gateway',
      now,
    }));
    const answers = await Promise.all(rows.map((r) => repo.insert(r, 100)));
    expect(answers[5]).to.equal('unknown_model');
    const stored = answers.flatMap((a) => (typeof a === 'string' || 'maxPriority' in a ? [] : [a]));
    expect(stored.map((a) => [a.id, a.name, a.tokens_per_min, a.priority, a.regions, a.ha, a.access, a.state, a.created_at.getTime()])).to.deep.equal(
      rows.filter((_, i) => i !== 5).map((r) => [r.id, r.name, r.tokensPerMin, r.priority, r.regions, r.ha, r.access, 'pending', now.getTime()]),
    );
    // seq keeps the order of arrival.
    expect(stored.map((a) => a.seq)).to.deep.equal([...stored.map((a) => a.seq)].sort((a, b) => a - b));
    for (const a of stored) expect((await p.request('DELETE', `/api/v1/workloads/${a.id}`, { token: other.apiKey })).status).to.equal(202);

    // Through the API: many creates in flight at once, one of them refused.
    const bodies = Array.from({ length: 16 }, (_, i) => ({
      name: `burst-${i}`,
      model: i === 7 ? 'gpt-17' : 'qwen2.5-7b-instruct',
      tokensPerMin: 2000 + i,
      regions: ['tianhe'],
    }));
    const results = await Promise.all(bodies.map((body) => p.request('POST', '/api/v1/workloads', { token: other.apiKey, body })));
    results.forEach((res, i) => {
      if (i === 7) expect(res.status).to.equal(422);
      else expect([res.status, res.body.name, res.body.tokensPerMin, res.body.tenantId]).to.deep.equal([202, `burst-${i}`, 2000 + i, other.id]);
    });
    for (const res of results.filter((r) => r.status === 202)) {
      expect((await p.request('DELETE', `/api/v1/workloads/${res.body.id}`, { token: other.apiKey })).status).to.equal(202);
    }
  });

  it('answers a retried create with the first response, and 422 for the same key with another body', async () => {
    const p = platform();
    const body = { name: 'retry-me', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000 };
    const headers = { 'Idempotency-Key': 'create-retry-me-1' };
    const first = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body, headers });
    const again = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body, headers });
    expect(first.status).to.equal(202);
    expect(again.status).to.equal(202);
    expect(again.body.id).to.equal(first.body.id);
    const changed = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { ...body, tokensPerMin: 2000 }, headers });
    expect(changed.status).to.equal(422);
    // Keys are per tenant: another tenant may use the same key.
    const theirs = await p.request('POST', '/api/v1/workloads', { token: other.apiKey, body, headers });
    expect(theirs.status).to.equal(202);
    expect(theirs.body.id).to.not.equal(first.body.id);
    await p.request('DELETE', `/api/v1/workloads/${first.body.id}`, { token: tenant.apiKey });
    await p.request('DELETE', `/api/v1/workloads/${theirs.body.id}`, { token: other.apiKey });
  });

  it('hides other tenants’ workloads (404) and lets the operator see all or one tenant', async () => {
    const p = platform();
    expect((await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: other.apiKey })).status).to.equal(404);
    expect((await p.request('DELETE', `/api/v1/workloads/${workloadId}`, { token: other.apiKey })).status).to.equal(404);
    expect((await p.request('PATCH', `/api/v1/workloads/${workloadId}`, { token: other.apiKey, body: { tokensPerMin: 1 } })).status).to.equal(404);
    expect((await p.request('GET', '/api/v1/workloads', { token: other.apiKey })).body.items).to.deep.equal([]);
    const all = (await p.request('GET', `/api/v1/workloads?tenantId=${tenant.id}`)).body.items;
    expect(all.map((w: { id: string }) => w.id)).to.include(workloadId);
    expect((await p.request('GET', '/api/v1/workloads', { token: nansha.token })).status).to.equal(403);
  });

  it('holds a new workload with reason quota past the tenant’s maxStdPerMin', async () => {
    const p = platform();
    // The running workload holds two whole replicas of 4 H100s: 1,440,000 standard tokens per minute.
    await p.request('PATCH', `/api/v1/tenants/${tenant.id}`, { body: { maxStdPerMin: 1_005_000 } });
    const res = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'over', model: 'qwen2.5-7b-instruct', tokensPerMin: 6000 },
    });
    await p.app.scheduler.runCycle();
    const w = (await p.request('GET', `/api/v1/workloads/${res.body.id}`, { token: tenant.apiKey })).body;
    expect(w).to.include({ state: 'pending', reason: 'quota' });
    await p.request('PATCH', `/api/v1/tenants/${tenant.id}`, { body: { maxStdPerMin: null } });
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${res.body.id}`, { token: tenant.apiKey })).body.state).to.equal('placed');
    await p.request('DELETE', `/api/v1/workloads/${res.body.id}`, { token: tenant.apiKey });
  });

  it('moves work off a cluster that stops heartbeating, within one TTL, and the cluster’s desired set forgets it', async () => {
    const p = platform();
    p.clock.advance(25_000);
    await heartbeat(p, tianhe.token, h100(8));
    p.clock.advance(10_000); // nansha last reported 35 s ago: past the 30 s TTL
    await p.app.sweeper.sweep();
    await p.app.scheduler.runCycle();
    const w = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    // regions: ['nansha'] — nowhere else to go: pending, and the lost placement is shown.
    expect(w).to.include({ state: 'pending', reason: 'capacity' });
    expect(w.placements.map((x: { state: string }) => x.state)).to.deep.equal(['lost']);
    expect((await heartbeat(p, nansha.token, h100(8))).body.placements).to.deep.equal([]);
    await p.app.scheduler.runCycle();
    const back = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    expect(back.state).to.equal('placed');
    expect(back.placements.map((x: { state: string }) => x.state)).to.deep.equal(['placed']);
  });

  it('re-places a workload without region limits on another cluster', async () => {
    const p = platform();
    const panyu = await cluster(p, 'panyu-1', 'panyu', h100(4));
    await heartbeat(p, tianhe.token, h100(8));
    const res = await p.request('POST', '/api/v1/workloads', {
      token: other.apiKey,
      body: { name: 'anywhere', model: 'qwen2.5-72b-instruct', tokensPerMin: 60_000 },
    });
    await p.app.scheduler.runCycle();
    const placed = (await p.request('GET', `/api/v1/workloads/${res.body.id}`, { token: other.apiKey })).body;
    expect(placed.state).to.equal('placed');
    const home = placed.placements[0].clusterId;
    expect(home).to.be.oneOf([tianhe.id, panyu.id]);
    const [away, homeC] = home === tianhe.id ? [panyu, tianhe] : [tianhe, panyu];
    p.clock.advance(31_000);
    await heartbeat(p, away.token, h100(away === panyu ? 4 : 8));
    await heartbeat(p, nansha.token, h100(8));
    await p.app.scheduler.runCycle();
    const moved = (await p.request('GET', `/api/v1/workloads/${res.body.id}`, { token: other.apiKey })).body;
    expect(moved.state).to.equal('placed');
    expect(moved.placements.filter((x: { state: string }) => x.state === 'placed').map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([away.id]);
    const desired = (await heartbeat(p, homeC.token, h100(homeC === panyu ? 4 : 8))).body.placements;
    expect(desired.map((x: { workloadId: string }) => x.workloadId)).to.not.include(res.body.id);
    await p.request('DELETE', `/api/v1/workloads/${res.body.id}`, { token: other.apiKey });
  });

  it('rescales, and deletes: placements are released and leave the desired set', async () => {
    const p = platform();
    await heartbeat(p, tianhe.token, h100(8));
    const smaller = await p.request('PATCH', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey, body: { tokensPerMin: 50_000 } });
    expect(smaller.status).to.equal(200);
    expect(smaller.body).to.include({ tokensPerMin: 50_000, state: 'placed' });
    // One replica carries 50,000: the other is released at once, and quota and the agent see one.
    expect(smaller.body.placedTokensPerMin).to.equal(QWEN72_REPLICA);
    expect(smaller.body.placements.filter((x: { state: string }) => x.state !== 'lost').map((x: { replicas: number }) => x.replicas)).to.deep.equal([1]);
    expect((await p.request('GET', '/api/v1/me', { token: tenant.apiKey })).body.quota.usedStdPerMin).to.equal(QWEN72_REPLICA * 10);
    const told = (await heartbeat(p, nansha.token, h100(8))).body.placements.filter((x: { workloadId: string }) => x.workloadId === workloadId);
    expect(told.map((x: { replicas: number }) => x.replicas)).to.deep.equal([1]);
    // 150,000 needs 3 replicas (12 devices); its only region has 8: it waits.
    const bigger = await p.request('PATCH', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey, body: { tokensPerMin: 150_000 } });
    expect(bigger.body).to.include({ tokensPerMin: 150_000, state: 'pending' });
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body).to.include({ state: 'pending', reason: 'capacity' });
    await p.request('PATCH', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey, body: { tokensPerMin: 120_000 } });
    await p.app.scheduler.runCycle();
    const w = (await p.request('GET', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey })).body;
    expect(w.state).to.equal('placed');
    expect(w.placedTokensPerMin).to.equal(2 * QWEN72_REPLICA);

    const del = await p.request('DELETE', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey });
    expect(del.status).to.equal(202);
    expect(del.body.state).to.equal('deleted');
    expect((await heartbeat(p, nansha.token, h100(8))).body.placements).to.deep.equal([]);
    expect((await p.request('GET', '/api/v1/pool')).body.allocatedStdPerMin).to.equal(0);
    const live = (await p.request('GET', '/api/v1/workloads', { token: tenant.apiKey })).body.items.map((x: { id: string }) => x.id);
    expect(live).to.not.include(workloadId);
    const gone = (await p.request('GET', '/api/v1/workloads?state=deleted', { token: tenant.apiKey })).body.items.map((x: { id: string }) => x.id);
    expect(gone).to.include(workloadId);
    expect((await p.request('PATCH', `/api/v1/workloads/${workloadId}`, { token: tenant.apiKey, body: { tokensPerMin: 5 } })).status).to.equal(409);
  });

  it('never brings a deleted workload back: a rescale that reaches the database after a delete changes nothing', async () => {
    const p = platform();
    const created = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'raced', model: 'qwen2.5-72b-instruct', tokensPerMin: 1000 },
    });
    expect(created.status).to.equal(202);
    const id: string = created.body.id;
    expect((await p.request('DELETE', `/api/v1/workloads/${id}`, { token: tenant.apiKey })).status).to.equal(202);
    // What the service's rescale does after it read the workload as pending, had the delete come in between.
    const repo = new WorkloadsRepository(p.app.context.database.db);
    expect(await repo.rescale(id, 2000, p.clock.now(), () => null)).to.equal(false);
    const w = (await p.request('GET', `/api/v1/workloads/${id}`, { token: tenant.apiKey })).body;
    expect(w).to.include({ state: 'deleted', tokensPerMin: 1000 });
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${id}`, { token: tenant.apiKey })).body.state).to.equal('deleted');
  });
});
