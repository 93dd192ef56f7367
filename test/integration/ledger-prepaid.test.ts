import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import OpenAI from 'openai';
import { MODEL, serveModel, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

describeOnDatabases(
  'a prepaid tenant: topped up, used down, stopped at zero by the gateway, topped up again, its invoice paid from the balance',
  (platform) => {
    let tenant: { id: string; apiKey: string; billingMode: string };
    let served: ServedModel;
    let client: OpenAI;

    const call = (maxTokens: number) =>
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: maxTokens }).catch((e: unknown) => e);
    const balance = async (p: TestPlatform) => (await p.request('GET', `/api/v1/tenants/${tenant.id}/balance`, { token: tenant.apiKey })).body;
    const topUp = (p: TestPlatform, amount: string, reference: string) =>
      p.request('POST', `/api/v1/tenants/${tenant.id}/top-ups`, { body: { amount, reference } });
    // What the tenant will really pay for the month so far: inclusive of VAT, as the close will draw it.
    const costSoFar = async (p: TestPlatform): Promise<string> => (await p.request('GET', '/api/v1/me', { token: tenant.apiKey })).body.costSoFarInclusive;
    // Past the gateway's cache of tenants with nothing left to spend.
    const later = (p: TestPlatform) => p.clock.advance(6000);

    function expectRefused(answer: unknown): void {
      expect(answer).to.be.instanceOf(OpenAI.RateLimitError);
      expect((answer as InstanceType<typeof OpenAI.APIError>).code).to.equal('insufficient_quota');
    }

    before(async () => {
      const p = platform();
      p.clock.set('2026-10-10T10:00:00+08:00');
      tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Robotics', kind: 'enterprise' } })).body;
      // A price of a fen per standard token: a few calls use up a top-up of 1.00.
      const plan = (await p.request('POST', '/api/v1/plans', { body: { name: 'dear', type: 'unit', pricePerMillionStd: '10000.00' } })).body;
      await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
      served = await serveModel(p, tenant.apiKey, { clusterName: 'prepaid-1' });
      client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    });

    after(async () => {
      await served?.engine.close();
    });

    it('is prepaid by default as an enterprise, and refused before any top-up', async () => {
      const p = platform();
      expect(tenant.billingMode).to.equal('prepaid');
      later(p);
      expectRefused(await call(5));
      expect(await balance(p)).to.include({ billingMode: 'prepaid', prepaid: '0.00', receivable: '0.00' });
    });

    it('is served once topped up, stopped when its usage reaches the balance, and served again after another top-up', async () => {
      const p = platform();
      const first = await topUp(p, '1.00', 'TOPUP-1');
      expect([first.status, first.body.prepaid, first.body.kind]).to.deep.equal([201, '1.00', 'top_up']);
      expect((await topUp(p, '1.00', 'TOPUP-1')).status).to.equal(200);
      // Served while the month's cost so far is below the balance (each call starts below it), refused once it is not.
      let servedCalls = 0;
      for (;;) {
        later(p);
        const before = await costSoFar(p);
        const answer = await call(150);
        if (answer instanceof Error) {
          expectRefused(answer);
          expect(new Decimal(before).gte('1.00'), `refused at a cost of ${before}`).to.equal(true);
          break;
        }
        expect(new Decimal(before).lt('1.00'), `served at a cost of ${before}`).to.equal(true);
        expect(++servedCalls).to.be.below(50);
      }
      expect(servedCalls).to.be.above(1);
      expect((await topUp(p, '5.00', 'TOPUP-2')).body.prepaid).to.equal('6.00');
      later(p);
      expect(await call(5)).to.not.be.instanceOf(Error);
      // A postpaid tenant does not top up.
      const gov = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Yuexiu Parks', kind: 'government' } })).body;
      expect(gov.billingMode).to.equal('postpaid');
      expect((await p.request('POST', `/api/v1/tenants/${gov.id}/top-ups`, { body: { amount: '1.00', reference: 'TOPUP-GOV' } })).status).to.equal(409);
    });

    it('pays its invoice from the prepaid balance at the close', async () => {
      const p = platform();
      p.clock.set('2026-11-01T00:30:00+08:00');
      const closed = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
      const invoice = closed.body.items.find((i: { tenantId: string }) => i.tenantId === tenant.id);
      // The balance pays what the tenant owes: the total inclusive of VAT.
      expect(new Decimal(invoice.totalInclusive).gte('1.00')).to.equal(true);
      expect(new Decimal(invoice.totalInclusive).lt('6.00')).to.equal(true);
      expect(invoice).to.include({ status: 'paid', paid: invoice.totalInclusive, outstanding: '0.00' });
      expect(await balance(p)).to.include({ prepaid: new Decimal('6.00').minus(invoice.totalInclusive).toFixed(2), receivable: '0.00' });
      const refund = await p.request('POST', `/api/v1/tenants/${tenant.id}/refunds`, {
        body: { amount: new Decimal('6.00').minus(invoice.totalInclusive).toFixed(2), reference: 'RF-PREPAID', from: 'prepaid' },
      });
      expect(refund.status).to.equal(201);
      expect(await balance(p)).to.include({ prepaid: '0.00' });
      expect((await p.request('GET', '/api/v1/ledger/balances')).body.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
    });
  },
);

describeOnDatabases('the prepaid stop counts what the tenant will really pay: VAT-inclusive, per-model prices as the close rates them', (platform) => {
  it('stops a tenant whose balance covers the exclusive cost but not its VAT, and the close draws exactly that inclusive amount', async () => {
    const p = platform();
    p.clock.set('2026-10-10T10:00:00+08:00');
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Logistics', kind: 'enterprise' } })).body;
    // ¥1.00 per million, the 7B model at ten times that; VAT 13 %.
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'priced-7b', type: 'unit', pricePerMillionStd: '1.00', vatRate: '0.13', modelPrices: { 'qwen2.5-7b-instruct': { multiplier: '10' } } },
      })
    ).body;
    await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-prepaid', region: 'nansha' } })).body;
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
    expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/top-ups`, { body: { amount: '10.00', reference: 'TOPUP-VAT-1' } })).status).to.equal(201);
    const ledger = p.app.context.services.ledger;
    expect((await ledger.exhaustedPrepaid()).has(tenant.id)).to.equal(false);

    // 950,000 standard tokens of the 7B model at ¥10.00 per million: ¥9.50, ¥10.74 with 13 % VAT (at the plan's ¥1.00: ¥1.07).
    const usage = await p.request('POST', '/api/v1/agent/usage', {
      token: c.agentToken,
      body: { events: [{ id: 'pre-1', workloadId: w.id, inputTokens: 0, outputTokens: 950_000, occurredAt: '2026-10-10T09:00:00+08:00' }] },
    });
    expect(usage.body.accepted).to.equal(1);
    const me = (await p.request('GET', '/api/v1/me', { token: tenant.apiKey })).body;
    expect([me.costSoFar, me.costSoFarInclusive]).to.deep.equal(['9.50', '10.74']);
    expect((await ledger.exhaustedPrepaid()).has(tenant.id), 'a balance of 10.00 does not cover 10.74').to.equal(true);

    expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/top-ups`, { body: { amount: '0.74', reference: 'TOPUP-VAT-2' } })).status).to.equal(201);
    expect((await ledger.exhaustedPrepaid()).has(tenant.id), 'a balance of 10.74 is used up exactly').to.equal(true);
    expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/top-ups`, { body: { amount: '0.01', reference: 'TOPUP-VAT-3' } })).status).to.equal(201);
    expect((await ledger.exhaustedPrepaid()).has(tenant.id)).to.equal(false);

    // The close draws what the stop counted.
    p.clock.set('2026-11-01T00:30:00+08:00');
    const closed = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    const invoice = closed.body.items.find((i: { tenantId: string }) => i.tenantId === tenant.id);
    expect([invoice.total, invoice.totalInclusive, invoice.status]).to.deep.equal(['9.50', '10.74', 'paid']);
    expect((await p.request('GET', `/api/v1/tenants/${tenant.id}/balance`)).body).to.include({ prepaid: '0.01', receivable: '0.00' });
  });
});
