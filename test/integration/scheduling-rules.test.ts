/**
 * The binding scheduling rules (API.md "Scheduling rules" and the scheduler's promises), through
 * the HTTP API: priority preemption, best-effort FIFO, fair share with decaying past use,
 * eviction after an inventory shrank, `ha` spreading, incompatible devices and cordons, the
 * event-driven loop, the scheduler's metrics, and a seeded random run that never overcommits.
 *
 * Cycles run deterministically through `scheduler.runCycle()` except in the event-driven suite.
 * Suites that share a platform give every test its own region, and every workload names its
 * regions, so one test's workloads never land on another test's clusters.
 *
 * Numbers used throughout: qwen2.5-7b-instruct (costFactor 1, minMemoryGiB 20) takes one
 * NVIDIA-H100-80GB (3000 std tokens/s) per replica, so one device carries 180,000 tokens/min and
 * holds 180,000 standard tokens per minute.
 */
import { expect } from 'chai';
import { sql } from 'kysely';
import { seededRandom } from '../unit/scheduler/builders.js';
import { until } from '../until.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const SMALL = 'qwen2.5-7b-instruct';
/** Tokens per minute of one qwen2.5-7b replica (one H100). */
const DEVICE = (1 * 3000 * 60) / 1;

type Inventory = { deviceModel: string; total: number; healthy: number }[];
interface Agent {
  readonly id: string;
  readonly token: string;
}
interface Tenant {
  readonly id: string;
  readonly apiKey: string;
}

const h100 = (total: number, healthy = total): Inventory => [{ deviceModel: H100, total, healthy }];

function heartbeat(p: TestPlatform, token: string, inventory: Inventory, placements: { id: string; readyReplicas: number }[] = []) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory, placements } });
}

async function cluster(p: TestPlatform, name: string, region: string, inventory: Inventory): Promise<Agent> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const c = { id: res.body.id as string, token: res.body.agentToken as string };
  expect((await heartbeat(p, c.token, inventory)).status).to.equal(200);
  return c;
}

/** Creates a tenant; `maxPriority` (granted by the operator) when given, else the default `normal`. */
async function tenant(p: TestPlatform, name: string, maxPriority?: 'high' | 'normal' | 'low'): Promise<Tenant> {
  const res = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  if (maxPriority !== undefined) {
    const granted = await p.request('PATCH', `/api/v1/tenants/${res.body.id}`, { body: { maxPriority } });
    expect(granted.status, JSON.stringify(granted.body)).to.equal(200);
  }
  return { id: res.body.id, apiKey: res.body.apiKey };
}

interface WorkloadRequest {
  readonly name: string;
  readonly tokensPerMin: number;
  readonly model?: string;
  readonly priority?: 'high' | 'normal' | 'low';
  readonly regions?: string[];
  readonly ha?: boolean;
}

/** Creates a workload (202, pending) and answers its id. */
async function submit(p: TestPlatform, t: Tenant, w: WorkloadRequest): Promise<string> {
  const res = await p.request('POST', '/api/v1/workloads', { token: t.apiKey, body: { model: SMALL, ...w } });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  expect(res.body.state).to.equal('pending');
  return res.body.id;
}

async function workload(p: TestPlatform, t: Tenant, id: string): Promise<any> {
  const res = await p.request('GET', `/api/v1/workloads/${id}`, { token: t.apiKey });
  expect(res.status).to.equal(200);
  return res.body;
}

/** `state` and `reason` of each workload, by id. */
async function states(p: TestPlatform, t: Tenant, ids: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    const w = await workload(p, t, id);
    out[id] = w.state === 'pending' ? `pending:${w.reason}` : w.state;
  }
  return out;
}

async function remove(p: TestPlatform, t: Tenant, ids: readonly string[]): Promise<void> {
  for (const id of ids) expect((await p.request('DELETE', `/api/v1/workloads/${id}`, { token: t.apiKey })).status).to.equal(202);
}

/** The workload ids in a cluster's desired set, as its agent is told in a heartbeat answer. */
async function desiredWorkloads(p: TestPlatform, agent: Agent, inventory: Inventory): Promise<string[]> {
  const hb = await heartbeat(p, agent.token, inventory);
  expect(hb.status).to.equal(200);
  return [...new Set<string>(hb.body.placements.map((x: { workloadId: string }) => x.workloadId))].sort();
}

/** Devices active placements hold per `cluster/deviceModel`, and healthy devices reported, from the tables. */
async function holdings(p: TestPlatform): Promise<{ held: Map<string, number>; healthy: Map<string, number> }> {
  const db = p.app.context.database.db;
  const held = new Map<string, number>();
  for (const r of await db.selectFrom('placements').selectAll().where('state', 'in', ['placed', 'running']).execute()) {
    const key = `${r.cluster_id}/${r.device_model}`;
    held.set(key, (held.get(key) ?? 0) + r.replicas * r.devices_per_replica);
  }
  const healthy = new Map<string, number>();
  for (const r of await db.selectFrom('cluster_inventory').selectAll().execute()) healthy.set(`${r.cluster_id}/${r.device_model}`, r.healthy);
  return { held, healthy };
}

/** No cluster's device model is held beyond its healthy devices. */
async function expectNotOvercommitted(p: TestPlatform, context = ''): Promise<void> {
  const { held, healthy } = await holdings(p);
  for (const [slot, devices] of held) {
    expect(devices, `${context} devices held on ${slot}`).to.be.at.most(healthy.get(slot) ?? 0);
  }
}

const sorted = (ids: readonly string[]) => [...ids].sort();

describeOnDatabases('scheduling rules: priority, FIFO, eviction, ha, compatibility, cordons', (platform) => {
  let t: Tenant;

  before(async () => {
    t = await tenant(platform(), 'Guangzhou Metro', 'high');
  });

  describe('priority preemption', () => {
    let agent: Agent;
    const ids: Record<string, string> = {};
    const id = (name: string): string => {
      const found = ids[name];
      if (found === undefined) throw new Error(`no workload ${name} yet`);
      return found;
    };

    before(async () => {
      const p = platform();
      agent = await cluster(p, 'pre-1', 'pre', h100(4));
      // Oldest first: three low workloads and a normal one fill the cluster's 4 devices.
      for (const [name, priority] of [
        ['low-1', 'low'],
        ['low-2', 'low'],
        ['low-3', 'low'],
        ['normal-1', 'normal'],
      ] as const) {
        ids[name] = await submit(p, t, { name, tokensPerMin: DEVICE, priority, regions: ['pre'] });
      }
      await p.app.scheduler.runCycle();
      const all = await states(p, t, Object.values(ids));
      expect(Object.values(all)).to.deep.equal(['placed', 'placed', 'placed', 'placed']);
    });

    it('a high workload that does not fit preempts the newest low workloads first, only as many as it needs', async () => {
      const p = platform();
      ids.high = await submit(p, t, { name: 'high-1', tokensPerMin: 2 * DEVICE, priority: 'high', regions: ['pre'] });
      const summary = await p.app.scheduler.runCycle();
      expect(summary).to.include({ placed: 1, preempted: 2 });

      const high = await workload(p, t, id('high'));
      expect(high.state).to.equal('placed');
      expect(high.placedTokensPerMin).to.be.at.least(2 * DEVICE);
      for (const victim of ['low-3', 'low-2']) {
        const w = await workload(p, t, id(victim));
        expect(w, victim).to.include({ state: 'pending', reason: 'capacity', placedTokensPerMin: 0 });
        expect(w.placements, `${victim} shows no active placement`).to.deep.equal([]);
      }
      expect((await workload(p, t, id('low-1'))).state, 'the oldest low one is spared').to.equal('placed');
      expect((await workload(p, t, id('normal-1'))).state, 'normal is not needed, so kept').to.equal('placed');

      // The victims' placements have left the agent's desired set; the preemptor's are in it.
      expect(await desiredWorkloads(p, agent, h100(4))).to.deep.equal(sorted([id('low-1'), id('normal-1'), id('high')]));
      await expectNotOvercommitted(p);
    });

    it('victims stay pending while the preemptor holds their devices', async () => {
      const p = platform();
      await p.app.scheduler.runCycle();
      expect(await states(p, t, [id('low-2'), id('low-3')])).to.deep.equal({
        [id('low-2')]: 'pending:capacity',
        [id('low-3')]: 'pending:capacity',
      });
      expect((await workload(p, t, id('high'))).state).to.equal('placed');
    });

    it('a normal workload that does not fit preempts nothing', async () => {
      const p = platform();
      ids.normal2 = await submit(p, t, { name: 'normal-2', tokensPerMin: DEVICE, priority: 'normal', regions: ['pre'] });
      const summary = await p.app.scheduler.runCycle();
      expect(summary).to.include({ placed: 0, preempted: 0 });
      expect(await workload(p, t, id('normal2'))).to.include({ state: 'pending', reason: 'capacity' });
      expect((await workload(p, t, id('low-1'))).state).to.equal('placed');
      expect(await desiredWorkloads(p, agent, h100(4))).to.deep.equal(sorted([id('low-1'), id('normal-1'), id('high')]));
    });

    it('a high workload that would not fit even after preempting everything below it preempts nothing', async () => {
      const p = platform();
      // 5 devices' worth: more than the cluster has at all.
      ids.huge = await submit(p, t, { name: 'high-huge', tokensPerMin: 5 * DEVICE, priority: 'high', regions: ['pre'] });
      const summary = await p.app.scheduler.runCycle();
      expect(summary).to.include({ preempted: 0 });
      expect(await workload(p, t, id('huge'))).to.include({ state: 'pending', reason: 'capacity' });
      expect(await states(p, t, [id('low-1'), id('normal-1'), id('high')])).to.deep.equal({
        [id('low-1')]: 'placed',
        [id('normal-1')]: 'placed',
        [id('high')]: 'placed',
      });
    });

    after(async () => {
      await remove(platform(), t, Object.values(ids));
    });
  });

  describe('best-effort FIFO', () => {
    it('a big workload that cannot fit does not block a later small one; among those that fit, the older goes first', async () => {
      const p = platform();
      await cluster(p, 'fifo-1', 'fifo', h100(2));
      const big = await submit(p, t, { name: 'big', tokensPerMin: 3 * DEVICE, regions: ['fifo'] });
      const small = await submit(p, t, { name: 'small', tokensPerMin: DEVICE, regions: ['fifo'] });
      await p.app.scheduler.runCycle();
      expect(await workload(p, t, big)).to.include({ state: 'pending', reason: 'capacity' });
      expect((await workload(p, t, small)).state).to.equal('placed');

      // One device left and two equal requests: first come, first served.
      const older = await submit(p, t, { name: 'older', tokensPerMin: DEVICE, regions: ['fifo'] });
      const newer = await submit(p, t, { name: 'newer', tokensPerMin: DEVICE, regions: ['fifo'] });
      await p.app.scheduler.runCycle();
      expect(await states(p, t, [big, small, older, newer])).to.deep.equal({
        [big]: 'pending:capacity',
        [small]: 'placed',
        [older]: 'placed',
        [newer]: 'pending:capacity',
      });
      await remove(p, t, [big, small, older, newer]);
    });
  });

  describe('eviction after an agent reports fewer healthy devices', () => {
    it('evicts and requeues the lowest-priority (newest first) workloads that no longer fit, keeps the higher ones, never holds more than is healthy', async () => {
      const p = platform();
      const agent = await cluster(p, 'evict-1', 'evict', h100(4));
      const ids: Record<string, string> = {};
      for (const [name, priority] of [
        ['low-old', 'low'],
        ['low-new', 'low'],
        ['normal', 'normal'],
        ['high', 'high'],
      ] as const) {
        ids[name] = await submit(p, t, { name, tokensPerMin: DEVICE, priority, regions: ['evict'] });
      }
      await p.app.scheduler.runCycle();
      expect(Object.values(await states(p, t, Object.values(ids)))).to.deep.equal(['placed', 'placed', 'placed', 'placed']);

      // One device fails: one workload must go, the newest of the lowest priority.
      await heartbeat(p, agent.token, h100(4, 3));
      expect(await p.app.scheduler.runCycle()).to.include({ evicted: 1, placed: 0 });
      expect(await states(p, t, Object.values(ids))).to.deep.equal({
        [ids['low-old']!]: 'placed',
        [ids['low-new']!]: 'pending:capacity',
        [ids.normal!]: 'placed',
        [ids.high!]: 'placed',
      });
      expect((await workload(p, t, ids['low-new']!)).placements).to.deep.equal([]);
      expect(await desiredWorkloads(p, agent, h100(4, 3))).to.deep.equal(sorted([ids['low-old']!, ids.normal!, ids.high!]));
      await expectNotOvercommitted(p, 'after losing one device:');

      // Two more fail: the other low one, then the normal one; the high one stays.
      await heartbeat(p, agent.token, h100(4, 1));
      expect(await p.app.scheduler.runCycle()).to.include({ evicted: 2, placed: 0 });
      expect(await states(p, t, Object.values(ids))).to.deep.equal({
        [ids['low-old']!]: 'pending:capacity',
        [ids['low-new']!]: 'pending:capacity',
        [ids.normal!]: 'pending:capacity',
        [ids.high!]: 'placed',
      });
      expect(await desiredWorkloads(p, agent, h100(4, 1))).to.deep.equal([ids.high]);
      await expectNotOvercommitted(p, 'after losing three devices:');

      // Repaired: everything is placed again.
      await heartbeat(p, agent.token, h100(4));
      expect(await p.app.scheduler.runCycle()).to.include({ evicted: 0, placed: 3 });
      expect(Object.values(await states(p, t, Object.values(ids)))).to.deep.equal(['placed', 'placed', 'placed', 'placed']);
      await expectNotOvercommitted(p, 'after the repair:');
      await remove(p, t, Object.values(ids));
    });

    it('evicts placements on a device model the agent no longer reports at all', async () => {
      const p = platform();
      const a100 = { deviceModel: 'NVIDIA-A100-80GB', total: 1, healthy: 1 };
      const agent = await cluster(p, 'evict-2', 'evict-gone', [...h100(1), a100]);
      const id = await submit(p, t, { name: 'on-vanishing-devices', tokensPerMin: DEVICE, regions: ['evict-gone'] });
      await p.app.scheduler.runCycle();
      const w = await workload(p, t, id);
      expect(w.state).to.equal('placed');
      expect(w.placements.map((x: { deviceModel: string }) => x.deviceModel)).to.deep.equal([H100]);
      // The H100s are gone from the report; the A100 left carries 78,000 tokens/min, too few.
      await heartbeat(p, agent.token, [a100]);
      expect(await p.app.scheduler.runCycle()).to.include({ evicted: 1 });
      expect(await workload(p, t, id)).to.include({ state: 'pending', reason: 'capacity' });
      expect(await desiredWorkloads(p, agent, [a100])).to.deep.equal([]);
      await expectNotOvercommitted(p);
      await remove(p, t, [id]);
    });

    it('deregistering a cluster sends its workloads back to pending, to be placed again whole elsewhere', async () => {
      const p = platform();
      const doomed = await cluster(p, 'dereg-1', 'dereg', h100(2));
      const id = await submit(p, t, { name: 'on-doomed-cluster', tokensPerMin: 2 * DEVICE, regions: ['dereg'] });
      await p.app.scheduler.runCycle();
      expect((await workload(p, t, id)).placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([doomed.id]);
      expect((await p.request('DELETE', `/api/v1/clusters/${doomed.id}`)).status).to.equal(204);
      expect(await workload(p, t, id)).to.include({ state: 'pending', reason: 'capacity', placedTokensPerMin: 0 });
      const spare = await cluster(p, 'dereg-2', 'dereg', h100(2));
      await p.app.scheduler.runCycle();
      const w = await workload(p, t, id);
      expect(w.state).to.equal('placed');
      expect(w.placedTokensPerMin).to.be.at.least(2 * DEVICE);
      expect(w.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([spare.id]);
      await remove(p, t, [id]);
    });
  });

  describe('ha', () => {
    let one: Agent;
    let two: Agent;

    before(async () => {
      const p = platform();
      one = await cluster(p, 'ha-1', 'ha', h100(2));
      two = await cluster(p, 'ha-2', 'ha', h100(2));
      await cluster(p, 'solo-1', 'solo', h100(8));
    });

    it('`ha: true` lands on at least two clusters, even when one replica would carry it', async () => {
      const p = platform();
      const id = await submit(p, t, { name: 'ha-small', tokensPerMin: 100_000, ha: true, regions: ['ha'] });
      await p.app.scheduler.runCycle();
      const w = await workload(p, t, id);
      expect(w.state).to.equal('placed');
      const clusters = new Set(w.placements.map((x: { clusterId: string }) => x.clusterId));
      expect([...clusters].sort()).to.deep.equal(sorted([one.id, two.id]));
      expect(w.placedTokensPerMin).to.be.at.least(100_000);
    });

    it('stays pending with only one cluster in its regions', async () => {
      const p = platform();
      const id = await submit(p, t, { name: 'ha-solo', tokensPerMin: 100_000, ha: true, regions: ['solo'] });
      await p.app.scheduler.runCycle();
      expect(await workload(p, t, id)).to.include({ state: 'pending', reason: 'capacity' });
      await remove(p, t, [id]);
    });

    it('stays pending while only one of its clusters is schedulable, and spreads once the other is back', async () => {
      const p = platform();
      expect((await p.request('POST', `/api/v1/clusters/${two.id}/cordon`)).status).to.equal(200);
      const id = await submit(p, t, { name: 'ha-cordoned', tokensPerMin: 100_000, ha: true, regions: ['ha'] });
      await p.app.scheduler.runCycle();
      // ha-1 has a free device, which would carry it alone; ha-2 takes nothing new.
      expect(await workload(p, t, id)).to.include({ state: 'pending', reason: 'capacity' });
      expect((await p.request('POST', `/api/v1/clusters/${two.id}/uncordon`)).status).to.equal(200);
      await p.app.scheduler.runCycle();
      const w = await workload(p, t, id);
      expect(w.state).to.equal('placed');
      expect(new Set(w.placements.map((x: { clusterId: string }) => x.clusterId)).size).to.be.at.least(2);
      await expectNotOvercommitted(p);
    });
  });

  describe('compatibility and cordons', () => {
    it('holds a workload whose model no pooled vendor serves with reason no_compatible_device', async () => {
      const p = platform();
      const model = await p.request('POST', '/api/v1/models', {
        body: { name: 'mthreads-only-7b', minMemoryGiB: 20, costFactor: 1, inputFactor: 0.25, vendors: ['mthreads'] },
      });
      expect(model.status, JSON.stringify(model.body)).to.equal(201);
      const anywhere = await submit(p, t, { name: 'mt-anywhere', model: 'mthreads-only-7b', tokensPerMin: 1000 });
      const regional = await submit(p, t, { name: 'mt-regional', model: 'mthreads-only-7b', tokensPerMin: 1000, regions: ['pre'] });
      await p.app.scheduler.runCycle();
      expect(await workload(p, t, anywhere)).to.include({ state: 'pending', reason: 'no_compatible_device' });
      expect(await workload(p, t, regional)).to.include({ state: 'pending', reason: 'no_compatible_device' });
      // The dry run gives the same answer.
      const dry = await p.request('POST', '/api/v1/workloads?dryRun=true', {
        token: t.apiKey,
        body: { name: 'mt-dry', model: 'mthreads-only-7b', tokensPerMin: 1000 },
      });
      expect(dry.status).to.equal(200);
      expect(dry.body).to.include({ reason: 'no_compatible_device' });
      await remove(p, t, [anywhere, regional]);
    });

    it('refuses bad scheduling input with the documented errors', async () => {
      const p = platform();
      const base = { name: 'bad', model: SMALL, tokensPerMin: 1000 };
      for (const [body, path] of [
        [{ ...base, ha: 'yes' }, 'ha'],
        [{ ...base, priority: 'urgent' }, 'priority'],
        [{ ...base, regions: ['pre', 'pre'] }, 'regions'],
        [{ ...base, tokensPerMin: 0 }, 'tokensPerMin'],
      ] as const) {
        const res = await p.request('POST', '/api/v1/workloads', { token: t.apiKey, body });
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
      }
      expect((await p.request('POST', '/api/v1/workloads', { token: t.apiKey, body: { ...base, model: 'no-such-model' } })).status).to.equal(422);
      const id = await submit(p, t, { name: 'rescaled-badly', tokensPerMin: 1000, regions: ['nowhere'] });
      const patch = await p.request('PATCH', `/api/v1/workloads/${id}`, { token: t.apiKey, body: { tokensPerMin: -1 } });
      expect(patch.status).to.equal(400);
      expect(patch.body.errors.map((e: { path: string }) => e.path)).to.include('tokensPerMin');
      expect((await workload(p, t, id)).tokensPerMin).to.equal(1000);
      await remove(p, t, [id]);
    });

    it('a cordoned cluster takes no new placements but keeps the ones it has', async () => {
      const p = platform();
      const agent = await cluster(p, 'cordon-1', 'cordon', h100(2));
      const kept = await submit(p, t, { name: 'kept', tokensPerMin: DEVICE, regions: ['cordon'] });
      await p.app.scheduler.runCycle();
      expect((await workload(p, t, kept)).state).to.equal('placed');

      const cordoned = await p.request('POST', `/api/v1/clusters/${agent.id}/cordon`);
      expect(cordoned.status).to.equal(200);
      expect(cordoned.body).to.include({ state: 'cordoned', cordoned: true });
      expect(cordoned.body.capacity.freeStdPerMin).to.equal(0);
      const waiting = await submit(p, t, { name: 'waiting', tokensPerMin: DEVICE, regions: ['cordon'] });
      await p.app.scheduler.runCycle();
      await heartbeat(p, agent.token, h100(2));
      await p.app.scheduler.runCycle();
      expect(await workload(p, t, waiting)).to.include({ state: 'pending', reason: 'capacity' });
      const still = await workload(p, t, kept);
      expect(still.state).to.equal('placed');
      expect(still.placements.map((x: { clusterId: string; state: string }) => [x.clusterId, x.state])).to.deep.equal([[agent.id, 'placed']]);
      expect(await desiredWorkloads(p, agent, h100(2))).to.deep.equal([kept]);
      expect((await p.request('GET', `/api/v1/clusters/${agent.id}`)).body.state, 'a heartbeat keeps the hold').to.equal('cordoned');

      expect((await p.request('POST', `/api/v1/clusters/${agent.id}/uncordon`)).body.state).to.equal('ready');
      await p.app.scheduler.runCycle();
      expect((await workload(p, t, waiting)).state).to.equal('placed');
      expect(await desiredWorkloads(p, agent, h100(2))).to.deep.equal(sorted([kept, waiting]));
      await remove(p, t, [kept, waiting]);
    });
  });
});

describeOnDatabases(
  'scheduling rules: fair share between tenants',
  (platform) => {
    // A half-life of 10 s; the cluster's TTL is an hour so the fake clock can move freely.
    const HALF_LIFE_MS = 10_000;
    let a: Tenant;
    let b: Tenant;

    before(async () => {
      const p = platform();
      await cluster(p, 'fair-1', 'fair', h100(4));
      a = await tenant(p, 'Tenant A');
      b = await tenant(p, 'Tenant B');
    });

    /** A submits `n` one-device workloads, then B does; answers their ids in that order. */
    async function contend(tag: string, n: number): Promise<{ a: string[]; b: string[] }> {
      const p = platform();
      const out = { a: [] as string[], b: [] as string[] };
      for (let i = 0; i < n; i++) out.a.push(await submit(p, a, { name: `${tag}-a${i}`, tokensPerMin: DEVICE, regions: ['fair'] }));
      for (let i = 0; i < n; i++) out.b.push(await submit(p, b, { name: `${tag}-b${i}`, tokensPerMin: DEVICE, regions: ['fair'] }));
      return out;
    }

    async function placedCount(t: Tenant, ids: readonly string[]): Promise<number> {
      let n = 0;
      for (const id of ids) if ((await workload(platform(), t, id)).state === 'placed') n++;
      return n;
    }

    it('in one oversubscribed cycle a tenant that came later still gets its share', async () => {
      const p = platform();
      const ids: { a: string[]; b: string[] } = { a: [], b: [] };
      for (let i = 0; i < 6; i++) ids.a.push(await submit(p, a, { name: `burst-a${i}`, tokensPerMin: DEVICE, regions: ['fair'] }));
      for (let i = 0; i < 3; i++) ids.b.push(await submit(p, b, { name: `burst-b${i}`, tokensPerMin: DEVICE, regions: ['fair'] }));
      await p.app.scheduler.runCycle();
      // Plain FIFO would give A all four devices. Tenants take turns by share instead.
      expect(await placedCount(a, ids.a)).to.equal(2);
      expect(await placedCount(b, ids.b)).to.equal(2);
      // Within a tenant, first come first served.
      expect(await states(p, b, ids.b)).to.deep.equal({ [ids.b[0]!]: 'placed', [ids.b[1]!]: 'placed', [ids.b[2]!]: 'pending:capacity' });
      await remove(p, a, ids.a);
      await remove(p, b, ids.b);
    });

    it('past use counts against a tenant and matters less as it decays', async () => {
      const p = platform();
      // A holds the whole pool (4 devices = 720,000 std/min) for 10 half-lives: its decayed past
      // use approaches 720,000 × (1 − 2^−10) ≈ 719,297 std/min (share 0.72 against weight 1 ×
      // 1,000,000). B held nothing. (The cycle after the 10 half-lives writes the decayed use
      // back, the scheduler doing so at most every 10 s of its clock.)
      const history: string[] = [];
      for (let i = 0; i < 4; i++) history.push(await submit(p, a, { name: `history-a${i}`, tokensPerMin: DEVICE, regions: ['fair'] }));
      await p.app.scheduler.runCycle();
      expect(await placedCount(a, history)).to.equal(4);
      p.clock.advance(10 * HALF_LIFE_MS);
      await p.app.scheduler.runCycle();
      await remove(p, a, history);

      const rounds = [
        // 1. At once: A asks first, but its past use (0.72) exceeds what B reaches after three
        //    devices (0.54): B gets all four.
        { halfLivesLater: 0, label: 'now', placed: { a: 0, b: 4 } },
        // 2. 1.5 half-lives later A's past use is ≈ 254,000 (0.25): B takes two devices (0 → 0.18
        //    → 0.36), A one, B the last.
        { halfLivesLater: 1.5, label: 'later', placed: { a: 1, b: 3 } },
        // 3. 5 more half-lives: ≈ 7,900 (0.008), next to nothing: the tenants alternate, two each.
        { halfLivesLater: 5, label: 'much-later', placed: { a: 2, b: 2 } },
      ];
      for (const r of rounds) {
        p.clock.advance(r.halfLivesLater * HALF_LIFE_MS);
        const round = await contend(r.label, 4);
        await p.app.scheduler.runCycle();
        expect({ a: await placedCount(a, round.a), b: await placedCount(b, round.b) }, r.label).to.deep.equal(r.placed);
        await remove(p, a, round.a);
        await remove(p, b, round.b);
      }
    });

    it("a tenant's weight, set by the operator, gives it that many times the share of an oversubscribed pool", async () => {
      const p = platform();
      await cluster(p, 'fair-weight-1', 'fair-weight', h100(9));
      const light = await tenant(p, 'Tenant Light');
      const heavy = await tenant(p, 'Tenant Heavy');
      const patched = await p.request('PATCH', `/api/v1/tenants/${heavy.id}`, { body: { weight: 2 } });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      // Light asks first, so it wins every tie; with equal weights the tenants would alternate (5 and 4).
      const ids = { light: [] as string[], heavy: [] as string[] };
      for (let i = 0; i < 6; i++) ids.light.push(await submit(p, light, { name: `weight-l${i}`, tokensPerMin: DEVICE, regions: ['fair-weight'] }));
      for (let i = 0; i < 6; i++) ids.heavy.push(await submit(p, heavy, { name: `weight-h${i}`, tokensPerMin: DEVICE, regions: ['fair-weight'] }));
      await p.app.scheduler.runCycle();
      expect({ light: await placedCount(light, ids.light), heavy: await placedCount(heavy, ids.heavy) }).to.deep.equal({ light: 3, heavy: 6 });
      await remove(p, light, ids.light);
      await remove(p, heavy, ids.heavy);
    });
  },
  { TOKENPOOL_FAIR_SHARE_HALF_LIFE_SECONDS: '10', TOKENPOOL_CLUSTER_TTL_SECONDS: '3600' },
);

describeOnDatabases(
  'scheduling rules: score weights from the configuration',
  (platform) => {
    // Best fit would take the one-device cluster for a one-device workload; with best-fit off the
    // candidates tie and the first registered cluster wins.
    it('TOKENPOOL_SCHEDULER_WEIGHTS reaches the cycle and the dry run', async () => {
      const p = platform();
      const roomy = await cluster(p, 'roomy', 'weights', h100(8));
      await cluster(p, 'snug', 'weights', h100(1));
      const t = await tenant(p, 'Weighed');
      const body = { name: 'one-device', model: SMALL, tokensPerMin: DEVICE, regions: ['weights'] };
      const dry = await p.request('POST', '/api/v1/workloads?dryRun=true', { token: t.apiKey, body });
      expect(dry.status, JSON.stringify(dry.body)).to.equal(200);
      expect(dry.body.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([roomy.id]);
      const id = await submit(p, t, body);
      await p.app.scheduler.runCycle();
      const w = await workload(p, t, id);
      expect(w.state).to.equal('placed');
      expect(w.placements.map((x: { clusterId: string }) => x.clusterId)).to.deep.equal([roomy.id]);
    });
  },
  { TOKENPOOL_SCHEDULER_WEIGHTS: 'best-fit=0' },
);

describeOnDatabases('scheduling rules: the event-driven loop', (platform) => {
  let t: Tenant;
  let agent: Agent;

  before(async () => {
    const p = platform();
    t = await tenant(p, 'Foshan Water');
    agent = await cluster(p, 'loop-1', 'loop', h100(1));
  });

  after(async () => {
    await platform().app.scheduler.stop();
  });

  it('asks for a cycle on every event: workload created, changed or deleted; inventory or cluster state changed', async () => {
    const p = platform();
    const scheduler = p.app.scheduler;
    const original = scheduler.trigger.bind(scheduler);
    let asked = 0;
    scheduler.trigger = () => {
      asked++;
    };
    try {
      const expectAsked = async (what: string, action: () => Promise<unknown>, yes = true) => {
        const before = asked;
        await action();
        if (yes) expect(asked, what).to.be.greaterThan(before);
        else expect(asked, what).to.equal(before);
      };
      let id = '';
      await expectAsked('create', async () => (id = await submit(p, t, { name: 'evented', tokensPerMin: 1000, regions: ['loop'] })));
      await expectAsked('rescale', () => p.request('PATCH', `/api/v1/workloads/${id}`, { token: t.apiKey, body: { tokensPerMin: 2000 } }));
      await expectAsked('delete', () => p.request('DELETE', `/api/v1/workloads/${id}`, { token: t.apiKey }));
      await expectAsked('inventory changed', () => heartbeat(p, agent.token, h100(1, 0)));
      await expectAsked('inventory unchanged', () => heartbeat(p, agent.token, h100(1, 0)), false);
      await expectAsked('inventory restored', () => heartbeat(p, agent.token, h100(1)));
      await expectAsked('cluster deregistered', async () => {
        const gone = await cluster(p, 'loop-gone', 'loop-gone', h100(1));
        expect((await p.request('DELETE', `/api/v1/clusters/${gone.id}`)).status).to.equal(204);
      });
      // A cordoned cluster keeps its placements: nothing for a cycle to do until it is released.
      await expectAsked('cordoned', () => p.request('POST', `/api/v1/clusters/${agent.id}/cordon`), false);
      await expectAsked('uncordoned', () => p.request('POST', `/api/v1/clusters/${agent.id}/uncordon`));
      p.clock.advance(31_000);
      await expectAsked('not ready', () => p.app.sweeper.sweep());
      await expectAsked('back after missing the TTL', () => heartbeat(p, agent.token, h100(1)));
    } finally {
      scheduler.trigger = original;
    }
  });

  it('places a created workload without being asked, and a waiting one once a heartbeat brings more devices', async () => {
    const p = platform();
    p.app.scheduler.start();
    const first = await submit(p, t, { name: 'first', tokensPerMin: DEVICE, regions: ['loop'] });
    await until(
      'the first workload placed',
      () => workload(p, t, first),
      (w) => w.state === 'placed',
    );

    const second = await submit(p, t, { name: 'second', tokensPerMin: 2 * DEVICE, regions: ['loop'] });
    await until(
      'the second workload considered',
      () => workload(p, t, second),
      (w) => w.reason === 'capacity',
    );
    expect((await workload(p, t, second)).state).to.equal('pending');

    await heartbeat(p, agent.token, h100(3));
    const placed = await until(
      'the second workload placed',
      () => workload(p, t, second),
      (w) => w.state === 'placed',
    );
    expect(placed.placedTokensPerMin).to.be.at.least(2 * DEVICE);
    await expectNotOvercommitted(p);
  });

  it('places a waiting workload once its cluster is uncordoned', async () => {
    const p = platform();
    await p.request('POST', `/api/v1/clusters/${agent.id}/cordon`);
    await heartbeat(p, agent.token, h100(4));
    const third = await submit(p, t, { name: 'third', tokensPerMin: DEVICE, regions: ['loop'] });
    await until(
      'the third workload considered',
      () => workload(p, t, third),
      (w) => w.reason === 'capacity',
    );
    await p.request('POST', `/api/v1/clusters/${agent.id}/uncordon`);
    await until(
      'the third workload placed',
      () => workload(p, t, third),
      (w) => w.state === 'placed',
    );
  });
});

/** Prometheus text: the value of the sample `name` whose labels include `labels`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describeOnDatabases('scheduling rules: scheduler metrics', (platform) => {
  it('counts cycles and placements, pending workloads by reason, and allocated versus total capacity', async () => {
    const p = platform();
    const t = await tenant(p, 'Zhuhai Port');
    await cluster(p, 'metrics-1', 'metrics', h100(4));
    const one = await submit(p, t, { name: 'one', tokensPerMin: DEVICE });
    const two = await submit(p, t, { name: 'two', tokensPerMin: 2 * DEVICE });
    const three = await submit(p, t, { name: 'three', tokensPerMin: 2 * DEVICE });
    await p.app.scheduler.runCycle();
    await p.app.scheduler.runCycle();
    await p.app.scheduler.runCycle();
    expect(await states(p, t, [one, two, three])).to.deep.equal({ [one]: 'placed', [two]: 'placed', [three]: 'pending:capacity' });

    const scrape = async () => {
      const res = await p.request('GET', '/metrics', { token: null });
      expect(res.status).to.equal(200);
      return res.body as string;
    };
    const text = await scrape();
    expect(sample(text, 'tokenpool_scheduler_cycle_duration_seconds_count')).to.equal(3);
    expect(sample(text, 'tokenpool_scheduler_placements_total', { result: 'placed' })).to.equal(2);
    // The third workload was found waiting for capacity in each of the three cycles.
    expect(sample(text, 'tokenpool_scheduler_placements_total', { result: 'capacity' })).to.equal(3);
    expect(sample(text, 'tokenpool_scheduler_pending_workloads', { reason: 'capacity' })).to.equal(1);
    // 3 of 4 H100s held: 3 × 3000 × 60 of 4 × 3000 × 60 standard tokens per minute.
    expect(sample(text, 'tokenpool_pool_capacity_std_per_minute', { vendor: 'nvidia', kind: 'allocated' })).to.equal(540_000);
    expect(sample(text, 'tokenpool_pool_capacity_std_per_minute', { vendor: 'nvidia', kind: 'total' })).to.equal(720_000);
    expect(sample(text, 'tokenpool_pool_capacity_std_per_minute', { vendor: 'nvidia', kind: 'free' })).to.equal(180_000);

    // Deleting the two-device workload frees its devices; the pool figures are read at most once
    // a second (by the clock), so a scrape within the second still shows them held.
    await remove(p, t, [two]);
    const allocated = async () => sample(await scrape(), 'tokenpool_pool_capacity_std_per_minute', { vendor: 'nvidia', kind: 'allocated' });
    expect(await allocated(), 'within the second').to.equal(540_000);
    p.clock.advance(1001);
    expect(await allocated(), 'a second later').to.equal(180_000);
    // The next cycle lets the waiting one in; the gauges follow.
    await p.app.scheduler.runCycle();
    p.clock.advance(1001);
    const after = await scrape();
    expect(sample(after, 'tokenpool_scheduler_cycle_duration_seconds_count')).to.equal(4);
    expect(sample(after, 'tokenpool_scheduler_placements_total', { result: 'placed' })).to.equal(3);
    expect(sample(after, 'tokenpool_scheduler_pending_workloads', { reason: 'capacity' }) ?? 0).to.equal(0);
    expect(sample(after, 'tokenpool_pool_capacity_std_per_minute', { vendor: 'nvidia', kind: 'allocated' })).to.equal(540_000);
  });
});

describeOnDatabases('scheduling rules: the placement epoch', (platform) => {
  it('moves when placements are added, released or recounted, and stays put for readiness reports', async () => {
    const p = platform();
    const workloads = p.app.context.database.db;
    const epoch = async () => Number((await workloads.selectFrom('placement_epoch').select('epoch').executeTakeFirstOrThrow()).epoch);
    const t = await tenant(p, 'Foshan Water');
    const agent = await cluster(p, 'epoch-1', 'epoch', h100(4));
    const a = await submit(p, t, { name: 'a', tokensPerMin: DEVICE, regions: ['epoch'] });
    const b = await submit(p, t, { name: 'b', tokensPerMin: 2 * DEVICE, regions: ['epoch'] });
    let last = await epoch();
    const moved = async (what: string, expected: boolean) => {
      const now = await epoch();
      expect(now > last, `${what} moves the epoch`).to.equal(expected);
      last = now;
    };
    await p.app.scheduler.runCycle();
    await moved('a cycle that placed', true);
    const desired = (await heartbeat(p, agent.token, h100(4))).body.placements as { id: string; replicas: number }[];
    await heartbeat(
      p,
      agent.token,
      h100(4),
      desired.map((d) => ({ id: d.id, readyReplicas: d.replicas })),
    );
    expect((await workload(p, t, a)).state).to.equal('running');
    await moved('replicas reported ready', false);
    expect((await p.request('PATCH', `/api/v1/workloads/${b}`, { token: t.apiKey, body: { tokensPerMin: DEVICE } })).status).to.equal(200);
    await moved('a rescale kept on its placements', true);
    await remove(p, t, [a]);
    await moved('a delete', true);
    const model = (await p.request('GET', '/api/v1/models')).body.items.find((m: { name: string }) => m.name === SMALL);
    expect((await p.request('PATCH', `/api/v1/models/${model.id}`, { body: { costFactor: '1.5' } })).status, 'cost factor edited').to.equal(200);
    await moved('a cost factor edited', true);
    expect((await p.request('PATCH', `/api/v1/models/${model.id}`, { body: { costFactor: '1' } })).status).to.equal(200);
  });
});

describeOnDatabases('scheduling rules: never overcommitted (seeded random run)', (platform) => {
  const SEED = Number(process.env.SCHEDULING_RULES_SEED ?? 20261020);
  const STEPS = 220;

  it(`keeps held ≤ healthy everywhere and every placed workload whole (seed ${SEED})`, async function () {
    this.timeout(60_000);
    const p = platform();
    const db = p.app.context.database.db;
    const rand = seededRandom(SEED);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

    const specs: { name: string; region: string; devices: { deviceModel: string; total: number }[] }[] = [
      {
        name: 'rand-a-1',
        region: 'ra',
        devices: [
          { deviceModel: H100, total: 8 },
          { deviceModel: 'Ascend910B', total: 8 },
        ],
      },
      {
        name: 'rand-b-1',
        region: 'rb',
        devices: [
          { deviceModel: H100, total: 4 },
          { deviceModel: 'NVIDIA-A100-80GB', total: 4 },
        ],
      },
      { name: 'rand-b-2', region: 'rb', devices: [{ deviceModel: 'Ascend910B', total: 8 }] },
      { name: 'rand-c-1', region: 'rc', devices: [{ deviceModel: H100, total: 8 }] },
    ];
    const clusters: (Agent & { devices: { deviceModel: string; total: number }[]; inventory: Inventory })[] = [];
    for (const s of specs) {
      const inventory = s.devices.map((d) => ({ ...d, healthy: d.total }));
      clusters.push({ ...(await cluster(p, s.name, s.region, inventory)), devices: s.devices, inventory });
    }
    const tenants = [await tenant(p, 'Random One', 'high'), await tenant(p, 'Random Two', 'high'), await tenant(p, 'Random Three', 'high')];
    const models = [
      { name: 'qwen2.5-7b-instruct', min: 10_000, max: 400_000 },
      { name: 'qwen2.5-32b-instruct', min: 10_000, max: 200_000 },
      { name: 'qwen2.5-72b-instruct', min: 10_000, max: 150_000 },
    ];
    const live: { id: string; tenant: Tenant }[] = [];
    const totals = { placed: 0, preempted: 0, evicted: 0, lost: 0, cycles: 0 };

    const check = async (step: number) => {
      const where = `seed ${SEED}, step ${step}:`;
      await expectNotOvercommitted(p, where);
      const active = await db.selectFrom('placements').selectAll().where('state', 'in', ['placed', 'running']).execute();
      // The copy of the active placements the scheduler keeps between cycles is the table's.
      const kept = p.app.scheduler.keptPlacements();
      if (kept) {
        const sizes = new Map((await db.selectFrom('workloads').select(['id', 'tokens_per_min']).execute()).map((w) => [w.id, w.tokens_per_min]));
        const line = (r: { id: string; cluster_id: string; replicas: number; devices_per_replica: number; workload_id: string }, workloadTokens: number) =>
          `${r.id} ${r.cluster_id} ${r.replicas}x${r.devices_per_replica} of ${r.workload_id} (${workloadTokens})`;
        expect(kept.map((k) => line(k, k.workload_tokens_per_min)).sort(), `${where} kept placements`).to.deep.equal(
          active.map((r) => line(r, sizes.get(r.workload_id)!)).sort(),
        );
      }
      const byWorkload = new Map<string, { tokens: number; clusters: Set<string> }>();
      for (const r of active) {
        const w = byWorkload.get(r.workload_id) ?? { tokens: 0, clusters: new Set<string>() };
        w.tokens += r.tokens_per_min;
        w.clusters.add(r.cluster_id);
        byWorkload.set(r.workload_id, w);
      }
      // Each tenant's count of pending workloads, kept by triggers (migration 0017) through every
      // path above (creates, deletes, rescales, placing, preemption, eviction, lost clusters), is
      // its pending rows.
      const counted = await sql<{ tenant_id: string; counted: number; pending: number }>`
        SELECT i.tenant_id, i.n - o.n AS counted, (SELECT count(*) FROM workloads w WHERE w.tenant_id = i.tenant_id AND w.state = 'pending') AS pending
          FROM pending_in i JOIN pending_out o ON o.tenant_id = i.tenant_id`.execute(db);
      expect(counted.rows.length, `${where} every tenant has its counts`).to.equal((await db.selectFrom('tenants').select('id').execute()).length);
      for (const c of counted.rows) expect(Number(c.counted), `${where} pending count of ${c.tenant_id}`).to.equal(Number(c.pending));
      for (const w of await db.selectFrom('workloads').select(['id', 'state', 'tokens_per_min', 'ha']).execute()) {
        const held = byWorkload.get(w.id);
        if (w.state === 'placed' || w.state === 'running') {
          expect(held?.tokens ?? 0, `${where} placements of placed ${w.id}`).to.be.at.least(w.tokens_per_min);
          if (w.ha) expect(held!.clusters.size, `${where} clusters of ha ${w.id}`).to.be.at.least(2);
        } else {
          expect(held, `${where} ${w.state} ${w.id} holds nothing`).to.equal(undefined);
        }
      }
    };

    const cycle = async (step: number) => {
      const s = await p.app.scheduler.runCycle();
      expect(s, 'this instance leads').to.not.equal(undefined);
      totals.placed += s!.placed;
      totals.preempted += s!.preempted;
      totals.evicted += s!.evicted;
      totals.lost += s!.lost;
      totals.cycles++;
      await check(step);
    };

    for (let step = 0; step < STEPS; step++) {
      p.clock.advance(1000);
      const r = rand();
      if (r < 0.3 || live.length === 0) {
        const t = pick(tenants);
        const m = pick(models);
        const regions = rand() < 0.5 ? undefined : ['ra', 'rb', 'rc'].filter(() => rand() < 0.5);
        const body: WorkloadRequest = {
          name: `r${step}`,
          model: m.name,
          tokensPerMin: int(m.min, m.max),
          priority: pick(['high', 'normal', 'normal', 'low', 'low'] as const),
          ha: rand() < 0.2,
          ...(regions && regions.length > 0 ? { regions } : {}),
        };
        live.push({ id: await submit(p, t, body), tenant: t });
      } else if (r < 0.4) {
        const [w] = live.splice(Math.floor(rand() * live.length), 1);
        await remove(p, w!.tenant, [w!.id]);
      } else if (r < 0.5) {
        const w = pick(live);
        const res = await p.request('PATCH', `/api/v1/workloads/${w.id}`, { token: w.tenant.apiKey, body: { tokensPerMin: int(10_000, 300_000) } });
        expect(res.status).to.equal(200);
      } else if (r < 0.72) {
        // A heartbeat, usually with changed health, reporting what it was told to run as ready.
        const c = pick(clusters);
        if (rand() < 0.6) c.inventory = c.devices.map((d) => ({ ...d, healthy: rand() < 0.5 ? d.total : int(0, d.total) }));
        const told = (await heartbeat(p, c.token, c.inventory)).body.placements as { id: string; replicas: number }[];
        if (told.length > 0 && rand() < 0.5)
          await heartbeat(
            p,
            c.token,
            c.inventory,
            told.map((x) => ({ id: x.id, readyReplicas: x.replicas })),
          );
      } else if (r < 0.75) {
        const c = pick(clusters);
        await p.request('POST', `/api/v1/clusters/${c.id}/${rand() < 0.35 ? 'cordon' : 'uncordon'}`);
      } else {
        await cycle(step);
      }
    }
    await cycle(STEPS);
    // The run went through the interesting paths (preemption, eviction, lost clusters), not only
    // the easy one.
    expect(totals.cycles).to.be.greaterThan(20);
    expect(totals.placed, JSON.stringify(totals)).to.be.greaterThan(10);
    expect(totals.preempted, JSON.stringify(totals)).to.be.greaterThan(0);
    expect(totals.evicted, JSON.stringify(totals)).to.be.greaterThan(0);
    expect(totals.lost, JSON.stringify(totals)).to.be.greaterThan(0);
  });
});

describeOnDatabases('scheduling rules: priority is granted, not self-declared', (platform) => {
  let a: Tenant;
  let b: Tenant;
  const aIds: string[] = [];
  const bIds: string[] = [];

  before(async () => {
    const p = platform();
    await cluster(p, 'granted-1', 'granted', h100(3));
    a = await tenant(p, 'Granted A');
    b = await tenant(p, 'Granted B');
    // A's two low workloads and one of B's fill the cluster's 3 devices.
    aIds.push(await submit(p, a, { name: 'a-low-1', tokensPerMin: DEVICE, priority: 'low', regions: ['granted'] }));
    aIds.push(await submit(p, a, { name: 'a-low-2', tokensPerMin: DEVICE, priority: 'low', regions: ['granted'] }));
    bIds.push(await submit(p, b, { name: 'b-low-1', tokensPerMin: DEVICE, priority: 'low', regions: ['granted'] }));
    await p.app.scheduler.runCycle();
    expect(Object.values(await states(p, a, aIds))).to.deep.equal(['placed', 'placed']);
  });

  it('a tenant starts at maxPriority normal: high is 403 (also as a dry run), and nothing is created', async () => {
    const p = platform();
    expect((await p.request('GET', `/api/v1/tenants/${b.id}`, { token: b.apiKey })).body.maxPriority).to.equal('normal');
    for (const path of ['/api/v1/workloads', '/api/v1/workloads?dryRun=true']) {
      const res = await p.request('POST', path, {
        token: b.apiKey,
        body: { name: 'b-high', model: SMALL, tokensPerMin: DEVICE, priority: 'high', regions: ['granted'] },
      });
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).to.equal(403);
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
    }
    const listed = await p.request('GET', '/api/v1/workloads', { token: b.apiKey });
    expect(listed.body.items.map((w: { name: string }) => w.name)).to.not.include('b-high');
    expect(await p.app.scheduler.runCycle()).to.include({ preempted: 0 });
    expect(Object.values(await states(p, a, aIds))).to.deep.equal(['placed', 'placed']);
  });

  it('maxPriority low refuses normal, for the operator too until it raises the grant', async () => {
    const p = platform();
    const c = await tenant(p, 'Granted C', 'low');
    const normal = await p.request('POST', '/api/v1/workloads', {
      token: c.apiKey,
      body: { name: 'c-n', model: SMALL, tokensPerMin: 1000, regions: ['granted'] },
    });
    expect(normal.status, JSON.stringify(normal.body)).to.equal(403);
    const low = await submit(p, c, { name: 'c-l', tokensPerMin: 1000, priority: 'low', regions: ['nowhere'] });
    const body = { name: 'c-op', model: SMALL, tokensPerMin: 1000, priority: 'high', regions: ['nowhere'], tenantId: c.id };
    expect((await p.request('POST', '/api/v1/workloads', { body })).status, 'the grant is on the tenant').to.equal(403);
    expect((await p.request('PATCH', `/api/v1/tenants/${c.id}`, { body: { maxPriority: 'urgent' } })).status).to.equal(400);
    expect((await p.request('PATCH', `/api/v1/tenants/${c.id}`, { token: c.apiKey, body: { maxPriority: 'high' } })).status).to.equal(403);
    expect((await p.request('PATCH', `/api/v1/tenants/${c.id}`, { body: { maxPriority: 'high' } })).body.maxPriority).to.equal('high');
    const byOperator = await p.request('POST', '/api/v1/workloads', { body });
    expect(byOperator.status, JSON.stringify(byOperator.body)).to.equal(202);
    await remove(p, c, [low, byOperator.body.id]);
  });

  it("a granted tenant's dry run counts other tenants' victims but names only its own", async () => {
    const p = platform();
    const granted = await p.request('PATCH', `/api/v1/tenants/${b.id}`, { body: { maxPriority: 'high' } });
    expect(granted.body.maxPriority).to.equal('high');
    const body = { name: 'b-high', model: SMALL, tokensPerMin: 3 * DEVICE, priority: 'high', regions: ['granted'] };
    const asTenant = await p.request('POST', '/api/v1/workloads?dryRun=true', { token: b.apiKey, body });
    expect(asTenant.status, JSON.stringify(asTenant.body)).to.equal(200);
    expect(asTenant.body.preemptedCount).to.equal(3);
    expect(asTenant.body.preempted).to.deep.equal(bIds);
    expect(JSON.stringify(asTenant.body), "no other tenant's id anywhere").to.not.match(new RegExp(aIds.join('|')));

    const asOperator = await p.request('POST', '/api/v1/workloads?dryRun=true', { body: { ...body, tenantId: b.id } });
    expect(asOperator.status).to.equal(200);
    expect([...asOperator.body.preempted].sort()).to.deep.equal(sorted([...aIds, ...bIds]));
    expect(asOperator.body.preemptedCount).to.equal(3);
  });

  it('a workload above a lowered maxPriority cannot be rescaled by the tenant', async () => {
    const p = platform();
    const high = await submit(p, b, { name: 'b-high-2', tokensPerMin: 1000, priority: 'high', regions: ['nowhere'] });
    expect((await p.request('PATCH', `/api/v1/tenants/${b.id}`, { body: { maxPriority: 'normal' } })).status).to.equal(200);
    const res = await p.request('PATCH', `/api/v1/workloads/${high}`, { token: b.apiKey, body: { tokensPerMin: 2000 } });
    expect(res.status, JSON.stringify(res.body)).to.equal(403);
    expect((await workload(p, b, high)).tokensPerMin, 'unchanged').to.equal(1000);
    const own = await p.request('PATCH', `/api/v1/workloads/${bIds[0]}`, { token: b.apiKey, body: { tokensPerMin: DEVICE } });
    expect(own.status, 'a low workload still rescales').to.equal(200);
    await remove(p, b, [high]);
  });

  it('a high workload whose grant was taken back is scheduled as the grant allows: it preempts nothing', async () => {
    const p = platform();
    await cluster(p, 'revoked-1', 'revoked', h100(1));
    const d = await tenant(p, 'Granted D', 'high');
    const e = await tenant(p, 'Granted E');
    const victim = await submit(p, e, { name: 'e-normal', tokensPerMin: DEVICE, regions: ['revoked'] });
    await p.app.scheduler.runCycle();
    expect((await workload(p, e, victim)).state).to.equal('placed');
    const high = await submit(p, d, { name: 'd-high', tokensPerMin: DEVICE, priority: 'high', regions: ['revoked'] });
    expect((await p.request('PATCH', `/api/v1/tenants/${d.id}`, { body: { maxPriority: 'normal' } })).status).to.equal(200);
    expect(await p.app.scheduler.runCycle()).to.include({ preempted: 0 });
    expect((await workload(p, e, victim)).state).to.equal('placed');
    expect(await workload(p, d, high)).to.include({ state: 'pending', reason: 'capacity' });
    // Granted again, it preempts as high.
    expect((await p.request('PATCH', `/api/v1/tenants/${d.id}`, { body: { maxPriority: 'high' } })).status).to.equal(200);
    expect(await p.app.scheduler.runCycle()).to.include({ placed: 1, preempted: 1 });
    await remove(p, d, [high]);
    await remove(p, e, [victim]);
  });
});

describeOnDatabases('scheduling rules: quota counts what is held (seeded random run)', (platform) => {
  const SEED = Number(process.env.QUOTA_SEED ?? 20261206);
  const STEPS = 160;

  it(`a tenant's held standard tokens/min never exceed its quota, and /me shows them (seed ${SEED})`, async function () {
    this.timeout(60_000);
    const p = platform();
    const db = p.app.context.database.db;
    const rand = seededRandom(SEED);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

    const clusters: (Agent & { inventory: Inventory })[] = [];
    for (const [name, region, devices] of [
      ['quota-a', 'qa', 8],
      ['quota-b', 'qb', 8],
      ['quota-c', 'qb', 4],
    ] as const) {
      clusters.push({ ...(await cluster(p, name, region, h100(devices))), inventory: h100(devices) });
    }
    // Quotas of a few H100s' worth (180,000 std/min each); small requests each hold a whole replica.
    const quotas = [400_000, 900_000, 1_500_000];
    const tenants: (Tenant & { quota: number })[] = [];
    for (const [i, quota] of quotas.entries()) {
      const t = await tenant(p, `Quota ${i}`, 'high');
      expect((await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: { maxStdPerMin: quota } })).status).to.equal(200);
      tenants.push({ ...t, quota });
    }
    const models = [
      { name: 'qwen2.5-7b-instruct', max: 400_000 },
      { name: 'qwen2.5-32b-instruct', max: 120_000 },
      { name: 'qwen2.5-72b-instruct', max: 80_000 },
    ];
    const live: { id: string; tenant: Tenant }[] = [];
    const seen = { quota: 0, shrunk: 0, lost: 0, placed: 0 };

    const heldByTenant = async (): Promise<Map<string, number>> => {
      const rows = await db
        .selectFrom('placements')
        .innerJoin('workloads', 'workloads.id', 'placements.workload_id')
        .innerJoin('models', 'models.id', 'workloads.model_id')
        .select(['workloads.tenant_id', 'placements.tokens_per_min', 'models.cost_factor'])
        .where('placements.state', 'in', ['placed', 'running'])
        .execute();
      const held = new Map<string, number>();
      for (const r of rows) held.set(r.tenant_id, (held.get(r.tenant_id) ?? 0) + Math.round(r.tokens_per_min * Number(r.cost_factor) * 1e6));
      return held;
    };
    const check = async (where: string) => {
      const held = await heldByTenant();
      for (const t of tenants) {
        const micro = held.get(t.id) ?? 0;
        expect(micro, `${where}: ${t.id} holds ${micro / 1e6} of ${t.quota}`).to.be.at.most(t.quota * 1e6);
        const me = await p.request('GET', '/api/v1/me', { token: t.apiKey });
        expect(me.status).to.equal(200);
        expect(me.body.quota.usedStdPerMin, `${where}: /me of ${t.id}`).to.be.closeTo(micro / 1e6, 1e-6);
      }
    };

    for (let step = 0; step < STEPS; step++) {
      const where = `seed ${SEED}, step ${step}`;
      p.clock.advance(1000);
      const r = rand();
      if (r < 0.3 || live.length === 0) {
        const t = pick(tenants);
        const m = pick(models);
        const tokensPerMin = rand() < 0.4 ? int(1, 5_000) : int(1_000, m.max);
        const id = await submit(p, t, { name: `q${step}`, model: m.name, tokensPerMin, priority: pick(['high', 'normal', 'low'] as const), ha: rand() < 0.2 });
        live.push({ id, tenant: t });
      } else if (r < 0.4) {
        const [w] = live.splice(Math.floor(rand() * live.length), 1);
        await remove(p, w!.tenant, [w!.id]);
      } else if (r < 0.6) {
        const w = pick(live);
        const before = await workload(p, w.tenant, w.id);
        const down = rand() < 0.7;
        const tokensPerMin = down ? Math.max(1, Math.floor(before.tokensPerMin * rand())) : int(1, 400_000);
        const res = await p.request('PATCH', `/api/v1/workloads/${w.id}`, { token: w.tenant.apiKey, body: { tokensPerMin } });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        if (before.state !== 'pending' && res.body.state !== 'pending') {
          expect(res.body.placedTokensPerMin, `${where}: a shrunk workload still carries its size`).to.be.at.least(tokensPerMin);
          const replicas = (x: { placements: { state: string; replicas: number }[] }) =>
            x.placements.filter((pl) => pl.state !== 'lost').reduce((s, pl) => s + pl.replicas, 0);
          if (replicas(res.body) < replicas(before)) seen.shrunk++;
        }
        await check(`${where} (rescale)`);
      } else if (r < 0.85) {
        // Heartbeats keep clusters alive; one cluster now and then stays silent.
        for (const c of clusters) if (rand() < 0.8) await heartbeat(p, c.token, c.inventory);
      } else if (r < 0.9) {
        // Failover: time passes beyond the TTL; clusters that did not report are lost.
        p.clock.advance(31_000);
        for (const c of clusters) if (rand() < 0.6) await heartbeat(p, c.token, c.inventory);
        await p.app.sweeper.sweep();
      } else {
        const s = await p.app.scheduler.runCycle();
        seen.lost += s!.lost;
        seen.placed += s!.placed;
        const pending = await db.selectFrom('workloads').select('reason').where('state', '=', 'pending').execute();
        seen.quota += pending.filter((x) => x.reason === 'quota').length;
        await check(where);
      }
    }
    await p.app.scheduler.runCycle();
    await check(`seed ${SEED}, end`);
    // The run went through the paths that matter: quota waits, shrinking rescales, lost clusters.
    expect(seen.placed, JSON.stringify(seen)).to.be.greaterThan(5);
    expect(seen.quota, JSON.stringify(seen)).to.be.greaterThan(0);
    expect(seen.shrunk, JSON.stringify(seen)).to.be.greaterThan(0);
    expect(seen.lost, JSON.stringify(seen)).to.be.greaterThan(0);
  });
});
