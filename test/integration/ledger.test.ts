import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import { sql } from 'kysely';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Invoice {
  readonly tenantId: string;
  readonly period: string;
  readonly total: string;
  readonly lines: readonly { kind: string; amount: string }[];
}

async function placedWorkload(p: TestPlatform, tenantKey: string, clusterToken: string): Promise<string> {
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

/** Every invoice, as the API lists them, page by page. */
async function allInvoices(p: TestPlatform): Promise<Invoice[]> {
  const out: Invoice[] = [];
  for (let cursor: string | null = null; ;) {
    const page: { items: Invoice[]; nextCursor: string | null } = (await p.request('GET', `/api/v1/invoices?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return out;
  }
}

/**
 * The ledger's balances (its only reader) equal, per tenant and in total, the invoices' totals, each
 * invoice one entry; and each invoice's total is the sum of its lines.
 */
async function expectLedgerToMatchInvoices(p: TestPlatform): Promise<Invoice[]> {
  const invoices = await allInvoices(p);
  // Each non-zero invoice posts once to the tenant's receivable (and once to revenue).
  const byTenant = new Map<string, { sum: Decimal; count: number }>();
  for (const inv of invoices) {
    expect(inv.total, `invoice total of ${inv.tenantId} for ${inv.period}`).to.equal(inv.lines.reduce((s, l) => s.plus(l.amount), new Decimal(0)).toFixed(2));
    const t = byTenant.get(inv.tenantId) ?? { sum: new Decimal(0), count: 0 };
    byTenant.set(inv.tenantId, { sum: t.sum.plus(inv.total), count: t.count + (new Decimal(inv.total).isZero() ? 0 : 1) });
  }
  const balances = await p.app.context.services.billing.balances();
  const expected = [...byTenant]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tenantId, t]) => ({ tenantId, balance: t.sum.toFixed(2), entries: t.count }));
  expect(balances).to.deep.equal(expected);
  const ledgerTotal = balances.reduce((s, b) => s.plus(b.balance), new Decimal(0));
  expect(ledgerTotal.toFixed(2)).to.equal(invoices.reduce((s, i) => s.plus(i.total), new Decimal(0)).toFixed(2));
  return invoices;
}

describeOnDatabases('the ledger: append-only, and its rows add up to the invoices', (platform) => {
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let solo: { id: string; apiKey: string };
  let backdated: { id: string; apiKey: string };
  let cluster: { agentToken: string };
  let govPlan: string;
  const workloadOf = new Map<string, string>();

  function usage(p: TestPlatform, events: { id: string; tenant: { id: string }; outputTokens: number; occurredAt: string }[]) {
    return p.request('POST', '/api/v1/agent/usage', {
      token: cluster.agentToken,
      body: {
        events: events.map((e) => ({
          id: e.id,
          workloadId: workloadOf.get(e.tenant.id),
          inputTokens: 0,
          outputTokens: e.outputTokens,
          occurredAt: e.occurredAt,
        })),
      },
    });
  }

  function close(p: TestPlatform, period: string) {
    return p.request('POST', '/api/v1/billing/close', { body: { period } });
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const tenant = async (name: string) => (await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'government' } })).body;
    gov = await tenant('Tianhe District Office');
    firm = await tenant('Nansha Port Authority');
    solo = await tenant('Conghua Water Bureau');
    backdated = await tenant('Zengcheng Health Bureau');
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'tianhe-1', region: 'tianhe' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    govPlan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'gov-standard', type: 'periodic', period: 'month', fee: '10000.00', includedStd: 1_000_000_000, overagePricePerMillionStd: '8.00' },
      })
    ).body.id;
    const unitPlan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '2.50' } })).body.id;
    await p.request('POST', `/api/v1/tenants/${gov.id}/subscriptions`, { body: { planId: govPlan, startsAt: '2026-10-16T00:00:00+08:00' } });
    await p.request('POST', `/api/v1/tenants/${firm.id}/subscriptions`, { body: { planId: unitPlan, startsAt: '2026-10-01T00:00:00+08:00' } });
    // solo stays on the default plan (pay-as-you-go, ¥2.00 a million).
    for (const t of [gov, firm, solo]) workloadOf.set(t.id, await placedWorkload(p, t.apiKey, cluster.agentToken));
  });

  it('matches after a close that two callers run at once', async () => {
    const p = platform();
    p.clock.set('2026-10-20T10:00:00+08:00');
    expect(
      (
        await usage(p, [
          { id: 'oct-gov', tenant: gov, outputTokens: 1_200_000_000, occurredAt: '2026-10-20T09:00:00+08:00' },
          { id: 'oct-firm', tenant: firm, outputTokens: 1_000_000, occurredAt: '2026-10-20T09:00:00+08:00' },
          { id: 'oct-solo', tenant: solo, outputTokens: 3_000_000, occurredAt: '2026-10-12T09:00:00+08:00' },
        ])
      ).body.accepted,
    ).to.equal(3);
    p.clock.set('2026-11-01T00:30:00+08:00');
    const [a, b] = await Promise.all([close(p, '2026-10'), close(p, '2026-10')]);
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    expect(a.body.items).to.deep.equal(b.body.items);
    // gov: fee 16/31 of 10000 = 5161.29, overage (1.2e9 − 516,129,032) × 8 / 1e6 = 5470.97; firm 2.50; solo 6.00.
    expect(a.body.items.map((i: Invoice) => [i.tenantId, i.total])).to.have.deep.members([
      [gov.id, '10632.26'],
      [firm.id, '2.50'],
      [solo.id, '6.00'],
    ]);
    expect(await expectLedgerToMatchInvoices(p)).to.have.length(3);
  });

  it('matches after a close run again for a subscription backdated into the closed month', async () => {
    const p = platform();
    await p.request('POST', `/api/v1/tenants/${backdated.id}/subscriptions`, { body: { planId: govPlan, startsAt: '2026-10-25T00:00:00+08:00' } });
    const again = await close(p, '2026-10');
    // 7 of 31 days: 10000 × 7/31 = 2258.06.
    expect(again.body.items.find((i: Invoice) => i.tenantId === backdated.id)?.total).to.equal('2258.06');
    expect(await expectLedgerToMatchInvoices(p)).to.have.length(4);
  });

  it('matches with late-usage lines, twice for the same month', async () => {
    const p = platform();
    p.clock.set('2026-11-03T10:00:00+08:00');
    await usage(p, [
      { id: 'late-gov', tenant: gov, outputTokens: 1_000_000, occurredAt: '2026-10-21T09:00:00+08:00' },
      { id: 'late-firm', tenant: firm, outputTokens: 1_000_000, occurredAt: '2026-10-30T09:00:00+08:00' },
      { id: 'late-solo', tenant: solo, outputTokens: 500_000, occurredAt: '2026-10-12T09:00:00+08:00' },
      { id: 'nov-firm', tenant: firm, outputTokens: 2_000_000, occurredAt: '2026-11-03T09:00:00+08:00' },
    ]);
    p.clock.set('2026-12-01T01:00:00+08:00');
    const nov = (await close(p, '2026-11')).body.items as Invoice[];
    const lines = (t: { id: string }) => nov.find((i) => i.tenantId === t.id)?.lines.map((l) => [l.kind, l.amount]);
    expect(lines(gov)).to.have.deep.members([
      ['fee', '10000.00'],
      ['late_usage', '8.00'],
    ]);
    expect(lines(firm)).to.have.deep.members([
      ['usage', '5.00'],
      ['late_usage', '2.50'],
    ]);
    expect(lines(solo)).to.deep.equal([['late_usage', '1.00']]);
    expect(lines(backdated)).to.deep.equal([['fee', '10000.00']]);
    await expectLedgerToMatchInvoices(p);

    p.clock.set('2026-12-02T10:00:00+08:00');
    await usage(p, [{ id: 'later-firm', tenant: firm, outputTokens: 2_000_000, occurredAt: '2026-10-31T09:00:00+08:00' }]);
    p.clock.set('2027-01-01T01:00:00+08:00');
    const dec = (await close(p, '2026-12')).body.items as Invoice[];
    // October grows again from 2e6 to 4e6 standard tokens on the firm's plan: 5.00 more.
    expect(dec.find((i) => i.tenantId === firm.id)?.lines.map((l) => [l.kind, l.amount])).to.have.deep.members([
      ['usage', '0.00'],
      ['late_usage', '5.00'],
    ]);
    expect(await expectLedgerToMatchInvoices(p)).to.have.length(11);
    expect((await p.app.context.services.billing.balances()).map((b) => [b.tenantId, b.balance])).to.have.deep.members([
      [gov.id, '30640.26'],
      [firm.id, '15.00'],
      [solo.id, '7.00'],
      [backdated.id, '22258.06'],
    ]);
  });

  it('refuses to change or remove ledger rows, whatever asks', async () => {
    const p = platform();
    const db = p.app.context.database.db;
    const before = await p.app.context.services.billing.balances();
    const attempts: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
      ['UPDATE', () => db.updateTable('postings').set({ amount: '0' }).execute()],
      ['DELETE', () => db.deleteFrom('postings').execute()],
      ['TRUNCATE', () => sql`TRUNCATE postings`.execute(db)],
      ['UPDATE of an entry', () => db.updateTable('journal_entries').set({ description: 'x' }).execute()],
      ['DELETE of an entry', () => db.deleteFrom('journal_entries').execute()],
      ['TRUNCATE of accounts', () => sql`TRUNCATE ledger_accounts CASCADE`.execute(db)],
    ];
    for (const [what, attempt] of attempts) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).to.be.instanceOf(Error);
      expect((err as Error).message, what).to.match(/(postings|journal_entries|ledger_accounts) is append-only/, (err as Error).message);
    }
    expect(await p.app.context.services.billing.balances()).to.deep.equal(before);
    await expectLedgerToMatchInvoices(p);
  });
});
