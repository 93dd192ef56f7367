import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

describeOnDatabases('plans and subscriptions', (platform) => {
  let tenant: { id: string; apiKey: string };
  let gov: { id: string };
  let unit: { id: string };

  before(async () => {
    tenant = (await platform().request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Water Authority', kind: 'government' } })).body;
  });

  it('ships a default pay-as-you-go unit plan', async () => {
    const plans = (await platform().request('GET', '/api/v1/plans', { token: tenant.apiKey })).body.items;
    expect(plans).to.have.length(1);
    expect(plans[0]).to.include({ name: 'pay-as-you-go', type: 'unit', default: true, pricePerMillionStd: '2.00' });
  });

  it('creates unit and periodic plans as API.md shows them', async () => {
    const p = platform();
    const u = await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '1.50' } });
    expect(u.status).to.equal(201);
    expect(u.body).to.include({ name: 'metered', type: 'unit', pricePerMillionStd: '1.50', default: false });
    unit = u.body;
    const g = await p.request('POST', '/api/v1/plans', {
      body: {
        name: 'gov-standard',
        type: 'periodic',
        period: 'month',
        fee: '10000.00',
        includedStd: 1_000_000_000,
        overagePricePerMillionStd: '8.00',
        reservedStdPerMin: 300_000,
      },
    });
    expect(g.status).to.equal(201);
    expect(g.body).to.include({
      type: 'periodic',
      period: 'month',
      fee: '10000.00',
      includedStd: 1_000_000_000,
      overagePricePerMillionStd: '8.00',
      reservedStdPerMin: 300_000,
    });
    gov = g.body;
    const cap = await p.request('POST', '/api/v1/plans', {
      body: { name: 'gov-capped', type: 'periodic', period: 'month', fee: '5000.00', includedStd: 100_000_000, overagePricePerMillionStd: null },
    });
    expect(cap.status).to.equal(201);
    expect(cap.body.overagePricePerMillionStd).to.equal(null);
    expect(cap.body.reservedStdPerMin).to.equal(null);
    expect((await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '1.00' } })).status).to.equal(409);
  });

  it('refuses money as a JSON number, more than six decimals, and missing fields (400), creating nothing', async () => {
    const p = platform();
    for (const [body, path] of [
      [{ name: 'x1', type: 'unit', pricePerMillionStd: 2 }, 'pricePerMillionStd'],
      [{ name: 'x2', type: 'unit', pricePerMillionStd: '0.1234567' }, 'pricePerMillionStd'],
      [{ name: 'x3', type: 'unit', pricePerMillionStd: '-1.00' }, 'pricePerMillionStd'],
      [{ name: 'x4', type: 'periodic', period: 'month', fee: '1.00', includedStd: 10 }, 'overagePricePerMillionStd'],
      [{ name: 'x5', type: 'periodic', period: 'month', fee: 100, includedStd: 10, overagePricePerMillionStd: null }, 'fee'],
      [{ name: 'x6', type: 'periodic', period: 'year', fee: '1.00', includedStd: 10, overagePricePerMillionStd: null }, 'period'],
      [{ name: 'x7', type: 'unit', pricePerMillionStd: '1.00', reservedStdPerMin: 5 }, 'reservedStdPerMin'],
    ] as const) {
      const res = await p.request('POST', '/api/v1/plans', { body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).to.include(path);
    }
    expect((await p.request('GET', '/api/v1/plans')).body.items.map((x: { name: string }) => x.name)).to.not.include.members([
      'x1',
      'x2',
      'x3',
      'x4',
      'x5',
      'x6',
      'x7',
    ]);
    expect(
      (await p.request('POST', '/api/v1/plans', { token: tenant.apiKey, body: { name: 'mine', type: 'unit', pricePerMillionStd: '0.01' } })).status,
    ).to.equal(403);
  });

  it('marks another unit plan the default; a periodic plan cannot be', async () => {
    const p = platform();
    const res = await p.request('PATCH', `/api/v1/plans/${unit.id}`, { body: { default: true } });
    expect(res.body.default).to.equal(true);
    const defaults = (await p.request('GET', '/api/v1/plans')).body.items.filter((x: { default: boolean }) => x.default);
    expect(defaults.map((x: { id: string }) => x.id)).to.deep.equal([unit.id]);
    expect((await p.request('PATCH', `/api/v1/plans/${gov.id}`, { body: { default: true } })).status).to.equal(422);
  });

  it('subscribes a tenant; a new subscription ends the previous at its start; overlaps are 409 and unknown plans 422', async () => {
    const p = platform();
    const first = await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: unit.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ tenantId: tenant.id, planId: unit.id, startsAt: '2026-09-30T16:00:00.000Z', endsAt: null });
    const second = await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: gov.id, startsAt: '2026-10-16T00:00:00+08:00' } });
    expect(second.status).to.equal(201);
    const list = (await p.request('GET', `/api/v1/tenants/${tenant.id}/subscriptions`, { token: tenant.apiKey })).body.items;
    expect(list.map((s: { endsAt: string | null }) => s.endsAt)).to.deep.equal(['2026-10-15T16:00:00.000Z', null]);
    expect(
      (await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: unit.id, startsAt: '2026-10-10T00:00:00+08:00' } })).status,
    ).to.equal(409);
    expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: 'plan_nope' } })).status).to.equal(422);
    expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: unit.id, startsAt: '2026-10-20' } })).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/tenants/tn_nope/subscriptions', { body: { planId: unit.id } })).status).to.equal(404);
    expect((await p.request('GET', `/api/v1/tenants/${tenant.id}/subscriptions`, { token: tenant.apiKey })).body.items).to.have.length(2);
  });

  it("makes the subscription's reservedStdPerMin the tenant's quota, unless the operator overrides it", async () => {
    const p = platform();
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'tianhe-9', region: 'tianhe' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: c.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 64, healthy: 64 }] },
    });
    // gov-standard reserves 300,000 std/min: 400,000 tokens/min of a costFactor-1 model is past it.
    const big = (
      await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'big', model: 'qwen2.5-7b-instruct', tokensPerMin: 400_000 } })
    ).body;
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${big.id}`, { token: tenant.apiKey })).body).to.include({ state: 'pending', reason: 'quota' });
    // Quota counts whole replicas held: 400,000 tokens/min take three H100 replicas of 180,000.
    await p.request('PATCH', `/api/v1/tenants/${tenant.id}`, { body: { maxStdPerMin: 540_000 } });
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${big.id}`, { token: tenant.apiKey })).body.state).to.equal('placed');
  });
});
