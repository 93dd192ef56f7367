/**
 * A flood from one tenant does not stall others: a cap on each tenant's pending workloads (429 with
 * Retry-After, atomic under parallel creates), a scheduling cycle whose cost does not grow with one
 * tenant's unplaceable backlog, and a bound on dry runs computed at once.
 */
import { expect } from 'chai';
import { sql } from 'kysely';
import { WorkloadsRepository } from '../../server/repositories/workloads.repository.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const SMALL = 'qwen2.5-7b-instruct';
const h100 = (n: number) => [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: n, healthy: n }];

async function tenant(p: TestPlatform, name: string): Promise<{ id: string; apiKey: string }> {
  const res = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } });
  expect(res.status).to.equal(201);
  return res.body;
}

async function cluster(p: TestPlatform, name: string): Promise<void> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region: 'nansha' } });
  expect(res.status).to.equal(201);
  const beat = await p.request('POST', '/api/v1/agent/heartbeat', { token: res.body.agentToken, body: { inventory: h100(8), placements: [] } });
  expect(beat.status).to.equal(200);
}

function create(p: TestPlatform, apiKey: string, name: string, headers: Record<string, string> = {}) {
  return p.request('POST', '/api/v1/workloads', { token: apiKey, headers, body: { name, model: SMALL, tokensPerMin: 1000 } });
}

async function pendingOf(p: TestPlatform, tenantId: string): Promise<number> {
  const r = await sql<{ n: number | string }>`SELECT count(*) AS n FROM workloads WHERE tenant_id = ${tenantId} AND state = 'pending'`.execute(p.database.db);
  return Number(r.rows[0]!.n);
}

/** A workload as the service hands it to the repository: `regions` makes it direct. */
function newWorkload(p: TestPlatform, tenantId: string, id: string, extra: { modelName?: string; priority?: string; regions?: string[] } = {}) {
  return {
    id,
    tenantId,
    name: id,
    kind: 'service',
    modelName: extra.modelName ?? SMALL,
    tokensPerMin: 1000,
    priority: extra.priority ?? 'normal',
    regions: extra.regions ?? null,
    ha: extra.regions !== undefined,
    access: extra.regions !== undefined ? 'direct' : 'gateway',
    now: p.clock.now(),
  };
}

/** A tenant's pending count as the cap reads it (migration 0017's two count rows). */
async function countedOf(p: TestPlatform, tenantId: string): Promise<number> {
  const r = await sql<{ n: number | string }>`
    SELECT i.n - o.n AS n FROM pending_in i JOIN pending_out o ON o.tenant_id = i.tenant_id WHERE i.tenant_id = ${tenantId}`.execute(p.database.db);
  return Number(r.rows[0]!.n);
}

describeOnDatabases(
  'flood: a cap on pending workloads per tenant',
  (platform) => {
    it('answers a create past the cap 429 problem+json with Retry-After; other tenants and deletes are unaffected', async () => {
      const p = platform();
      const a = await tenant(p, 'Flooding Tenant');
      const b = await tenant(p, 'Quiet Tenant');
      for (let i = 0; i < 5; i++) expect((await create(p, a.apiKey, `a-${i}`)).status).to.equal(202);
      const refused = await create(p, a.apiKey, 'a-5');
      expect(refused.status).to.equal(429);
      expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(refused.headers.get('retry-after')).to.equal('10');
      expect(refused.body).to.include({ status: 429, type: 'https://tokenpool.dev/problems/rate-limited' });
      expect(await pendingOf(p, a.id)).to.equal(5);

      expect((await create(p, b.apiKey, 'b-0')).status, 'another tenant').to.equal(202);
      // The operator acting for the tenant is held to the same cap.
      const op = await p.request('POST', '/api/v1/workloads', { body: { name: 'op', model: SMALL, tokensPerMin: 1000, tenantId: a.id } });
      expect(op.status).to.equal(429);

      // An idempotent create past the cap leaves its key unused: the same request succeeds later.
      const key = { 'Idempotency-Key': 'flood-retry-1' };
      expect((await create(p, a.apiKey, 'a-idem', key)).status).to.equal(429);
      const list = await p.request('GET', '/api/v1/workloads?state=pending', { token: a.apiKey });
      expect((await p.request('DELETE', `/api/v1/workloads/${list.body.items[0].id}`, { token: a.apiKey })).status).to.equal(202);
      const retried = await create(p, a.apiKey, 'a-idem', key);
      expect(retried.status).to.equal(202);
      expect((await create(p, a.apiKey, 'a-idem', key)).body.id, 'the stored answer').to.equal(retried.body.id);
      expect(await pendingOf(p, a.id)).to.equal(5);
    });

    it('parallel creates through the API never pass the cap', async () => {
      const p = platform();
      const t = await tenant(p, 'Parallel Tenant');
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => create(p, t.apiKey, `par-${i}`)));
      expect(answers.filter((r) => r.status === 202)).to.have.length(5);
      expect(answers.filter((r) => r.status === 429)).to.have.length(11);
      expect(await pendingOf(p, t.id)).to.equal(5);
    });

    it('inserts racing on separate connections (as from several processes) never pass the cap', async () => {
      const p = platform();
      const t = await tenant(p, 'Racing Tenant');
      // Each repository batches on its own, so their statements run at once on different connections.
      const repos = Array.from({ length: 4 }, () => new WorkloadsRepository(p.database.db));
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => repos[i % repos.length]!.insert(newWorkload(p, t.id, `wl_race_${i}`), 10)));
      expect(answers.filter((a) => typeof a !== 'string')).to.have.length(10);
      expect(answers.filter((a) => a === 'over_cap')).to.have.length(30);
      expect(await pendingOf(p, t.id)).to.equal(10);
      expect(await countedOf(p, t.id), 'the count the cap reads').to.equal(10);
    });

    it('counts every pending workload once, inserted by a create, in a transaction, or by other SQL', async () => {
      const p = platform();
      const t = await tenant(p, 'Counted Tenant');
      const repo = new WorkloadsRepository(p.database.db);
      const row = (id: string) => newWorkload(p, t.id, id);
      const other = (id: string) => sql`
        INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, ha, state, created_at, updated_at)
        SELECT ${id}, ${t.id}, ${id}, 'service', m.id, 1000, 'normal', false, 'pending', now(), now() FROM models m WHERE m.name = ${SMALL}`;
      // A batch of creates counts itself; the trigger must not count it again.
      await Promise.all([repo.insert(row('wl_cnt_1'), 100), repo.insert(row('wl_cnt_2'), 100)]);
      expect(await countedOf(p, t.id)).to.equal(2);
      // A create in a transaction, then another insert in the same transaction: the trigger counts the second.
      await p.database.db.transaction().execute(async (tx) => {
        expect(await repo.insert(row('wl_cnt_3'), 100, tx)).to.not.be.a('string');
        await other('wl_cnt_4').execute(tx);
      });
      expect(await countedOf(p, t.id)).to.equal(4);
      // Any other insert is counted by the trigger.
      await other('wl_cnt_5').execute(p.database.db);
      expect(await countedOf(p, t.id)).to.equal(5);
      expect(await pendingOf(p, t.id)).to.equal(5);
    });

    it('answers each workload of a batch that mixes refusals as it would be answered alone', async () => {
      const p = platform();
      const a = await tenant(p, 'Mixed Tenant');
      const b = await tenant(p, 'Other Tenant');
      const repo = new WorkloadsRepository(p.database.db);
      const row = (id: string, tenantId: string, extra: { modelName?: string; priority?: string; regions?: string[] } = {}) =>
        newWorkload(p, tenantId, id, extra);
      expect(await repo.insert(row('wl_mix_0', a.id), 3)).to.not.be.a('string');
      // Submitted in one turn, so that they share one statement (coalesce.ts); the cap is 3 and A has 1.
      const answers = await Promise.all([
        repo.insert(row('wl_mix_1', a.id, { modelName: 'no-such-model' }), 3),
        repo.insert(row('wl_mix_2', a.id), 3),
        repo.insert(row('wl_mix_3', a.id, { priority: 'high' }), 3),
        repo.insert(row('wl_mix_4', a.id), 3),
        repo.insert(row('wl_mix_5', a.id), 3),
        repo.insert(row('wl_mix_6', b.id, { regions: ['nansha', 'tianhe'] }), 3),
      ]);
      expect(answers[0]).to.equal('unknown_model');
      expect(answers[1]).to.include({ id: 'wl_mix_2', state: 'pending' });
      expect(answers[2]).to.deep.equal({ maxPriority: 'normal' });
      // Behind two refused workloads of its tenant, yet within the cap: inserted.
      expect(answers[3]).to.include({ id: 'wl_mix_4', state: 'pending' });
      expect(answers[4]).to.equal('over_cap');
      expect(answers[5]).to.include({ id: 'wl_mix_6', state: 'pending' });
      // The rows answered are the rows stored, from a batch and from a workload tried alone.
      for (const i of [1, 3, 5]) {
        const stored = await p.database.db
          .selectFrom('workloads')
          .selectAll()
          .where('id', '=', (answers[i] as { id: string }).id)
          .executeTakeFirstOrThrow();
        expect(answers[i]).to.deep.equal(stored);
      }
      expect(await pendingOf(p, a.id)).to.equal(3);
      expect(await pendingOf(p, b.id)).to.equal(1);
    });

    it('a create racing an uncommitted create of the same tenant waits for it and then counts its workload (PostgreSQL)', async function () {
      const p = platform();
      if (p.kind !== 'postgres') this.skip();
      const t = await tenant(p, 'Locked Tenant');
      const repo = new WorkloadsRepository(p.database.db);
      const row = (id: string) => newWorkload(p, t.id, id);
      const db = p.database.db;
      let second: Promise<unknown> | undefined;
      await db.transaction().execute(async (tx1) => {
        expect(await repo.insert(row('wl_lock_1'), 1, tx1)).to.not.be.a('string');
        let settled = false;
        // As the service does, a refused create ends its transaction.
        second = db
          .transaction()
          .execute(async (tx2) => {
            const answer = await repo.insert(row('wl_lock_2'), 1, tx2);
            if (answer === 'over_cap') throw new Error('over_cap');
            return answer;
          })
          .catch((err: Error) => err.message)
          .finally(() => (settled = true));
        // Until the second create waits for a lock (the tenant's count, held by the first), or, were
        // there none, has finished.
        for (;;) {
          const waiting = await sql<{ n: string }>`
            SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
          if (Number(waiting.rows[0]!.n) > 0 || settled) break;
          await new Promise((r) => setImmediate(r));
        }
      });
      expect(await second).to.equal('over_cap');
      expect(await pendingOf(p, t.id)).to.equal(1);
    });
  },
  { TOKENPOOL_MAX_PENDING_PER_TENANT: '5' },
);

describeOnDatabases('flood: the cycle is bounded by a window per tenant, not by a backlog', (platform) => {
  it("places another tenant's workload in the first cycle despite a 10,000-workload unplaceable backlog, and reaches the backlog's later workloads by turns", async () => {
    const p = platform();
    const flood = await tenant(p, 'Backlog Tenant');
    const quiet = await tenant(p, 'Quiet Tenant');
    await cluster(p, 'nansha-1');
    // 10,000 requests far past the city's capacity, except the 350th, which fits.
    await sql`
      INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, regions, ha, state, created_at, updated_at)
      SELECT 'wl_flood_' || i, ${flood.id}, 'flood-' || i, 'service', m.id, CASE WHEN i = 350 THEN 1000 ELSE 1000000000 END, 'normal', NULL, false,
             'pending', ${p.clock.now()}, ${p.clock.now()}
        FROM generate_series(1, 10000) AS i CROSS JOIN models m
       WHERE m.name = ${SMALL}
       ORDER BY i`.execute(p.database.db);
    const quietOne = await create(p, quiet.apiKey, 'quiet-service');
    expect(quietOne.status).to.equal(202);

    const first = await p.app.scheduler.runCycle();
    // The window: the oldest 100 of the backlog and one page of 100 more, and the quiet workload.
    expect(first).to.include({ placed: 1, pending: 200 });
    expect((await p.request('GET', `/api/v1/workloads/${quietOne.body.id}`, { token: quiet.apiKey })).body.state).to.equal('placed');
    const state = async () => (await p.request('GET', '/api/v1/workloads/wl_flood_350', { token: flood.apiKey })).body.state;
    expect(await state(), 'beyond the first window').to.equal('pending');

    // Later pages come in turn: the 350th is in the third (workloads 301–400).
    expect(await p.app.scheduler.runCycle()).to.include({ placed: 0, pending: 200 });
    expect(await p.app.scheduler.runCycle()).to.include({ placed: 1 });
    expect(await state()).to.equal('placed');
  });
});

describeOnDatabases(
  'flood: dry runs computed at once are bounded',
  (platform) => {
    it('answers a dry run past the bound 429 with Retry-After while one runs, and 200 once it ended', async () => {
      const p = platform();
      const t = await tenant(p, 'Dry Tenant');
      await cluster(p, 'nansha-dry');
      const scheduler = p.app.scheduler;
      const real = scheduler.dryRun.bind(scheduler);
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      scheduler.dryRun = async (w) => {
        entered();
        await held;
        return real(w);
      };
      const dry = () => p.request('POST', '/api/v1/workloads?dryRun=true', { token: t.apiKey, body: { name: 'what-if', model: SMALL, tokensPerMin: 1000 } });
      try {
        const first = dry();
        await inside;
        const second = await dry();
        expect(second.status).to.equal(429);
        expect(second.headers.get('retry-after')).to.equal('1');
        release();
        expect((await first).status).to.equal(200);
      } finally {
        release();
        scheduler.dryRun = real;
      }
      const third = await dry();
      expect(third.status).to.equal(200);
      expect(third.body.placedTokensPerMin).to.be.at.least(1000);
    });
  },
  { TOKENPOOL_MAX_CONCURRENT_DRY_RUNS: '1' },
);
