import { expect } from 'chai';
import { parseMicro, usageStdTokens } from '../../scheduler/capacity.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Agent {
  readonly id: string;
  readonly agentToken: string;
}

const H100 = [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }];
const DAY = 86_400_000;

async function cluster(p: TestPlatform, name: string, region = name.split('-')[0]!): Promise<Agent> {
  const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region } })).body;
  await heartbeat(p, c);
  return c;
}

function heartbeat(p: TestPlatform, c: Agent) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token: c.agentToken, body: { inventory: H100 } });
}

async function workload(p: TestPlatform, apiKey: string, name: string, model: string, regions: string[]): Promise<string> {
  const res = await p.request('POST', '/api/v1/workloads', { token: apiKey, body: { name, model, tokensPerMin: 1000, regions, access: 'direct' } });
  expect(res.status).to.equal(202);
  return res.body.id;
}

const ev = (id: string, workloadId: string, occurredAt = '2026-10-31T22:00:00+08:00', inputTokens = 1200, outputTokens = 300) => ({
  id,
  workloadId,
  inputTokens,
  outputTokens,
  occurredAt,
});

describeOnDatabases('usage: ingestion from agents and reports', (platform) => {
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let nansha: Agent;
  let tianhe: Agent;
  let w72: string;
  let w7: string;
  let wFrac: string;
  let wOther: string;

  const send = (agent: Agent, events: object[]) => platform().request('POST', '/api/v1/agent/usage', { token: agent.agentToken, body: { events } });

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-31T23:00:00+08:00');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Tianhe Health', kind: 'government' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Other Co', kind: 'enterprise' } })).body;
    const model = await p.request('POST', '/api/v1/models', { body: { name: 'fractional-1b', minMemoryGiB: 20, costFactor: 0.333333, inputFactor: 0.123457 } });
    expect(model.status).to.equal(201);
    nansha = await cluster(p, 'nansha-1');
    w72 = await workload(p, tenant.apiKey, 'a', 'qwen2.5-72b-instruct', ['nansha']);
    w7 = await workload(p, tenant.apiKey, 'b', 'qwen2.5-7b-instruct', ['nansha']);
    wFrac = await workload(p, tenant.apiKey, 'c', 'fractional-1b', ['nansha']);
    wOther = await workload(p, other.apiKey, 'd', 'qwen2.5-7b-instruct', ['nansha']);
    await p.app.scheduler.runCycle();
    tianhe = await cluster(p, 'tianhe-1');
  });

  describe('POST /api/v1/agent/usage', () => {
    it('accepts new events, counts an id seen before (or twice in one batch) as a duplicate, and gives a reason for each rejection', async () => {
      const first = await send(nansha, [ev('e1', w72), ev('e2', w7), ev('e2', w7)]);
      expect(first.status).to.equal(200);
      expect(first.body).to.deep.equal({ accepted: 2, duplicates: 1, rejected: [] });
      const again = await send(nansha, [
        ev('e1', w72),
        ev('e3', 'wl_missing'),
        ev('e4', w72, '2026-07-01T00:00:00+08:00'),
        ev('e5', w72, '2026-10-31T23:06:00+08:00'),
        ev('e6', w7),
      ]);
      expect(again.body).to.deep.equal({
        accepted: 1,
        duplicates: 1,
        rejected: [
          { id: 'e3', reason: 'unknown_workload' },
          { id: 'e4', reason: 'out_of_window' },
          { id: 'e5', reason: 'out_of_window' },
        ],
      });
    });

    it('counts a replayed batch as duplicates only, and remembers no rejected id (it counts once it is valid)', async () => {
      const batch = [ev('r1', w72), ev('r2', w7), ev('r3', w72, '2026-10-31T23:10:00+08:00')];
      expect((await send(nansha, batch)).body).to.deep.equal({ accepted: 2, duplicates: 0, rejected: [{ id: 'r3', reason: 'out_of_window' }] });
      expect((await send(nansha, batch)).body).to.deep.equal({ accepted: 0, duplicates: 2, rejected: [{ id: 'r3', reason: 'out_of_window' }] });
      expect((await send(nansha, [ev('r3', w72, '2026-10-31T23:04:00+08:00')])).body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
      expect((await send(nansha, [ev('r3', w72, '2026-10-31T23:04:00+08:00')])).body).to.deep.equal({ accepted: 0, duplicates: 1, rejected: [] });
    });

    it('keeps ids exactly as sent, whatever characters they hold', async () => {
      const ids = [
        'q"uote',
        'back\\slash',
        'back\\"both',
        'com,ma',
        '{brace}',
        ' space ',
        'NULL',
        '',
        '雨-🌧',
        "o'clock",
        'tab\tline\nfeed',
        'x"y',
        'x\\"y',
        'x\\y',
        'xy',
        'x\\\\y',
      ].map((x) => `odd:${x}`);
      const batch = ids.map((id) => ev(id, w7));
      expect((await send(nansha, batch)).body).to.deep.equal({ accepted: ids.length, duplicates: 0, rejected: [] });
      expect((await send(nansha, batch)).body).to.deep.equal({ accepted: 0, duplicates: ids.length, rejected: [] });
      const nul = await send(nansha, [ev('odd:nul\u0000', w7)]);
      expect(nul.status).to.equal(400);
      expect(nul.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['events.0.id']);
    });

    it('judges the window at its edges: exactly 90 days back and 5 minutes ahead are in, a millisecond more is out', async () => {
      const now = platform().clock.now().getTime();
      const at = (ms: number) => new Date(now + ms).toISOString();
      const res = await send(nansha, [
        ev('w-past', w7, at(-90 * DAY)),
        ev('w-past-out', w7, at(-90 * DAY - 1)),
        ev('w-future', w7, at(5 * 60_000)),
        ev('w-future-out', w7, at(5 * 60_000 + 1)),
        // The same instants written with an offset are the same instants.
        ev('w-past-offset', w7, new Date(now - 90 * DAY).toISOString().replace('Z', '+00:00')),
      ]);
      expect(res.body.accepted).to.equal(3);
      expect(res.body.rejected).to.deep.equal([
        { id: 'w-past-out', reason: 'out_of_window' },
        { id: 'w-future-out', reason: 'out_of_window' },
      ]);
    });

    it("rejects usage from another cluster's agent, never silently accepting it, and admits agents only", async () => {
      const res = await send(tianhe, [ev('t1', w72), ev('t2', wOther)]);
      expect(res.body).to.deep.equal({
        accepted: 0,
        duplicates: 0,
        rejected: [
          { id: 't1', reason: 'not_placed_on_this_cluster' },
          { id: 't2', reason: 'not_placed_on_this_cluster' },
        ],
      });
      const asTenant = await platform().request('POST', '/api/v1/agent/usage', { token: tenant.apiKey, body: { events: [ev('x', w7)] } });
      expect(asTenant.status).to.equal(403);
      expect((await platform().request('POST', '/api/v1/agent/usage', { body: { events: [ev('x', w7)] } })).status).to.equal(403);
      expect((await platform().request('POST', '/api/v1/agent/usage', { token: null, body: { events: [ev('x', w7)] } })).status).to.equal(401);
    });

    it('accepts usage from the cluster a workload ran on before it moved, and from the one it runs on now', async () => {
      const p = platform();
      const hp1 = await cluster(p, 'huangpu-1');
      const hp2 = await cluster(p, 'huangpu-2');
      const mover = await workload(p, tenant.apiKey, 'mover', 'qwen2.5-7b-instruct', ['huangpu']);
      await p.app.scheduler.runCycle();
      const before = (await p.request('GET', `/api/v1/workloads/${mover}`, { token: tenant.apiKey })).body;
      const [home, away] = before.placements[0].clusterId === hp1.id ? [hp1, hp2] : [hp2, hp1];
      // Only `away` keeps reporting: `home` is past the TTL and its placement is lost.
      p.clock.advance(31_000);
      await heartbeat(p, away);
      await p.app.sweeper.sweep();
      await p.app.scheduler.runCycle();
      const after = (await p.request('GET', `/api/v1/workloads/${mover}`, { token: tenant.apiKey })).body;
      expect(after.placements.filter((x: { state: string }) => x.state === 'placed').map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([away.id]);
      expect((await send(home, [ev('mv-1', mover)])).body).to.deep.include({ accepted: 1, rejected: [] });
      expect((await send(away, [ev('mv-2', mover)])).body).to.deep.include({ accepted: 1, rejected: [] });
      expect((await send(nansha, [ev('mv-3', mover)])).body.rejected).to.deep.equal([{ id: 'mv-3', reason: 'not_placed_on_this_cluster' }]);
    });

    it('accepts usage of a deleted workload from the cluster it ran on', async () => {
      const p = platform();
      await heartbeat(p, nansha);
      const gone = await workload(p, tenant.apiKey, 'gone', 'qwen2.5-7b-instruct', ['nansha']);
      await p.app.scheduler.runCycle();
      expect((await p.request('GET', `/api/v1/workloads/${gone}`, { token: tenant.apiKey })).body.placements[0].clusterId).to.equal(nansha.id);
      expect((await p.request('DELETE', `/api/v1/workloads/${gone}`, { token: tenant.apiKey })).status).to.equal(202);
      expect((await p.request('GET', `/api/v1/workloads/${gone}`, { token: tenant.apiKey })).body.state).to.equal('deleted');
      expect((await send(nansha, [ev('gone-1', gone)])).body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
      expect((await send(tianhe, [ev('gone-2', gone)])).body.rejected).to.deep.equal([{ id: 'gone-2', reason: 'not_placed_on_this_cluster' }]);
    });

    it('counts the same batch sent on two connections at once exactly once, in whatever order its events come', async () => {
      const batch = Array.from({ length: 300 }, (_, i) => ev(`c-${i}`, i % 2 ? w7 : w72));
      const answers = await Promise.all([send(nansha, batch), send(nansha, [...batch].reverse()), send(nansha, batch)]);
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200]);
      expect(answers.reduce((n, a) => n + a.body.accepted, 0)).to.equal(300);
      expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).to.equal(600);
    });

    it('takes 10,000 events in one request and refuses 10,001 as a whole', async () => {
      const big = Array.from({ length: 10_000 }, (_, i) => ev(`big-${i}`, i % 3 ? w7 : w72, undefined, i, 1));
      expect((await send(nansha, big)).body).to.deep.equal({ accepted: 10_000, duplicates: 0, rejected: [] });
      const tooBig = Array.from({ length: 10_001 }, (_, i) => ev(`huge-${i}`, w7));
      const res = await send(nansha, tooBig);
      expect(res.status).to.equal(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['events']);
      expect((await send(nansha, [ev('huge-0', w7)])).body.accepted).to.equal(1);
    });

    it('refuses a body that does not match the schema as a whole, saying which field (events.3.outputTokens)', async () => {
      const batch = [ev('m0', w7), ev('m1', w7), ev('m2', w7), { ...ev('m3', w7), outputTokens: -1 }];
      const bad = await send(nansha, batch);
      expect(bad.status).to.equal(400);
      expect(bad.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(bad.body.errors).to.deep.equal([{ path: 'events.3.outputTokens', message: 'must not be negative' }]);
      const cases: [object[], string][] = [
        [[{ ...ev('m4', w7), occurredAt: '2026-10-31 22:00' }], 'events.0.occurredAt'],
        [[{ ...ev('m4', w7), occurredAt: '2026-10-31T22:00:00' }], 'events.0.occurredAt'],
        [[{ ...ev('m4', w7), inputTokens: 1.5 }], 'events.0.inputTokens'],
        [[{ ...ev('m4', w7), id: '' }], 'events.0.id'],
        [[{ ...ev('m4', w7), id: 'x'.repeat(201) }], 'events.0.id'],
        [[{ ...ev('m4', w7), tenantId: tenant.id }], 'events.0.tenantId'],
        [[], 'events'],
      ];
      for (const [events, path] of cases) {
        const res = await send(nansha, events);
        expect(res.status, path).to.equal(400);
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
      }
      // Nothing of a refused batch was kept.
      expect((await send(nansha, batch.slice(0, 3))).body.accepted).to.equal(3);
    });

    it('counts events on /metrics by result and times each batch', async () => {
      const text = (await platform().request('GET', '/metrics', { token: null })).body as string;
      const count = (result: string) => Number(new RegExp(`^tokenpool_usage_events_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      expect(count('accepted')).to.be.greaterThan(10_000);
      expect(count('duplicate')).to.be.greaterThan(600);
      expect(count('rejected')).to.be.greaterThan(5);
      expect(text).to.match(/^tokenpool_usage_ingest_duration_seconds_count \d+$/m);
    });
  });

  describe('GET /api/v1/usage', () => {
    before(async () => {
      const p = platform();
      p.clock.set('2026-11-01T01:00:00+08:00');
      const res = await send(nansha, [
        // 16:30Z on 31 October is 00:30 on 1 November in Asia/Shanghai.
        ev('nov-1', w72, '2026-10-31T16:30:00Z', 1, 1),
        ev('nov-2', wFrac, '2026-10-31T17:00:00Z', 7, 3),
        ev('nov-3', wFrac, '2026-10-31T16:59:59.999Z', 7, 3),
        // Large, yet within what wFrac's one replica could produce in the window (past it: implausible;
        // the schema's maximum of 10^12 is in usage-hardening.test.ts, on a model cheap enough for it).
        ev('nov-4', wFrac, '2026-11-01T00:59:00+08:00', 49_999_999_999, 50_000_000_000),
        ev('nov-other', wOther, '2026-10-31T16:00:00Z', 1000, 100),
      ]);
      expect(res.body).to.deep.equal({ accepted: 5, duplicates: 0, rejected: [] });
    });

    it('sums standard tokens exactly, by the formula, for fractional factors', async () => {
      const frac = (input: number, output: number) => usageStdTokens(input, output, parseMicro('0.333333'), parseMicro('0.123457'));
      expect(frac(7, 3)).to.equal('1.288065045267');
      const nov = (await platform().request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
      const byModel = new Map<string, { stdTokens: string }>(nov.byModel.map((m: { model: string; stdTokens: string }) => [m.model, m]));
      expect(byModel.get('fractional-1b')).to.deep.equal({
        model: 'fractional-1b',
        inputTokens: 50_000_000_013,
        outputTokens: 50_000_000_006,
        // 2 × 0.333333 × (3 + 0.123457 × 7) + 0.333333 × (5 × 10^10 + 0.123457 × 49,999,999,999)
        stdTokens: '18724264611.584977798353',
      });
      expect(addDecimals(frac(7, 3), frac(7, 3), frac(49_999_999_999, 50_000_000_000))).to.equal(byModel.get('fractional-1b')?.stdTokens);
      expect(byModel.get('qwen2.5-72b-instruct')).to.deep.equal({ model: 'qwen2.5-72b-instruct', inputTokens: 1, outputTokens: 1, stdTokens: '12.5' });
    });

    it("reports a tenant's current month by default, with totals, models and days in Asia/Shanghai", async () => {
      const nov = (await platform().request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
      expect(nov.from).to.equal('2026-10-31T16:00:00.000Z');
      expect(nov.to).to.equal('2026-11-30T16:00:00.000Z');
      expect(nov.tenantId).to.equal(tenant.id);
      const std = addDecimals(...nov.byModel.map((m: { stdTokens: string }) => m.stdTokens));
      expect(nov).to.deep.include({ inputTokens: 50_000_000_014, outputTokens: 50_000_000_007, stdTokens: std });
      expect(nov.byModel.map((m: { model: string }) => m.model)).to.deep.equal(['fractional-1b', 'qwen2.5-72b-instruct']);
      expect(nov.byDay).to.deep.equal([{ day: '2026-11-01', inputTokens: 50_000_000_014, outputTokens: 50_000_000_007, stdTokens: std }]);
    });

    it('splits days at midnight in the time zone and reads from/to as given', async () => {
      const p = platform();
      const q = `from=${encodeURIComponent('2026-10-31T00:00:00+08:00')}&to=${encodeURIComponent('2026-11-01T00:30:01+08:00')}`;
      const res = (await p.request('GET', `/api/v1/usage?${q}`, { token: tenant.apiKey })).body;
      expect(res.from).to.equal('2026-10-30T16:00:00.000Z');
      expect(res.byDay.map((d: { day: string }) => d.day)).to.deep.equal(['2026-10-31', '2026-11-01']);
      expect(res.byDay[1]).to.deep.equal({ day: '2026-11-01', inputTokens: 1, outputTokens: 1, stdTokens: '12.5' });
      // `to` is exclusive: 17:00Z is not before 17:00Z.
      const edge = (await p.request('GET', `/api/v1/usage?from=2026-10-31T16:59:59.999Z&to=2026-10-31T17:00:00Z`, { token: tenant.apiKey })).body;
      expect(edge).to.deep.include({ inputTokens: 7, outputTokens: 3, stdTokens: '1.288065045267' });
    });

    it('shows a tenant only its own usage; naming another tenant is 404', async () => {
      const p = platform();
      const mine = (await p.request('GET', '/api/v1/usage', { token: other.apiKey })).body;
      expect(mine).to.deep.include({ tenantId: other.id, inputTokens: 1000, outputTokens: 100, stdTokens: '350' });
      expect(mine.byModel).to.deep.equal([{ model: 'qwen2.5-7b-instruct', inputTokens: 1000, outputTokens: 100, stdTokens: '350' }]);
      expect((await p.request('GET', `/api/v1/usage?tenantId=${other.id}`, { token: other.apiKey })).body.stdTokens).to.equal('350');
      const peek = await p.request('GET', `/api/v1/usage?tenantId=${tenant.id}`, { token: other.apiKey });
      expect(peek.status).to.equal(404);
      expect((await p.request('GET', '/api/v1/usage?tenantId=tn_nobody', { token: other.apiKey })).status).to.equal(404);
      expect((await p.request('GET', '/api/v1/usage', { token: nansha.agentToken })).status).to.equal(403);
    });

    it('gives the operator any tenant, or all of them without tenantId', async () => {
      const p = platform();
      const one = (await p.request('GET', `/api/v1/usage?tenantId=${tenant.id}`)).body;
      const all = (await p.request('GET', '/api/v1/usage')).body;
      expect(all.tenantId).to.equal(undefined);
      expect(all.inputTokens).to.equal(one.inputTokens + 1000);
      expect(all.stdTokens).to.equal(addDecimals(one.stdTokens, '350'));
      expect(all.byModel.map((m: { model: string }) => m.model)).to.deep.equal(['fractional-1b', 'qwen2.5-72b-instruct', 'qwen2.5-7b-instruct']);
      expect(all.byDay.map((d: { day: string }) => d.day)).to.deep.equal(['2026-11-01']);
      expect((await p.request('GET', '/api/v1/usage?tenantId=tn_nobody')).status).to.equal(404);
    });

    it('answers zeros for a period without usage, and 400 for an empty or reversed range', async () => {
      const p = platform();
      const empty = (await p.request('GET', '/api/v1/usage?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z', { token: tenant.apiKey })).body;
      expect(empty).to.deep.include({ inputTokens: 0, outputTokens: 0, stdTokens: '0', byModel: [], byDay: [] });
      const reversed = await p.request('GET', '/api/v1/usage?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z');
      expect(reversed.status).to.equal(400);
      expect(reversed.body.errors[0].path).to.equal('query.from');
      expect((await p.request('GET', '/api/v1/usage?from=yesterday')).status).to.equal(400);
      expect((await p.request('GET', '/api/v1/usage?month=2026-11')).status).to.equal(400);
    });

    it('shows a tenant its usage this period on /me', async () => {
      const me = (await platform().request('GET', '/api/v1/me', { token: other.apiKey })).body;
      expect(me.usageThisPeriod).to.deep.equal({ inputTokens: 1000, outputTokens: 100, stdTokens: '350' });
    });
  });
});

/** Exact sum of non-negative decimal texts, in the shortest form. */
function addDecimals(...values: string[]): string {
  const scale = 12;
  let sum = 0n;
  for (const v of values) {
    const [whole = '0', frac = ''] = v.split('.');
    sum += BigInt(whole) * 10n ** BigInt(scale) + BigInt(frac.padEnd(scale, '0') || '0');
  }
  const unit = 10n ** BigInt(scale);
  const frac = (sum % unit).toString().padStart(scale, '0').replace(/0+$/, '');
  return frac ? `${sum / unit}.${frac}` : `${sum / unit}`;
}
