/**
 * Placement health through the HTTP API (API.md v2 "Placement health", README "Placement
 * health"): agents report each placement's phase, reason, message and desired replicas; a
 * placement failing past its deadline (on the fake clock) becomes `failed`, gives its devices
 * back, and its workload is placed again — on another cluster, since the one that failed is
 * avoided for the model — with quota and held replicas consistent throughout. A placement that
 * recovers before the deadline keeps running; bad report fields are 400s naming the field.
 *
 * Numbers: qwen2.5-7b-instruct takes one NVIDIA-H100-80GB per replica, 180,000 tokens/min each.
 */
import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const SMALL = 'qwen2.5-7b-instruct';
const DEVICE = 3000 * 60;
const FAIL_AFTER_S = 120;
const STARTUP_S = 600;

type Inventory = { deviceModel: string; total: number; healthy: number }[];
const h100 = (n: number): Inventory => [{ deviceModel: H100, total: n, healthy: n }];
interface Agent {
  readonly id: string;
  readonly token: string;
}

function heartbeat(p: TestPlatform, agent: Agent, placements: object[] = [], inventory = h100(2)) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token: agent.token, body: { inventory, placements } });
}

async function cluster(p: TestPlatform, name: string, region: string, devices = 2): Promise<Agent> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const agent = { id: res.body.id as string, token: res.body.agentToken as string };
  expect((await heartbeat(p, agent, [], h100(devices))).status).to.equal(200);
  return agent;
}

async function tenant(p: TestPlatform, name: string): Promise<string> {
  const res = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.apiKey as string;
}

async function submit(p: TestPlatform, apiKey: string, regions: string[], tokensPerMin = DEVICE): Promise<string> {
  const res = await p.request('POST', '/api/v1/workloads', { token: apiKey, body: { name: 'assistant', model: SMALL, tokensPerMin, regions } });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.id as string;
}

async function get(p: TestPlatform, apiKey: string, id: string): Promise<any> {
  const res = await p.request('GET', `/api/v1/workloads/${id}`, { token: apiKey });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body;
}

/** What the tenant holds against its quota, and the replicas its active placements hold, from the API. */
async function holding(p: TestPlatform, apiKey: string, id: string): Promise<{ usedStdPerMin: number; activeReplicas: number }> {
  const me = await p.request('GET', '/api/v1/me', { token: apiKey });
  const w = await get(p, apiKey, id);
  const active = w.placements.filter((x: any) => x.state === 'placed' || x.state === 'running');
  return { usedStdPerMin: me.body.quota.usedStdPerMin, activeReplicas: active.reduce((s: number, x: any) => s + x.replicas, 0) };
}

async function metric(p: TestPlatform, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await p.request('GET', '/metrics', { token: null })).body as string;
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

const IMAGE_PULL = {
  phase: 'failing',
  reason: 'ImagePullBackOff',
  message: 'pod tp-pl-1-abc, container serving: ImagePullBackOff: Back-off pulling image "registry.example/vllm:v0.11"',
  desiredReplicas: 1,
};

describeOnDatabases(
  'placement health',
  (platform) => {
    it('a placement failing with ImagePullBackOff past the deadline fails; its workload is placed again on another cluster; quota stays exact', async () => {
      const p = platform();
      const key = await tenant(p, 'Guangzhou Metro');
      const a = await cluster(p, 'health-a', 'health-1');
      const id = await submit(p, key, ['health-1']);
      await p.app.scheduler.runCycle();
      const first = (await get(p, key, id)).placements;
      expect(first).to.have.length(1);
      expect(first[0]).to.include({ clusterId: a.id, state: 'placed', phase: null, reason: null, failingSince: null });
      const pl = first[0].id as string;
      // A second cluster joins only now, so the first placement was surely on `a`.
      const b = await cluster(p, 'health-b', 'health-1');
      const before = await holding(p, key, id);
      expect(before).to.deep.equal({ usedStdPerMin: DEVICE, activeReplicas: 1 });

      // The agent reports the pod stuck pulling its image; the platform shows it.
      const failingAt = p.clock.now().toISOString();
      expect((await heartbeat(p, a, [{ id: pl, readyReplicas: 0, ...IMAGE_PULL }])).status).to.equal(200);
      const shown = (await get(p, key, id)).placements[0];
      expect(shown).to.deep.include({ state: 'placed', ...IMAGE_PULL, failingSince: failingAt, failedAt: null });

      // Just before the deadline, a report again (the spell goes on from its start): nothing happens.
      p.clock.advance(FAIL_AFTER_S * 1000 - 1000);
      await heartbeat(p, a, [{ id: pl, readyReplicas: 0, ...IMAGE_PULL }]);
      await heartbeat(p, b);
      expect(await p.app.scheduler.runCycle()).to.include({ failed: 0 });
      expect((await get(p, key, id)).placements[0]).to.include({ id: pl, state: 'placed', failingSince: failingAt });

      // Past the deadline: failed, devices released, placed again on b (a is avoided for the model).
      p.clock.advance(6000);
      await heartbeat(p, a, [{ id: pl, readyReplicas: 0, ...IMAGE_PULL }]);
      await heartbeat(p, b);
      const summary = await p.app.scheduler.runCycle();
      expect(summary).to.include({ failed: 1, placed: 1 });
      const after = await get(p, key, id);
      expect(after.state).to.equal('placed');
      const byState = Object.fromEntries(after.placements.map((x: any) => [x.state, x]));
      expect(Object.keys(byState).sort()).to.deep.equal(['placed']);
      expect(byState.placed.clusterId).to.equal(b.id);
      expect(byState.placed.id).not.to.equal(pl);
      expect(await holding(p, key, id)).to.deep.equal(before);

      // The failed placement left the failing cluster's desired set; the new one is b's.
      expect((await heartbeat(p, a)).body.placements).to.deep.equal([]);
      expect((await heartbeat(p, b)).body.placements.map((x: any) => x.id)).to.deep.equal([byState.placed.id]);
      const stored = await p.database.db.selectFrom('placements').selectAll().where('id', '=', pl).executeTakeFirstOrThrow();
      expect(stored).to.include({ state: 'released', health_reason: 'ImagePullBackOff' });
      expect(stored.failed_at?.toISOString()).to.equal(p.clock.now().toISOString());
      expect(await metric(p, 'tokenpool_placements_failed_total', { reason: 'ImagePullBackOff' })).to.equal(1);
    });

    it('while the failed cluster is avoided and no other has room, the workload waits with the reason; after the window it is placed there again', async () => {
      const p = platform();
      const key = await tenant(p, 'Foshan Water');
      const a = await cluster(p, 'alone-a', 'health-2', 1);
      const id = await submit(p, key, ['health-2']);
      await p.app.scheduler.runCycle();
      const pl = (await get(p, key, id)).placements[0].id as string;
      await heartbeat(
        p,
        a,
        [{ id: pl, readyReplicas: 0, phase: 'failing', reason: 'CrashLoopBackOff', message: 'back-off 5m0s', desiredReplicas: 1 }],
        h100(1),
      );
      p.clock.advance(FAIL_AFTER_S * 1000 + 1000);
      await heartbeat(p, a, [], h100(1));
      expect(await p.app.scheduler.runCycle()).to.include({ failed: 1, placed: 0 });
      const waiting = await get(p, key, id);
      expect(waiting).to.include({ state: 'pending', reason: 'capacity' });
      expect(waiting.placements.map((x: any) => [x.id, x.state, x.reason])).to.deep.equal([[pl, 'failed', 'CrashLoopBackOff']]);
      expect(await holding(p, key, id)).to.deep.equal({ usedStdPerMin: 0, activeReplicas: 0 });
      await p.app.scheduler.runCycle();
      expect((await get(p, key, id)).message).to.match(/failed on this cluster recently/);

      // 30 minutes (the default window) after the failure, the cluster is tried again.
      p.clock.advance(30 * 60_000 + 1000);
      await heartbeat(p, a, [], h100(1));
      expect(await p.app.scheduler.runCycle()).to.include({ placed: 1 });
      const again = await get(p, key, id);
      expect(again.state).to.equal('placed');
      expect(again.placements.map((x: any) => x.state)).to.deep.equal(['placed']);
      expect(again.placements[0].clusterId).to.equal(a.id);
    });

    it('a placement that recovers before the deadline keeps running, and its failing spell ends', async () => {
      const p = platform();
      const key = await tenant(p, 'Shenzhen Bus');
      const a = await cluster(p, 'recover-a', 'health-3');
      await cluster(p, 'recover-b', 'health-3');
      const id = await submit(p, key, ['health-3']);
      await p.app.scheduler.runCycle();
      const pl = (await get(p, key, id)).placements[0].id as string;
      await heartbeat(p, a, [{ id: pl, readyReplicas: 0, phase: 'failing', reason: 'ErrImagePull', message: 'rpc error', desiredReplicas: 1 }]);
      p.clock.advance(FAIL_AFTER_S * 1000 - 5000);
      await heartbeat(p, a, [{ id: pl, readyReplicas: 1, phase: 'running', desiredReplicas: 1 }]);
      const running = (await get(p, key, id)).placements[0];
      expect(running).to.include({ id: pl, state: 'running', phase: 'running', reason: null, message: null, failingSince: null });

      // Long past every deadline, still healthy: kept.
      p.clock.advance(STARTUP_S * 4000);
      await heartbeat(p, a, [{ id: pl, readyReplicas: 1, phase: 'running', desiredReplicas: 1 }]);
      expect(await p.app.scheduler.runCycle()).to.include({ failed: 0 });
      const w = await get(p, key, id);
      expect(w.state).to.equal('running');
      expect(w.placements.map((x: any) => [x.id, x.state])).to.deep.equal([[pl, 'running']]);

      // A later failing spell starts anew from its own first report.
      const again = p.clock.now().toISOString();
      await heartbeat(p, a, [{ id: pl, readyReplicas: 0, phase: 'failing', reason: 'OOMKilled', message: 'OOMKilled', desiredReplicas: 1 }]);
      expect((await get(p, key, id)).placements[0]).to.include({ state: 'placed', reason: 'OOMKilled', failingSince: again });
      // Suites share the clock: this one must not fail in the next test's time.
      expect((await p.request('DELETE', `/api/v1/workloads/${id}`, { token: key })).status).to.equal(202);
    });

    it('a placement never ready past its startup deadline fails; an agent that reports no phase is judged by the TTL alone', async () => {
      const p = platform();
      const key = await tenant(p, 'Dongguan Grid');
      const a = await cluster(p, 'startup-a', 'health-4');
      const legacy = await submit(p, key, ['health-4']);
      const slow = await submit(p, key, ['health-4']);
      await p.app.scheduler.runCycle();
      const plLegacy = (await get(p, key, legacy)).placements[0].id as string;
      const plSlow = (await get(p, key, slow)).placements[0].id as string;
      await heartbeat(p, a, [
        { id: plLegacy, readyReplicas: 0 },
        { id: plSlow, readyReplicas: 0, phase: 'starting', desiredReplicas: 1 },
      ]);
      p.clock.advance(STARTUP_S * 1000 + 1000);
      await heartbeat(p, a, [
        { id: plLegacy, readyReplicas: 0 },
        { id: plSlow, readyReplicas: 0, phase: 'starting', desiredReplicas: 1 },
      ]);
      expect(await p.app.scheduler.runCycle()).to.include({ failed: 1 });
      expect((await get(p, key, legacy)).placements.map((x: any) => x.state)).to.deep.equal(['placed']);
      const failed = (await get(p, key, slow)).placements.find((x: any) => x.id === plSlow);
      expect(failed).to.include({ state: 'failed', phase: 'starting' });
      expect(await metric(p, 'tokenpool_placements_failed_total', { reason: 'startup' })).to.equal(1);
    });

    describe('bad report fields are 400 with the field path', () => {
      const bad: ReadonlyArray<[string, object, string]> = [
        ['an unknown phase', { phase: 'crashing' }, 'placements.0.phase'],
        ['an unknown reason', { phase: 'failing', reason: 'DiskFull' }, 'placements.0.reason'],
        ['a message past 1,024 characters', { phase: 'failing', message: 'x'.repeat(1025) }, 'placements.0.message'],
        ['a message that is not text', { phase: 'failing', message: 42 }, 'placements.0.message'],
        ['negative desired replicas', { desiredReplicas: -1 }, 'placements.0.desiredReplicas'],
        ['fractional desired replicas', { desiredReplicas: 1.5 }, 'placements.0.desiredReplicas'],
        ['an unknown field', { health: 'bad' }, 'placements.0'],
      ];
      for (const [what, fields, path] of bad) {
        it(what, async () => {
          const p = platform();
          const agent = await cluster(p, `bad-${path.length}-${what.length}`, 'health-5');
          const res = await heartbeat(p, agent, [{ id: 'pl_x', readyReplicas: 0, ...fields }]);
          expect(res.status, JSON.stringify(res.body)).to.equal(400);
          expect(JSON.stringify(res.body.errors)).to.include(path);
        });
      }

      it('the longest message, null reason and message, and an unknown placement are accepted', async () => {
        const p = platform();
        const agent = await cluster(p, 'good-report', 'health-5');
        const res = await heartbeat(p, agent, [
          { id: 'pl_unknown', readyReplicas: 0, phase: 'failing', reason: 'Other', message: 'y'.repeat(1024), desiredReplicas: 0 },
          { id: 'pl_other', readyReplicas: 0, phase: 'pending', reason: null, message: null },
        ]);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      });
    });
  },
  { TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS: String(FAIL_AFTER_S), TOKENPOOL_PLACEMENT_STARTUP_SECONDS: String(STARTUP_S) },
);
