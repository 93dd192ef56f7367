import { expect } from 'chai';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { IdGenerator } from '../../server/auth/tokens.js';
import { Calendar } from '../../server/billing/periods.js';
import { silentLogger } from '../../server/log.js';
import { BillingRepository } from '../../server/repositories/billing.repository.js';
import { PlansRepository } from '../../server/repositories/plans.repository.js';
import { BillingService } from '../../server/services/billing.service.js';
import { describeOnDatabases } from './harness.js';

/** Lets `allowed` INSERTs into `invoices` through, then fails the next: a crash in the middle of a close. */
class CrashAfterInvoices implements KyselyPlugin {
  constructor(public allowed: number) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    if (node.kind === 'InsertQueryNode' && (node.into as { table?: { identifier?: { name?: string } } } | undefined)?.table?.identifier?.name === 'invoices') {
      if (this.allowed-- <= 0) throw new Error('simulated crash during the close');
    }
    return node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describeOnDatabases('a period close interrupted halfway', (platform) => {
  it('issues each invoice exactly once, with unbroken numbers, when run again', async () => {
    const p = platform();
    p.clock.set('2026-10-05T10:00:00+08:00');
    const plan = (
      await p.request('POST', '/api/v1/plans', {
        body: { name: 'gov-basic', type: 'periodic', period: 'month', fee: '3100.00', includedStd: 0, overagePricePerMillionStd: '1.00' },
      })
    ).body;
    const tenants: string[] = [];
    for (const name of ['Liwan Office', 'Yuexiu Office', 'Baiyun Office', 'Huadu Office']) {
      const t = (await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'government' } })).body;
      await p.request('POST', `/api/v1/tenants/${t.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
      tenants.push(t.id);
    }
    p.clock.set('2026-11-01T00:10:00+08:00');
    const base = p.app.context.database.db;
    const crash = new CrashAfterInvoices(2);
    const db = base.withPlugin(crash);
    const billing = new BillingService(
      new BillingRepository(db),
      new PlansRepository(db),
      p.clock,
      new IdGenerator(p.clock),
      new Calendar('Asia/Shanghai'),
      silentLogger,
      undefined,
      1,
    );
    let failed = false;
    await billing.close('2026-10').catch(() => (failed = true));
    expect(failed).to.equal(true);
    const half = (await p.request('GET', '/api/v1/invoices?period=2026-10')).body.items;
    expect(half.map((i: { number: string }) => i.number)).to.deep.equal(['INV-2026-000001', 'INV-2026-000002']);

    const res = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(res.status).to.equal(200);
    const all = res.body.items as { tenantId: string; number: string; total: string }[];
    expect(all.map((i) => i.number)).to.deep.equal(['INV-2026-000001', 'INV-2026-000002', 'INV-2026-000003', 'INV-2026-000004']);
    expect(all.map((i) => i.tenantId).sort()).to.deep.equal([...tenants].sort());
    expect(all.every((i) => i.total === '3100.00')).to.equal(true);
    const ledger = await base.selectFrom('journal_entries').selectAll().where('kind', '=', 'invoice').execute();
    expect(ledger).to.have.length(4);
  });
});
