import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import { sql } from 'kysely';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

const MODEL = 'qwen2.5-7b-instruct';

function provider(name: string, uscc: string) {
  return {
    name,
    uscc,
    bankName: 'Industrial and Commercial Bank of China, Guangzhou Nansha branch',
    bankAccount: '3602 0012 0910 0123 456',
    contactName: 'Chen Li',
    contactPhone: '+86 20 3999 0000',
    contactEmail: 'settlement@example.cn',
  };
}

describeOnDatabases('providers: registry, rate cards and cluster ownership', (platform) => {
  let cluster: { id: string };
  let a: { id: string };

  before(async () => {
    const p = platform();
    cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'tianhe-1', region: 'tianhe' } })).body;
  });

  it('registers a provider with a valid unified social credit code, and refuses a wrong one (400, on the field)', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/providers', { body: provider('Tianhe Data Centre Co.', '91440101MA59ABCD1D') });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ name: 'Tianhe Data Centre Co.', uscc: '91440101MA59ABCD1D', contactEmail: 'settlement@example.cn' });
    expect(res.body.clusterIds).to.deep.equal([]);
    a = res.body;
    const bad = await p.request('POST', '/api/v1/providers', { body: provider('Other', '91440101MA59ABCD1E') });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors).to.deep.equal([{ path: 'uscc', message: 'has a wrong check character (character 18)' }]);
    const org = await p.request('POST', '/api/v1/providers', { body: provider('Other', '91440101MA59ABCE1D') });
    expect(org.body.errors[0].message).to.contain('organization code');
  });

  it('refuses duplicates (409), missing and unknown fields and malformed contacts (400), and non-operators (403)', async () => {
    const p = platform();
    expect((await p.request('POST', '/api/v1/providers', { body: provider('Tianhe Data Centre Co.', '92440106L12345674R') })).status).to.equal(409);
    expect((await p.request('POST', '/api/v1/providers', { body: provider('Another name', '91440101MA59ABCD1D') })).status).to.equal(409);
    const { contactEmail: _e, ...missing } = provider('X', '92440106L12345674R');
    expect((await p.request('POST', '/api/v1/providers', { body: missing })).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/providers', { body: { ...provider('X', '92440106L12345674R'), extra: 1 } })).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/providers', { body: { ...provider('X', '92440106L12345674R'), contactEmail: 'not-mail' } })).status).to.equal(400);
    expect((await p.request('POST', '/api/v1/providers', { body: { ...provider('X', '92440106L12345674R'), bankAccount: 'DROP TABLE' } })).status).to.equal(
      400,
    );
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Liwan Clinic', kind: 'enterprise' } })).body;
    expect((await p.request('GET', '/api/v1/providers', { token: tenant.apiKey })).status).to.equal(403);
    expect((await p.request('GET', '/api/v1/statements', { token: tenant.apiKey })).status).to.equal(403);
  });

  it('reads, lists and changes a provider (404 unknown; the code re-checked on change)', async () => {
    const p = platform();
    expect((await p.request('GET', `/api/v1/providers/${a.id}`)).body.name).to.equal('Tianhe Data Centre Co.');
    expect((await p.request('GET', '/api/v1/providers/pv_nope')).status).to.equal(404);
    expect((await p.request('PATCH', '/api/v1/providers/pv_nope', { body: { contactName: 'Wang' } })).status).to.equal(404);
    const changed = await p.request('PATCH', `/api/v1/providers/${a.id}`, { body: { contactName: 'Wang Fang', bankName: 'Bank of China' } });
    expect(changed.status).to.equal(200);
    expect(changed.body).to.include({ contactName: 'Wang Fang', bankName: 'Bank of China', uscc: '91440101MA59ABCD1D' });
    expect((await p.request('PATCH', `/api/v1/providers/${a.id}`, { body: { uscc: '91440101MA59ABCD1E' } })).status).to.equal(400);
    const list = await p.request('GET', '/api/v1/providers?limit=10');
    expect(list.body.items.map((x: { id: string }) => x.id)).to.deep.equal([a.id]);
  });

  it('gives a cluster to at most one provider: 422 unknown provider, 404 unknown cluster, null releases it', async () => {
    const p = platform();
    expect((await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: 'pv_nope' } })).status).to.equal(422);
    expect((await p.request('PUT', '/api/v1/clusters/cl_nope/provider', { body: { providerId: a.id } })).status).to.equal(404);
    expect((await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: {} })).status).to.equal(400);
    const set = await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: a.id } });
    expect(set.status).to.equal(200);
    expect(set.body).to.deep.equal({ clusterId: cluster.id, providerId: a.id });
    expect((await p.request('GET', `/api/v1/providers/${a.id}`)).body.clusterIds).to.deep.equal([cluster.id]);
    expect((await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body.providerId).to.equal(a.id);
    expect((await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: null } })).body.providerId).to.equal(null);
    expect((await p.request('GET', '/api/v1/clusters')).body.items[0].providerId).to.equal(null);
    await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: a.id } });
    // A provider that owns a cluster cannot be removed.
    expect((await p.request('DELETE', `/api/v1/providers/${a.id}`)).status).to.equal(409);
  });

  it('keeps rate cards from overlapping (409) and checks their terms (400)', async () => {
    const p = platform();
    const add = (body: object) => p.request('POST', `/api/v1/providers/${a.id}/rate-cards`, { body });
    const oct = await add({
      terms: { kind: 'flat', pricePerMillionStd: '1.20' },
      validFrom: '2026-10-01T00:00:00+08:00',
      validTo: '2026-11-01T00:00:00+08:00',
    });
    expect(oct.status).to.equal(201);
    expect(oct.body.terms).to.deep.equal({ kind: 'flat', pricePerMillionStd: '1.20' });
    expect((await add({ terms: { kind: 'flat', pricePerMillionStd: '1.00' }, validFrom: '2026-10-31T00:00:00+08:00' })).status).to.equal(409);
    expect((await add({ terms: { kind: 'flat', pricePerMillionStd: '1.00' }, validFrom: '2026-09-01T00:00:00+08:00' })).status).to.equal(409);
    // Touching is not overlapping: validTo is exclusive.
    const nov = await add({
      terms: { kind: 'revenue_share', sharePercent: '62.5', unpaidPricePerMillionStd: '0.40' },
      validFrom: '2026-11-01T00:00:00+08:00',
    });
    expect(nov.status).to.equal(201);
    expect((await add({ terms: { kind: 'flat', pricePerMillionStd: '1.00' }, validFrom: '2027-01-01T00:00:00+08:00' })).status).to.equal(409);
    expect((await add({ terms: { kind: 'flat', pricePerMillionStd: 1 }, validFrom: '2025-01-01T00:00:00+08:00' })).status).to.equal(400);
    expect((await add({ terms: { kind: 'revenue_share', sharePercent: '101', unpaidPricePerMillionStd: '0' } })).status).to.equal(400);
    expect((await add({ terms: { kind: 'auction' } })).status).to.equal(400);
    expect(
      (await add({ terms: { kind: 'flat', pricePerMillionStd: '1.00' }, validFrom: '2025-02-01T00:00:00+08:00', validTo: '2025-01-01T00:00:00+08:00' })).status,
    ).to.equal(400);
    const twice = await add({
      terms: {
        kind: 'device_class',
        prices: [
          { match: 'nvidia', pricePerMillionStd: '1' },
          { match: 'nvidia', pricePerMillionStd: '2' },
        ],
        defaultPricePerMillionStd: '1',
      },
      validFrom: '2025-01-01T00:00:00+08:00',
      validTo: '2025-02-01T00:00:00+08:00',
    });
    expect(twice.status).to.equal(400);
    expect(twice.body.errors[0].path).to.equal('terms.prices.1.match');
    expect((await p.request('POST', '/api/v1/providers/pv_nope/rate-cards', { body: { terms: { kind: 'flat', pricePerMillionStd: '1' } } })).status).to.equal(
      404,
    );
    const cards = await p.request('GET', `/api/v1/providers/${a.id}/rate-cards`);
    expect(cards.body.items.map((c: { id: string }) => c.id)).to.deep.equal([oct.body.id, nov.body.id]);
    expect((await p.request('DELETE', `/api/v1/providers/${a.id}/rate-cards/${nov.body.id}`)).status).to.equal(204);
    expect((await p.request('DELETE', `/api/v1/providers/${a.id}/rate-cards/${nov.body.id}`)).status).to.equal(404);
  });

  it('removes a provider that owns nothing (204, then 404)', async () => {
    const p = platform();
    const b = (await p.request('POST', '/api/v1/providers', { body: provider('Short-lived', '12440000455858EF5E') })).body;
    expect((await p.request('DELETE', `/api/v1/providers/${b.id}`)).status).to.equal(204);
    expect((await p.request('DELETE', `/api/v1/providers/${b.id}`)).status).to.equal(404);
    expect((await p.request('GET', `/api/v1/providers/${b.id}`)).status).to.equal(404);
  });
});

interface Line {
  kind: string;
  usagePeriod: string;
  clusterId: string;
  basis: string;
  paidByTenants: boolean;
  stdTokens: string;
  amount: string;
  vatRate: string;
  taxCode: string;
  vat: string;
  amountInclusive: string;
}
interface Statement {
  id: string;
  number: string;
  providerId: string;
  period: string;
  lines: Line[];
  total: string;
  vat: string;
  totalInclusive: string;
  unpaidByTenants: string;
}

describeOnDatabases('settlement: from subscription and rate card to invoices, statements and the report', (platform) => {
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let nansha: { id: string; agentToken: string };
  let huangpu: { id: string; agentToken: string };
  let pa: { id: string };
  let pb: { id: string };
  let pc: { id: string };
  const workloads: Record<string, string> = {};

  async function place(p: TestPlatform, key: string, name: string, tenant: { apiKey: string }, cluster: { id: string }) {
    const w = (await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name, model: MODEL, tokensPerMin: 1000, access: 'direct' } })).body;
    await p.app.scheduler.runCycle();
    const got = (await p.request('GET', `/api/v1/workloads/${w.id}`)).body;
    expect(got.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([cluster.id]);
    workloads[key] = w.id;
  }

  function usage(p: TestPlatform, cluster: { agentToken: string }, events: object[]) {
    return p.request('POST', '/api/v1/agent/usage', { token: cluster.agentToken, body: { events } });
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    gov = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    firm = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Logistics', kind: 'enterprise' } })).body;
    const govPlan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'gov-small', type: 'periodic', period: 'month', fee: '1000.00', includedStd: 10_000_000, overagePricePerMillionStd: '8.00' },
      })
    ).body.id;
    const unitPlan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '2.50' } })).body.id;
    await p.request('POST', `/api/v1/tenants/${gov.id}/subscriptions`, { body: { planId: govPlan, startsAt: '2026-10-01T00:00:00+08:00' } });
    await p.request('POST', `/api/v1/tenants/${firm.id}/subscriptions`, { body: { planId: unitPlan, startsAt: '2026-10-01T00:00:00+08:00' } });

    pa = (await p.request('POST', '/api/v1/providers', { body: provider('Nansha Compute Co.', '91440101MA59ABCD1D') })).body;
    pb = (await p.request('POST', '/api/v1/providers', { body: provider('Huangpu Telecom', '92440106L12345674R') })).body;
    pc = (await p.request('POST', '/api/v1/providers', { body: provider('Idle University', '12440000455858EF5E') })).body;
    const from = '2026-10-01T00:00:00+08:00';
    const card = (id: string, terms: object, vat: object = {}) =>
      p.request('POST', `/api/v1/providers/${id}/rate-cards`, { body: { terms, validFrom: from, ...vat } });
    expect(
      (
        await card(pa.id, {
          kind: 'device_class',
          prices: [
            { match: 'huawei', pricePerMillionStd: '1.10' },
            { match: 'NVIDIA-H100-80GB', pricePerMillionStd: '1.80' },
          ],
          defaultPricePerMillionStd: '0.90',
        })
      ).status,
    ).to.equal(201);
    // B charges 9 % under its own tax code; A and C the default 6 %.
    const bCard = await card(
      pb.id,
      { kind: 'revenue_share', sharePercent: '70', unpaidPricePerMillionStd: '0.50' },
      { vatRate: '0.09', taxCode: '3040205000000000000' },
    );
    expect([bCard.status, bCard.body.vatRate, bCard.body.taxCode]).to.deep.equal([201, '0.09', '3040205000000000000']);
    const badVat = await card(pb.id, { kind: 'flat', pricePerMillionStd: '1.00' }, { vatRate: '1.5' });
    expect([badVat.status, badVat.body.errors?.[0]?.path]).to.deep.equal([400, 'vatRate']);
    expect((await card(pc.id, { kind: 'flat', pricePerMillionStd: '1.00' })).status).to.equal(201);

    // Nansha (provider A, NVIDIA) takes the first workloads; then, held, Huangpu (provider B, Ascend) the next.
    nansha = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    await p.request('PUT', `/api/v1/clusters/${nansha.id}/provider`, { body: { providerId: pa.id } });
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: nansha.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    await place(p, 'gov', 'gov-svc', gov, nansha);
    await place(p, 'firmA', 'firm-a', firm, nansha);
    await p.request('POST', `/api/v1/clusters/${nansha.id}/cordon`);
    huangpu = (await p.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-1', region: 'huangpu' } })).body;
    await p.request('PUT', `/api/v1/clusters/${huangpu.id}/provider`, { body: { providerId: pb.id } });
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: huangpu.agentToken,
      body: { inventory: [{ deviceModel: 'Ascend910B', total: 8, healthy: 8 }] },
    });
    await place(p, 'firmB', 'firm-b', firm, huangpu);
    await p.request('POST', `/api/v1/clusters/${nansha.id}/uncordon`);
  });

  it('closes October: invoices, and one exact statement per provider', async () => {
    const p = platform();
    p.clock.set('2026-10-20T12:00:00+08:00');
    expect(
      (
        await usage(p, nansha, [
          { id: 'n-gov', workloadId: workloads.gov, inputTokens: 0, outputTokens: 12_000_000, occurredAt: '2026-10-20T10:00:00+08:00' },
          { id: 'n-firm', workloadId: workloads.firmA, inputTokens: 4_000_000, outputTokens: 0, occurredAt: '2026-10-20T10:00:00+08:00' },
        ])
      ).body.accepted,
    ).to.equal(2);
    expect(
      (
        await usage(p, huangpu, [
          { id: 'h-firm', workloadId: workloads.firmB, inputTokens: 0, outputTokens: 3_000_000, occurredAt: '2026-10-20T11:00:00+08:00' },
        ])
      ).body.accepted,
    ).to.equal(1);
    // The platform's own traffic on Huangpu: served, paid to the provider, invoiced to nobody.
    const shared = await p.request('POST', '/api/v1/workloads', { body: { name: 'probe', model: MODEL, tokensPerMin: 1000, shared: true } });
    expect(shared.status).to.equal(202);
    const placement = await sql<{ id: string }>`SELECT id FROM placements WHERE cluster_id = ${huangpu.id} LIMIT 1`.execute(p.database.db);
    await sql`
      INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at, placement_id)
      SELECT 'probe-1', 'tn_shared', ${shared.body.id}, ${huangpu.id}, w.model_id, 0, 2000000, 2000000, '2026-10-21T00:00:00+08:00', '2026-10-21T00:00:00+08:00', ${placement.rows[0]!.id}
        FROM workloads w WHERE w.id = ${shared.body.id}`.execute(p.database.db);

    p.clock.set('2026-11-01T00:30:00+08:00');
    const close = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(close.status).to.equal(200);
    const totals = Object.fromEntries(close.body.items.map((i: { tenantId: string; total: string }) => [i.tenantId, i.total]));
    // gov: fee 1000.00 + overage (12M − 10M) × 8.00 = 16.00; firm: (1M + 3M) × 2.50 = 10.00; the platform: no invoice.
    expect(totals).to.deep.equal({ [gov.id]: '1016.00', [firm.id]: '10.00' });

    const statements = (await p.request('GET', '/api/v1/statements?period=2026-10')).body.items as Statement[];
    const of = (id: string) => statements.find((s) => s.providerId === id)!;
    expect(statements.map((s) => s.number).sort()).to.deep.equal(['PST-2026-000001', 'PST-2026-000002', 'PST-2026-000003']);
    // A: 13M std on an H100 profile at 1.80 = 23.40.
    expect(of(pa.id).lines.map((l) => [l.clusterId, l.basis, l.stdTokens, l.amount])).to.deep.equal([
      [nansha.id, 'profile:NVIDIA-H100-80GB', '13000000', '23.40'],
    ]);
    expect(of(pa.id)).to.include({ total: '23.40', vat: '1.40', totalInclusive: '24.80' });
    expect(of(pa.id).lines.map((l) => [l.vatRate, l.taxCode, l.vat, l.amountInclusive])).to.deep.equal([['0.06', '3040203000000000000', '1.40', '24.80']]);
    // B: 70 % of the 7.50 the firm was charged for its 3M of 4M std; the platform's 2M at 0.50, marked.
    expect(of(pb.id).lines.map((l) => [l.basis, l.paidByTenants, l.stdTokens, l.amount])).to.have.deep.members([
      ['revenue_share', true, '3000000', '5.25'],
      ['unpaid', false, '2000000', '1.00'],
    ]);
    expect(of(pb.id)).to.include({ total: '6.25', unpaidByTenants: '1.00', vat: '0.56', totalInclusive: '6.81' });
    // VAT per line, half-up: 5.25 × 9 % = 0.4725 → 0.47; 1.00 × 9 % = 0.09.
    expect(of(pb.id).lines.map((l) => [l.amount, l.vatRate, l.taxCode, l.vat, l.amountInclusive])).to.have.deep.members([
      ['5.25', '0.09', '3040205000000000000', '0.47', '5.72'],
      ['1.00', '0.09', '3040205000000000000', '0.09', '1.09'],
    ]);
    // C: a rate card but no served usage: a statement of 0.00.
    expect(of(pc.id)).to.include({ total: '0.00', vat: '0.00', totalInclusive: '0.00' });
    expect(of(pc.id).lines).to.deep.equal([]);
    for (const s of statements) {
      const sum = s.lines.reduce((fen, l) => fen + BigInt(l.amount.replace('.', '')), 0n);
      expect(sum, s.number).to.equal(BigInt(s.total.replace('.', '')));
    }
    expect((await p.request('GET', `/api/v1/statements/${of(pa.id).id}`)).body).to.deep.equal(of(pa.id));
    expect((await p.request('GET', '/api/v1/statements/pst_nope')).status).to.equal(404);
  });

  it('is idempotent: closing again answers the same statements', async () => {
    const p = platform();
    const before = (await p.request('GET', '/api/v1/statements?period=2026-10')).body.items;
    expect((await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).status).to.equal(200);
    expect((await p.request('GET', '/api/v1/statements?period=2026-10')).body.items).to.deep.equal(before);
  });

  it('reports receivables, payables and the margin, each breakdown summing to the totals', async () => {
    const p = platform();
    const r = (await p.request('GET', '/api/v1/settlement/report?period=2026-10')).body;
    expect(r).to.include({ period: '2026-10', receivables: '1026.00', payables: '29.65', payablesVat: '1.96', margin: '996.35', invoices: 2, statements: 3 });
    // The invoices' output VAT beside it; the margin is exclusive of VAT on both sides.
    const invoices = (await p.request('GET', '/api/v1/invoices?period=2026-10')).body.items as { vat: string }[];
    expect(r.receivablesVat).to.equal(invoices.reduce((s, i) => s.plus(i.vat), new Decimal(0)).toFixed(2));
    // Receivables follow the tokens: gov's 1016.00 and a quarter of the firm's 10.00 on Nansha; three quarters on Huangpu.
    expect(
      r.byProvider.map((x: { providerId: string; receivables: string; payables: string; margin: string; payablesVat: string }) => [
        x.providerId,
        x.receivables,
        x.payables,
        x.margin,
        x.payablesVat,
      ]),
    ).to.deep.equal(
      [
        [pa.id, '1018.50', '23.40', '995.10', '1.40'],
        [pb.id, '7.50', '6.25', '1.25', '0.56'],
      ].sort((x, y) => x[0]!.localeCompare(y[0]!)),
    );
    expect(r.byCluster.map((x: { clusterId: string; providerId: string }) => [x.clusterId, x.providerId])).to.have.deep.members([
      [nansha.id, pa.id],
      [huangpu.id, pb.id],
    ]);
    expect(r.byModel).to.deep.equal([{ model: MODEL, receivables: '1026.00', payables: '29.65', payablesVat: '1.96', margin: '996.35' }]);
    for (const dim of [r.byProvider, r.byCluster, r.byModel]) {
      const fen = (k: 'receivables' | 'payables' | 'payablesVat') =>
        dim.reduce((s: bigint, x: Record<string, string>) => s + BigInt(x[k]!.replace('.', '')), 0n);
      expect([fen('receivables'), fen('payables'), fen('payablesVat')]).to.deep.equal([102600n, 2965n, 196n]);
    }
    expect((await p.request('GET', '/api/v1/settlement/report?period=2026-09')).status).to.equal(409);
    expect((await p.request('GET', '/api/v1/settlement/report?period=2026-9')).status).to.equal(400);
    // No year 0 in PostgreSQL: months before 1970 are refused, not a 500.
    expect((await p.request('GET', '/api/v1/settlement/report?period=0000-01')).status).to.equal(400);
  });

  it('serves the report as CSV with formula-like cells neutralized', async () => {
    const p = platform();
    await p.request('PATCH', `/api/v1/providers/${pa.id}`, { body: { name: '=HYPERLINK("http://x","Nansha")' } });
    const res = await p.request('GET', '/api/v1/settlement/report.csv?period=2026-10');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/csv/);
    const text = res.body as string; // fetch's text() drops the BOM: read the bytes for it.
    expect(text.startsWith('"period","dimension"')).to.equal(true);
    const raw = await fetch(`${p.baseUrl}/api/v1/settlement/report.csv?period=2026-10`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect([...new Uint8Array(await raw.arrayBuffer()).slice(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
    expect(text).to.contain(`"2026-10","provider","${pa.id}","'=HYPERLINK(""http://x"",""Nansha"")","${pa.id}","1018.50","23.40","995.10","1.40"\r\n`);
    expect(text).to.contain(`"2026-10","cluster","${huangpu.id}","${huangpu.id}","${pb.id}","7.50","6.25","1.25","0.56"\r\n`);
    expect(text).to.contain('"2026-10","total","","","","1026.00","29.65","996.35","1.96"\r\n');
    await p.request('PATCH', `/api/v1/providers/${pa.id}`, { body: { name: 'Nansha Compute Co.' } });
  });

  it('pays late usage on the next statement, as what the earlier one would have grown by', async () => {
    const p = platform();
    p.clock.set('2026-11-03T10:00:00+08:00');
    expect(
      (
        await usage(p, huangpu, [
          { id: 'h-late', workloadId: workloads.firmB, inputTokens: 0, outputTokens: 1_000_000, occurredAt: '2026-10-30T08:00:00+08:00' },
        ])
      ).body.accepted,
    ).to.equal(1);
    p.clock.set('2026-12-01T01:00:00+08:00');
    const close = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    const firmNov = close.body.items.find((i: { tenantId: string }) => i.tenantId === firm.id);
    expect(firmNov.total).to.equal('2.50');
    const nov = (await p.request('GET', '/api/v1/statements?period=2026-11')).body.items as Statement[];
    const b = nov.find((s) => s.providerId === pb.id)!;
    // October now: the firm paid 12.50 for 5M std, 4M of them on Huangpu → 10.00, 70 % = 7.00; 5.25 was paid: 1.75 more.
    expect(b.lines.map((l) => [l.kind, l.usagePeriod, l.stdTokens, l.amount])).to.deep.equal([['late_usage', '2026-10', '1000000', '1.75']]);
    // Its VAT at B's 9 %: 1.75 × 0.09 = 0.1575 → 0.16.
    expect(b).to.include({ total: '1.75', vat: '0.16', totalInclusive: '1.91' });
    expect(nov.find((s) => s.providerId === pa.id)!.total).to.equal('0.00');
    // October's statements are unchanged.
    expect((await p.request('GET', `/api/v1/statements?period=2026-10&providerId=${pb.id}`)).body.items[0].total).to.equal('6.25');
    // Nothing is paid twice: December carries no late line.
    p.clock.set('2027-01-01T01:00:00+08:00');
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-12' } });
    const dec = (await p.request('GET', `/api/v1/statements?period=2026-12&providerId=${pb.id}`)).body.items[0] as Statement;
    expect(dec.lines).to.deep.equal([]);

    const r = (await p.request('GET', '/api/v1/settlement/report?period=2026-11')).body;
    // November: gov's fee 1000.00 and the firm's late 2.50; payables 1.75.
    expect(r).to.include({ receivables: '1002.50', payables: '1.75', margin: '1000.75' });
  });

  it('posts each statement to the ledger once, so that payables are statements less payouts', async () => {
    const p = platform();
    const accounts = async () => {
      const body = (await p.request('GET', '/api/v1/ledger/balances?limit=1000')).body;
      expect(body.trialBalance).to.deep.equal({ total: '0.00', unbalancedEntries: 0 });
      return Object.fromEntries(body.items.map((a: { id: string; balance: string }) => [a.id, a.balance]));
    };
    // Statements, inclusive of VAT: A 24.80 (October); B 6.81 (October) + 1.91 (November, late); C and December 0.00 (nothing posted).
    let ledger = await accounts();
    expect([ledger[`payable:${pa.id}`], ledger[`payable:${pb.id}`], ledger[`payable:${pc.id}`]]).to.deep.equal(['-24.80', '-8.72', undefined]);
    // Costs exclusive of VAT; the input VAT apart: 1.40 + 0.56 + 0.16.
    expect([ledger.provider_costs, ledger.vat_input]).to.deep.equal(['31.40', '2.12']);
    // A close again posts nothing twice.
    expect((await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } })).status).to.equal(200);
    expect((await accounts()).provider_costs).to.equal('31.40');

    const payout = (id: string, body: object) => p.request('POST', `/api/v1/providers/${id}/payouts`, { body });
    const first = await payout(pb.id, { amount: '5.00', reference: 'BOC-PO-2026-12-001', paidAt: '2026-12-05T10:00:00+08:00' });
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ providerId: pb.id, amount: '5.00', reference: 'BOC-PO-2026-12-001', payable: '3.72' });
    // Idempotent by reference; the same reference for another amount is refused.
    const again = await payout(pb.id, { amount: '5.00', reference: 'BOC-PO-2026-12-001' });
    expect([again.status, again.body.id, again.body.payable]).to.deep.equal([200, first.body.id, '3.72']);
    expect((await payout(pb.id, { amount: '4.00', reference: 'BOC-PO-2026-12-001' })).status).to.equal(409);
    // Never more than is owed.
    const over = await payout(pb.id, { amount: '3.73', reference: 'BOC-PO-2026-12-002' });
    expect([over.status, over.body.errors?.[0]?.path]).to.deep.equal([422, 'amount']);
    expect((await payout(pc.id, { amount: '0.01', reference: 'BOC-PO-2026-12-003' })).status).to.equal(422);
    expect((await payout('pv_nope', { amount: '1.00', reference: 'BOC-PO-2026-12-004' })).status).to.equal(404);
    // Payouts settle the inclusive payable.
    expect((await payout(pa.id, { amount: '24.80', reference: 'BOC-PO-2026-12-005' })).body.payable).to.equal('0.00');

    ledger = await accounts();
    expect([ledger[`payable:${pa.id}`], ledger[`payable:${pb.id}`]]).to.deep.equal(['0.00', '-3.72']);
    expect(ledger.provider_costs).to.equal('31.40');
    expect((await p.request('GET', '/api/v1/ledger/balances?kind=provider_costs')).body.items.map((a: { id: string }) => a.id)).to.deep.equal([
      'provider_costs',
    ]);
  });
});
