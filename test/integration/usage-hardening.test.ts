import { expect } from 'chai';
import { sql } from 'kysely';
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
      body: { name: 'spread', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: ['scope'], ha: true, access: 'direct' },
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

  it('rejects an event past what the placements on its cluster could produce in the window as implausible, and remembers none', async () => {
    const p = platform();
    const w = (await p.request('GET', `/api/v1/workloads/${spread}`, { token: tenant.apiKey })).body;
    const onA = w.placements.filter((x: { clusterId: string }) => x.clusterId === a.id);
    expect(onA).to.have.length(1);
    // One H100 replica of qwen2.5-7b (costFactor 1, inputFactor 0.25) for 90 days and 5 minutes.
    const bound = onA[0].tokensPerMin * (90 * 24 * 60 + 5);
    expect(bound).to.be.within(1e9, 1e12);
    const edge = Math.floor(bound);
    const res = await send(a, [
      ev('edge', spread, 0, edge),
      ev('over', spread, 0, edge + 1),
      // Input counts at its input factor: 4 × the bound of input alone is the bound.
      ev('input-edge', spread, 4 * edge, 0),
      ev('input-over', spread, 4 * edge + 4, 1),
    ]);
    expect(res.body).to.deep.equal({
      accepted: 2,
      duplicates: 0,
      rejected: [
        { id: 'over', reason: 'implausible' },
        { id: 'input-over', reason: 'implausible' },
      ],
    });
    // A rejected id is not remembered: sent again with plausible counts, it counts.
    expect((await send(a, [ev('over', spread, 1, 1)])).body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
    // The schema's maximum is implausible for a workload of this size.
    expect((await send(b, [ev('max', spread, 1_000_000_000_000, 1_000_000_000_000)])).body.rejected).to.deep.equal([{ id: 'max', reason: 'implausible' }]);
  });
});

describeOnDatabases('usage: absurd numbers break nothing', (platform) => {
  let big: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let agent: Agent;
  let bigWorkload: string;
  let otherWorkload: string;
  const send = (events: object[]) => platform().request('POST', '/api/v1/agent/usage', { token: agent.agentToken, body: { events } });
  /** The answer's text: JSON.parse would round integers past 2^53. */
  const rawGet = async (path: string, token: string) => {
    const res = await fetch(platform().baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, text: await res.text() };
  };
  const MAX = 1_000_000_000_000;
  // 2 batches of 10,000 events at the schema's maximum, and one more event of 1 input token.
  const INPUT = (2n * 10_000n * BigInt(MAX) + 1n).toString();
  const OUTPUT = (2n * 10_000n * BigInt(MAX)).toString();

  before(async function () {
    this.timeout(120_000);
    const p = platform();
    p.clock.set('2026-10-20T12:00:00+08:00');
    big = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Big Numbers', kind: 'enterprise' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Bystander', kind: 'government' } })).body;
    const plan = await p.request('POST', '/api/v1/plans', {
      body: { name: 'capped', type: 'periodic', period: 'month', fee: '100.00', includedStd: 1_000_000, overagePricePerMillionStd: null },
    });
    expect(plan.status).to.equal(201);
    const sub = await p.request('POST', `/api/v1/tenants/${big.id}/subscriptions`, { body: { planId: plan.body.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    expect(sub.status).to.equal(201);
    // A cheap model: one H100 replica could produce 10^12 tokens in far less than the event window.
    const model = await p.request('POST', '/api/v1/models', { body: { name: 'tiny-cheap', minMemoryGiB: 8, costFactor: 0.001, inputFactor: 0.25 } });
    expect(model.status).to.equal(201);
    agent = await cluster(p, 'absurd-1', 'absurd');
    const create = await p.request('POST', '/api/v1/workloads', {
      token: big.apiKey,
      body: { name: 'hog', model: 'tiny-cheap', tokensPerMin: 1000, access: 'direct' },
    });
    bigWorkload = create.body.id;
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${bigWorkload}`, { token: big.apiKey })).body.state).to.equal('placed');
    for (const batch of [0, 1]) {
      const events = Array.from({ length: 10_000 }, (_, i) => ev(`max-${batch}-${i}`, bigWorkload, MAX, MAX));
      expect((await send(events)).body).to.deep.equal({ accepted: 10_000, duplicates: 0, rejected: [] });
    }
    expect((await send([ev('one', bigWorkload, 1, 0)])).body.accepted).to.equal(1);
  });

  it('answers /usage with exact sums past 2^53', async () => {
    const res = await rawGet('/api/v1/usage', big.apiKey);
    expect(res.status).to.equal(200);
    // 0.001 × (10^12 + 0.25 × 10^12) per event, and 0.001 × 0.25 for the last one.
    const std = '25000000000000.00025';
    expect(res.text).to.contain(`"inputTokens":${INPUT},"outputTokens":${OUTPUT},"stdTokens":"${std}"`);
    expect(res.text).to.contain(`"model":"tiny-cheap","inputTokens":${INPUT},"outputTokens":${OUTPUT},"stdTokens":"${std}"`);
    expect(res.text).to.contain(`"day":"2026-10-20","inputTokens":${INPUT},"outputTokens":${OUTPUT},"stdTokens":"${std}"`);
    const all = await rawGet('/api/v1/usage', 'tp_admin_test-operator-token-0123456789');
    expect(all.status).to.equal(200);
    expect(all.text).to.contain(`"inputTokens":${INPUT}`);
  });

  it('answers /me with exact sums', async () => {
    const res = await rawGet('/api/v1/me', big.apiKey);
    expect(res.status).to.equal(200);
    expect(res.text).to.contain(`"usageThisPeriod":{"inputTokens":${INPUT},"outputTokens":${OUTPUT},"stdTokens":"25000000000000.00025"}`);
    expect(JSON.parse(res.text).costSoFar).to.equal('100.00');
  });

  it('keeps scheduling other tenants, and holds the capped tenant to plan_exhausted', async () => {
    const p = platform();
    const mine = await p.request('POST', '/api/v1/workloads', {
      token: other.apiKey,
      body: { name: 'bystander', model: 'tiny-cheap', tokensPerMin: 1000, access: 'direct' },
    });
    otherWorkload = mine.body.id;
    const more = await p.request('POST', '/api/v1/workloads', {
      token: big.apiKey,
      body: { name: 'hog-2', model: 'tiny-cheap', tokensPerMin: 1000, access: 'direct' },
    });
    expect(await p.app.scheduler.runCycle()).to.deep.include({ placed: 1 });
    expect((await p.request('GET', `/api/v1/workloads/${otherWorkload}`, { token: other.apiKey })).body.state).to.equal('placed');
    expect((await p.request('GET', `/api/v1/workloads/${more.body.id}`, { token: big.apiKey })).body).to.deep.include({
      state: 'pending',
      reason: 'plan_exhausted',
    });
    expect((await send([ev('bystander-1', otherWorkload, 1000, 1000)])).body.accepted).to.equal(1);
    expect((await p.request('GET', '/api/v1/me', { token: other.apiKey })).body.usageThisPeriod).to.deep.equal({
      inputTokens: 1000,
      outputTokens: 1000,
      stdTokens: '1.25',
    });
  });

  it('closes the month: the capped tenant pays its fee, the other tenant its usage', async () => {
    const p = platform();
    p.clock.set('2026-11-01T01:00:00+08:00');
    const res = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(res.status).to.equal(200);
    const totals = new Map(res.body.items.map((i: { tenantId: string; total: string }) => [i.tenantId, i.total]));
    expect(totals.get(big.id)).to.equal('100.00');
    // 1.25 standard tokens at the default 2.00 per million round to nothing.
    expect(totals.get(other.id)).to.equal('0.00');
    const usage = await rawGet('/api/v1/usage?from=2026-10-01T00:00:00%2B08:00&to=2026-11-01T00:00:00%2B08:00', big.apiKey);
    expect(usage.status).to.equal(200);
    expect(usage.text).to.contain(`"inputTokens":${INPUT}`);
  });

  it('sums past int8 as well: the scheduler, /me and /usage still answer, exactly', async () => {
    const p = platform();
    // As many events as it takes to pass int8's range (9.2 × 10^18), stored directly: two rows.
    const huge = '9000000000000000000';
    await sql`
      INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
      SELECT 'huge-' || n, ${big.id}, ${bigWorkload}, ${agent.id}, m.id, ${huge}::int8, 0, 1, ${p.clock.now()}, ${p.clock.now()}
        FROM generate_series(1, 2) n, models m WHERE m.name = 'tiny-cheap'`.execute(p.database.db);
    await p.request('POST', '/api/v1/agent/heartbeat', { token: agent.agentToken, body: { inventory: H100 } });
    const later = await p.request('POST', '/api/v1/workloads', {
      token: other.apiKey,
      body: { name: 'bystander-2', model: 'tiny-cheap', tokensPerMin: 1000, access: 'direct' },
    });
    // The capped tenant's month is new (November): its hard cap is read, and the cycle runs.
    expect(await p.app.scheduler.runCycle()).to.deep.include({ placed: 2 });
    expect((await p.request('GET', `/api/v1/workloads/${later.body.id}`, { token: other.apiKey })).body.state).to.equal('placed');
    const me = await rawGet('/api/v1/me', big.apiKey);
    expect(me.status).to.equal(200);
    expect(me.text).to.contain(`"usageThisPeriod":{"inputTokens":18000000000000000000,"outputTokens":0,"stdTokens":"2"}`);
    const usage = await rawGet('/api/v1/usage', big.apiKey);
    expect(usage.status).to.equal(200);
    expect(usage.text).to.contain(`"inputTokens":18000000000000000000,"outputTokens":0,"stdTokens":"2"`);
  });
});
