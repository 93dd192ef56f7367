import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Agent {
  readonly id: string;
  readonly agentToken: string;
}

const H100 = [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }];

async function cluster(p: TestPlatform, name: string, region: string): Promise<Agent> {
  const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region } })).body;
  expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: c.agentToken, body: { inventory: H100 } })).status).to.equal(200);
  return c;
}

const ev = (id: string, workloadId: string, inputTokens = 1200, outputTokens = 300, occurredAt = '2026-10-20T10:00:00+08:00') => ({
  id,
  workloadId,
  inputTokens,
  outputTokens,
  occurredAt,
});

describeOnDatabases('usage: event ids are scoped to the reporting cluster', (platform) => {
  let tenant: { id: string; apiKey: string };
  let a: Agent;
  let b: Agent;
  let spread: string;
  const send = (agent: Agent, events: object[]) => platform().request('POST', '/api/v1/agent/usage', { token: agent.agentToken, body: { events } });

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-20T12:00:00+08:00');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Scope Bureau', kind: 'government' } })).body;
    a = await cluster(p, 'scope-1', 'scope');
    b = await cluster(p, 'scope-2', 'scope');
    const res = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'spread', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: ['scope'], ha: true },
    });
    expect(res.status).to.equal(202);
    spread = res.body.id;
    await p.app.scheduler.runCycle();
    const placed = (await p.request('GET', `/api/v1/workloads/${spread}`, { token: tenant.apiKey })).body;
    expect(new Set(placed.placements.map((x: { clusterId: string }) => x.clusterId))).to.deep.equal(new Set([a.id, b.id]));
  });

  it('counts the same id from two clusters as two events, and a retry from the same cluster as a duplicate', async () => {
    expect((await send(a, [ev('same-1', spread)])).body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await send(b, [ev('same-1', spread)])).body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await send(a, [ev('same-1', spread)])).body).to.deep.equal({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await send(b, [ev('same-1', spread), ev('same-1', spread)])).body).to.deep.equal({ accepted: 0, duplicates: 2, rejected: [] });
    const usage = (await platform().request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
    expect(usage).to.deep.include({ inputTokens: 2400, outputTokens: 600 });
  });

  it("cannot shadow another cluster's later events by sending their ids first", async () => {
    // b sends ids that a has not sent yet; a's events still count when they come.
    const ids = ['pre-1', 'pre-2', 'pre-3'];
    expect(
      (
        await send(
          b,
          ids.map((id) => ev(id, spread, 1, 1)),
        )
      ).body.accepted,
    ).to.equal(3);
    expect(
      (
        await send(
          a,
          ids.map((id) => ev(id, spread, 10, 10)),
        )
      ).body,
    ).to.deep.equal({ accepted: 3, duplicates: 0, rejected: [] });
    const usage = (await platform().request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
    expect(usage).to.deep.include({ inputTokens: 2400 + 33, outputTokens: 600 + 33 });
  });
});
