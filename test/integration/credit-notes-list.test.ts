import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

describeOnDatabases('ledger: the list of credit notes', (platform) => {
  let a: { id: string; apiKey: string };
  let b: { id: string; apiKey: string };
  let invoiceA: string;
  let invoiceB: string;

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    a = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    b = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Tianhe Hospital', kind: 'government' } })).body;
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'monthly-100', type: 'periodic', period: 'month', fee: '100.00', includedStd: 1_000_000, overagePricePerMillionStd: '1.00' },
      })
    ).body;
    for (const t of [a, b])
      await p.request('POST', `/api/v1/tenants/${t.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    p.clock.set('2026-11-02T10:00:00+08:00');
    const invoices = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).body.items as { id: string; tenantId: string }[];
    invoiceA = invoices.find((i) => i.tenantId === a.id)!.id;
    invoiceB = invoices.find((i) => i.tenantId === b.id)!.id;
    const note = (invoiceId: string, body: object) => p.request('POST', `/api/v1/invoices/${invoiceId}/credit-notes`, { body });
    // Each invoice owes 106.00 (6 % VAT on the 100.00 fee).
    expect((await note(invoiceA, { amount: '10.60', reason: 'goodwill' })).body).to.include({ total: '-10.60', vat: '-0.60' });
    expect((await note(invoiceB, { amount: '5.30', reason: 'outage' })).status).to.equal(201);
    expect((await note(invoiceA, { reason: 'cancelled' })).body).to.include({ total: '-95.40', vat: '-5.40' });
  });

  it('lists every credit note for the operator, or by tenant or invoice, a page at a time, with the VAT each took back', async () => {
    const p = platform();
    const every = (await p.request('GET', '/api/v1/credit-notes')).body;
    expect(
      every.items.map((x: { tenantId: string; invoiceId: string; total: string; vat: string; reason: string }) => [x.tenantId, x.total, x.vat, x.reason]),
    ).to.have.deep.members([
      [a.id, '-10.60', '-0.60', 'goodwill'],
      [b.id, '-5.30', '-0.30', 'outage'],
      [a.id, '-95.40', '-5.40', 'cancelled'],
    ]);
    expect(every.nextCursor).to.equal(null);
    expect(every.items.every((x: { number: string }) => /^CN-2026-\d{6}$/.test(x.number))).to.equal(true);
    const ofA = (await p.request('GET', `/api/v1/credit-notes?tenantId=${a.id}`)).body.items;
    expect(ofA.map((x: { reason: string }) => x.reason)).to.have.members(['goodwill', 'cancelled']);
    const ofB = (await p.request('GET', `/api/v1/credit-notes?invoiceId=${invoiceB}`)).body.items;
    expect(ofB.map((x: { invoiceId: string; reason: string }) => [x.invoiceId, x.reason])).to.deep.equal([[invoiceB, 'outage']]);
    expect((await p.request('GET', `/api/v1/credit-notes?tenantId=${a.id}&invoiceId=${invoiceB}`)).body.items).to.deep.equal([]);

    const first = (await p.request('GET', '/api/v1/credit-notes?limit=2')).body;
    expect(first.items).to.have.length(2);
    const rest = (await p.request('GET', `/api/v1/credit-notes?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).body;
    expect([...first.items, ...rest.items]).to.deep.equal(every.items);
    expect(rest.nextCursor).to.equal(null);
    for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'cursor=', 'other=1', 'tenantId=']) {
      const res = await p.request('GET', `/api/v1/credit-notes?${bad}`);
      expect([res.status, res.headers.get('content-type')], bad).to.deep.equal([400, 'application/problem+json; charset=utf-8']);
    }
    expect((await p.request('GET', '/api/v1/credit-notes', { token: 'tp_nope' })).status).to.equal(401);
  });

  it('gives a tenant its own credit notes only, and not found for another tenant', async () => {
    const p = platform();
    const own = (await p.request('GET', '/api/v1/credit-notes', { token: b.apiKey })).body.items;
    expect(own.map((x: { tenantId: string; reason: string }) => [x.tenantId, x.reason])).to.deep.equal([[b.id, 'outage']]);
    expect((await p.request('GET', `/api/v1/credit-notes?tenantId=${b.id}`, { token: b.apiKey })).body.items).to.have.length(1);
    expect((await p.request('GET', `/api/v1/credit-notes?tenantId=${a.id}`, { token: b.apiKey })).status).to.equal(404);
    // Another tenant's invoice lists nothing.
    expect((await p.request('GET', `/api/v1/credit-notes?invoiceId=${invoiceA}`, { token: b.apiKey })).body.items).to.deep.equal([]);
  });
});
