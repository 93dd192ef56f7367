import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

describeOnDatabases('ledger: the list of payments', (platform) => {
  let a: { id: string; apiKey: string };
  let b: { id: string; apiKey: string };

  before(async () => {
    const p = platform();
    p.clock.set('2026-11-05T10:00:00+08:00');
    a = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    b = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Logistics', kind: 'enterprise', billingMode: 'prepaid' } })).body;
    const pay = (tenantId: string, amount: string, reference: string) =>
      p.request('POST', '/api/v1/payments', { body: { tenantId, amount, reference, receivedAt: '2026-11-05T09:00:00+08:00' } });
    expect((await pay(a.id, '100.00', 'BANK-1')).status).to.equal(201);
    expect((await pay(a.id, '20.50', 'BANK-2')).status).to.equal(201);
    expect((await p.request('POST', `/api/v1/tenants/${b.id}/top-ups`, { body: { amount: '300.00', reference: 'TOPUP-1' } })).status).to.equal(201);
  });

  it('lists every payment for the operator, or one tenant’s, a page at a time', async () => {
    const p = platform();
    const every = (await p.request('GET', '/api/v1/payments')).body;
    expect(every.items.map((x: { reference: string; kind: string; amount: string }) => [x.reference, x.kind, x.amount])).to.have.deep.members([
      ['BANK-1', 'payment', '100.00'],
      ['BANK-2', 'payment', '20.50'],
      ['TOPUP-1', 'top_up', '300.00'],
    ]);
    expect(every.nextCursor).to.equal(null);
    const ofA = (await p.request('GET', `/api/v1/payments?tenantId=${a.id}`)).body.items;
    expect(ofA.map((x: { reference: string }) => x.reference)).to.have.members(['BANK-1', 'BANK-2']);
    const first = (await p.request('GET', '/api/v1/payments?limit=2')).body;
    expect(first.items).to.have.length(2);
    const rest = (await p.request('GET', `/api/v1/payments?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).body;
    expect([...first.items, ...rest.items]).to.deep.equal(every.items);
    expect(rest.nextCursor).to.equal(null);
    expect((await p.request('GET', '/api/v1/payments?limit=0')).status).to.equal(400);
  });

  it('gives a tenant its own payments only, and not found for another tenant', async () => {
    const p = platform();
    const own = (await p.request('GET', '/api/v1/payments', { token: b.apiKey })).body.items;
    expect(own.map((x: { reference: string; tenantId: string }) => [x.reference, x.tenantId])).to.deep.equal([['TOPUP-1', b.id]]);
    expect((await p.request('GET', `/api/v1/payments?tenantId=${b.id}`, { token: b.apiKey })).body.items).to.have.length(1);
    expect((await p.request('GET', `/api/v1/payments?tenantId=${a.id}`, { token: b.apiKey })).status).to.equal(404);
  });
});
