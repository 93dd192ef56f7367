import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import { sql } from 'kysely';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Invoice {
  readonly id: string;
  readonly tenantId: string;
  readonly status: string;
  readonly total: string;
  readonly paid: string;
  readonly credited: string;
  readonly outstanding: string;
}

interface Tenant {
  readonly id: string;
  readonly apiKey: string;
}

// A valid unified social credit code (GB 32100-2015 check character).
const USCC = '91350100M000100Y43';

describeOnDatabases('the ledger: invoices, payments, credit notes, a bank statement and ageing on a fake clock', (platform) => {
  const t: Record<'a' | 'b' | 'c' | 'd', Tenant> = {} as never;
  const invoice: Record<string, Invoice> = {};
  let cluster: { agentToken: string };
  const workloadOf = new Map<string, string>();

  const get = async (p: TestPlatform, id: string): Promise<Invoice> => (await p.request('GET', `/api/v1/invoices/${id}`)).body;
  const pay = (p: TestPlatform, body: Record<string, unknown>) => p.request('POST', '/api/v1/payments', { body });
  const csv = (p: TestPlatform, text: string) => p.request('POST', '/api/v1/payments/import', { raw: text, headers: { 'content-type': 'text/csv' } });

  /** Every receivable equals what its tenant was invoiced less payments and credit notes, and every entry balances. */
  async function expectReceivables(p: TestPlatform, payments: Record<string, string>): Promise<void> {
    const invoices: Invoice[] = (await p.request('GET', '/api/v1/invoices?limit=100')).body.items;
    const balances = (await p.request('GET', '/api/v1/ledger/balances?kind=receivable')).body;
    for (const tenant of Object.values(t)) {
      const mine = invoices.filter((i) => i.tenantId === tenant.id);
      const expected = mine
        .reduce((s, i) => s.plus(i.total).minus(i.credited), new Decimal(0))
        .minus(payments[tenant.id] ?? 0)
        .toFixed(2);
      const account = balances.items.find((a: { tenantId: string }) => a.tenantId === tenant.id);
      expect(account?.balance ?? '0.00', `receivable of ${tenant.id}`).to.equal(expected);
    }
    expect(balances.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const make = async (name: string, extra: Record<string, unknown> = {}) =>
      (await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'government', ...extra } })).body as Tenant;
    t.a = await make('Huangpu Roads Office');
    t.b = await make('Panyu Health Bureau', { uscc: USCC });
    t.c = await make('Baiyun Archives');
    t.d = await make('Liwan Library');
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'ledger-1', region: 'tianhe' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    for (const tenant of Object.values(t)) {
      const w = await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      });
      workloadOf.set(tenant.id, w.body.id);
    }
    await p.app.scheduler.runCycle();
    // Default plan, ¥2.00 a million: a 100.00, b 50.00, c 20.00, d 30.00.
    p.clock.set('2026-10-20T10:00:00+08:00');
    const tokens: [Tenant, number][] = [
      [t.a, 50_000_000],
      [t.b, 25_000_000],
      [t.c, 10_000_000],
      [t.d, 15_000_000],
    ];
    const usage = await p.request('POST', '/api/v1/agent/usage', {
      token: cluster.agentToken,
      body: {
        events: tokens.map(([tenant, n]) => ({
          id: `oct-${tenant.id}`,
          workloadId: workloadOf.get(tenant.id),
          inputTokens: 0,
          outputTokens: n,
          occurredAt: '2026-10-20T09:00:00+08:00',
        })),
      },
    });
    expect(usage.body.accepted).to.equal(4);
    p.clock.set('2026-11-01T00:30:00+08:00');
    const closed = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    for (const i of closed.body.items as Invoice[]) invoice[i.tenantId] = i;
    expect(Object.values(t).map((x) => [invoice[x.id]?.total, invoice[x.id]?.status])).to.deep.equal([
      ['100.00', 'issued'],
      ['50.00', 'issued'],
      ['20.00', 'issued'],
      ['30.00', 'issued'],
    ]);
  });

  it("chooses a tenant's billing mode by its kind unless the operator says, and validates its unified social credit code", async () => {
    const p = platform();
    const make = (body: Record<string, unknown>) => p.request('POST', '/api/v1/tenants', { body });
    const firm = await make({ name: 'Tianhe Software', kind: 'enterprise' });
    expect([firm.status, firm.body.billingMode, firm.body.uscc]).to.deep.equal([201, 'prepaid', null]);
    expect((await make({ name: 'Nansha Chips', kind: 'enterprise', billingMode: 'postpaid' })).body.billingMode).to.equal('postpaid');
    const badCode = await make({ name: 'Bad Code Ltd', kind: 'enterprise', uscc: '91350100M000100Y44' });
    expect([badCode.status, badCode.body.errors?.[0]?.path]).to.deep.equal([400, 'uscc']);
    expect((await make({ name: 'Same Code Ltd', kind: 'enterprise', uscc: USCC })).status).to.equal(409);
    const patched = await p.request('PATCH', `/api/v1/tenants/${firm.body.id}`, { body: { billingMode: 'postpaid' } });
    expect([patched.status, patched.body.billingMode]).to.deep.equal([200, 'postpaid']);
    expect((await p.request('PATCH', `/api/v1/tenants/${firm.body.id}`, { body: { uscc: USCC } })).status).to.equal(409);
    expect((await p.request('PATCH', `/api/v1/tenants/${firm.body.id}`, { body: { billingMode: 'credit' } })).status).to.equal(400);
  });

  it('moves an invoice from issued to partially paid to paid as payments arrive, once per reference', async () => {
    const p = platform();
    const inv = invoice[t.a.id]!;
    const first = await pay(p, { tenantId: t.a.id, amount: '40.00', receivedAt: '2026-11-05T10:00:00+08:00', reference: 'BANK-0001', invoiceId: inv.id });
    expect(first.status).to.equal(201);
    expect(await get(p, inv.id)).to.include({ status: 'partially_paid', paid: '40.00', outstanding: '60.00' });
    // The same payment again: the one recorded; another under its reference: refused.
    const again = await pay(p, { tenantId: t.a.id, amount: '40.00', receivedAt: '2026-11-05T10:00:00+08:00', reference: 'BANK-0001', invoiceId: inv.id });
    expect([again.status, again.body.id]).to.deep.equal([200, first.body.id]);
    expect((await pay(p, { tenantId: t.a.id, amount: '41.00', receivedAt: '2026-11-05T10:00:00+08:00', reference: 'BANK-0001' })).status).to.equal(409);
    expect(await get(p, inv.id)).to.include({ status: 'partially_paid', paid: '40.00' });
    // Without an invoice named, the payment settles the oldest open one.
    expect((await pay(p, { tenantId: t.a.id, amount: '60.00', receivedAt: '2026-11-06T10:00:00+08:00', reference: 'BANK-0002' })).status).to.equal(201);
    expect(await get(p, inv.id)).to.include({ status: 'paid', paid: '100.00', outstanding: '0.00' });
    // Bad input is a 4xx.
    expect((await pay(p, { tenantId: t.a.id, amount: '1.001', receivedAt: '2026-11-06T10:00:00+08:00', reference: 'x' })).status).to.equal(400);
    expect((await pay(p, { tenantId: 'tn_nobody', amount: '1.00', receivedAt: '2026-11-06T10:00:00+08:00', reference: 'y' })).status).to.equal(422);
    expect(
      (await pay(p, { tenantId: t.a.id, amount: '1.00', receivedAt: '2026-11-06T10:00:00+08:00', reference: 'z', invoiceId: invoice[t.b.id]!.id })).status,
    ).to.equal(422);
    await expectReceivables(p, { [t.a.id]: '100.00' });
  });

  it('voids an invoice only by a full credit note, never by editing it', async () => {
    const p = platform();
    const b = invoice[t.b.id]!;
    const c = invoice[t.c.id]!;
    const part = await p.request('POST', `/api/v1/invoices/${c.id}/credit-notes`, { body: { amount: '5.00', reason: 'outage on 20 October' } });
    expect(part.status).to.equal(201);
    expect(part.body).to.include({ invoiceId: c.id, total: '-5.00' });
    expect(part.body.number).to.match(/^CN-2026-\d{6}$/);
    expect(await get(p, c.id)).to.include({ status: 'partially_paid', credited: '5.00', outstanding: '15.00', total: '20.00' });
    expect((await p.request('POST', `/api/v1/invoices/${c.id}/credit-notes`, { body: { amount: '15.01', reason: 'too much' } })).status).to.equal(422);
    const full = await p.request('POST', `/api/v1/invoices/${b.id}/credit-notes`, { body: { reason: 'billed in error' } });
    expect([full.status, full.body.total]).to.deep.equal([201, '-50.00']);
    expect(await get(p, b.id)).to.include({ status: 'void', credited: '50.00', outstanding: '0.00', total: '50.00' });
    expect((await p.request('POST', `/api/v1/invoices/${b.id}/credit-notes`, { body: { reason: 'again' } })).status).to.equal(409);
    await expectReceivables(p, { [t.a.id]: '100.00' });
  });

  it('imports a bank statement: bad lines refuse the whole file with a detail per line; then good lines record and duplicates are told', async () => {
    const p = platform();
    const c = invoice[t.c.id]!;
    const bad = await csv(
      p,
      [
        'date,amount,reference,payer',
        `2026-11-10,15.00,BANK-0100,${t.c.id}`,
        `2026-11-05,40.00,BANK-0001,${t.a.id}`,
        `2026-11-31,1.00,BANK-0101,${t.d.id}`,
        `2026-11-10,abc,BANK-0102,${t.d.id}`,
        '2026-11-10,1.00,BANK-0103,91350100M000100Y44',
        '2026-11-10,1.00',
        `2026-11-06,59.00,BANK-0002,${t.a.id}`,
      ].join('\n'),
    );
    expect(bad.status).to.equal(422);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).to.deep.equal([
      'lines.4.date',
      'lines.5.amount',
      'lines.6.payer',
      'lines.7.line',
      'lines.8.reference',
    ]);
    expect(await get(p, c.id)).to.include({ status: 'partially_paid', paid: '0.00' });

    const good = await csv(
      p,
      [`2026-11-10,15.00,BANK-0100,${t.c.id}`, `2026-11-05,40.00,BANK-0001,${t.a.id}`, `"2026-11-12",10.00,"BANK,0104",${USCC}`, ''].join('\r\n'),
    );
    expect(good.status).to.equal(200);
    expect(good.body.items.map((r: { line: number; status: string; reference: string }) => [r.line, r.reference, r.status])).to.deep.equal([
      [1, 'BANK-0100', 'recorded'],
      [2, 'BANK-0001', 'duplicate'],
      [3, 'BANK,0104', 'recorded'],
    ]);
    expect(await get(p, c.id)).to.include({ status: 'paid', paid: '15.00', credited: '5.00', outstanding: '0.00' });
    // b's invoice is void: the payment by its USCC leaves a credit balance, refundable.
    const again = await csv(p, `2026-11-10,15.00,BANK-0100,${t.c.id}\n`);
    expect(again.body.items[0].status).to.equal('duplicate');
    expect((await p.request('GET', `/api/v1/tenants/${t.b.id}/balance`)).body).to.include({ receivable: '-10.00' });
    expect(
      (await p.request('POST', `/api/v1/tenants/${t.b.id}/refunds`, { body: { amount: '10.01', reference: 'RF-1', from: 'receivable' } })).status,
    ).to.equal(422);
    expect(
      (await p.request('POST', `/api/v1/tenants/${t.b.id}/refunds`, { body: { amount: '10.00', reference: 'RF-1', from: 'receivable' } })).status,
    ).to.equal(201);
    expect((await p.request('GET', `/api/v1/tenants/${t.b.id}/balance`)).body).to.include({ receivable: '0.00' });
    await expectReceivables(p, { [t.a.id]: '100.00', [t.c.id]: '15.00', [t.b.id]: '0.00' });
    expect((await csv(p, '')).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/payments/import', { body: { date: 1 } })).status).to.equal(400);
  });

  it('ages what is outstanding by days past the invoice issue, and shows a tenant only its own balance', async () => {
    const p = platform();
    const d = invoice[t.d.id]!;
    const bucketsAt = async (when: string) => {
      p.clock.set(when);
      const all = (await p.request('GET', '/api/v1/ledger/ageing')).body;
      expect(all.items.map((i: { tenantId: string }) => i.tenantId)).to.deep.equal([t.d.id]);
      return (await p.request('GET', `/api/v1/tenants/${t.d.id}/balance`, { token: t.d.apiKey })).body.ageing;
    };
    const zero = { '0-30': '0.00', '31-60': '0.00', '61-90': '0.00', '90+': '0.00' };
    expect(await bucketsAt('2026-11-20T00:00:00+08:00')).to.deep.equal({ ...zero, '0-30': '30.00' });
    expect(await bucketsAt('2026-12-15T00:00:00+08:00')).to.deep.equal({ ...zero, '31-60': '30.00' });
    expect(await bucketsAt('2027-01-15T00:00:00+08:00')).to.deep.equal({ ...zero, '61-90': '30.00' });
    expect(await bucketsAt('2027-02-05T00:00:00+08:00')).to.deep.equal({ ...zero, '90+': '30.00' });
    expect((await p.request('GET', `/api/v1/tenants/${t.a.id}/balance`, { token: t.d.apiKey })).status).to.equal(404);
    expect((await p.request('GET', '/api/v1/ledger/balances', { token: t.d.apiKey })).status).to.equal(403);
    expect(await get(p, d.id)).to.include({ status: 'issued', outstanding: '30.00' });
  });

  it('refuses an unbalanced journal entry, or one without postings, whatever writes it', async () => {
    const p = platform();
    const db = p.app.context.database.db;
    const entry = (id: string) => ({ id, kind: 'payment', tenant_id: null, description: 'test', booked_at: new Date(), created_at: new Date() });
    const attempts: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
      [
        'one posting',
        () =>
          db.transaction().execute(async (tx) => {
            await tx.insertInto('journal_entries').values(entry('je_one')).execute();
            await tx.insertInto('postings').values({ entry_id: 'je_one', account_id: 'cash', amount: '10.00' }).execute();
          }),
      ],
      [
        'off by a fen',
        () =>
          db.transaction().execute(async (tx) => {
            await tx.insertInto('journal_entries').values(entry('je_fen')).execute();
            await tx
              .insertInto('postings')
              .values([
                { entry_id: 'je_fen', account_id: 'cash', amount: '10.00' },
                { entry_id: 'je_fen', account_id: 'revenue', amount: '-9.99' },
              ])
              .execute();
          }),
      ],
      ['no postings', () => db.insertInto('journal_entries').values(entry('je_none')).execute()],
    ];
    for (const [what, attempt] of attempts) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error | undefined)?.message, what).to.match(/does not balance/);
    }
    const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM journal_entries WHERE id IN ('je_one', 'je_fen', 'je_none')`.execute(db);
    expect(left.rows[0]!.n).to.equal(0);
    expect((await p.request('GET', '/api/v1/ledger/balances')).body.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
  });
});
