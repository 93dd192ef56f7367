import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

/** Per-model prices (issue 15) from plan to invoice, on a fake clock. */
describeOnDatabases('per-model prices: a tenant invoiced exactly per model', (platform) => {
  let cluster: { id: string; agentToken: string };

  async function tenantOn(p: TestPlatform, name: string, plan: object) {
    const created = await p.request('POST', '/api/v1/plans', { body: plan });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } })).body;
    await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: created.body.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const workloads: Record<string, string> = {};
    for (const model of ['qwen2.5-7b-instruct', 'qwen2.5-32b-instruct', 'qwen2.5-72b-instruct']) {
      const w = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: model, model, tokensPerMin: 100, access: 'direct' } });
      workloads[model] = w.body.id;
    }
    await p.app.scheduler.runCycle();
    return { tenant, plan: created.body, workloads };
  }

  function usage(p: TestPlatform, events: object[]) {
    return p.request('POST', '/api/v1/agent/usage', { token: cluster.agentToken, body: { events } });
  }

  it('bills a usage line per differently priced model (unit) and priced overage per model (periodic)', async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-1', region: 'huangpu' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 16, healthy: 16 }] },
    });

    const unit = await tenantOn(p, 'Tianhe Analytics', {
      name: 'tiered',
      type: 'unit',
      pricePerMillionStd: '2.00',
      modelPrices: { 'qwen2.5-32b-instruct': { multiplier: '1.5' }, 'qwen2.5-72b-instruct': { pricePerMillionStd: '12.00' } },
    });
    expect(unit.plan.modelPrices).to.deep.equal({ 'qwen2.5-32b-instruct': { multiplier: '1.5' }, 'qwen2.5-72b-instruct': { pricePerMillionStd: '12.00' } });
    const periodic = await tenantOn(p, 'Baiyun Logistics', {
      name: 'bundle',
      type: 'periodic',
      period: 'month',
      fee: '100.00',
      includedStd: 1_000_000,
      overagePricePerMillionStd: '8.00',
      modelPrices: { 'qwen2.5-32b-instruct': { multiplier: '2' } },
    });
    const at = '2026-10-15T12:00:00+08:00';
    p.clock.set(at);
    const res = await usage(p, [
      // 7b: 1,000,000 std. 32b: 4.5 × (100,000 + 0.25 × 400,000) = 900,000 std. 72b: 10 × 12,345 = 123,450 std.
      { id: 'u-7b', workloadId: unit.workloads['qwen2.5-7b-instruct'], inputTokens: 0, outputTokens: 1_000_000, occurredAt: at },
      { id: 'u-32b', workloadId: unit.workloads['qwen2.5-32b-instruct'], inputTokens: 400_000, outputTokens: 100_000, occurredAt: at },
      { id: 'u-72b', workloadId: unit.workloads['qwen2.5-72b-instruct'], inputTokens: 0, outputTokens: 12_345, occurredAt: at },
      // 32b: 900,000 std, priced ×2 = 1,800,000; 7b: 100,000 std.
      { id: 'p-32b', workloadId: periodic.workloads['qwen2.5-32b-instruct'], inputTokens: 400_000, outputTokens: 100_000, occurredAt: at },
      { id: 'p-7b', workloadId: periodic.workloads['qwen2.5-7b-instruct'], inputTokens: 0, outputTokens: 100_000, occurredAt: at },
    ]);
    expect(res.body.accepted, JSON.stringify(res.body)).to.equal(5);
    // The month so far is rated the same way.
    const me = (await p.request('GET', '/api/v1/me', { token: unit.tenant.apiKey })).body;
    expect(me.costSoFar).to.equal('6.18');
    expect(me.subscription.plan.modelPrices).to.have.keys('qwen2.5-32b-instruct', 'qwen2.5-72b-instruct');

    p.clock.set('2026-11-01T01:00:00+08:00');
    const closed = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    const of = (t: { id: string }) => closed.body.items.find((inv: { tenantId: string }) => inv.tenantId === t.id);
    const lines = (t: { id: string }) =>
      of(t).lines.map((l: { kind: string; quantity: string; unitPrice: string; amount: string }) => [l.kind, l.quantity, l.unitPrice, l.amount]);
    expect(lines(unit.tenant)).to.deep.equal([
      ['usage', '1', '2.00', '2.00'],
      ['usage', '0.9', '3.00', '2.70'],
      ['usage', '0.12345', '12.00', '1.48'],
    ]);
    expect(of(unit.tenant).total).to.equal('6.18');
    expect(of(unit.tenant).lines[1].description).to.contain('qwen2.5-32b-instruct');
    // Both at ¥8 per priced std: the named model is covered first (1,000,000 of its 1,800,000), then the rest.
    expect(lines(periodic.tenant)).to.deep.equal([
      ['fee', '1', '100.00', '100.00'],
      ['overage', '0.1', '8.00', '0.80'],
      ['overage', '0.8', '8.00', '6.40'],
    ]);
    expect(of(periodic.tenant).total).to.equal('107.20');
  });
});
