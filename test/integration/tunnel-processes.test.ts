import { expect } from 'chai';
import OpenAI from 'openai';
import { request as httpRequest } from 'node:http';
import { TunnelClient } from '../../adapters/tunnel-client.js';
import { MODEL, serveModel, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases, startPlatform, type TestPlatform } from './harness.js';
import { balancer } from '../tcp-relay.js';
import { until } from '../until.js';

/** The headers of a 101 answer to a tunnel request (the connection is closed at once). */
function switchHeaders(base: string, token: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/v1/agent/tunnel`, {
      headers: { connection: 'Upgrade', upgrade: 'tokenpool-tunnel', authorization: `Bearer ${token}` },
    });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers);
    });
    req.once('response', (res) => reject(new Error(`answered ${res.statusCode}`)));
    req.once('error', reject);
    req.end();
  });
}

describeOnDatabases('tunnel: every platform process reaches a tunnel-only cluster (README "Tunnel", several processes)', (platform) => {
  let tenant: { id: string; apiKey: string };
  let served: ServedModel;
  let other: TestPlatform | undefined;
  let lb: Awaited<ReturnType<typeof balancer>> | undefined;
  let agent: TunnelClient | undefined;

  const usageOf = async () => {
    const u = (await platform().request('GET', '/api/v1/usage', { token: tenant.apiKey })).body as { inputTokens: string; outputTokens: string };
    return { input: BigInt(u.inputTokens), output: BigInt(u.outputTokens) };
  };
  /** One call to `p`'s gateway: it must reach the replica through `p`'s own tunnel, and be metered once. */
  const callThrough = async (p: TestPlatform, words: string) => {
    const client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    const before = await usageOf();
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: words }], max_tokens: 7 });
    expect(answer.usage!.completion_tokens).to.equal(7);
    const after = await usageOf();
    expect(after.input - before.input).to.equal(BigInt(answer.usage!.prompt_tokens));
    expect(after.output - before.output).to.equal(7n);
  };

  before(async () => {
    const p = platform();
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Tunnel Processes Tenant', kind: 'government' } })).body;
    served = await serveModel(p, tenant.apiKey, { clusterName: 'behind-nat-everywhere' });
    const beat = await served.heartbeat(p, [
      { id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [`tunnel://${new URL(served.engine.url).host}`] },
    ]);
    expect(beat.status).to.equal(200);
  });

  after(async () => {
    await agent?.stop();
    await lb?.close();
    await other?.close();
    await served?.engine.close();
  });

  it('names this process and the live ones in the 101 answer (one on PGlite; both on a shared PostgreSQL)', async function () {
    const p = platform();
    if (p.kind === 'postgres') other = await startPlatform(p.kind, {}, { database: p.database, clock: p.clock });
    p.clock.advance(5000); // past the process lists' and the routing tables' caches
    const a = await switchHeaders(p.baseUrl, served.agent);
    const self = String(a['tokenpool-process']);
    expect(self).to.match(/^[0-9a-f]{12}$/);
    const listed = String(a['tokenpool-processes']).split(',');
    expect(listed[0]).to.equal(self);
    if (!other) {
      expect(listed).to.deep.equal([self]);
      return;
    }
    const b = await switchHeaders(other.baseUrl, served.agent);
    const otherId = String(b['tokenpool-process']);
    expect(otherId).to.not.equal(self);
    expect(listed).to.include(otherId);
    expect(String(b['tokenpool-processes']).split(',')).to.have.members([otherId, self]).and.have.length(listed.length);
  });

  it('the agent keeps a tunnel to each process, and a call to EACH process reaches the replica through its own tunnel, metered once', async function () {
    this.timeout(30_000);
    const p = platform();
    const processes = other ? [p, other] : [p];
    let x = 11;
    // A balancer that spreads connections at random (seeded: the same run each time).
    lb = await balancer(
      processes.map((q) => q.baseUrl),
      () => {
        x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
        return Math.floor((x / 2 ** 31) * processes.length);
      },
    );
    const url = served.engine.url;
    const authority = new URL(url).host;
    agent = new TunnelClient({ platformUrl: lb.url, token: served.agent, allow: (a) => a === authority, backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    agent.start();
    const stats = await until(
      'a tunnel to every process',
      async () => agent!.stats,
      (s) => s.covered === processes.length && s.processes === processes.length,
    );
    expect(stats.tunnels).to.equal(processes.length);
    for (const q of processes) expect(q.app.tunnels.connected(served.clusterId)).to.equal(true);
    for (const [i, q] of processes.entries()) await callThrough(q, `to process ${i}, through its tunnel`);
    if (!other) {
      // One process: one tunnel, as before; no request beyond the first.
      expect(agent.stats).to.include({ opens: 1, duplicates: 0 });
    }
  });

  it("one process's tunnel dropping is opened again, and that process serves through it again", async function () {
    this.timeout(30_000);
    const p = platform();
    const processes = other ? [p, other] : [p];
    const target = processes.length - 1;
    const reconnects = agent!.stats.reconnects;
    lb!.drop(target);
    await until(
      'the dropped tunnel opened again',
      async () => ({ stats: agent!.stats, held: processes[target]!.app.tunnels.connected(served.clusterId) }),
      (s) => s.stats.reconnects > reconnects && s.stats.covered === processes.length && s.held,
    );
    for (const [i, q] of processes.entries()) await callThrough(q, `to process ${i} again`);
  });
});
