/**
 * The platform's history through the HTTP API (README "History"): on a fake clock, two instances
 * of the platform sample the same database every minute; each minute is written once, its gauges
 * are what `GET /api/v1/pool` answered then, and its flows — counted when the minute ends and once
 * more when late usage has settled — are what `GET /api/v1/usage`, `GET /api/v1/energy` and the
 * request log say of that minute. Buckets of a larger step add up the minutes exactly; retention
 * deletes only the minutes past it; bad input is a 400 that changes nothing.
 *
 * Numbers: qwen2.5-7b-instruct takes one NVIDIA-H100-80GB per replica (180,000 tokens/min).
 */
import { expect } from 'chai';
import { microFromNumber, usageStdTokens } from '../../scheduler/capacity.js';
import { sumDecimals } from '../../server/domain/energy.js';
import { describeOnDatabases, startPlatform, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const MODEL = 'qwen2.5-7b-instruct';
const inventory = (n: number) => [{ deviceModel: H100, total: n, healthy: n }];
const at = (hhmmss: string) => `2026-10-20T${hhmmss}Z`;
const iso = (hhmmss: string) => new Date(at(hhmmss)).toISOString();
const MINUTES = ['02:00', '02:01', '02:02', '02:03'] as const;

interface Agent {
  readonly id: string;
  readonly token: string;
}

async function cluster(p: TestPlatform, name: string, region: string, devices: number): Promise<Agent> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const agent = { id: res.body.id as string, token: res.body.agentToken as string };
  expect((await heartbeat(p, agent, [], devices)).status).to.equal(200);
  return agent;
}

function heartbeat(p: TestPlatform, agent: Agent, placements: object[], devices = 2) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token: agent.token, body: { inventory: inventory(devices), placements } });
}

async function rows(p: TestPlatform): Promise<{ minute: Date; sampled_at: Date }[]> {
  return p.database.db.selectFrom('history_minutes').select(['minute', 'sampled_at']).orderBy('minute').execute();
}

describeOnDatabases(
  'history of the city per minute',
  (platform) => {
    let second: TestPlatform;
    let a: Agent;
    let b: Agent;
    let tenant: { id: string; apiKey: string };
    let direct: { workload: string; placement: string };
    let gateway: { workload: string; placement: string };
    let std: (input: number, output: number) => string;
    /** What GET /api/v1/pool answered when each minute was sampled. */
    const pools = new Map<string, any>();

    before(async function () {
      this.timeout(60_000);
      const p = platform();
      // A second process of the same city: same database, same clock.
      second = await startPlatform(p.kind, {}, { database: p.database, clock: p.clock });
      p.clock.set(at('01:59:00'));
      a = await cluster(p, 'history-a', 'history-1', 2);
      b = await cluster(p, 'history-b', 'history-2', 1);
      tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'History Tenant', kind: 'enterprise' } })).body;
      const model = (await p.request('GET', '/api/v1/models')).body.items.find((m: { name: string }) => m.name === MODEL);
      std = (input, output) => usageStdTokens(input, output, microFromNumber(model.costFactor), microFromNumber(model.inputFactor));
      const submit = async (access: 'direct' | 'gateway') => {
        const res = await p.request('POST', '/api/v1/workloads', {
          token: tenant.apiKey,
          body: { name: `w-${access}`, model: MODEL, tokensPerMin: 180_000, regions: ['history-1'], access },
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        return res.body.id as string;
      };
      const directId = await submit('direct');
      const gatewayId = await submit('gateway');
      await p.app.scheduler.runCycle();
      const desired = (await heartbeat(p, a, [])).body.placements as { id: string; workloadId: string }[];
      expect(desired).to.have.length(2);
      direct = { workload: directId, placement: desired.find((d) => d.workloadId === directId)!.id };
      gateway = { workload: gatewayId, placement: desired.find((d) => d.workloadId === gatewayId)!.id };
    });

    after(async () => {
      await second?.close();
    });

    it('samples each minute once though two processes sample it, at once and again, and gauges are the pool as it was', async function () {
      this.timeout(60_000);
      const p = platform();
      // Heartbeats on the minute with energy counters; b is cordoned from 02:02, so the pool changes.
      const counters: [number, number][] = [
        [1_000, 500],
        [43_000, 24_500],
        [73_000, 48_500],
        [103_000, 72_500],
      ];
      for (const [i, minute] of MINUTES.entries()) {
        p.clock.set(at(`${minute}:00`));
        const [d, g] = counters[i]!;
        const res = await heartbeat(p, a, [
          { id: direct.placement, readyReplicas: 1, energyJoules: d, powerWatts: 700 },
          { id: gateway.placement, readyReplicas: 1, energyJoules: g, powerWatts: 400 },
        ]);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect((await heartbeat(p, b, [], 1)).status).to.equal(200);
        if (minute === '02:02') expect((await p.request('POST', `/api/v1/clusters/${b.id}/cordon`)).status).to.equal(200);
        p.clock.set(at(`${minute}:05`));
        pools.set(minute, (await p.request('GET', '/api/v1/pool')).body);
        // Both processes sample the minute at the same moment, and the leader's job once more.
        await Promise.all([p.app.history.sample(), second.app.history.sample(), p.app.jobs.historySample.run()]);
        p.clock.set(at(`${minute}:35`));
        await second.app.history.sample();
      }
      const written = await rows(p);
      expect(written.map((r) => r.minute.toISOString())).to.deep.equal(MINUTES.map((m) => iso(`${m}:00`)));
      // The first sampler of each minute wrote it; later samples of the minute changed nothing.
      expect(written.map((r) => r.sampled_at.toISOString())).to.deep.equal(MINUTES.map((m) => iso(`${m}:05`)));

      const res = await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=${at('02:04:00')}&step=1m`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.points).to.have.length(4);
      for (const [i, minute] of MINUTES.entries()) {
        const pool = pools.get(minute);
        expect(res.body.points[i], minute).to.deep.include({
          at: iso(`${minute}:00`),
          minutes: 1,
          totalStdPerMin: pool.totalStdPerMin,
          totalStdPerMinMax: pool.totalStdPerMin,
          allocatedStdPerMin: pool.allocatedStdPerMin,
          allocatedStdPerMinMax: pool.allocatedStdPerMin,
          freeStdPerMin: pool.freeStdPerMin,
          clustersReady: pool.clusters.ready,
          clustersNotReady: pool.clusters.notReady,
          clustersCordoned: pool.clusters.cordoned,
        });
      }
      // The city as built: 3 H100s at 3,000 std tokens/s, 2 held; b (1 device) cordoned from 02:02.
      expect(pools.get('02:00')).to.deep.include({ totalStdPerMin: 540_000, allocatedStdPerMin: 360_000, freeStdPerMin: 180_000 });
      expect(pools.get('02:02')).to.deep.include({ totalStdPerMin: 540_000, freeStdPerMin: 0 });
      expect(pools.get('02:02').clusters).to.deep.include({ ready: 1, cordoned: 1 });
      // The minute that just ended has been counted; the current one not yet.
      expect(res.body.points[2].countedMinutes).to.equal(1);
      expect(res.body.points[3].countedMinutes).to.equal(0);
      expect(res.body.points[3]).to.deep.include({ stdTokens: null, requests: null, energyJoules: null });
    });

    it('flows of each minute are what the usage and energy reports and the request log say of it, late usage included once settled', async function () {
      this.timeout(60_000);
      const p = platform();
      // Usage arrives at 02:06, after the minutes were first counted: the agents' reports of the
      // direct workload, and the gateway's metered calls (they name their placement).
      p.clock.set(at('02:06:00'));
      const usage = await p.request('POST', '/api/v1/agent/usage', {
        token: a.token,
        body: {
          events: [
            { id: 'e1', workloadId: direct.workload, inputTokens: 1200, outputTokens: 3000, occurredAt: at('02:00:30') },
            { id: 'e2', workloadId: direct.workload, inputTokens: 600, outputTokens: 1500, occurredAt: at('02:01:30') },
            { id: 'e3', workloadId: direct.workload, inputTokens: 0, outputTokens: 600, occurredAt: at('02:02:59') },
          ],
        },
      });
      expect(usage.body, JSON.stringify(usage.body)).to.deep.include({ accepted: 3, rejected: [] });
      const call = (requestId: string, input: number, output: number, occurredAt: string) => ({
        requestId,
        tenantId: tenant.id,
        apiKeyId: null,
        workloadId: gateway.workload,
        placementId: gateway.placement,
        clusterId: a.id,
        inputTokens: input,
        outputTokens: output,
        occurredAt: new Date(at(occurredAt)),
      });
      expect(await p.app.context.services.usage.meter([call('r1', 100, 400, '02:00:10'), call('r2', 50, 200, '02:02:50')])).to.equal(2);
      const logged = (requestId: string, startedAt: string, status: number) =>
        p.app.requests.record({
          requestId,
          startedAt: new Date(at(startedAt)),
          tenantId: tenant.id,
          apiKeyId: null,
          userId: null,
          model: MODEL,
          workloadId: gateway.workload,
          placementId: gateway.placement,
          clusterId: a.id,
          endpoint: 'chat.completions',
          status,
          errorCode: status >= 500 ? 'upstream_error' : null,
          promptTokens: 10,
          completionTokens: 10,
          ttftMs: 5,
          durationMs: 100,
          streamed: false,
          attempts: 1,
        });
      logged('r1', '02:00:10', 200);
      logged('x1', '02:01:20', 502);
      logged('x2', '02:01:40', 429);
      logged('r2', '02:02:50', 200);
      await p.app.requests.settled();

      // Counted before settling: the first count of 02:00 (at 02:01:05) saw none of this usage.
      const early = await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=${at('02:01:00')}&step=1m`);
      expect(early.body.points[0]).to.deep.include({ stdTokens: '0', inputTokens: 0, requests: 0 });

      // 02:06:05 and 02:09:05: every minute of 02:00–02:03 gets its final count.
      for (const time of ['02:06:05', '02:09:05']) {
        p.clock.set(at(time));
        await p.app.jobs.historySample.run();
      }
      const res = await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=${at('02:04:00')}&step=1m`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const expected: Record<string, { gateway: string; agent: string; requests: number; failed: number }> = {
        '02:00': { gateway: std(100, 400), agent: std(1200, 3000), requests: 1, failed: 0 },
        '02:01': { gateway: '0', agent: std(600, 1500), requests: 2, failed: 1 },
        '02:02': { gateway: std(50, 200), agent: std(0, 600), requests: 1, failed: 0 },
        '02:03': { gateway: '0', agent: '0', requests: 0, failed: 0 },
      };
      for (const [i, minute] of MINUTES.entries()) {
        const point = res.body.points[i];
        const window = `from=${at(`${minute}:00`)}&to=${new Date(Date.parse(at(`${minute}:00`)) + 60_000).toISOString()}`;
        const report = (await p.request('GET', `/api/v1/usage?${window}`)).body;
        const energy = (await p.request('GET', `/api/v1/energy?${window}&groupBy=cluster`)).body.items as any[];
        const e = expected[minute]!;
        expect(point, minute).to.deep.include({
          countedMinutes: 1,
          stdTokens: report.stdTokens,
          gatewayStdTokens: e.gateway,
          agentStdTokens: e.agent,
          inputTokens: report.inputTokens,
          outputTokens: report.outputTokens,
          requests: e.requests,
          failedRequests: e.failed,
        });
        expect(report.stdTokens, minute).to.equal(sumDecimals([e.gateway, e.agent]));
        if (energy.length === 0) {
          expect(point, minute).to.deep.include({ energyJoules: null, meanWatts: null, measuredStdTokens: null, stdTokensPerJoule: null });
        } else {
          expect(energy, minute).to.have.length(1);
          expect(point, minute).to.deep.include({
            energyJoules: energy[0].joules,
            meanWatts: energy[0].joules / 60,
            measuredStdTokens: energy[0].stdTokens,
            stdTokensPerJoule: energy[0].stdTokensPerJoule,
          });
        }
      }
      // 02:00–02:02 were measured (the heartbeat after each carried the counters); 02:03 was not.
      expect(res.body.points.map((x: { energyJoules: number | null }) => x.energyJoules)).to.deep.equal([
        42_000 + 24_000,
        30_000 + 24_000,
        30_000 + 24_000,
        null,
      ]);
    });

    it('buckets of a larger step add up their minutes exactly; every bucket is answered, the empty ones with nulls', async () => {
      const p = platform();
      const minutes = (await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=${at('02:10:00')}&step=1m`)).body;
      expect(minutes.points).to.have.length(10);
      expect(minutes.points[4]).to.deep.include({
        at: iso('02:04:00'),
        minutes: 0,
        countedMinutes: 0,
        totalStdPerMin: null,
        stdTokens: null,
        clustersReady: null,
      });
      const sampled = minutes.points.slice(0, 4) as any[];
      const sum = (k: string) => sampled.reduce((s, x) => s + x[k], 0);
      const mean = (k: string) => sum(k) / sampled.length;
      const most = (k: string) => Math.max(...sampled.map((x) => x[k]));

      const res = await p.request('GET', `/api/v1/history?from=${at('02:01:30')}&to=${at('02:07:00')}&step=5m`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      // The range is widened to whole buckets: 02:00–02:10.
      expect(res.body).to.deep.include({ from: iso('02:00:00'), to: iso('02:10:00'), step: '5m' });
      expect(res.body.points).to.have.length(2);
      const [first, secondBucket] = res.body.points;
      expect(first).to.deep.equal({
        at: iso('02:00:00'),
        minutes: 4,
        countedMinutes: 4,
        totalStdPerMin: mean('totalStdPerMin'),
        totalStdPerMinMax: most('totalStdPerMin'),
        allocatedStdPerMin: mean('allocatedStdPerMin'),
        allocatedStdPerMinMax: most('allocatedStdPerMin'),
        freeStdPerMin: mean('freeStdPerMin'),
        clustersReady: Math.min(...sampled.map((x) => x.clustersReady)),
        clustersNotReady: most('clustersNotReady'),
        clustersCordoned: most('clustersCordoned'),
        stdTokens: sumDecimals(sampled.map((x) => x.stdTokens)),
        gatewayStdTokens: sumDecimals(sampled.map((x) => x.gatewayStdTokens)),
        agentStdTokens: sumDecimals(sampled.map((x) => x.agentStdTokens)),
        inputTokens: sum('inputTokens'),
        outputTokens: sum('outputTokens'),
        requests: 4,
        failedRequests: 1,
        energyJoules: 66_000 + 54_000 + 54_000,
        meanWatts: (66_000 + 54_000 + 54_000) / 180,
        measuredStdTokens: sumDecimals(sampled.filter((x) => x.measuredStdTokens !== null).map((x) => x.measuredStdTokens)),
        stdTokensPerJoule: Number(sumDecimals(sampled.filter((x) => x.measuredStdTokens !== null).map((x) => x.measuredStdTokens))) / 174_000,
      });
      expect(first.freeStdPerMin).to.equal((180_000 * 2 + 0 * 2) / 4);
      // 02:05–02:10: 02:06 and 02:09 were sampled (the clusters had gone quiet); 02:09 is not counted yet.
      expect(secondBucket).to.deep.include({ at: iso('02:05:00'), minutes: 2, countedMinutes: 1, totalStdPerMin: 0, clustersReady: 0, clustersNotReady: 2 });

      // A day of the billing time zone (Asia/Shanghai): 2026-10-20 starts at 16:00 UTC the day before.
      const day = await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=${at('02:10:00')}&step=1d`);
      expect(day.body).to.deep.include({ from: '2026-10-19T16:00:00.000Z', to: '2026-10-20T16:00:00.000Z', step: '1d' });
      expect(day.body.points).to.have.length(1);
      expect(day.body.points[0]).to.deep.include({ minutes: 6, countedMinutes: 5, stdTokens: first.stdTokens, requests: 4 });
    });

    it('without a range: the last 24 hours, at the smallest step that keeps it to 300 points', async () => {
      const p = platform();
      p.clock.set(at('02:09:30'));
      const res = await p.request('GET', '/api/v1/history');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({ step: '5m', from: '2026-10-19T02:05:00.000Z', to: iso('02:10:00') });
      expect(res.body.points).to.have.length(289);
      expect(res.body.points.filter((x: { minutes: number }) => x.minutes > 0).map((x: { at: string }) => x.at)).to.deep.equal([
        iso('02:00:00'),
        iso('02:05:00'),
      ]);
    });

    it('bad input is a 400 naming the field, a tenant is refused, and nothing changes', async () => {
      const p = platform();
      const before = await rows(p);
      const bad = async (query: string, path: string) => {
        const res = await p.request('GET', `/api/v1/history?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(
          res.body.errors.map((e: { path: string }) => e.path),
          query,
        ).to.include(`query.${path}`);
      };
      await bad(`from=${at('03:00:00')}&to=${at('02:00:00')}`, 'from');
      await bad(`from=${at('02:00:00')}&to=${at('02:00:00')}`, 'from');
      await bad('from=yesterday', 'from');
      await bad('to=2026-10-20T02:00:00', 'to');
      await bad('from=2026-13-40T00:00:00Z', 'from');
      await bad('step=2m', 'step');
      // 1,441 minutes: one point too many at 1m.
      await bad(`from=${at('02:00:00')}&to=2026-10-21T02:01:00Z&step=1m`, 'step');
      await bad(`from=1970-01-01T00:00:00Z&to=9999-12-30T00:00:00Z&step=1d`, 'step');
      const unknown = await p.request('GET', '/api/v1/history?groupBy=cluster');
      expect(unknown.status).to.equal(400);
      // Exactly a day of minutes is within the bound.
      const day = await p.request('GET', `/api/v1/history?from=${at('02:00:00')}&to=2026-10-21T02:00:00Z&step=1m`);
      expect(day.status).to.equal(200);
      expect(day.body.points).to.have.length(1440);
      expect((await p.request('GET', '/api/v1/history', { token: tenant.apiKey })).status).to.equal(403);
      expect((await p.request('GET', '/api/v1/history', { token: null })).status).to.equal(401);
      expect(await rows(p)).to.deep.equal(before);
    });

    it('retention deletes the minutes older than TOKENPOOL_HISTORY_RETENTION_DAYS, and only those', async () => {
      const p = platform();
      p.clock.set(at('02:30:00'));
      const cutoff = Date.parse(at('02:30:00')) - 30 * 86_400_000;
      const old = (ms: number) => ({
        minute: new Date(ms),
        sampled_at: new Date(ms),
        total_std_per_min: 1,
        allocated_std_per_min: 0,
        free_std_per_min: 1,
        clusters_ready: 1,
        clusters_not_ready: 0,
        clusters_cordoned: 0,
        counted_at: null,
        energy_joules: null,
        measured_std_tokens: null,
      });
      await p.database.db
        .insertInto('history_minutes')
        .values([old(cutoff - 86_400_000), old(cutoff - 60_000), old(cutoff)])
        .execute();
      const before = (await rows(p)).map((r) => r.minute.getTime());
      await p.app.jobs.historyRetention.run();
      const after = (await rows(p)).map((r) => r.minute.getTime());
      expect(after).to.deep.equal(before.filter((ms) => ms >= cutoff));
      expect(after).to.include(cutoff);
      expect(after.filter((ms) => ms >= Date.parse(at('02:00:00')))).to.have.length(6);
    });

    it('records minutes already past that nobody sampled: gauges as the pool is now, flows from what is stored; a sampled minute keeps its gauges', async () => {
      const p = platform();
      p.clock.set(at('02:30:10'));
      // Usage of a minute long before sampling began, reported now (as the demo city reports its last day).
      const usage = await p.request('POST', '/api/v1/agent/usage', {
        token: a.token,
        body: { events: [{ id: 'past-1', workloadId: direct.workload, inputTokens: 100, outputTokens: 400, occurredAt: at('00:30:20') }] },
      });
      expect(usage.body, JSON.stringify(usage.body)).to.deep.include({ accepted: 1, rejected: [] });
      const sampledBefore = (await rows(p)).find((r) => r.minute.getTime() === Date.parse(at('02:00:00')))!.sampled_at;
      const pool = (await p.request('GET', '/api/v1/pool')).body;
      await p.app.context.services.history.recordPast([new Date(at('00:30:00')), new Date(at('00:31:00')), new Date(at('02:00:00')), new Date(at('02:30:00'))]);

      const stored = await rows(p);
      expect(stored.find((r) => r.minute.getTime() === Date.parse(at('02:00:00')))!.sampled_at).to.deep.equal(sampledBefore);
      // The minute not yet over is left to the sampler.
      expect(stored.some((r) => r.minute.getTime() === Date.parse(at('02:30:00')))).to.equal(false);
      const res = await p.request('GET', `/api/v1/history?from=${at('00:30:00')}&to=${at('00:32:00')}&step=1m`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const [first, second] = res.body.points;
      expect(first).to.deep.include({ at: iso('00:30:00'), minutes: 1, countedMinutes: 1, totalStdPerMin: pool.totalStdPerMin, stdTokens: std(100, 400) });
      expect(first).to.deep.include({ allocatedStdPerMin: pool.allocatedStdPerMin, clustersReady: pool.clusters.ready });
      expect(second).to.deep.include({ at: iso('00:31:00'), minutes: 1, countedMinutes: 1, stdTokens: '0' });
    });
  },
  { TOKENPOOL_HISTORY_RETENTION_DAYS: '30' },
);
