import { expect } from 'chai';
import OpenAI from 'openai';
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TunnelClient, TunnelRefused, openTunnel } from '../../adapters/tunnel-client.js';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { H100, MODEL, serveModel, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases, startPlatform, type TestPlatform } from './harness.js';
import { balancer } from '../tcp-relay.js';
import { until } from '../until.js';

/** A TCP relay between the agent and the platform whose connections a test can drop (it keeps accepting). */
async function relay(target: string): Promise<{ url: string; drop(): void; close(): Promise<void> }> {
  const one = await balancer([target], () => 0);
  return { url: one.url, drop: () => one.drop(0), close: () => one.close() };
}

/** A replica that streams server-sent events without end, as fast as its client takes them (or one every `everyMs`). */
async function endlessReplica(
  everyMs?: number,
): Promise<{ port: number; written: () => number; waiting: () => boolean; closed: () => boolean; close(): Promise<void> }> {
  let written = 0;
  let waiting = false;
  let closed = false;
  const chunk = `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'word '.repeat(200) } }] })}\n\n`;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.once('close', () => (closed = true));
    if (everyMs !== undefined) {
      const timer = setInterval(() => {
        written += chunk.length;
        res.write(chunk);
      }, everyMs);
      res.once('close', () => clearInterval(timer));
      return;
    }
    const pump = (): void => {
      waiting = false;
      while (!res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) {
          waiting = true;
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    port: (server.address() as AddressInfo).port,
    written: () => written,
    waiting: () => waiting,
    closed: () => closed,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The platform's answer to a tunnel request, as a raw HTTP client sees it. */
function tunnelAnswer(base: string, headers: Record<string, string>): Promise<{ status: number; type: string; upgrade: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/v1/agent/tunnel`, { headers });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, type: '', upgrade: res.headers.upgrade, body: undefined });
    });
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (t: string) => (text += t));
      res.once('end', () =>
        resolve({
          status: res.statusCode!,
          type: String(res.headers['content-type']),
          upgrade: res.headers.upgrade,
          body: JSON.parse(text),
        }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

describeOnDatabases('tunnel: gateway calls reach a cluster without inbound connections through its agent (README "Tunnel")', (platform) => {
  let tenant: { id: string; apiKey: string };
  let served: ServedModel;
  let authority: string;
  let agentRelay: Awaited<ReturnType<typeof relay>>;
  let tunnel: TunnelClient;
  const allowed = new Set<string>();
  let client: OpenAI;
  let newToken: string;

  const usageOf = async (p: TestPlatform) => {
    const u = (await p.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body as { inputTokens: string; outputTokens: string };
    return { input: BigInt(u.inputTokens), output: BigInt(u.outputTokens) };
  };
  const report = async (p: TestPlatform, endpoint: string) => {
    const answer = await served.heartbeat(p, [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [endpoint] }]);
    expect(answer.status).to.equal(200);
    p.clock.advance(5000); // past the gateway's routing-table cache
  };

  before(async () => {
    const p = platform();
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Tunnel Tenant', kind: 'government' } })).body;
    served = await serveModel(p, tenant.apiKey, { clusterName: 'behind-nat' });
    authority = new URL(served.engine.url).host;
    allowed.add(authority);
    await report(p, `tunnel://${authority}`);
    client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    agentRelay = await relay(p.baseUrl);
  });

  after(async () => {
    await tunnel?.stop();
    await agentRelay?.close();
    await served?.engine.close();
  });

  it('refuses an upgrade without an agent token, or with a wrong one, as problem+json; a GET without the upgrade gets 426', async () => {
    const p = platform();
    const upgrade = { connection: 'Upgrade', upgrade: 'tokenpool-tunnel' };
    const none = await tunnelAnswer(p.baseUrl, upgrade);
    expect(none.status).to.equal(401);
    expect(none.type).to.match(/^application\/problem\+json/);
    expect(none.body.status).to.equal(401);
    const wrong = await tunnelAnswer(p.baseUrl, { ...upgrade, authorization: 'Bearer tp_agent_not-a-real-token-0000000000' });
    expect(wrong.status).to.equal(401);
    expect(wrong.type).to.match(/^application\/problem\+json/);
    const tenantKey = await tunnelAnswer(p.baseUrl, { ...upgrade, authorization: `Bearer ${tenant.apiKey}` });
    expect(tenantKey.status).to.equal(403);
    const plain = await tunnelAnswer(p.baseUrl, { authorization: `Bearer ${served.agent}` });
    expect(plain.status).to.equal(426);
    expect(plain.upgrade).to.equal('tokenpool-tunnel');
    expect(plain.body.detail).to.contain('Upgrade: tokenpool-tunnel');
    const refused = await openTunnel(p.baseUrl, 'tp_agent_not-a-real-token-0000000000', 5000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).to.be.instanceOf(TunnelRefused);
    expect((refused as TunnelRefused).status).to.equal(401);
    expect((refused as TunnelRefused).fatal).to.equal(true);
  });

  it('does not route to tunnel:// endpoints while no tunnel is open: 503 model_not_available', async () => {
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).to.equal(503);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_available');
  });

  it('carries a non-streamed and a streamed call through the agent to the replica, each metered once', async () => {
    const p = platform();
    tunnel = new TunnelClient({
      platformUrl: agentRelay.url,
      token: served.agent,
      allow: (a) => allowed.has(a),
      backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 },
    });
    tunnel.start();
    await tunnel.connected();
    expect(p.app.tunnels.connected(served.clusterId)).to.equal(true);

    const before = await usageOf(p);
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '你好, tunnel' }], max_tokens: 9 });
    expect(answer.object).to.equal('chat.completion');
    expect(answer.usage!.completion_tokens).to.equal(9);
    const middle = await usageOf(p);
    expect(middle.input - before.input).to.equal(BigInt(answer.usage!.prompt_tokens));
    expect(middle.output - before.output).to.equal(9n);

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream through the tunnel' }],
      max_tokens: 30,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).to.not.equal('');
    expect(usage!.completion_tokens).to.equal(30);
    const after = await usageOf(p);
    expect(after.input - middle.input).to.equal(BigInt(usage!.prompt_tokens));
    expect(after.output - middle.output).to.equal(30n);

    const metrics = await (await fetch(`${p.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/^tokenpool_tunnels_connected 1$/m);
    expect(metrics).to.match(/^tokenpool_tunnel_connects_total\{kind="first"\} 1$/m);
  });

  it('a call to an address the agent did not report is refused by the agent, not forwarded', async () => {
    const p = platform();
    const stranger = await endlessReplica();
    try {
      await report(p, `tunnel://127.0.0.1:${stranger.port}`);
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).to.be.oneOf([502, 503]);
      expect(stranger.written()).to.equal(0);
    } finally {
      await stranger.close();
      await report(p, `tunnel://${authority}`);
    }
  });

  it('when the tunnel drops mid-stream the call is cut, the agent reconnects, and calls flow again', async function () {
    this.timeout(30_000);
    const p = platform();
    const reconnects = tunnel.stats.reconnects;
    const replica = await endlessReplica(5);
    allowed.add(`127.0.0.1:${replica.port}`);
    try {
      await report(p, `tunnel://127.0.0.1:${replica.port}`);
      const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a long answer' }], stream: true });
      let chunks = 0;
      const err = await (async () => {
        for await (const _ of stream) {
          chunks += 1;
          if (chunks === 5) agentRelay.drop();
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      // Cut, not ended cleanly: the client must not take a partial answer for a whole one.
      expect(err, 'the stream ended cleanly although the tunnel dropped').to.be.instanceOf(Error);
      await until(
        'the replica to see its call end',
        async () => replica.closed(),
        (c) => c,
      );
    } finally {
      await replica.close();
      await report(p, `tunnel://${authority}`);
    }
    await until(
      'the agent to reconnect',
      async () => tunnel.stats,
      (s) => s.connected && s.reconnects > reconnects,
    );
    await until(
      'the platform to hold the new tunnel',
      async () => p.app.tunnels.connected(served.clusterId),
      (c) => c,
    );
    const again = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'again' }], max_tokens: 3 });
    expect(again.usage!.completion_tokens).to.equal(3);
    const metrics = await (await fetch(`${p.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/^tokenpool_tunnel_connects_total\{kind="reconnect"\} [1-9]/m);
  });

  it('a slow reader holds the replica back (bounded memory), and leaving aborts the replica through the tunnel', async function () {
    this.timeout(60_000);
    const p = platform();
    const replica = await endlessReplica();
    allowed.add(`127.0.0.1:${replica.port}`);
    try {
      await report(p, `tunnel://127.0.0.1:${replica.port}`);
      const req = httpRequest(`${p.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      });
      req.end(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'never stop' }], stream: true }));
      const res = await new Promise<IncomingMessage>((resolve) => req.once('response', resolve));
      expect(res.statusCode).to.equal(200);
      // The client reads nothing more: the replica must come to wait for its connection to drain.
      res.pause();
      await until(
        'the replica to be held back',
        async () => ({ waiting: replica.waiting(), written: replica.written() }),
        (s) => s.waiting,
        20_000,
      );
      const held = replica.written();
      // Socket buffers on three hops and the tunnel's window, not an unbounded queue.
      expect(held).to.be.below(48 * 1024 * 1024);
      expect(replica.waiting()).to.equal(true);
      // Reading again lets it go on.
      let read = 0;
      res.on('data', (part: Buffer) => (read += part.length));
      res.resume();
      await until(
        'the replica to write on',
        async () => replica.written(),
        (w) => w > held + 1024 * 1024,
        20_000,
      );
      expect(read).to.be.above(0);
      // The client leaves: the call to the replica is aborted at the far end of the tunnel.
      res.destroy();
      await until(
        'the replica to see its call aborted',
        async () => replica.closed(),
        (c) => c,
        20_000,
      );
      await until(
        'the tunnel stream to close',
        async () => p.app.tunnels.stats.streams,
        (n) => n === 0,
      );
    } finally {
      await replica.close();
      await report(p, `tunnel://${authority}`);
    }
  });

  it('another process, which does not hold the tunnel, leaves its endpoints out (503 there) while this one serves', async () => {
    const p = platform();
    const other = await startPlatform(p.kind, {}, { database: p.database, clock: p.clock });
    try {
      const elsewhere = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${other.baseUrl}/v1`, maxRetries: 0 });
      const err = await elsewhere.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
        .catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).to.equal(503);
      expect((err as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_available');
      const here = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      expect(here.usage!.completion_tokens).to.equal(2);
    } finally {
      await other.close();
    }
  });

  it('closes the tunnel when its agent token is replaced, and the old token cannot open another', async () => {
    const p = platform();
    const failures = tunnel.stats.failures;
    const rotated = await p.request('POST', `/api/v1/clusters/${served.clusterId}/agent-token`);
    expect(rotated.status).to.equal(200);
    newToken = rotated.body.agentToken;
    await until(
      'the platform to drop the tunnel',
      async () => p.app.tunnels.connected(served.clusterId),
      (c) => !c,
    );
    await until(
      'the agent to be refused with its old token',
      async () => tunnel.stats,
      (s) => !s.connected && s.failures > failures,
    );
    expect(tunnel.stats.lastError).to.contain('(401)');
    expect(p.app.tunnels.connected(served.clusterId)).to.equal(false);
  });

  it('stopping lets the calls under way through a tunnel finish whole, and takes no new tunnel', async function () {
    this.timeout(30_000);
    const p = platform();
    await tunnel.stop();
    const slow = await SimulatedEngine.start({ model: MODEL, servingKey: served.desired.servingKey, tokensPerSecond: 400 });
    const at = new URL(slow.url).host;
    const again = new TunnelClient({ platformUrl: p.baseUrl, token: newToken, allow: (a) => a === at, backoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    try {
      again.start();
      await again.connected();
      const beat = await p.request('POST', '/api/v1/agent/heartbeat', {
        token: newToken,
        body: { inventory: H100, placements: [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [`tunnel://${at}`] }] },
      });
      expect(beat.status).to.equal(200);
      p.clock.advance(5000);
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'slowly' }],
        max_tokens: 60,
        stream: true,
        stream_options: { include_usage: true },
      });
      let stopped: Promise<void> | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        stopped ??= p.app.tunnels.close();
        if (chunk.usage) usage = chunk.usage;
      }
      expect(usage?.completion_tokens).to.equal(60);
      await stopped;
      expect(p.app.tunnels.connected(served.clusterId)).to.equal(false);
    } finally {
      await again.stop();
      await slow.close();
    }
  });
});
