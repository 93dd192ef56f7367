import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

/**
 * SLA credits on a fake clock (issue 15): a reserved workload whose cluster stops heartbeating for
 * longer than the plan's grace earns the credit of the plan's table on the tenant's next invoice,
 * once; shorter than the grace, or on a plan without an SLA, nothing.
 */
const H100 = [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }];
const SLA = {
  availabilityPercent: '99.5',
  graceMinutes: 10,
  credits: [
    { belowPercent: '99.5', creditPercent: '10' },
    { belowPercent: '99', creditPercent: '25' },
  ],
};

interface Member {
  tenant: { id: string; apiKey: string };
  cluster: { id: string; agentToken: string };
  workload: string;
}

describeOnDatabases('SLA credits: lost placements past the grace credit the next invoice', (platform) => {
  const m: Record<'long' | 'short' | 'plain' | 'moves', Member> = {} as never;

  async function heartbeat(p: TestPlatform, x: Member, ready = true) {
    const w = (await p.request('GET', `/api/v1/workloads/${x.workload}`, { token: x.tenant.apiKey })).body;
    const placements = ready
      ? w.placements
          .filter((pl: { clusterId: string; state: string }) => pl.clusterId === x.cluster.id && pl.state !== 'lost')
          .map((pl: { id: string; replicas: number }) => ({ id: pl.id, readyReplicas: pl.replicas }))
      : [];
    const res = await p.request('POST', '/api/v1/agent/heartbeat', { token: x.cluster.agentToken, body: { inventory: H100, placements } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  }

  async function state(p: TestPlatform, x: Member): Promise<string> {
    return (await p.request('GET', `/api/v1/workloads/${x.workload}`, { token: x.tenant.apiKey })).body.state;
  }

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    const plan = async (name: string, sla?: object) =>
      (
        await p.request('POST', '/api/v1/plans', {
          body: {
            name,
            type: 'periodic',
            period: 'month',
            fee: '10000.00',
            includedStd: 1_000_000_000,
            overagePricePerMillionStd: '8.00',
            ...(sla ? { sla } : {}),
          },
        })
      ).body;
    const withSla = await plan('gov-sla', SLA);
    expect(withSla.sla).to.deep.equal(SLA);
    const plain = await plan('gov-plain');
    for (const [key, planId] of [
      ['long', withSla.id],
      ['short', withSla.id],
      ['plain', plain.id],
      ['moves', withSla.id],
    ] as const) {
      const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: `tenant-${key}`, kind: 'government' } })).body;
      const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: `cluster-${key}`, region: `region-${key}` } })).body;
      await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId, startsAt: '2026-10-01T00:00:00+08:00' } });
      const created = await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: `svc-${key}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: [`region-${key}`], access: 'direct' },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      m[key] = { tenant, cluster, workload: created.body.id };
      await heartbeat(p, m[key], false);
    }
    await p.app.scheduler.runCycle();
    for (const x of Object.values(m)) await heartbeat(p, x);
    for (const x of Object.values(m)) expect(await state(p, x)).to.equal('running');
    // 'moves' leaves the SLA plan for pay-as-you-go on November 1st.
    const unit = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '2.00' } })).body;
    await p.request('POST', `/api/v1/tenants/${m.moves.tenant.id}/subscriptions`, { body: { planId: unit.id, startsAt: '2026-11-01T00:00:00+08:00' } });
  });

  it('records a spell when a cluster is lost and ends it when the workload runs again', async () => {
    const p = platform();
    p.clock.set('2026-10-10T00:00:00+08:00');
    for (const x of Object.values(m)) await heartbeat(p, x);
    // All three clusters go silent past the TTL: their placements are lost.
    p.clock.advance(31_000);
    await p.app.sweeper.sweep();
    await p.app.scheduler.runCycle();
    for (const x of Object.values(m)) expect(await state(p, x)).to.equal('pending');
    const open = await p.database.db.selectFrom('sla_spells').selectAll().where('ended_at', 'is', null).execute();
    expect(open.map((s) => [s.workload_id, s.reason, s.cluster_id, s.started_at.toISOString()]).sort()).to.deep.equal(
      Object.values(m)
        .map((x) => [x.workload, 'lost', x.cluster.id, '2026-10-09T16:00:00.000Z'])
        .sort(),
    );

    // The short one's cluster is back after 5 minutes, within the grace.
    p.clock.set('2026-10-10T00:05:00+08:00');
    await heartbeat(p, m.short, false);
    await p.app.scheduler.runCycle();
    await heartbeat(p, m.short);
    expect(await state(p, m.short)).to.equal('running');

    // The others after 5 hours.
    p.clock.set('2026-10-10T05:00:00+08:00');
    for (const x of [m.long, m.plain, m.moves]) await heartbeat(p, x, false);
    await heartbeat(p, m.short);
    await p.app.scheduler.runCycle();
    for (const x of Object.values(m)) await heartbeat(p, x);
    for (const x of Object.values(m)) expect(await state(p, x)).to.equal('running');
    const spells = await p.database.db.selectFrom('sla_spells').selectAll().orderBy('workload_id').execute();
    expect(spells.every((s) => s.ended_at !== null)).to.equal(true);
    const minutes = (x: Member) => spells.filter((s) => s.workload_id === x.workload).map((s) => (s.ended_at!.getTime() - s.started_at.getTime()) / 60_000);
    expect(minutes(m.short)).to.deep.equal([5]);
    expect(minutes(m.long)).to.deep.equal([300]);
  });

  it('puts no credit on the invoice of the month itself, and the credit on the next invoice, once', async () => {
    const p = platform();
    p.clock.set('2026-11-01T01:00:00+08:00');
    const october = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(october.status).to.equal(200);
    for (const inv of october.body.items) expect(inv.lines.map((l: { kind: string }) => l.kind)).to.deep.equal(['fee']);

    p.clock.set('2026-12-01T01:00:00+08:00');
    const november = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    expect(november.status, JSON.stringify(november.body)).to.equal(200);
    const of = (x: Member) => november.body.items.find((inv: { tenantId: string }) => inv.tenantId === x.tenant.id);
    // 300 of October's 44,640 minutes short: 99.328 % < 99.5 → 10 % of the ¥10,000.00 fee.
    expect(of(m.long).lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount])).to.deep.equal([
      ['fee', '10000.00'],
      ['sla_credit', '-1000.00'],
    ]);
    expect(of(m.long).lines[1].description).to.contain('99.328%').and.contain('300 of 44640 minutes');
    expect(of(m.long).total).to.equal('9000.00');
    const record = (await p.request('GET', `/api/v1/workloads/${m.long.workload}/sla`, { token: m.long.tenant.apiKey })).body;
    expect(record.spells).to.deep.equal([
      {
        reason: 'lost',
        placementId: record.spells[0].placementId,
        clusterId: m.long.cluster.id,
        startedAt: '2026-10-09T16:00:00.000Z',
        endedAt: '2026-10-09T21:00:00.000Z',
      },
    ]);
    expect(record.credits).to.deep.equal([
      {
        period: '2026-10',
        subscriptionId: record.credits[0].subscriptionId,
        availabilityPercent: '99.328',
        creditPercent: '10',
        amount: '-1000.00',
        invoiceId: of(m.long).id,
      },
    ]);
    expect((await p.request('GET', `/api/v1/workloads/${m.long.workload}/sla`, { token: m.short.tenant.apiKey })).status).to.equal(404);
    // A credit larger than the rest of the invoice: a negative total, posted to the ledger as a lower receivable.
    expect(of(m.moves).lines.map((l: { kind: string; amount: string }) => [l.kind, l.amount])).to.deep.equal([
      ['usage', '0.00'],
      ['sla_credit', '-1000.00'],
    ]);
    expect(of(m.moves).total).to.equal('-1000.00');
    const balance = (await p.request('GET', `/api/v1/tenants/${m.moves.tenant.id}/balance`)).body;
    // October's 10,000.00 and its 6 % VAT, less the credit and the VAT it takes back (1,060.00).
    expect(balance.receivable).to.equal('9540.00');
    expect(of(m.moves).vat).to.equal('-60.00');
    expect(of(m.short).total).to.equal('10000.00');
    expect(of(m.plain).total).to.equal('10000.00');

    // Closing again changes nothing; the month after carries the credit no more.
    const again = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } });
    expect(again.body).to.deep.equal(november.body);
    p.clock.set('2027-01-01T01:00:00+08:00');
    const december = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-12' } });
    for (const inv of december.body.items) expect(inv.total).to.equal(inv.tenantId === m.moves.tenant.id ? '0.00' : '10000.00');
  });

  it('records an under-replicated placement as responsible, until its replicas are ready again', async () => {
    const p = platform();
    p.clock.set('2027-01-05T00:00:00+08:00');
    // Two replicas of 180,000 tokens a minute each carry 300,000; one alone does not.
    const w = await p.request('POST', '/api/v1/workloads', {
      token: m.plain.tenant.apiKey,
      body: { name: 'wide', model: 'qwen2.5-7b-instruct', tokensPerMin: 300_000, regions: ['region-plain'], access: 'direct' },
    });
    await heartbeat(p, m.plain);
    await p.app.scheduler.runCycle();
    const placement = (await p.request('GET', `/api/v1/workloads/${w.body.id}`, { token: m.plain.tenant.apiKey })).body.placements[0];
    expect(placement.replicas).to.equal(2);
    const report = async (ready: number) => {
      const others = {
        id: (await p.request('GET', `/api/v1/workloads/${m.plain.workload}`, { token: m.plain.tenant.apiKey })).body.placements[0].id,
        readyReplicas: 1,
      };
      const res = await p.request('POST', '/api/v1/agent/heartbeat', {
        token: m.plain.cluster.agentToken,
        body: { inventory: H100, placements: [others, { id: placement.id, readyReplicas: ready }] },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    };
    const spellsOf = () => p.database.db.selectFrom('sla_spells').selectAll().where('workload_id', '=', w.body.id).execute();
    await report(1);
    expect(await spellsOf(), 'never yet running: not measured').to.deep.equal([]);
    await report(2);
    p.clock.advance(60_000);
    await report(1);
    const [open] = await spellsOf();
    expect(open).to.include({ reason: 'under_replicated', placement_id: placement.id, cluster_id: m.plain.cluster.id, ended_at: null });
    p.clock.advance(60_000);
    await report(2);
    const [ended] = await spellsOf();
    expect(ended!.ended_at!.getTime() - ended!.started_at.getTime()).to.equal(60_000);

    // A report measured by a clock behind the one that opened the spell (another process's, or a
    // request that read the time first) ends it at its start, not before.
    p.clock.advance(60_000);
    await report(1);
    const opened = (await spellsOf()).find((x) => x.ended_at === null)!;
    p.clock.advance(-30_000);
    await report(2);
    const closed = (await spellsOf()).find((x) => x.started_at.getTime() === opened.started_at.getTime())!;
    expect(closed.ended_at!.getTime()).to.equal(opened.started_at.getTime());
  });

  it('refuses bad SLA and model-price input with 400 and the field path, a price for an unknown model with 422', async () => {
    const p = platform();
    const base = { type: 'periodic', period: 'month', fee: '1.00', includedStd: 0, overagePricePerMillionStd: '1.00' };
    const cases: [object, string][] = [
      [{ name: 'b1', ...base, sla: { ...SLA, availabilityPercent: '100.1' } }, 'sla.availabilityPercent'],
      [{ name: 'b2', ...base, sla: { ...SLA, credits: [{ belowPercent: '99', creditPercent: '101' }] } }, 'sla.credits.0.creditPercent'],
      [{ name: 'b3', ...base, sla: { ...SLA, credits: [SLA.credits[0], { belowPercent: '99.5', creditPercent: '30' }] } }, 'sla.credits.1.belowPercent'],
      [{ name: 'b5', ...base, modelPrices: { 'qwen2.5-7b-instruct': { multiplier: '0' } } }, 'modelPrices.qwen2.5-7b-instruct.multiplier'],
      [{ name: 'b6', type: 'unit', pricePerMillionStd: '1.00', sla: SLA }, 'sla'],
    ];
    for (const [body, path] of cases) {
      const res = await p.request('POST', '/api/v1/plans', { body });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.headers.get('content-type')).to.contain('application/problem+json');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
    }
    const unknown = await p.request('POST', '/api/v1/plans', { body: { name: 'b4', ...base, modelPrices: { 'no-such-model': { multiplier: '2' } } } });
    expect(unknown.status, JSON.stringify(unknown.body)).to.equal(422);
    expect(unknown.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['modelPrices.no-such-model']);
    expect((await p.request('GET', '/api/v1/plans?limit=200')).body.items.map((x: { name: string }) => x.name)).not.to.include('b4');
  });
});
