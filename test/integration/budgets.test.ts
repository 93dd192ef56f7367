import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

describeOnDatabases('budgets and alerts', (platform) => {
  it('raises one alert per threshold crossed in a month, visible to the operator and that tenant only', async () => {
    const p = platform();
    p.clock.set('2026-10-10T10:00:00+08:00');
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huangpu Port Authority', kind: 'government' } })).body;
    const other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Another Bureau', kind: 'government' } })).body;
    const plan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered-10', type: 'unit', pricePerMillionStd: '10.00' } })).body;
    await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-1', region: 'huangpu' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: c.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    const w = (
      await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'w', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      })
    ).body;
    await p.app.scheduler.runCycle();

    expect((await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { body: { monthlyCny: 100, thresholds: [80] } })).status).to.equal(400);
    const set = await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { token: tenant.apiKey, body: { monthlyCny: '100.00', thresholds: [100, 80] } });
    expect(set.status).to.equal(200);
    expect(set.body).to.include({ monthlyCny: '100.00' });
    expect(set.body.thresholds).to.deep.equal([80, 100]);
    expect((await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { token: other.apiKey, body: { monthlyCny: '1.00' } })).status).to.equal(404);

    const spend = (id: string, outputTokens: number) =>
      p.request('POST', '/api/v1/agent/usage', {
        token: c.agentToken,
        body: { events: [{ id, workloadId: w.id, inputTokens: 0, outputTokens, occurredAt: '2026-10-10T09:00:00+08:00' }] },
      });
    // ¥10 per million: 7,600,000 tokens = ¥76.00, ¥80.56 with the plan's 6 % VAT — past 80% of a budget counted inclusive of VAT.
    await spend('b1', 7_600_000);
    expect(await p.app.context.services.budgets.evaluate()).to.equal(1);
    expect(await p.app.context.services.budgets.evaluate()).to.equal(0);
    await spend('b2', 2_000_000); // ¥96.00, ¥101.76 inclusive — past 100%
    expect(await p.app.context.services.budgets.evaluate()).to.equal(1);

    const mine = (await p.request('GET', '/api/v1/alerts', { token: tenant.apiKey })).body.items;
    expect(mine.map((a: { threshold: number; period: string; costSoFar: string }) => [a.threshold, a.period, a.costSoFar])).to.deep.equal([
      [80, '2026-10', '80.56'],
      [100, '2026-10', '101.76'],
    ]);
    expect((await p.request('GET', '/api/v1/alerts', { token: other.apiKey })).body.items).to.deep.equal([]);
    expect((await p.request('GET', `/api/v1/alerts?tenantId=${tenant.id}`)).body.items).to.have.length(2);

    // A new month starts afresh.
    p.clock.set('2026-11-02T10:00:00+08:00');
    expect(await p.app.context.services.budgets.evaluate()).to.equal(0);
  });
});
