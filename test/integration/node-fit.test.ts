/**
 * Node-level fit through the HTTP API (issue 14 "Placement health"): an agent reports free
 * devices per node beside its inventory; the cluster view shows them; the scheduler places a
 * replica of n devices only on a cluster where a node has n free, and refuses a replica larger
 * than any node unless the cluster serves LeaderWorkerSets. Nonsense reports are 400s naming the field.
 *
 * Numbers: qwen2.5-72b-instruct takes 4 × NVIDIA-H100-80GB per replica, 72,000 tokens/min each;
 * the suite's own model `node-fit-16` takes 16.
 */
import { expect } from 'chai';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const LARGE = 'qwen2.5-72b-instruct';
const HUGE = 'node-fit-16';
const REPLICA = 72_000;

interface Agent {
  readonly id: string;
  readonly token: string;
}
type Node = { name: string; deviceModel: string; total: number; free: number };

const nodes = (...free: number[]): Node[] => free.map((f, i) => ({ name: `gpu-${i}`, deviceModel: H100, total: 8, free: f }));

function heartbeat(p: TestPlatform, agent: Agent, extra: object = {}, devices = 32) {
  return p.request('POST', '/api/v1/agent/heartbeat', {
    token: agent.token,
    body: { inventory: [{ deviceModel: H100, total: devices, healthy: devices }], placements: [], ...extra },
  });
}

async function cluster(p: TestPlatform, name: string, region: string, extra: object = {}): Promise<Agent> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const agent = { id: res.body.id as string, token: res.body.agentToken as string };
  const hb = await heartbeat(p, agent, extra);
  expect(hb.status, JSON.stringify(hb.body)).to.equal(200);
  return agent;
}

async function submit(p: TestPlatform, model: string, tokensPerMin: number, region: string): Promise<string> {
  const res = await p.request('POST', '/api/v1/workloads', {
    body: { tenantId: await tenantId(p), name: 'assistant', model, tokensPerMin, regions: [region] },
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.id as string;
}

let tenant: string | undefined;
async function tenantId(p: TestPlatform): Promise<string> {
  if (tenant) return tenant;
  const res = await p.request('POST', '/api/v1/tenants', { body: { name: `Node Fit ${p.kind}`, kind: 'enterprise' } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return (tenant = res.body.id as string);
}

async function workload(p: TestPlatform, id: string): Promise<any> {
  const res = await p.request('GET', `/api/v1/workloads/${id}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body;
}

describeOnDatabases('node-level fit', (platform) => {
  before(async () => {
    tenant = undefined;
    const res = await platform().request('POST', '/api/v1/models', { body: { name: HUGE, minMemoryGiB: 1100, costFactor: 10, inputFactor: 0.25 } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  });

  it('shows the nodes and capabilities an agent reported; a cluster whose agent reports none shows null', async () => {
    const p = platform();
    const a = await cluster(p, 'nodes-view', 'nf-view', { nodes: nodes(8, 3), capabilities: { leaderWorkerSet: true } });
    const res = await p.request('GET', `/api/v1/clusters/${a.id}`);
    expect(res.status).to.equal(200);
    expect(res.body.nodes).to.deep.equal(nodes(8, 3));
    expect(res.body.capabilities).to.deep.equal({ leaderWorkerSet: true });
    expect(res.body.nodesReportedAt).to.equal(p.clock.now().toISOString());
    const old = await cluster(p, 'nodes-none', 'nf-view');
    const plain = await p.request('GET', `/api/v1/clusters/${old.id}`);
    expect(plain.body).to.deep.include({ nodes: null, nodesReportedAt: null, capabilities: { leaderWorkerSet: false } });
  });

  it('a cluster whose free devices are spread over too many nodes takes no replica that needs a whole node; once a node frees up, it does', async () => {
    const p = platform();
    // 32 healthy devices, 8 free by count, but 2 on each of 4 nodes.
    const a = await cluster(p, 'nodes-frag', 'nf-frag', { nodes: nodes(2, 2, 2, 2) });
    const id = await submit(p, LARGE, REPLICA, 'nf-frag');
    await p.app.scheduler.runCycle();
    const waiting = await workload(p, id);
    expect(waiting).to.include({ state: 'pending', reason: 'capacity' });
    expect(waiting.message).to.contain('node-fit: no node has 4 free devices');

    // The same cluster's agent reports one node with 4 free: the replica goes there.
    expect((await heartbeat(p, a, { nodes: nodes(4, 2, 2, 0) })).status).to.equal(200);
    await p.app.scheduler.runCycle();
    const placed = await workload(p, id);
    expect(placed.state).to.equal('placed');
    expect(placed.placements.map((x: any) => [x.clusterId, x.replicas, x.devicesPerReplica])).to.deep.equal([[a.id, 1, 4]]);
  });

  it('an old agent (no nodes) keeps device-count scheduling', async () => {
    const p = platform();
    await cluster(p, 'nodes-old', 'nf-old');
    const id = await submit(p, LARGE, 2 * REPLICA, 'nf-old');
    await p.app.scheduler.runCycle();
    expect((await workload(p, id)).state).to.equal('placed');
  });

  it('a replica larger than any node is refused with the reason; with LeaderWorkerSet it spans nodes', async () => {
    const p = platform();
    const a = await cluster(p, 'nodes-small', 'nf-huge', { nodes: nodes(8, 8, 8, 8), capabilities: { leaderWorkerSet: false } });
    const id = await submit(p, HUGE, 1000, 'nf-huge');
    await p.app.scheduler.runCycle();
    const refused = await workload(p, id);
    expect(refused).to.include({ state: 'pending', reason: 'no_compatible_device' });
    expect(refused.message, refused.message).to.contain('needs 16 devices per replica; the largest node has 8');
    // A dry run says the same.
    const dry = await p.request('POST', '/api/v1/workloads?dryRun=true', {
      body: { tenantId: await tenantId(p), name: 'what-if', model: HUGE, tokensPerMin: 1000, regions: ['nf-huge'] },
    });
    expect(dry.status, JSON.stringify(dry.body)).to.equal(200);
    expect(dry.body.reason).to.equal('no_compatible_device');

    expect((await heartbeat(p, a, { nodes: nodes(8, 8, 8, 8), capabilities: { leaderWorkerSet: true } })).status).to.equal(200);
    await p.app.scheduler.runCycle();
    const placed = await workload(p, id);
    expect(placed.state).to.equal('placed');
    expect(placed.placements[0]).to.include({ clusterId: a.id, replicas: 1, devicesPerReplica: 16 });
  });

  it('a node report older than the TTL no longer constrains (an agent that stopped sending it)', async () => {
    const p = platform();
    const a = await cluster(p, 'nodes-stale', 'nf-stale', { nodes: nodes(2, 2, 2, 2) });
    const id = await submit(p, LARGE, REPLICA, 'nf-stale');
    await p.app.scheduler.runCycle();
    expect((await workload(p, id)).state).to.equal('pending');
    p.clock.advance(60_000);
    // Heartbeats go on without `nodes` (a downgraded agent): past the TTL the old report is ignored.
    expect((await heartbeat(p, a)).status).to.equal(200);
    await p.app.scheduler.runCycle();
    expect((await workload(p, id)).state).to.equal('placed');
  });

  const bad: ReadonlyArray<{ name: string; extra: object; path: string }> = [
    { name: 'free above total', extra: { nodes: [{ name: 'n1', deviceModel: H100, total: 4, free: 5 }] }, path: 'nodes.0.free' },
    { name: 'negative free', extra: { nodes: [{ name: 'n1', deviceModel: H100, total: 4, free: -1 }] }, path: 'nodes.0.free' },
    { name: 'negative total', extra: { nodes: [{ name: 'n1', deviceModel: H100, total: -4, free: 0 }] }, path: 'nodes.0.total' },
    { name: 'a fractional count', extra: { nodes: [{ name: 'n1', deviceModel: H100, total: 4.5, free: 0 }] }, path: 'nodes.0.total' },
    { name: 'an empty node name', extra: { nodes: [{ name: '', deviceModel: H100, total: 4, free: 0 }] }, path: 'nodes.0.name' },
    {
      name: 'the same node and model twice',
      extra: {
        nodes: [
          { name: 'n1', deviceModel: H100, total: 4, free: 0 },
          { name: 'n1', deviceModel: H100, total: 4, free: 1 },
        ],
      },
      path: 'nodes.1.name',
    },
    {
      name: 'more than 5,000 entries',
      extra: { nodes: Array.from({ length: 5001 }, (_, i) => ({ name: `n${i}`, deviceModel: H100, total: 1, free: 1 })) },
      path: 'nodes',
    },
    { name: 'an unknown capability', extra: { capabilities: { leaderWorkerSet: true, teleport: true } }, path: 'capabilities.teleport' },
    { name: 'a capability that is not a boolean', extra: { capabilities: { leaderWorkerSet: 'yes' } }, path: 'capabilities.leaderWorkerSet' },
  ];
  for (const b of bad) {
    it(`refuses a node report with ${b.name} (400 at ${b.path})`, async () => {
      const p = platform();
      const a = await cluster(p, `nodes-bad-${bad.indexOf(b)}`, 'nf-bad');
      const res = await heartbeat(p, a, b.extra);
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(b.path);
    });
  }
});
