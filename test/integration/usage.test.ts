import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

describeOnDatabases('usage ingestion and reports', (platform) => {
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let nansha: { id: string; agentToken: string };
  let tianhe: { id: string; agentToken: string };
  let w72: string;
  let w7: string;

  async function cluster(p: TestPlatform, name: string) {
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region: name.split('-')[0] } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', { token: c.agentToken, body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] } });
    return c;
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-31T23:00:00+08:00');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Tianhe Health', kind: 'government' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Other Co', kind: 'enterprise' } })).body;
    nansha = await cluster(p, 'nansha-1');
    w72 = (await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'a', model: 'qwen2.5-72b-instruct', tokensPerMin: 1000, regions: ['nansha'] } })).body.id;
    w7 = (await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'b', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: ['nansha'] } })).body.id;
    await p.app.scheduler.runCycle();
    tianhe = await cluster(p, 'tianhe-1');
  });

  const send = (token: string, events: object[]) => platform().request('POST', '/api/v1/agent/usage', { token, body: { events } });
  const ev = (id: string, workloadId: string, occurredAt = '2026-10-31T22:00:00+08:00', inputTokens = 1200, outputTokens = 300) => ({ id, workloadId, inputTokens, outputTokens, occurredAt });

  it('accepts new events, counts an id seen before (or twice in a batch) as a duplicate, and gives a reason for each rejection', async () => {
    const first = await send(nansha.agentToken, [ev('e1', w72), ev('e2', w7), ev('e2', w7)]);
    expect(first.status).to.equal(200);
    expect(first.body).to.deep.equal({ accepted: 2, duplicates: 1, rejected: [] });
    const again = await send(nansha.agentToken, [ev('e1', w72), ev('e3', 'wl_missing'), ev('e4', w72, '2026-07-01T00:00:00+08:00'), ev('e5', w72, '2026-10-31T23:06:00+08:00')]);
    expect(again.body.accepted).to.equal(0);
    expect(again.body.duplicates).to.equal(1);
    expect(again.body.rejected).to.deep.equal([
      { id: 'e3', reason: 'unknown_workload' },
      { id: 'e4', reason: 'out_of_window' },
      { id: 'e5', reason: 'out_of_window' },
    ]);
    // A rejected id is not remembered: once valid, it counts.
    expect((await send(nansha.agentToken, [ev('e5', w72, '2026-10-31T23:04:00+08:00')])).body.accepted).to.equal(1);
  });

  it('judges the window at its edges: 90 days back and 5 minutes ahead are in, a millisecond more is out', async () => {
    const now = platform().clock.now().getTime();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const res = await send(nansha.agentToken, [
      ev('w-past', w7, at(-90 * 86_400_000)), ev('w-past-out', w7, at(-90 * 86_400_000 - 1)),
      ev('w-future', w7, at(5 * 60_000)), ev('w-future-out', w7, at(5 * 60_000 + 1)),
    ]);
    expect(res.body.accepted).to.equal(2);
    expect(res.body.rejected.map((r: { id: string }) => r.id)).to.deep.equal(['w-past-out', 'w-future-out']);
  });

  it("rejects usage for a workload that never ran on the reporting agent's cluster, and never lets another tenant see it", async () => {
    const res = await send(tianhe.agentToken, [ev('t1', w72)]);
    expect(res.body.rejected).to.deep.equal([{ id: 't1', reason: 'not_placed_on_this_cluster' }]);
    const usage = (await platform().request('GET', '/api/v1/usage', { token: other.apiKey })).body;
    expect(usage).to.include({ inputTokens: 0, outputTokens: 0, stdTokens: '0' });
    expect((await platform().request('POST', '/api/v1/agent/usage', { token: tenant.apiKey, body: { events: [ev('x', w7)] } })).status).to.equal(403);
  });

  it('counts the same batch sent twice at once exactly once', async () => {
    const batch = Array.from({ length: 200 }, (_, i) => ev(`c-${i}`, i % 2 ? w7 : w72));
    const [a, b] = await Promise.all([send(nansha.agentToken, batch), send(nansha.agentToken, batch)]);
    expect(a.body.accepted + b.body.accepted).to.equal(200);
    expect(a.body.duplicates + b.body.duplicates).to.equal(200);
  });

  it('refuses a malformed batch as a whole (400 with the path) and more than 10,000 events', async () => {
    const bad = await send(nansha.agentToken, [ev('m1', w7), { ...ev('m2', w7), outputTokens: -1 }]);
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).to.include('events.1.outputTokens');
    const noOffset = await send(nansha.agentToken, [{ ...ev('m3', w7), occurredAt: '2026-10-31 22:00' }]);
    expect(noOffset.status).to.equal(400);
    const big = Array.from({ length: 10_001 }, (_, i) => ev(`big-${i}`, w7));
    expect((await send(nansha.agentToken, big)).status).to.equal(400);
    expect((await send(nansha.agentToken, [ev('m1', w7)])).body.accepted).to.equal(1);
  });

  it('reports exact standard tokens, by model and by day in Asia/Shanghai', async () => {
    const p = platform();
    p.clock.set('2026-11-01T01:00:00+08:00');
    // 16:30Z on 31 October is 00:30 on 1 November in Asia/Shanghai.
    await send(nansha.agentToken, [ev('nov-1', w72, '2026-10-31T16:30:00Z', 1, 1)]);
    const nov = (await p.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
    expect(nov.from).to.equal('2026-10-31T16:00:00.000Z');
    // qwen2.5-72b: 10 × (1 + 0.25 × 1) = 12.5
    expect(nov).to.deep.include({ inputTokens: 1, outputTokens: 1, stdTokens: '12.5' });
    expect(nov.byDay).to.deep.equal([{ day: '2026-11-01', inputTokens: 1, outputTokens: 1, stdTokens: '12.5' }]);
    const oct = (await p.request('GET', `/api/v1/usage?from=${encodeURIComponent('2026-10-01T00:00:00+08:00')}&to=${encodeURIComponent('2026-11-01T00:00:00+08:00')}&tenantId=${tenant.id}`)).body;
    const models = new Map(oct.byModel.map((m: { model: string; stdTokens: string }) => [m.model, m]));
    expect(oct.byDay.map((d: { day: string }) => d.day)).to.include('2026-10-31');
    // Each event: 1,200 in, 300 out. 72b: 10 × (300 + 300) = 6,000; 7b: 1 × 600 = 600.
    const m72 = models.get('qwen2.5-72b-instruct') as { stdTokens: string; outputTokens: number };
    expect(Number(m72.stdTokens)).to.equal((m72.outputTokens / 300) * 6000);
    expect((await p.request('GET', `/api/v1/usage?tenantId=${tenant.id}`, { token: other.apiKey })).body.stdTokens).to.equal('0');
    expect((await p.request('GET', '/api/v1/usage?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z')).status).to.equal(400);
  });

  it('shows a tenant its subscription, quota and usage this period on /me', async () => {
    const p = platform();
    const me = await p.request('GET', '/api/v1/me', { token: tenant.apiKey });
    expect(me.status).to.equal(200);
    expect(me.body.tenant.id).to.equal(tenant.id);
    expect(me.body.subscription).to.equal(null);
    expect(me.body.period).to.equal('2026-11');
    expect(me.body.usageThisPeriod).to.deep.equal({ inputTokens: 1, outputTokens: 1, stdTokens: '12.5' });
    // Default plan: 12.5 std × 2.00 / 10^6 rounds to 0.00.
    expect(me.body.costSoFar).to.equal('0.00');
    // Held: 72b 1,000 × 10 + 7b 1,000 × 1.
    expect(me.body.quota).to.deep.equal({ maxStdPerMin: null, usedStdPerMin: 11_000 });
    expect((await p.request('GET', '/api/v1/me')).status).to.equal(403);
  });
});
