import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

async function placedWorkload(p: TestPlatform, tenantKey: string, clusterToken: string) {
  const w = (
    await p.request('POST', '/api/v1/workloads', {
      token: tenantKey,
      body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
    })
  ).body;
  await p.app.scheduler.runCycle();
  await p.request('POST', '/api/v1/agent/heartbeat', { token: clusterToken, body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] } });
  return w.id as string;
}

describeOnDatabases('billing: from subscription through usage to invoice', (platform) => {
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let late: { id: string; apiKey: string };
  let cluster: { id: string; agentToken: string };
  let govPlan: string;
  let unitPlan: string;
  let govWorkload: string;
  let firmWorkload: string;

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    gov = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    firm = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Logistics', kind: 'enterprise' } })).body;
    late = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Haizhu District Office', kind: 'government' } })).body;
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    govPlan = (
      await p.request('POST', '/api/v1/plans', {
        body: {
          name: 'gov-standard',
          type: 'periodic',
          period: 'month',
          fee: '10000.00',
          includedStd: 1_000_000_000,
          overagePricePerMillionStd: '8.00',
          reservedStdPerMin: 300_000,
        },
      })
    ).body.id;
    unitPlan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '2.50' } })).body.id;
    expect(
      (await p.request('POST', `/api/v1/tenants/${gov.id}/subscriptions`, { body: { planId: govPlan, startsAt: '2026-10-16T00:00:00+08:00' } })).status,
    ).to.equal(201);
    expect(
      (await p.request('POST', `/api/v1/tenants/${firm.id}/subscriptions`, { body: { planId: unitPlan, startsAt: '2026-10-01T00:00:00+08:00' } })).status,
    ).to.equal(201);
    govWorkload = await placedWorkload(p, gov.apiKey, cluster.agentToken);
    firmWorkload = await placedWorkload(p, firm.apiKey, cluster.agentToken);
  });

  function usage(p: TestPlatform, events: object[]) {
    return p.request('POST', '/api/v1/agent/usage', { token: cluster.agentToken, body: { events } });
  }

  it('refuses to close a month that has not ended (409) and a malformed period (400)', async () => {
    const p = platform();
    p.clock.set('2026-10-31T23:59:00+08:00');
    expect((await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).status).to.equal(409);
    expect((await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-13' } })).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/billing/close', { token: gov.apiKey, body: { period: '2026-09' } })).status).to.equal(403);
  });

  it('issues one invoice per tenant with exact, prorated lines and sequential numbers', async () => {
    const p = platform();
    // Oct 10 (before gov's subscription: default plan) and Oct 20 (gov-standard), and the firm's usage.
    const res = await usage(p, [
      { id: 'e-gov-1', workloadId: govWorkload, inputTokens: 4_000_000, outputTokens: 1_000_000, occurredAt: '2026-10-10T12:00:00+08:00' },
      { id: 'e-gov-2', workloadId: govWorkload, inputTokens: 400_000_000, outputTokens: 1_100_000_000, occurredAt: '2026-10-20T12:00:00+08:00' },
      { id: 'e-firm-1', workloadId: firmWorkload, inputTokens: 1_234_567, outputTokens: 765_433, occurredAt: '2026-10-31T23:59:59+08:00' },
    ]);
    expect(res.body).to.include({ accepted: 3, duplicates: 0 });
    p.clock.set('2026-11-01T00:30:00+08:00');
    const close = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(close.status).to.equal(200);
    const byTenant = new Map(close.body.items.map((i: { tenantId: string }) => [i.tenantId, i]));
    expect(close.body.items.map((i: { number: string }) => i.number).sort()).to.deep.equal(['INV-2026-000001', 'INV-2026-000002']);
    const g = byTenant.get(gov.id) as { lines: { kind: string; amount: string }[]; total: string; currency: string; status: string };
    // Default plan (2.00 / million): 1 × (1,000,000 + 0.25 × 4,000,000) = 2,000,000 std → 4.00.
    // gov-standard, 16 of 31 days: fee 10000 × 16/31 = 5161.290… → 5161.29; included floor(1e9 × 16/31) = 516,129,032;
    // usage 1,100,000,000 + 0.25 × 400,000,000 = 1,200,000,000; overage 683,870,968 std × 8.00/1e6 = 5470.967744 → 5470.97.
    expect(g).to.include({ currency: 'CNY', status: 'issued' });
    expect(g.lines.map((l) => [l.kind, l.amount])).to.have.deep.members([
      ['fee', '5161.29'],
      ['overage', '5470.97'],
      ['usage', '4.00'],
    ]);
    expect(g.total).to.equal('10636.26');
    const f = byTenant.get(firm.id) as { lines: { kind: string; amount: string }[]; total: string };
    // 765,433 + 0.25 × 1,234,567 = 1,074,074.75 std × 2.50 / 1e6 = 2.685186875 → 2.69.
    expect(f.lines.map((l) => [l.kind, l.amount])).to.deep.equal([['usage', '2.69']]);
    expect(f.total).to.equal('2.69');
    expect(byTenant.has(late.id)).to.equal(false);
  });

  it('is idempotent: closing again issues nothing new and changes nothing', async () => {
    const p = platform();
    const before = (await p.request('GET', '/api/v1/invoices?period=2026-10')).body.items;
    const again = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(again.body.items).to.deep.equal(before);
  });

  it('gives a backdated subscription its invoice on the next close, numbered after the others', async () => {
    const p = platform();
    await p.request('POST', `/api/v1/tenants/${late.id}/subscriptions`, { body: { planId: govPlan, startsAt: '2026-10-25T00:00:00+08:00' } });
    const res = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    const mine = res.body.items.find((i: { tenantId: string }) => i.tenantId === late.id);
    expect(mine.number).to.equal('INV-2026-000003');
    // 7 of 31 days (Oct 25–31): 10000 × 7/31 = 2258.064… → 2258.06.
    expect(mine.lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount])).to.deep.equal([['fee', '2258.06']]);
    expect(res.body.items).to.have.length(3);
  });

  it('bills usage that arrives after its invoice on the next invoice, as a late_usage line', async () => {
    const p = platform();
    p.clock.set('2026-11-03T10:00:00+08:00');
    // 1,000,000 more std for the firm in October: 2.50 more, i.e. what its October invoice would have grown by.
    expect(
      (await usage(p, [{ id: 'e-firm-late', workloadId: firmWorkload, inputTokens: 0, outputTokens: 1_000_000, occurredAt: '2026-10-30T08:00:00+08:00' }])).body
        .accepted,
    ).to.equal(1);
    p.clock.set('2026-12-01T01:00:00+08:00');
    const res = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    const f = res.body.items.find((i: { tenantId: string }) => i.tenantId === firm.id);
    // October: 1,074,074.75 std → 2.69; with the late million 2,074,074.75 → 5.185186875 → 5.19: the late line is 2.50.
    expect(f.lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount])).to.have.deep.members([
      ['usage', '0.00'],
      ['late_usage', '2.50'],
    ]);
    expect(f.total).to.equal('2.50');
    const oct = (await p.request('GET', `/api/v1/invoices?tenantId=${firm.id}&period=2026-10`)).body.items[0];
    expect(oct.total).to.equal('2.69');
  });

  it('shows a tenant only its own invoices', async () => {
    const p = platform();
    const mine = (await p.request('GET', '/api/v1/invoices', { token: firm.apiKey })).body.items;
    expect(mine.length).to.be.greaterThan(0);
    expect(mine.every((i: { tenantId: string }) => i.tenantId === firm.id)).to.equal(true);
    const govInvoice = (await p.request('GET', `/api/v1/invoices?tenantId=${gov.id}`)).body.items[0];
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`, { token: firm.apiKey })).status).to.equal(404);
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`, { token: gov.apiKey })).status).to.equal(200);
  });
});
