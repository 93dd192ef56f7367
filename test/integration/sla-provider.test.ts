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

describeOnDatabases('an SLA credit shared among the providers whose clusters made it', (platform) => {
  interface Side {
    provider: { id: string };
    cluster: { id: string; agentToken: string };
  }
  const sides: Side[] = [];
  let tenant: { id: string; apiKey: string };
  let workload: string;

  async function placementsOn(p: TestPlatform, clusterId: string) {
    const w = (await p.request('GET', `/api/v1/workloads/${workload}`, { token: tenant.apiKey })).body;
    return w.placements.filter((pl: { clusterId: string; state: string }) => pl.clusterId === clusterId && pl.state !== 'lost');
  }
  async function heartbeat(p: TestPlatform, side: Side) {
    const placements = (await placementsOn(p, side.cluster.id)).map((pl: { id: string; replicas: number }) => ({ id: pl.id, readyReplicas: pl.replicas }));
    const res = await p.request('POST', '/api/v1/agent/heartbeat', { token: side.cluster.agentToken, body: { inventory: H100, placements } });
    expect(res.status).to.equal(200);
  }
  /** At `at`, the cluster serving the workload goes silent; the workload moves to the other, which runs it `hours` later. */
  async function outage(p: TestPlatform, at: string, hours: number): Promise<Side> {
    p.clock.set(at);
    for (const s of sides) await heartbeat(p, s);
    const down = (await Promise.all(sides.map(async (s) => ((await placementsOn(p, s.cluster.id)).length > 0 ? s : undefined)))).find(Boolean)!;
    const up = sides.find((s) => s !== down)!;
    p.clock.advance(31_000);
    await heartbeat(p, up);
    await p.app.sweeper.sweep();
    await p.app.scheduler.runCycle();
    expect(await placementsOn(p, up.cluster.id), 'placed again on the other cluster').to.have.length(1);
    p.clock.set(new Date(new Date(at).getTime() + hours * 3_600_000).toISOString());
    for (const s of sides) await heartbeat(p, s);
    return down;
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: {
          name: 'gov-sla-shared',
          type: 'periodic',
          period: 'month',
          fee: '10000.00',
          includedStd: 1_000_000_000,
          overagePricePerMillionStd: '8.00',
          sla: SLA,
        },
      })
    ).body;
    const names = [provider('Nansha Compute Co.', '91440101MA59ABCD1D'), provider('Huangpu Telecom', '92440106L12345674R')];
    for (const [i, body] of names.entries()) {
      const pv = (await p.request('POST', '/api/v1/providers', { body })).body;
      const card = await p.request('POST', `/api/v1/providers/${pv.id}/rate-cards`, {
        body: { terms: { kind: 'flat', pricePerMillionStd: '1000.00' }, validFrom: '2026-01-01T00:00:00+08:00', slaCreditsLowerStatement: true },
      });
      expect(card.status, JSON.stringify(card.body)).to.equal(201);
      const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: `shared-${i}`, region: 'nansha' } })).body;
      expect((await p.request('PUT', `/api/v1/clusters/${cluster.id}/provider`, { body: { providerId: pv.id } })).status).to.equal(200);
      sides.push({ provider: pv, cluster });
    }
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'tenant-shared', kind: 'government' } })).body;
    await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    workload = (
      await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: 'svc-shared', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: ['nansha'], access: 'direct' },
      })
    ).body.id;
    for (const s of sides) await heartbeat(p, s);
    await p.app.scheduler.runCycle();
    for (const s of sides) await heartbeat(p, s);
  });

  it('takes each provider’s share, by its cluster’s short minutes, off its statement; the shares add up to the credit', async () => {
    const p = platform();
    // Three hours short on one cluster, then two on the other: 300 minutes, 10 % of the fee.
    const first = await outage(p, '2026-10-10T00:00:00+08:00', 3);
    const second = await outage(p, '2026-10-20T00:00:00+08:00', 2);
    expect(second).to.not.equal(first);
    p.clock.set('2026-11-01T01:00:00+08:00');
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    p.clock.set('2026-12-01T01:00:00+08:00');
    const invoices = (await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } })).body.items;
    const credit = invoices.find((i: { tenantId: string }) => i.tenantId === tenant.id).lines.find((l: { kind: string }) => l.kind === 'sla_credit');
    expect(credit.amount).to.equal('-1000.00');
    const statements = (await p.request('GET', '/api/v1/statements?period=2026-11')).body.items;
    const creditOf = (s: Side) =>
      statements
        .find((st: { providerId: string }) => st.providerId === s.provider.id)
        .lines.filter((l: { kind: string }) => l.kind === 'sla_credit')
        .map((l: { clusterId: string; amount: string; description: string }) => ({ clusterId: l.clusterId, amount: l.amount, description: l.description }));
    const [a, b] = [creditOf(first), creditOf(second)];
    // 180 and 120 short minutes (each spell from its minute to the minute the workload ran again).
    expect(a.map((l: { clusterId: string; amount: string }) => [l.clusterId, l.amount])).to.deep.equal([[first.cluster.id, '-600.00']]);
    expect(b.map((l: { clusterId: string; amount: string }) => [l.clusterId, l.amount])).to.deep.equal([[second.cluster.id, '-400.00']]);
    expect(a[0].description).to.include('180 short minutes').and.include('-1000.00');
    // A second close carries nothing again.
    await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    expect((await p.request('GET', '/api/v1/statements?period=2026-11')).body.items).to.deep.equal(statements);
  });
});
