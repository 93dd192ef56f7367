import { expect } from 'chai';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import pg from 'pg';
import { connectDatabase, type Database } from '../../db/connect.js';
import { createApp, type App } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';
import { until } from '../until.js';

const config = loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_ADMIN_TOKEN: 'tp_admin_test-operator-token-0123456789', TOKENPOOL_DEMO: '0' });

/** Fails the next INSERT into `placements` once armed: a crash in the middle of a cycle's commit. */
class CrashOnPlacementInsert implements KyselyPlugin {
  armed = false;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    // The cycle inserts placements with plain SQL (RawNode); a builder insert would be an InsertQueryNode.
    const raw = node.kind === 'RawNode' && /^\s*INSERT INTO placements\b/.test((node as { sqlFragments?: readonly string[] }).sqlFragments?.join('') ?? '');
    const built =
      node.kind === 'InsertQueryNode' && (node.into as { table?: { identifier?: { name?: string } } } | undefined)?.table?.identifier?.name === 'placements';
    if (this.armed && (raw || built)) {
      this.armed = false;
      throw new Error('simulated crash while committing a cycle');
    }
    return node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

async function seed(app: App, workloads: number): Promise<void> {
  const { clusters, tenants, workloads: svc } = app.context.services;
  const operator = { kind: 'operator', name: 'admin' } as const;
  for (const name of ['nansha-1', 'tianhe-1']) {
    const c = await clusters.register({ name, region: name.split('-')[0]! });
    await clusters.heartbeat(c.id, [{ deviceModel: 'NVIDIA-H100-80GB', total: 16, healthy: 16 }]);
  }
  const t = await tenants.create({ name: 'Guangzhou Metro', kind: 'enterprise' });
  for (let i = 0; i < workloads; i++) {
    await svc.create(
      operator,
      { name: `w${i}`, kind: 'service', model: 'qwen2.5-32b-instruct', tokensPerMin: 20_000, priority: 'normal', ha: false, tenantId: t.id },
      undefined,
    );
  }
}

/** Every invariant a user would notice: no workload placed twice, no device double-booked. */
async function expectConsistent(db: Database): Promise<{ placed: number; pending: number }> {
  const active = await db.db.selectFrom('placements').selectAll().where('state', 'in', ['placed', 'running']).execute();
  const perWorkload = new Map<string, number>();
  const perSlot = new Map<string, number>();
  for (const p of active) {
    perWorkload.set(p.workload_id, (perWorkload.get(p.workload_id) ?? 0) + p.tokens_per_min);
    perSlot.set(`${p.cluster_id}/${p.device_model}`, (perSlot.get(`${p.cluster_id}/${p.device_model}`) ?? 0) + p.replicas * p.devices_per_replica);
  }
  const inventory = await db.db.selectFrom('cluster_inventory').selectAll().execute();
  for (const [slot, held] of perSlot) {
    const inv = inventory.find((i) => `${i.cluster_id}/${i.device_model}` === slot);
    expect(held, `devices held on ${slot}`).to.be.at.most(inv?.healthy ?? 0);
  }
  const workloads = await db.db.selectFrom('workloads').select(['id', 'state', 'tokens_per_min']).execute();
  for (const w of workloads) {
    if (w.state === 'placed' || w.state === 'running') {
      expect(perWorkload.get(w.id) ?? 0, `placed throughput of ${w.id}`).to.be.at.least(w.tokens_per_min);
      // Placed once: its throughput is less than the request plus one more placement set.
      expect(perWorkload.get(w.id)! < 2 * w.tokens_per_min + 80_000, `no double placement of ${w.id}`).to.equal(true);
    } else {
      expect(perWorkload.has(w.id), `pending ${w.id} holds nothing`).to.equal(false);
    }
  }
  return {
    placed: workloads.filter((w) => w.state === 'placed').length,
    pending: workloads.filter((w) => w.state === 'pending').length,
  };
}

for (const kind of DATABASE_KINDS) {
  describe(`scheduler crashes [${kind}]`, function () {
    this.timeout(60_000);

    it('loses nothing and double-books nothing when the scheduler dies between cycles', async () => {
      const database = await freshDatabase(kind);
      const clock = new FakeClock();
      try {
        const first = await createApp({ database, config, clock, log: silentLogger });
        await first.leader.check();
        await seed(first, 12);
        await first.scheduler.runCycle();
        const before = await expectConsistent(database);
        expect(before.placed).to.be.greaterThan(0);
        // The first instance is gone without a goodbye; a new one starts on the same database.
        const second = await createApp({ database, config, clock, log: silentLogger });
        await second.leader.check();
        await second.scheduler.runCycle();
        await second.scheduler.runCycle();
        const after = await expectConsistent(database);
        expect(after).to.deep.equal(before);
        await second.stop();
      } finally {
        await database.close();
      }
    });

    it('commits a cycle all or nothing: a crash during the commit leaves every workload pending, and the next cycle places each once', async () => {
      const base = await freshDatabase(kind);
      const crash = new CrashOnPlacementInsert();
      const database: Database = { ...base, db: base.db.withPlugin(crash), close: () => base.close() };
      const clock = new FakeClock();
      try {
        const app = await createApp({ database, config, clock, log: silentLogger });
        await app.leader.check();
        await seed(app, 8);
        crash.armed = true;
        let failed = false;
        await app.scheduler.runCycle().catch(() => (failed = true));
        expect(failed).to.equal(true);
        const mid = await expectConsistent(database);
        expect(mid).to.deep.equal({ placed: 0, pending: 8 });
        expect(await database.db.selectFrom('placements').selectAll().execute()).to.deep.equal([]);
        await app.scheduler.runCycle();
        const after = await expectConsistent(database);
        expect(after.placed).to.be.greaterThan(0);
        expect(after.placed + after.pending).to.equal(8);
        await app.stop();
      } finally {
        await database.close();
      }
    });
  });
}

if (DATABASE_KINDS.includes('postgres')) {
  describe('scheduler leader election [postgres]', function () {
    this.timeout(60_000);

    it('lets exactly one of two instances on one database schedule, and another takes over when the leader dies', async () => {
      const one = await freshDatabase('postgres');
      const two = await connectDatabase({ url: one.url, poolSize: 4 });
      const clock = new FakeClock();
      const a = await createApp({ database: one, config, clock, log: silentLogger });
      const b = await createApp({ database: two, config, clock, log: silentLogger });
      try {
        await a.leader.check();
        await b.leader.check();
        expect([a.leader.isLeader(), b.leader.isLeader()]).to.deep.equal([true, false]);
        await seed(a, 2);
        expect(await b.scheduler.runCycle()).to.equal(undefined);
        expect((await expectConsistent(one)).pending).to.equal(2);

        // The leader's process dies: its session ends and PostgreSQL releases the lock.
        const admin = new pg.Client({ connectionString: one.url });
        await admin.connect();
        const killed = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        expect(killed.rows.length, 'sessions holding the leader lock').to.equal(1);
        await admin.end();
        // The old leader learns it lost its session at once; the other instance takes the lock.
        await until(
          'the old leader to learn it lost its session',
          async () => a.leader.isLeader(),
          (leads) => !leads,
          1000,
        );
        expect(await a.scheduler.runCycle()).to.equal(undefined);
        await b.leader.check();
        expect(b.leader.isLeader()).to.equal(true);
        const summary = await b.scheduler.runCycle();
        expect(summary?.placed).to.equal(2);
        await a.leader.check();
        expect(a.leader.isLeader()).to.equal(false);
        expect(await a.scheduler.runCycle()).to.equal(undefined);

        // A workload created on the replica that does not lead is placed by the leader's loop at
        // once (woken through PostgreSQL), not at its next periodic tick.
        b.scheduler.start();
        await b.scheduler.idle();
        const t = await a.context.services.tenants.create({ name: 'Huadu Airport', kind: 'enterprise' });
        const w = await a.context.services.workloads.create(
          { kind: 'operator', name: 'admin' },
          { name: 'woken', kind: 'service', model: 'qwen2.5-7b-instruct', tokensPerMin: 10_000, priority: 'normal', ha: false, tenantId: t.id },
          undefined,
        );
        await until(
          'the workload placed before the 2 s tick',
          async () => (await one.db.selectFrom('workloads').select('state').where('id', '=', w.id).executeTakeFirstOrThrow()).state,
          (state) => state === 'placed',
          1500,
          20,
        );
      } finally {
        await a.stop();
        await b.stop();
        await two.close();
        await one.close();
      }
    });
  });
}
