import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

/**
 * SLA credits on the provider side (issue 15): a credit a tenant's invoice carries lowers, by the
 * same amount, the statement of the provider whose cluster lost the placement — when and only when
 * that provider's rate card says so; once.
 */
const H100 = [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }];
const SLA = { availabilityPercent: '99.5', graceMinutes: 10, credits: [{ belowPercent: '99.5', creditPercent: '10' }] };

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

interface Member {
  tenant: { id: string; apiKey: string };
  cluster: { id: string; agentToken: string };
  provider: { id: string };
  workload: string;
}

describeOnDatabases('SLA credits lower the responsible provider’s statement when its rate card says so', (platform) => {
  const m: Record<'lowers' | 'keeps', Member> = {} as never;

  async function heartbeat(p: TestPlatform, x: Member, ready = true) {
    const w = (await p.request('GET', `/api/v1/workloads/${x.workload}`, { token: x.tenant.apiKey })).body;
    const placements = ready
      ? w.placements
          .filter((pl: { clusterId: string; state: string }) => pl.clusterId === x.cluster.id && pl.state !== 'lost')
          .map((pl: { id: string; replicas: number }) => ({ id: pl.id, readyReplicas: pl.replicas }))
      : [];
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: x.cluster.agentToken, body: { inventory: H100, placements } })).status).to.equal(200);
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'gov-sla', type: 'periodic', period: 'month', fee: '10000.00', includedStd: 1_000_000_000, overagePricePerMillionStd: '8.00', sla: SLA },
      })
    ).body;
    const providers = { lowers: provider('Nansha Compute Co.', '91440101MA59ABCD1D'), keeps: provider('Huangpu Telecom', '92440106L12345674R') };
    for (const key of ['lowers', 'keeps'] as const) {
      const pv = await p.request('POST', '/api/v1/providers', { body: providers[key] });
      expect(pv.status, JSON.stringify(pv.body)).to.equal(201);
      const card = await p.request('POST', `/api/v1/providers/${pv.body.id}/rate-cards`, {
        body: {
          terms: { kind: 'flat', pricePerMillionStd: '1000.00' },
          validFrom: '2026-01-01T00:00:00+08:00',
          ...(key === 'lowers' ? { slaCreditsLowerStatement: true } : {}),
        },
      });
      expect(card.status, JSON.stringify(card.body)).to.equal(201);
      expect(card.body.slaCreditsLowerStatement).to.equal(key === 'lowers');
      const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: `tenant-${key}`, kind: 'government' } })).body;
      const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: `cluster-${key}`, region: `region-${key}` } })).body;
      expect((await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: pv.body.id } })).status).to.equal(200);
      await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
      const w = await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: `svc-${key}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: [`region-${key}`], access: 'direct' },
      });
      m[key] = { tenant, cluster, provider: pv.body, workload: w.body.id };
      await heartbeat(p, m[key], false);
    }
    await p.app.scheduler.runCycle();
    for (const x of Object.values(m)) await heartbeat(p, x);

    // October 10th: both clusters silent for five hours.
    p.clock.set('2026-10-10T00:00:00+08:00');
    for (const x of Object.values(m)) await heartbeat(p, x);
    p.clock.advance(31_000);
    await p.app.sweeper.sweep();
    await p.app.scheduler.runCycle();
    p.clock.set('2026-10-10T05:00:00+08:00');
    for (const x of Object.values(m)) await heartbeat(p, x, false);
    await p.app.scheduler.runCycle();
    for (const x of Object.values(m)) await heartbeat(p, x);
  });

  it('lowers the next statement of the provider whose card says so, by the tenant’s credit, once', async () => {
    const p = platform();
    p.clock.set('2026-11-01T01:00:00+08:00');
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    const october = (await p.request('GET', '/api/v1/statements?period=2026-10')).body.items;
    for (const st of october) expect(st.lines.map((l: { kind: string }) => l.kind)).to.not.include('sla_credit');

    // November: 2,000,000 standard tokens served on each cluster (¥2,000.00 at ¥1,000 per million).
    p.clock.set('2026-11-15T12:00:00+08:00');
    for (const x of Object.values(m)) {
      const res = await p.request('POST', '/api/v1/agent/usage', {
        token: x.cluster.agentToken,
        body: {
          events: [{ id: `nov-${x.workload}`, workloadId: x.workload, inputTokens: 0, outputTokens: 2_000_000, occurredAt: '2026-11-15T12:00:00+08:00' }],
        },
      });
      expect(res.body.accepted, JSON.stringify(res.body)).to.equal(1);
    }
    p.clock.set('2026-12-01T01:00:00+08:00');
    const invoices = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } })).body.items;
    for (const x of Object.values(m)) {
      const inv = invoices.find((i: { tenantId: string }) => i.tenantId === x.tenant.id);
      expect(inv.lines.find((l: { kind: string }) => l.kind === 'sla_credit').amount).to.equal('-1000.00');
    }
    const statements = (await p.request('GET', '/api/v1/statements?period=2026-11')).body.items;
    const of = (x: Member) => statements.find((s: { providerId: string }) => s.providerId === x.provider.id);
    const lowers = of(m.lowers);
    expect(
      lowers.lines.map((l: { kind: string; clusterId: string; usagePeriod: string; amount: string }) => [l.kind, l.clusterId, l.usagePeriod, l.amount]),
    ).to.deep.equal([
      ['usage', m.lowers.cluster.id, '2026-11', '2000.00'],
      ['sla_credit', m.lowers.cluster.id, '2026-10', '-1000.00'],
    ]);
    expect(lowers.total).to.equal('1000.00');
    // The credit takes its VAT back, as a credit note does on an invoice: the card's 6 % of −1000.00.
    expect(lowers.lines.map((l: { vat: string; amountInclusive: string }) => [l.vat, l.amountInclusive])).to.deep.equal([
      ['120.00', '2120.00'],
      ['-60.00', '-1060.00'],
    ]);
    expect([lowers.vat, lowers.totalInclusive]).to.deep.equal(['60.00', '1060.00']);
    const balances = (await p.request('GET', '/api/v1/ledger/balances?limit=1000')).body.items;
    const balanceOf = (id: string) => balances.find((a: { id: string }) => a.id === id)?.balance;
    expect(balanceOf(`payable:${m.lowers.provider.id}`)).to.equal('-1060.00');
    expect(of(m.keeps).lines.map((l: { kind: string }) => l.kind)).to.deep.equal(['usage']);
    expect(of(m.keeps).total).to.equal('2000.00');

    // Closing again changes nothing; December's statements carry no credit.
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    expect((await p.request('GET', '/api/v1/statements?period=2026-11')).body.items).to.deep.equal(statements);
    p.clock.set('2027-01-01T01:00:00+08:00');
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-12' } });
    for (const st of (await p.request('GET', '/api/v1/statements?period=2026-12')).body.items) {
      expect(st.lines.map((l: { kind: string }) => l.kind)).to.not.include('sla_credit');
    }
    // The settlement report still sums exactly: receivables less payables.
    const report = (await p.request('GET', '/api/v1/settlement/report?period=2026-11')).body;
    expect(report.payables).to.equal('3000.00');
    expect(report.receivables).to.equal('18000.00');
  });
});
