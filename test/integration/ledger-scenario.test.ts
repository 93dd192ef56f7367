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

// Payments, states and ageing are told in round amounts: the default plan here carries no VAT
// (TOKENPOOL_VAT_RATE=0). How VAT posts is test/integration/ledger.test.ts's and e-fapiao.test.ts's.
describeOnDatabases(
  'the ledger: invoices, payments, credit notes, a bank statement and ageing on a fake clock',
  (platform) => {
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
  },
  { TOKENPOOL_VAT_RATE: '0' },
);

interface VatDocument {
  readonly id: string;
  readonly tenantId?: string;
  readonly providerId?: string;
  readonly period: string;
  readonly total: string;
  readonly vat: string;
  readonly totalInclusive: string;
  readonly lines: readonly { kind: string; amount: string; vat: string; amountInclusive: string }[];
}

// Money both ways with VAT on both sides: tenants are invoiced with output VAT (their plans' rates),
// providers' statements charge the city input VAT (their rate cards' rates), on a fake clock.
describeOnDatabases('money both ways with VAT: subscriptions and rate cards → usage → close → payments and payouts → the ledger', (platform) => {
  const t = {} as Record<'gov' | 'hospital' | 'firm', Tenant>;
  const pv = {} as Record<'a' | 'b', { id: string }>;
  let nansha: { id: string; agentToken: string };
  let huangpu: { id: string; agentToken: string };
  const workloadOf = new Map<string, string>();
  const payments: Record<string, Decimal> = {};
  const payouts: Record<string, Decimal> = {};

  const sum = <T>(xs: readonly T[], k: keyof T) => xs.reduce((s, x) => s.plus(String(x[k])), new Decimal(0));
  const usage = (p: TestPlatform, cluster: { agentToken: string }, tenant: Tenant, id: string, outputTokens: number, occurredAt: string) =>
    p.request('POST', '/api/v1/agent/usage', {
      token: cluster.agentToken,
      body: { events: [{ id, workloadId: workloadOf.get(tenant.id), inputTokens: 0, outputTokens, occurredAt }] },
    });

  /**
   * What the ledger must say after any step, derived from the documents alone: each receivable is
   * its tenant's invoices inclusive of VAT less its payments (a prepaid draw being one), each payable
   * its provider's statements inclusive of VAT less its payouts, costs and revenue exclusive, and
   * output less input VAT is the invoices' VAT less the statements'.
   */
  async function expectLedger(p: TestPlatform): Promise<Record<string, string>> {
    const invoices = (await p.request('GET', '/api/v1/invoices?limit=1000')).body.items as (VatDocument & { paid: string })[];
    const statements = (await p.request('GET', '/api/v1/statements?limit=1000')).body.items as VatDocument[];
    const ledger = (await p.request('GET', '/api/v1/ledger/balances?limit=1000')).body;
    expect(ledger.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
    const balance: Record<string, string> = Object.fromEntries(ledger.items.map((a: { id: string; balance: string }) => [a.id, a.balance]));
    for (const doc of [...invoices, ...statements]) {
      // VAT exact per line, the document's sums those of its lines.
      expect(sum(doc.lines, 'vat').toFixed(2), doc.id).to.equal(doc.vat);
      expect(sum(doc.lines, 'amountInclusive').toFixed(2), doc.id).to.equal(doc.totalInclusive);
      expect(new Decimal(doc.total).plus(doc.vat).toFixed(2), doc.id).to.equal(doc.totalInclusive);
    }
    for (const tenant of Object.values(t)) {
      const mine = invoices.filter((i) => i.tenantId === tenant.id);
      const invoiced = sum(mine, 'totalInclusive');
      const paid = payments[tenant.id] ?? sum(mine, 'paid'); // a prepaid tenant pays by draws
      expect(balance[`receivable:${tenant.id}`] ?? '0.00', `receivable of ${tenant.id}`).to.equal(invoiced.minus(paid).toFixed(2));
    }
    for (const provider of Object.values(pv)) {
      const owed = sum(
        statements.filter((s) => s.providerId === provider.id),
        'totalInclusive',
      ).minus(payouts[provider.id] ?? 0);
      // A payable is a credit balance: negative when the city owes.
      expect(new Decimal(balance[`payable:${provider.id}`] ?? '0').neg().toFixed(2), `payable of ${provider.id}`).to.equal(owed.toFixed(2));
    }
    expect(balance.provider_costs).to.equal(sum(statements, 'total').toFixed(2));
    expect(new Decimal(balance.revenue!).neg().toFixed(2)).to.equal(sum(invoices, 'total').toFixed(2));
    const netVat = new Decimal(balance.vat_output!).neg().minus(balance.vat_input ?? '0');
    expect(netVat.toFixed(2), 'vat_output − vat_input').to.equal(sum(invoices, 'vat').minus(sum(statements, 'vat')).toFixed(2));
    return balance;
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const tenant = async (name: string, kind: string) => (await p.request('POST', '/api/v1/tenants', { body: { name, kind } })).body as Tenant;
    t.gov = await tenant('Huangpu Roads Office', 'government');
    t.hospital = await tenant('Panyu Health Bureau', 'government');
    t.firm = await tenant('Pearl River Robotics', 'enterprise');
    const plan = async (body: object) => (await p.request('POST', '/api/v1/plans', { body })).body.id as string;
    const plans = {
      gov: await plan({ name: 'gov-month', type: 'periodic', period: 'month', fee: '1000.00', includedStd: 10_000_000, overagePricePerMillionStd: '8.00' }),
      hospital: await plan({ name: 'metered', type: 'unit', pricePerMillionStd: '2.35' }),
      firm: await plan({ name: 'metered-13', type: 'unit', pricePerMillionStd: '2.50', vatRate: '0.13' }),
    };
    for (const k of ['gov', 'hospital', 'firm'] as const)
      await p.request('POST', `/api/v1/tenants/${t[k].id}/subscriptions`, { body: { planId: plans[k], startsAt: '2026-10-01T00:00:00+08:00' } });
    expect((await p.request('POST', `/api/v1/tenants/${t.firm.id}/top-ups`, { body: { amount: '100.00', reference: 'VAT-TOPUP-1' } })).status).to.equal(201);

    const provider = async (name: string, uscc: string) =>
      (
        await p.request('POST', '/api/v1/providers', {
          body: {
            name,
            uscc,
            bankName: 'Bank of China',
            bankAccount: '6217 0000 0000 0001',
            contactName: 'Li',
            contactPhone: '+86 20 1234 5678',
            contactEmail: 'li@example.cn',
          },
        })
      ).body as { id: string };
    pv.a = await provider('Nansha Compute Co.', '91440101MA59ABCD1D');
    pv.b = await provider('Huangpu Telecom', '92440106L12345674R');
    const card = (id: string, body: object) =>
      p.request('POST', `/api/v1/providers/${id}/rate-cards`, { body: { validFrom: '2026-10-01T00:00:00+08:00', ...body } });
    expect((await card(pv.a.id, { terms: { kind: 'flat', pricePerMillionStd: '1.37' } })).body.vatRate).to.equal('0.06');
    // A small-scale taxpayer: 3 %.
    expect((await card(pv.b.id, { terms: { kind: 'flat', pricePerMillionStd: '0.90' }, vatRate: '0.03' })).body.vatRate).to.equal('0.03');

    const cluster = async (name: string, providerId: string, deviceModel: string) => {
      const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region: name } })).body;
      await p.request('PUT', `/api/v1/clusters/${c.id}/provider`, { body: { providerId } });
      await p.request('POST', '/api/v1/agent/heartbeat', { token: c.agentToken, body: { inventory: [{ deviceModel, total: 8, healthy: 8 }] } });
      return c;
    };
    const place = async (tenantOf: Tenant, on: { id: string }) => {
      const w = (
        await p.request('POST', '/api/v1/workloads', {
          token: tenantOf.apiKey,
          body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
        })
      ).body;
      await p.app.scheduler.runCycle();
      expect((await p.request('GET', `/api/v1/workloads/${w.id}`)).body.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([on.id]);
      workloadOf.set(tenantOf.id, w.id);
    };
    nansha = await cluster('nansha', pv.a.id, 'NVIDIA-H100-80GB');
    await place(t.gov, nansha);
    await place(t.hospital, nansha);
    await p.request('POST', `/api/v1/clusters/${nansha.id}/cordon`);
    huangpu = await cluster('huangpu', pv.b.id, 'Ascend910B');
    await place(t.firm, huangpu);
    await p.request('POST', `/api/v1/clusters/${nansha.id}/uncordon`);

    p.clock.set('2026-10-20T10:00:00+08:00');
    const at = '2026-10-20T09:00:00+08:00';
    expect((await usage(p, nansha, t.gov, 'vat-gov', 12_345_678, at)).body.accepted).to.equal(1);
    expect((await usage(p, nansha, t.hospital, 'vat-hospital', 3_333_333, at)).body.accepted).to.equal(1);
    expect((await usage(p, huangpu, t.firm, 'vat-firm', 1_234_567, at)).body.accepted).to.equal(1);
  });

  it('closes October: invoices with output VAT and statements with input VAT, per line, half-up', async () => {
    const p = platform();
    p.clock.set('2026-11-01T00:30:00+08:00');
    const invoices = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).body.items as VatDocument[];
    const of = (x: Tenant) => invoices.find((i) => i.tenantId === x.id)!;
    // gov: fee 1000.00 (tax 60.00) and overage 2,345,678 std × ¥8 = 18.77 (tax 1.1262 → 1.13).
    expect(of(t.gov).lines.map((l) => [l.kind, l.amount, l.vat])).to.deep.equal([
      ['fee', '1000.00', '60.00'],
      ['overage', '18.77', '1.13'],
    ]);
    expect([of(t.gov).total, of(t.gov).vat, of(t.gov).totalInclusive]).to.deep.equal(['1018.77', '61.13', '1079.90']);
    // hospital: 3,333,333 std × ¥2.35 = 7.83 (tax 0.4698 → 0.47); firm at 13 %: 3.09 (tax 0.4017 → 0.40), drawn from its balance.
    expect([of(t.hospital).total, of(t.hospital).vat, of(t.hospital).totalInclusive]).to.deep.equal(['7.83', '0.47', '8.30']);
    expect(of(t.firm)).to.include({ total: '3.09', vat: '0.40', totalInclusive: '3.49', status: 'paid' });

    const statements = (await p.request('GET', '/api/v1/statements?period=2026-10')).body.items as VatDocument[];
    const st = (x: { id: string }) => statements.find((s) => s.providerId === x.id)!;
    // A: 15,679,011 std × ¥1.37 = 21.48 (tax 1.2888 → 1.29); B: 1,234,567 std × ¥0.90 = 1.11 at 3 % (0.0333 → 0.03).
    expect([st(pv.a).total, st(pv.a).vat, st(pv.a).totalInclusive]).to.deep.equal(['21.48', '1.29', '22.77']);
    expect([st(pv.b).total, st(pv.b).vat, st(pv.b).totalInclusive]).to.deep.equal(['1.11', '0.03', '1.14']);

    const balance = await expectLedger(p);
    // Output VAT 62.00, input VAT 1.32: the city owes the tax office 60.68 for October.
    expect([balance.vat_output, balance.vat_input]).to.deep.equal(['-62.00', '1.32']);
    const report = (await p.request('GET', '/api/v1/settlement/report?period=2026-10')).body;
    expect(report).to.include({ receivables: '1029.69', receivablesVat: '62.00', payables: '22.59', payablesVat: '1.32', margin: '1007.10' });
  });

  it('settles the receivables with payments and the inclusive payables with payouts', async () => {
    const p = platform();
    const invoices = (await p.request('GET', '/api/v1/invoices?period=2026-10')).body.items as VatDocument[];
    const pay = async (tenant: Tenant, amount: string, reference: string) => {
      const r = await p.request('POST', '/api/v1/payments', {
        body: {
          tenantId: tenant.id,
          amount,
          reference,
          receivedAt: '2026-11-05T10:00:00+08:00',
          invoiceId: invoices.find((i) => i.tenantId === tenant.id)!.id,
        },
      });
      expect(r.status).to.equal(201);
      payments[tenant.id] = (payments[tenant.id] ?? new Decimal(0)).plus(amount);
    };
    await pay(t.gov, '1000.00', 'VAT-BANK-1');
    await pay(t.hospital, '8.30', 'VAT-BANK-2');
    const payout = async (provider: { id: string }, amount: string, reference: string) => {
      const r = await p.request('POST', `/api/v1/providers/${provider.id}/payouts`, { body: { amount, reference, paidAt: '2026-11-06T10:00:00+08:00' } });
      expect(r.status, reference).to.equal(201);
      payouts[provider.id] = (payouts[provider.id] ?? new Decimal(0)).plus(amount);
      return r.body.payable as string;
    };
    expect(await payout(pv.a, '20.00', 'VAT-PO-1')).to.equal('2.77');
    // The whole inclusive amount can be paid out — and no more.
    expect(await payout(pv.b, '1.14', 'VAT-PO-2')).to.equal('0.00');
    expect((await p.request('POST', `/api/v1/providers/${pv.b.id}/payouts`, { body: { amount: '0.01', reference: 'VAT-PO-3' } })).status).to.equal(422);
    const balance = await expectLedger(p);
    expect([balance[`receivable:${t.gov.id}`], balance[`receivable:${t.hospital.id}`], balance[`receivable:${t.firm.id}`]]).to.deep.equal([
      '79.90',
      '0.00',
      '0.00',
    ]);
    expect([balance[`payable:${pv.a.id}`], balance[`payable:${pv.b.id}`]]).to.deep.equal(['-2.77', '0.00']);
  });

  it('taxes late usage on both sides in November, and every invariant still holds', async () => {
    const p = platform();
    p.clock.set('2026-11-03T10:00:00+08:00');
    expect((await usage(p, huangpu, t.firm, 'vat-firm-late', 765_433, '2026-10-30T08:00:00+08:00')).body.accepted).to.equal(1);
    p.clock.set('2026-12-01T00:30:00+08:00');
    const invoices = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } })).body.items as VatDocument[];
    // October at 2,000,000 std would have been 5.00: 1.91 more, at the firm's 13 % (0.2483 → 0.25).
    const late = invoices.find((i) => i.tenantId === t.firm.id)!.lines.find((l) => l.kind === 'late_usage')!;
    expect([late.amount, late.vat, late.amountInclusive]).to.deep.equal(['1.91', '0.25', '2.16']);
    const b = ((await p.request('GET', `/api/v1/statements?period=2026-11&providerId=${pv.b.id}`)).body.items as VatDocument[])[0]!;
    // B's October at 2,000,000 std: 1.80, 0.69 more, at its 3 % (0.0207 → 0.02).
    expect(b.lines.map((l) => [l.kind, l.amount, l.vat, l.amountInclusive])).to.deep.equal([['late_usage', '0.69', '0.02', '0.71']]);
    expect([b.total, b.vat, b.totalInclusive]).to.deep.equal(['0.69', '0.02', '0.71']);
    const balance = await expectLedger(p);
    expect(balance[`payable:${pv.b.id}`]).to.equal('-0.71');
    const report = (await p.request('GET', '/api/v1/settlement/report?period=2026-11')).body;
    expect([report.payables, report.payablesVat]).to.deep.equal(['0.69', '0.02']);
  });
});
