import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { forwardedHeaders, processesOf, reconnectDelay, splitAuthority, TunnelClient, TunnelRefused } from '../../../adapters/tunnel-client.js';
import { tunnelOrigin } from '../../../server/tunnel/tunnels.js';
import { endpointUrl } from '../../../server/http/schemas.js';
import { until } from '../../until.js';

describe('tunnel client: reconnect back-off', () => {
  const backoff = { baseMs: 500, maxMs: 30_000, jitter: 0 };
  it('doubles from the base per consecutive attempt, up to the cap', () => {
    const table: [number, number][] = [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [6, 16_000],
      [7, 30_000],
      [50, 30_000],
    ];
    for (const [attempt, ms] of table)
      expect(
        reconnectDelay(attempt, backoff, () => 0.5),
        `attempt ${attempt}`,
      ).to.equal(ms);
  });

  it('spreads each delay by the jitter, both ways', () => {
    const spread = { ...backoff, jitter: 0.2 };
    expect(reconnectDelay(2, spread, () => 0)).to.equal(800);
    expect(reconnectDelay(2, spread, () => 0.999999)).to.equal(1200);
    expect(reconnectDelay(2, spread, () => 0.5)).to.equal(1000);
  });

  it('waits the cap after a refusal that retrying soon will not cure', () => {
    expect(reconnectDelay(1, backoff, () => 0.5, true)).to.equal(30_000);
    expect(new TunnelRefused(401, 'bad token').fatal).to.equal(true);
    expect(new TunnelRefused(403, 'not an agent').fatal).to.equal(true);
    expect(new TunnelRefused(426, 'no upgrade').fatal).to.equal(true);
    expect(new TunnelRefused(503, 'busy').fatal).to.equal(false);
    expect(new TunnelRefused(429, 'slow down').fatal).to.equal(false);
  });
});

describe('tunnel: addresses and headers', () => {
  it('splits host:port authorities and refuses anything else', () => {
    expect(splitAuthority('tp-pl-1.tokenpool-workloads.svc:80')).to.deep.equal({ host: 'tp-pl-1.tokenpool-workloads.svc', port: 80 });
    expect(splitAuthority('10.0.0.7:8000')).to.deep.equal({ host: '10.0.0.7', port: 8000 });
    expect(splitAuthority('[fd00::1]:8000')).to.deep.equal({ host: 'fd00::1', port: 8000 });
    for (const bad of ['tp-pl-1', 'a:0', 'a:65536', 'user@a:80', 'a/b:80', ':80', 'a:80x']) expect(splitAuthority(bad), bad).to.equal(undefined);
  });

  it('forwards end-to-end headers only: no pseudo-headers, no hop-by-hop ones', () => {
    expect(
      forwardedHeaders({
        ':method': 'POST',
        ':path': '/v1/chat/completions',
        authorization: 'Bearer sk',
        'content-type': 'application/json',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        host: 'x',
        'x-request-id': 'r1',
      }),
    ).to.deep.equal({ authorization: 'Bearer sk', 'content-type': 'application/json', 'x-request-id': 'r1' });
  });

  it('keys a tunnel endpoint by its cluster, so equal in-cluster addresses of two clusters stay apart', () => {
    expect(tunnelOrigin('tunnel://tp-pl-1.ns.svc:80', 'cl_a')).to.equal('tunnel://cl_a@tp-pl-1.ns.svc:80');
    expect(tunnelOrigin('tunnel://10.0.0.1:80', 'cl_b')).to.not.equal(tunnelOrigin('tunnel://10.0.0.1:80', 'cl_a'));
    expect(new URL(tunnelOrigin('tunnel://10.0.0.1:80', 'cl_a')).username).to.equal('cl_a');
  });

  it('accepts tunnel://<host>:<port> endpoints in heartbeats, and nothing looser', () => {
    for (const ok of ['tunnel://tp-pl-1.tokenpool-workloads.svc:80', 'tunnel://10.1.2.3:8000', 'tunnel://[fd00::1]:80', 'http://10.1.2.3:8000']) {
      expect(endpointUrl.safeParse(ok).success, ok).to.equal(true);
    }
    for (const bad of ['tunnel://host', 'tunnel://host:80/v1', 'tunnel://u@host:80', 'tunnel://host:80?x=1', 'ftp://host:80']) {
      expect(endpointUrl.safeParse(bad).success, bad).to.equal(false);
    }
  });
});

/**
 * A stand-in for the platform's tunnel route: refuses the first `refusals` upgrades with 503, then
 * switches protocols and speaks HTTP/2 as the client, as the platform does.
 */
async function fakePlatform(
  refusals: number,
): Promise<{ url: string; attempts: () => number; session: () => ClientHttp2Session | undefined; close(): Promise<void> }> {
  let attempts = 0;
  let session: ClientHttp2Session | undefined;
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    attempts += 1;
    if (attempts <= refusals || req.headers.authorization !== 'Bearer tp_agent_unit') {
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\ncontent-length: 27\r\nconnection: close\r\n\r\n{"detail":"try again soon"}',
      );
      return;
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: tokenpool-tunnel\r\n\r\n');
    session = h2connect('http://tunnel', { createConnection: () => socket });
    session.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    attempts: () => attempts,
    session: () => session,
    close: async () => {
      session?.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('tunnel client: opening, forwarding, reconnecting', () => {
  let replica: Server;
  let replicaAuthority: string;
  let platform: Awaited<ReturnType<typeof fakePlatform>>;
  let client: TunnelClient;

  before(async () => {
    replica = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (t: string) => (body += t));
      req.on('end', () =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, body, auth: req.headers.authorization })),
      );
    }).listen(0, '127.0.0.1');
    await new Promise((r) => replica.once('listening', r));
    replicaAuthority = `127.0.0.1:${(replica.address() as AddressInfo).port}`;
    platform = await fakePlatform(2);
    client = new TunnelClient({
      platformUrl: platform.url,
      token: 'tp_agent_unit',
      allow: (a) => a === replicaAuthority,
      backoff: { baseMs: 5, maxMs: 40, jitter: 0.2 },
    });
    client.start();
  });

  after(async () => {
    await client.stop();
    await platform.close();
    replica.closeAllConnections();
    await new Promise((r) => replica.close(r));
  });

  const call = (authority: string) =>
    new Promise<{ status: number; body: string; rst: number | undefined }>((resolve, reject) => {
      const stream = platform.session()!.request({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': authority, authorization: 'Bearer sk' });
      let body = '';
      let status = 0;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8').on('data', (t: string) => (body += t));
      stream.on('error', () => {});
      stream.on('close', () => resolve({ status, body, rst: stream.rstCode }));
      stream.on('aborted', () => reject(new Error('aborted')));
      stream.end('{"model":"m"}');
    });

  it('keeps trying through refusals with back-off, then opens the tunnel', async () => {
    await client.connected();
    expect(platform.attempts()).to.equal(3);
    expect(client.stats).to.include({ connected: true, failures: 2, reconnects: 1 });
    expect(client.stats.lastError).to.equal(null);
  });

  it('forwards a stream to its allowed in-cluster address, body and key included, and streams the answer back', async () => {
    const answer = await call(replicaAuthority);
    expect(answer.status).to.equal(200);
    expect(JSON.parse(answer.body)).to.deep.equal({ path: '/v1/chat/completions', body: '{"model":"m"}', auth: 'Bearer sk' });
  });

  it('refuses a stream for an address it does not serve (REFUSED_STREAM), sending nothing there', async () => {
    const answer = await call('10.255.255.1:80');
    expect(answer.status).to.equal(0);
    expect(answer.rst).to.equal(7); // NGHTTP2_REFUSED_STREAM
  });

  it('opens the tunnel again when the platform drops it', async () => {
    const before = client.stats.reconnects;
    platform.session()!.destroy();
    await until(
      'the tunnel reopened',
      async () => client.stats,
      (s) => s.connected && s.reconnects === before + 1,
    );
    const answer = await call(replicaAuthority);
    expect(answer.status).to.equal(200);
  });
});

describe('tunnel client: the platform processes a 101 names', () => {
  it('takes the holding process and the live ones, well-formed ids only, the holder always among them', () => {
    const table: [Record<string, string>, { processId: string; processes: string[] }][] = [
      [{}, { processId: '', processes: [''] }],
      [{ 'tokenpool-process': 'a1' }, { processId: 'a1', processes: ['a1'] }],
      [
        { 'tokenpool-process': 'a1', 'tokenpool-processes': 'a1, b2 ,c3' },
        { processId: 'a1', processes: ['a1', 'b2', 'c3'] },
      ],
      [
        { 'tokenpool-process': 'b2', 'tokenpool-processes': 'a1,a1,bad id,,c3' },
        { processId: 'b2', processes: ['b2', 'a1', 'c3'] },
      ],
      [
        { 'tokenpool-process': 'x y', 'tokenpool-processes': 'a1' },
        { processId: '', processes: ['', 'a1'] },
      ],
    ];
    for (const [headers, expected] of table) expect(processesOf(headers), JSON.stringify(headers)).to.deep.equal(expected);
    const many = Array.from({ length: 100 }, (_, i) => `p${i}`).join(',');
    expect(processesOf({ 'tokenpool-process': 'p0', 'tokenpool-processes': many }).processes).to.have.length(64);
  });
});

/**
 * A platform of several processes behind one address, as a load balancer or the workers' primary
 * presents it: each tunnel request lands on the process `land` picks; the 101 names it and the
 * live processes; each process holds one tunnel (a newer one replaces the older, closing it gracefully).
 */
async function processesPlatform(
  processes: string[],
  land: () => string,
): Promise<{ url: string; landings: () => string[]; session: (id: string) => ClientHttp2Session | undefined; close(): Promise<void> }> {
  const landings: string[] = [];
  const held = new Map<string, ClientHttp2Session>();
  const all = new Set<ClientHttp2Session>();
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    const id = land();
    landings.push(id);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: tokenpool-tunnel\r\ntokenpool-process: ${id}\r\ntokenpool-processes: ${processes.join(',')}\r\n\r\n`,
    );
    const session = h2connect('http://tunnel', { createConnection: () => socket });
    session.on('error', () => {});
    all.add(session);
    session.once('close', () => {
      all.delete(session);
      if (held.get(id) === session) held.delete(id);
    });
    held.get(id)?.close();
    held.set(id, session);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    landings: () => [...landings],
    session: (id) => held.get(id),
    close: async () => {
      for (const s of all) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A deterministic stand-in for Math.random (a linear congruential generator). */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('tunnel client: one tunnel per platform process', () => {
  let replica: Server;
  let replicaAuthority: string;
  const clients: TunnelClient[] = [];
  const platforms: { close(): Promise<void> }[] = [];

  before(async () => {
    replica = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => replica.once('listening', r));
    replicaAuthority = `127.0.0.1:${(replica.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    for (const p of platforms.splice(0)) await p.close();
  });

  after(async () => {
    replica.closeAllConnections();
    await new Promise((r) => replica.close(r));
  });

  const start = async (processes: string[], land: () => string, opts: Partial<ConstructorParameters<typeof TunnelClient>[0]> = {}) => {
    const platform = await processesPlatform(processes, land);
    platforms.push(platform);
    const client = new TunnelClient({
      platformUrl: platform.url,
      token: 'tp_agent_unit',
      allow: (a) => a === replicaAuthority,
      backoff: { baseMs: 5, maxMs: 40, jitter: 0.2 },
      ...opts,
    });
    clients.push(client);
    client.start();
    return { platform, client };
  };

  /** One call through the tunnel a platform process holds: the answer's status (0: none). */
  const callThrough = (session: ClientHttp2Session) =>
    new Promise<number>((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': replicaAuthority });
      let status = 0;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('error', () => {});
      stream.resume();
      stream.on('close', () => resolve(status));
      stream.end('{}');
    });

  it('opens connections until every process named holds a tunnel, closing the ones that land twice, and serves calls through each', async () => {
    const ids = ['p-a', 'p-b', 'p-c'];
    const random = seeded(7);
    const { platform, client } = await start(ids, () => ids[Math.floor(random() * ids.length)]!);
    const stats = await until(
      'a tunnel to each of three processes',
      async () => client.stats,
      (s) => s.covered === 3,
    );
    expect(stats).to.include({ connected: true, tunnels: 3, processes: 3, failures: 0 });
    expect([...client.heldProcesses].sort()).to.deep.equal(ids);
    const landings = platform.landings();
    // Every request after the first landing on each process was a duplicate, and nothing more was asked.
    expect(stats.duplicates).to.equal(landings.length - 3);
    expect(stats.opens).to.equal(landings.length);
    for (const id of ids) expect(await callThrough(platform.session(id)!), id).to.equal(200);
    // Duplicates replaced older tunnels: the agent holds exactly the platform's current ones.
    await until(
      'the replaced tunnels to close',
      async () => client.stats.tunnels,
      (n) => n === 3,
    );
  });

  it('bounds its requests when a process named is never reached (a sticky balancer): opensPerProcess × processes per window beyond the first', async () => {
    const { platform, client } = await start(['p-a', 'p-b'], () => 'p-a', { opensWindowMs: 60_000 });
    await until(
      'the budget of requests to be spent',
      async () => platform.landings().length,
      (n) => n === 9,
    );
    // Nothing more within the window (a short look: the next request would go at once if allowed).
    await new Promise((r) => setTimeout(r, 150));
    expect(platform.landings()).to.have.length(9);
    expect(client.stats).to.include({ tunnels: 1, covered: 1, processes: 2, duplicates: 8, opens: 9 });
    expect(await callThrough(platform.session('p-a')!)).to.equal(200);
  });

  it('makes no extra request with a budget of none (one tunnel, as with one process)', async () => {
    const { platform, client } = await start(['p-a', 'p-b'], () => 'p-a', { opensPerProcess: 0 });
    await client.connected();
    await new Promise((r) => setTimeout(r, 100));
    expect(platform.landings()).to.deep.equal(['p-a']);
    expect(client.stats).to.include({ tunnels: 1, covered: 1, processes: 2, opens: 1 });
  });

  it('paces attempts with no tunnel open by the back-off alone, not the budget', async () => {
    const refusing = await fakePlatform(6);
    platforms.push(refusing);
    const client = new TunnelClient({
      platformUrl: refusing.url,
      token: 'tp_agent_unit',
      allow: () => false,
      backoff: { baseMs: 2, maxMs: 10, jitter: 0 },
      opensPerProcess: 1,
    });
    clients.push(client);
    client.start();
    await client.connected();
    expect(refusing.attempts()).to.equal(7);
    expect(client.stats).to.include({ failures: 6, tunnels: 1, processes: 1, covered: 1 });
  });

  it('reopens the tunnel of a process that dropped it until that process is covered again', async () => {
    const ids = ['p-a', 'p-b'];
    let turn = 0;
    // Round robin, as the workers' primary hands out connections.
    const { platform, client } = await start(ids, () => ids[turn++ % ids.length]!);
    await until(
      'both processes covered',
      async () => client.stats,
      (s) => s.covered === 2,
    );
    const reconnects = client.stats.reconnects;
    const dropped = platform.session('p-b')!;
    dropped.destroy();
    await until(
      'p-b covered again',
      async () => ({ stats: client.stats, b: platform.session('p-b') }),
      (s) => s.stats.covered === 2 && s.b !== undefined && s.b !== dropped,
    );
    expect(client.stats.reconnects).to.equal(reconnects + 1);
    expect(await callThrough(platform.session('p-b')!)).to.equal(200);
    expect(await callThrough(platform.session('p-a')!)).to.equal(200);
  });

  it('learns of a process started later by asking again after recheckMs', async () => {
    const ids = ['p-a'];
    let next = 'p-a';
    const { platform, client } = await start(ids, () => next, { recheckMs: 50 });
    await until(
      'p-a covered',
      async () => client.stats,
      (s) => s.covered === 1 && s.tunnels === 1,
    );
    ids.push('p-b');
    next = 'p-b';
    await until(
      'p-b learnt of and covered',
      async () => client.stats,
      (s) => s.processes === 2 && s.covered === 2,
    );
    expect(await callThrough(platform.session('p-b')!)).to.equal(200);
  });
});
