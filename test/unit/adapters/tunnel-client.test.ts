import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { forwardedHeaders, reconnectDelay, splitAuthority, TunnelClient, TunnelRefused } from '../../../adapters/tunnel-client.js';
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
