import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

describeOnDatabases('hard-capped plans', (platform) => {
  it('holds new workloads with plan_exhausted once the included tokens are used, keeps running ones, and lets them go next month', async () => {
    const p = platform();
    p.clock.set('2026-10-20T10:00:00+08:00');
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Panyu District Office', kind: 'government' } })).body;
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'capped', type: 'periodic', period: 'month', fee: '100.00', includedStd: 31_000, overagePricePerMillionStd: null },
      })
    ).body;
    await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'panyu-1', region: 'panyu' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: c.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    const first = (
      await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'one', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      })
    ).body;
    await p.app.scheduler.runCycle();
    // 31 active days of 31: all 31,000 included standard tokens; use 30,999, then 1 more.
    const report = (id: string, outputTokens: number) =>
      p.request('POST', '/api/v1/agent/usage', {
        token: c.agentToken,
        body: { events: [{ id, workloadId: first.id, inputTokens: 0, outputTokens, occurredAt: '2026-10-20T09:00:00+08:00' }] },
      });
    await report('u1', 30_999);
    const second = (
      await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'two', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      })
    ).body;
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${second.id}`, { token: tenant.apiKey })).body.state).to.equal('placed');
    await report('u2', 1);
    const third = (
      await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'three', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      })
    ).body;
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${third.id}`, { token: tenant.apiKey })).body).to.include({ state: 'pending', reason: 'plan_exhausted' });
    expect((await p.request('GET', `/api/v1/workloads/${first.id}`, { token: tenant.apiKey })).body.state).to.equal('placed');

    p.clock.set('2026-11-01T00:01:00+08:00');
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: c.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    await p.app.scheduler.runCycle();
    expect((await p.request('GET', `/api/v1/workloads/${third.id}`, { token: tenant.apiKey })).body.state).to.equal('placed');
    // The invoice bills the fee and no overage, however far past the cap usage went.
    const invoice = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).body.items[0];
    expect(invoice.lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount])).to.deep.equal([['fee', '100.00']]);
  });
});
