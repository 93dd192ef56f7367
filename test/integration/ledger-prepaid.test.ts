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
    const costSoFar = async (p: TestPlatform): Promise<string> => (await p.request('GET', '/api/v1/me', { token: tenant.apiKey })).body.costSoFar;
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
      expect(new Decimal(invoice.total).gte('1.00')).to.equal(true);
      expect(new Decimal(invoice.total).lt('6.00')).to.equal(true);
      expect(invoice).to.include({ status: 'paid', paid: invoice.total, outstanding: '0.00' });
      expect(await balance(p)).to.include({ prepaid: new Decimal('6.00').minus(invoice.total).toFixed(2), receivable: '0.00' });
      const refund = await p.request('POST', `/api/v1/tenants/${tenant.id}/refunds`, {
        body: { amount: new Decimal('6.00').minus(invoice.total).toFixed(2), reference: 'RF-PREPAID', from: 'prepaid' },
      });
      expect(refund.status).to.equal(201);
      expect(await balance(p)).to.include({ prepaid: '0.00' });
      expect((await p.request('GET', '/api/v1/ledger/balances')).body.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
    });
  },
);
