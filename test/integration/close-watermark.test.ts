/**
 * An exact close under concurrent ingestion (API.md v2 "Billing": a close bills every usage event
 * committed before it began). PostgreSQL only: on PGlite one connection runs one statement at a
 * time, so nothing is in flight while a close draws its watermark (billing.test.ts covers the close
 * there). Two platform processes, each with a pool of its own, take agents' reports over HTTP and
 * meter gateway calls (journaled, and replayed in chunks as a sweep does) while a close runs.
 */
import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import { connectDatabase, type Database } from '../../db/connect.js';
import { MeterJournal } from '../../server/gateway/meter-journal.js';
import { Metering } from '../../server/gateway/metering.js';
import { silentLogger } from '../../server/log.js';
import { USAGE_WATERMARK_LOCK, UsageRepository } from '../../server/repositories/usage.repository.js';
import type { MeteredCall } from '../../server/services/usage.service.js';
import { freshPostgresUrl } from '../databases.js';
import { FakeClock } from '../fake-clock.js';
import { startPlatform, type TestPlatform } from './harness.js';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

/** A seeded generator of numbers in [0, 1) (mulberry32): a failing round can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface City {
  readonly p: TestPlatform;
  readonly q: TestPlatform;
  readonly databases: readonly Database[];
  readonly clock: FakeClock;
  readonly agentToken: string;
  readonly clusterId: string;
  readonly tenants: readonly { id: string; workloadId: string; placementId: string }[];
  close(): Promise<void>;
}

/** Two processes of one city on a fresh PostgreSQL database; three tenants on a unit plan, each with a direct workload placed. */
async function city(): Promise<City> {
  const url = await freshPostgresUrl();
  const databases = [await connectDatabase({ url, poolSize: 10 }), await connectDatabase({ url, poolSize: 10 })];
  const clock = new FakeClock('2026-10-01T00:00:00+08:00');
  const p = await startPlatform('postgres', {}, { database: databases[0]!, clock });
  const q = await startPlatform('postgres', {}, { database: databases[1]!, clock });
  const plan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '1000.00' } })).body;
  const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
  const heartbeat = () =>
    p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
  await heartbeat();
  const tenants = [];
  for (const name of ['Liwan Office', 'Yuexiu Office', 'Pearl River Logistics']) {
    const t = (await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } })).body;
    await p.request('POST', `/api/v1/tenants/${t.id}/subscriptions`, { body: { planId: plan.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const w = (
      await p.request('POST', '/api/v1/workloads', {
        token: t.apiKey,
        body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
      })
    ).body;
    await p.app.scheduler.runCycle();
    await heartbeat();
    const placed = (await p.request('GET', `/api/v1/workloads/${w.id}`, { token: t.apiKey })).body;
    expect(placed.placements, 'the workload is placed').to.have.length(1);
    tenants.push({ id: t.id as string, workloadId: w.id as string, placementId: placed.placements[0].id as string });
  }
  return {
    p,
    q,
    databases,
    clock,
    agentToken: cluster.agentToken,
    clusterId: cluster.id,
    tenants,
    async close() {
      await q.close();
      await p.close();
      for (const d of databases) await d.close();
    },
  };
}

/** Exact standard tokens of the events that match `where` (a condition over usage_events), per tenant. */
async function stdByTenant(c: City, where: RawBuilder<unknown>): Promise<Map<string, Decimal>> {
  const r = await sql<{ tenant_id: string; std: string }>`
    SELECT tenant_id, sum(std_tokens)::text AS std FROM usage_events WHERE ${where} GROUP BY tenant_id`.execute(c.p.database.db);
  return new Map(r.rows.map((row) => [row.tenant_id, new Decimal(row.std)]));
}

onPostgres('an exact close under concurrent ingestion [postgres]', function () {
  this.timeout(180_000);

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`bills every event on exactly one invoice, the ones committed before the close on its own (seed ${seed})`, async () => {
      const rnd = random(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const c = await city();
      const journals = [mkdtempSync(join(tmpdir(), 'tp-close-journal-')), mkdtempSync(join(tmpdir(), 'tp-close-journal-'))];
      const meterings = [c.p, c.q].map(
        (x, i) => new Metering({ journal: new MeterJournal(journals[i]!), log: silentLogger, meter: (calls) => x.app.context.services.usage.meter(calls) }),
      );
      try {
        c.clock.set('2026-11-01T00:10:00+08:00');
        const october = Date.parse('2026-10-20T00:00:00+08:00');
        const november = Date.parse('2026-11-01T00:00:00+08:00');
        // Mostly October (the month closed), some of November (the month after, billed next).
        const occurredAt = () => (rnd() < 0.8 ? october + Math.floor(rnd() * (november - october)) : november + Math.floor(rnd() * 600_000));
        const tokens = () => 1 + Math.floor(rnd() * 200_000);

        let sent = 0;
        let done = 0;
        const total = 4 * 25 + 2 * 25 + 25;
        const closeAt = Math.floor(total * (0.2 + rnd() * 0.5));
        // Ids of the agents' events whose request answered before the close was asked for: committed before it began.
        const committedBefore: string[] = [];
        let closing: Promise<{ status: number }> | undefined;
        const finished = (ids: readonly string[], committed: boolean) => {
          done++;
          if (committed && !closing) committedBefore.push(...ids);
          if (done === closeAt) closing = c.p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
        };

        // Four agent streams, alternately through either process (each with its own pool).
        const agents = [0, 1, 2, 3].map(async (s) => {
          for (let b = 0; b < 25; b++) {
            const n = 1 + Math.floor(rnd() * 400);
            const events = Array.from({ length: n }, (_, i) => ({
              id: `a${s}-${b}-${i}`,
              workloadId: pick(c.tenants).workloadId,
              inputTokens: tokens(),
              outputTokens: tokens(),
              occurredAt: new Date(occurredAt()).toISOString(),
            }));
            const x = (s + b) % 2 === 0 ? c.p : c.q;
            const res = await x.request('POST', '/api/v1/agent/usage', { token: c.agentToken, body: { events } });
            expect(res.status).to.equal(200);
            expect(res.body.accepted).to.equal(n);
            sent += n;
            finished(
              events.map((e) => e.id),
              true,
            );
          }
        });
        const call = (id: string): MeteredCall => {
          const t = pick(c.tenants);
          return {
            requestId: id,
            tenantId: t.id,
            apiKeyId: null,
            workloadId: t.workloadId,
            placementId: t.placementId,
            clusterId: c.clusterId,
            inputTokens: tokens(),
            outputTokens: tokens(),
            occurredAt: new Date(occurredAt()),
          };
        };
        // The gateway's metering of each process: served calls journaled, committed in batches.
        const gateways = [0, 1].map(async (s) => {
          for (let b = 0; b < 25; b++) {
            const n = 1 + Math.floor(rnd() * 200);
            await Promise.all(Array.from({ length: n }, (_, i) => meterings[s]!.served(call(`g${s}-${b}-${i}`))));
            sent += n;
            finished([], false);
          }
        });
        // A sweep metering a stopped process's journal: chunks straight through UsageService.meter.
        const sweep = (async () => {
          for (let b = 0; b < 25; b++) {
            const n = 1 + Math.floor(rnd() * 300);
            const calls = Array.from({ length: n }, (_, i) => call(`r-${b}-${i}`));
            expect(await c.q.app.context.services.usage.meter(calls)).to.equal(n);
            sent += n;
            finished(
              calls.map((x) => x.requestId),
              true,
            );
          }
        })();
        await Promise.all([...agents, ...gateways, sweep]);
        for (const m of meterings) await m.stop();
        expect((await closing!).status).to.equal(200);

        const db = c.p.database.db;
        expect(
          Number(
            (
              await db
                .selectFrom('usage_events')
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
        ).to.equal(sent);
        const { cutoff_seq: watermark } = await db.selectFrom('billing_closes').select('cutoff_seq').where('period', '=', '2026-10').executeTakeFirstOrThrow();
        // Every event committed before the close began lies below its watermark.
        const { high } = await db
          .selectFrom('usage_events')
          .select((eb) => eb.fn.max('seq').as('high'))
          .where('id', 'in', committedBefore.length > 0 ? committedBefore : ['none'])
          .executeTakeFirstOrThrow();
        if (committedBefore.length > 0) expect(Number(high)).to.be.below(watermark);
        // The close fell in the middle of the ingestion: events on both sides of its watermark.
        const sides = await sql<{ before: number; after: number }>`
          SELECT count(*) FILTER (WHERE seq < ${watermark})::int AS before, count(*) FILTER (WHERE seq >= ${watermark})::int AS after FROM usage_events`.execute(
          db,
        );
        expect(sides.rows[0]!.before).to.be.above(0);
        expect(sides.rows[0]!.after).to.be.above(0);

        const [start, end] = [new Date('2026-10-01T00:00:00+08:00'), new Date('2026-11-01T00:00:00+08:00')];
        const below = await stdByTenant(c, sql`occurred_at >= ${start} AND occurred_at < ${end} AND seq < ${watermark}`);
        const allOctober = await stdByTenant(c, sql`occurred_at >= ${start} AND occurred_at < ${end}`);
        const allNovember = await stdByTenant(c, sql`occurred_at >= ${end}`);

        const usageLine = (inv: { lines: { kind: string; quantity: string; amount: string }[] }) => inv.lines.find((l) => l.kind === 'usage')!;
        const octoberInvoices = (await c.p.request('GET', '/api/v1/invoices?period=2026-10')).body.items as {
          tenantId: string;
          lines: { kind: string; quantity: string; amount: string }[];
        }[];
        expect(octoberInvoices).to.have.length(3);
        for (const inv of octoberInvoices) {
          // The October invoice bills exactly the tenant's October events below the watermark.
          expect(new Decimal(usageLine(inv).quantity).times(1e6).toFixed(), inv.tenantId).to.equal((below.get(inv.tenantId) ?? new Decimal(0)).toFixed());
        }

        // The rest of October, committed after the close, goes onto the next invoice as late usage.
        c.clock.set('2026-12-01T00:10:00+08:00');
        expect((await c.p.request('POST', '/api/v1/billing/close', { body: { period: '2026-11' } })).status).to.equal(200);
        const novemberInvoices = (await c.p.request('GET', '/api/v1/invoices?period=2026-11')).body.items as typeof octoberInvoices;
        expect(novemberInvoices).to.have.length(3);
        const fen = (d: Decimal) => d.toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
        for (const inv of novemberInvoices) {
          const t = inv.tenantId;
          expect(new Decimal(usageLine(inv).quantity).times(1e6).toFixed(), t).to.equal((allNovember.get(t) ?? new Decimal(0)).toFixed());
          const lateLine = inv.lines.find((l) => l.kind === 'late_usage');
          const october = octoberInvoices.find((i) => i.tenantId === t)!;
          const octoberAll = allOctober.get(t) ?? new Decimal(0);
          const octoberBelow = below.get(t) ?? new Decimal(0);
          // What October's invoice and the late line bill together is what all of October's events cost.
          const billed = new Decimal(usageLine(october).amount).plus(lateLine?.amount ?? '0');
          expect(billed.toFixed(2), t).to.equal(fen(octoberAll.div(1e6).times(1000)).toFixed(2));
          if (octoberAll.eq(octoberBelow)) expect(lateLine, t).to.equal(undefined);
        }
        const rating = await db.selectFrom('usage_billing').select(['tenant_id', 'rating']).where('period', '=', '2026-10').execute();
        for (const r of rating) {
          const std = (r.rating as { stdTokens: string }[]).reduce((d, s) => d.plus(s.stdTokens), new Decimal(0));
          expect(std.toFixed(), 'October is now rated on every one of its events').to.equal((allOctober.get(r.tenant_id) ?? new Decimal(0)).toFixed());
        }
      } finally {
        for (const m of meterings) await m.stop().catch(() => undefined);
        await c.close();
        for (const d of journals) rmSync(d, { recursive: true, force: true });
      }
    });
  }

  it('waits for an insert in flight before it draws its watermark, and bills that insert', async () => {
    const c = await city();
    let release: (() => void) | undefined;
    try {
      c.clock.set('2026-11-01T00:10:00+08:00');
      const t = c.tenants[0]!;
      const gate = new Promise<void>((r) => (release = r));
      let inserted!: () => void;
      const insertedNow = new Promise<void>((r) => (inserted = r));
      // An agent's batch in a transaction of the other process's pool, held open after its insert.
      const inFlight = c.q.database.db.transaction().execute(async (tx) => {
        const repo = new UsageRepository(tx);
        const workloads = await repo.workloads([t.workloadId], c.clusterId);
        const n = await repo.insert({
          clusterId: c.clusterId,
          receivedAt: c.clock.now(),
          workloads,
          ids: ['held-1'],
          workload: [0],
          inputTokens: [0],
          outputTokens: [2_000_000],
          occurredAtMs: [Date.parse('2026-10-31T23:59:59+08:00')],
        });
        expect(n).to.equal(1);
        inserted();
        await gate;
      });
      await insertedNow;
      const closing = c.p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
      // Either the close finishes (it did not wait: the event is left off every invoice), or it waits for the lock.
      let closedFirst = false;
      void closing.then(() => (closedFirst = true));
      for (;;) {
        const waiting = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${USAGE_WATERMARK_LOCK} AND NOT granted`.execute(c.p.database.db);
        if (waiting.rows[0]!.n > 0 || closedFirst) break;
      }
      expect(closedFirst, 'the close drew its watermark while an insert was in flight').to.equal(false);
      release!();
      await inFlight;
      const res = await closing;
      expect(res.status).to.equal(200);
      const inv = (res.body.items as { tenantId: string; lines: { kind: string; quantity: string }[] }[]).find((i) => i.tenantId === t.id)!;
      expect(inv.lines.find((l) => l.kind === 'usage')!.quantity).to.equal('2');
    } finally {
      release?.();
      await c.close();
    }
  });
});
