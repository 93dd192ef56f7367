/**
 * The agent's tunnels with a server of two worker processes on one port (`TOKENPOOL_WORKERS=2`), as
 * an operator runs it: the workers' primary hands each connection to a worker, the agent keeps a
 * tunnel to each, and a gateway call reaches the tunnel-only cluster whichever worker takes it.
 * PostgreSQL only: the embedded database lives in one process.
 */
import { expect } from 'chai';
import { TunnelClient } from '../../adapters/tunnel-client.js';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { freshPostgresUrl } from '../databases.js';
import { ServerProcess, killAll } from '../server-process.js';
import { call } from '../own-connection.js';
import { until } from '../until.js';

const ADMIN = 'tp_admin_tunnel-workers-token-0123456789';
const MODEL = 'qwen2.5-7b-instruct';
const H100 = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }];

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('tunnels to a server of two worker processes on PostgreSQL', function () {
  this.timeout(90_000);
  let server: ServerProcess;
  let base: string;
  let engine: SimulatedEngine | undefined;
  let agent: TunnelClient | undefined;

  before(async () => {
    server = new ServerProcess({
      DATABASE_URL: await freshPostgresUrl(),
      TOKENPOOL_WORKERS: '2',
      PORT: '0',
      TOKENPOOL_ADMIN_TOKEN: ADMIN,
      TOKENPOOL_DEMO: '0',
    });
    base = await server.listening();
  });

  after(async () => {
    await agent?.stop();
    await engine?.close();
    if (server) await server.terminate().catch(() => killAll());
  });

  it('the agent holds a tunnel to each worker, and gateway calls taken by either worker reach the replica, each metered once', async () => {
    const cluster = (await call(base, 'POST', '/api/v1/clusters', ADMIN, { name: 'nat-w', region: 'nansha' })).body;
    const beat = (placements: unknown[] = []) => call(base, 'POST', '/api/v1/agent/heartbeat', cluster.agentToken, { inventory: H100, placements });
    expect((await beat()).status).to.equal(200);
    const tenant = (await call(base, 'POST', '/api/v1/tenants', ADMIN, { name: 'tunnel-workers-tenant', kind: 'enterprise', billingMode: 'postpaid' })).body;
    const workload = await call(base, 'POST', '/api/v1/workloads', tenant.apiKey, { name: 'assistant', model: MODEL, tokensPerMin: 1000 });
    expect(workload.status).to.equal(202);
    const desired = await until(
      'the workload placed on the cluster',
      async () =>
        ((await beat()).body.placements as { id: string; workloadId: string; replicas: number; servingKey: string }[]).find(
          (x) => x.workloadId === workload.body.id,
        ),
      (d) => d !== undefined,
      20_000,
      100,
    );
    engine = await SimulatedEngine.start({ model: MODEL, servingKey: desired!.servingKey, tokensPerSecond: 100_000 });
    const authority = new URL(engine.url).host;
    expect((await beat([{ id: desired!.id, readyReplicas: desired!.replicas, endpoints: [`tunnel://${authority}`] }])).status).to.equal(200);

    agent = new TunnelClient({ platformUrl: base, token: cluster.agentToken, allow: (a) => a === authority, backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    agent.start();
    await until(
      'a tunnel to each worker',
      async () => agent!.stats,
      (s) => s.processes === 2 && s.covered === 2 && s.tunnels === 2,
      20_000,
    );
    // Each worker holds one (the primary adds up the workers' metrics).
    const metrics = (await call(base, 'GET', '/metrics', null)).text;
    expect(metrics).to.match(/^tokenpool_tunnels_connected 2$/m);

    // Every call answered whole is billed, those made while the workers warm up too.
    let total = 0n;
    const chat = async (n: number) => {
      const answer = await call(base, 'POST', '/v1/chat/completions', tenant.apiKey, {
        model: MODEL,
        messages: [{ role: 'user', content: `call ${n}` }],
        max_tokens: 5,
      });
      if (answer.status === 200) total += BigInt(answer.body.usage.total_tokens);
      return answer;
    };
    // The workers' routing tables pick up the endpoint within their cache's life; then every call
    // (the primary hands connections round the workers) must be served.
    await until(
      'both workers routing to the tunnel endpoint',
      async () => Promise.all([chat(0), chat(1)]),
      (answers) => answers.every((a) => a.status === 200),
      20_000,
      200,
    );
    const usage = async () => {
      const u = (await call(base, 'GET', '/api/v1/usage', tenant.apiKey)).body as { inputTokens: string; outputTokens: string };
      return BigInt(u.inputTokens) + BigInt(u.outputTokens);
    };
    for (let i = 0; i < 8; i++) {
      const answer = await chat(i);
      expect(answer.status, answer.text).to.equal(200);
    }
    // A usage read waits for the metering of its own worker only: the other's batch may commit a moment later.
    await until('every call metered', usage, (u) => u >= total, 10_000, 50);
    await new Promise((r) => setTimeout(r, 200));
    expect(await usage()).to.equal(total);
  });
});
