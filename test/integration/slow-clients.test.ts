/**
 * Slow clients and many connections, against the node:http server as server/main.ts makes it
 * (createNodeServer with config.http), with timeouts of a second or two: headers that trickle in
 * are cut at the headers timeout, a body that trickles at the request timeout, an idle kept-alive
 * connection at the keep-alive timeout, and one connection past the per-client cap is closed.
 * Then the same through the real program, one process and (on PostgreSQL) two workers.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { loadConfig } from '../../server/config.js';
import { createNodeServer } from '../../server/http/server.js';
import { freshPostgresUrl } from '../databases.js';
import { until } from '../until.js';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Connection {
  readonly socket: Socket;
  /** Everything the server sent so far. */
  text(): string;
  /** Settles when the server closes the connection, with the milliseconds since it opened. */
  readonly closed: Promise<number>;
}

function open(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let text = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, text: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Writes `chunks` one by one, `everyMs` apart, until they run out or the connection closes. */
function trickle(c: Connection, chunks: readonly string[], everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= chunks.length || c.socket.destroyed) clearInterval(timer);
    else c.socket.write(chunks[i++]!);
  }, everyMs);
  void c.closed.then(() => clearInterval(timer));
}

const GET = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
const CLOSING_GET = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describeOnDatabases('slow clients and connections per client', (platform) => {
  let p: TestPlatform;
  const servers: Server[] = [];

  before(() => {
    p = platform();
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  async function serve(env: Record<string, string>): Promise<number> {
    const server = createNodeServer(p.app.handler, loadConfig(env).http).listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    return (server.address() as AddressInfo).port;
  }

  it('headers that trickle in are cut at TOKENPOOL_HEADERS_TIMEOUT_SECONDS with a 408', async function () {
    this.timeout(15_000);
    const port = await serve({ TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '1', TOKENPOOL_REQUEST_TIMEOUT_SECONDS: '10' });
    const c = await open(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    // A header line every 100 ms: the client is never idle, only slow.
    trickle(
      c,
      Array.from({ length: 200 }, (_, i) => `X-Slow-${i}: y\r\n`),
      100,
    );
    const ms = await c.closed;
    expect(ms).to.be.within(900, 5000);
    expect(c.text()).to.match(/^HTTP\/1\.1 408 /);
  });

  it('a body that trickles in is cut at TOKENPOOL_REQUEST_TIMEOUT_SECONDS with a 408', async function () {
    this.timeout(15_000);
    const port = await serve({ TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '1', TOKENPOOL_REQUEST_TIMEOUT_SECONDS: '2' });
    const c = await open(port);
    c.socket.write(
      `POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    trickle(
      c,
      Array.from({ length: 500 }, () => ' '),
      100,
    );
    const ms = await c.closed;
    expect(ms).to.be.within(1900, 6000);
    expect(c.text()).to.match(/^HTTP\/1\.1 408 /);
  });

  it('an idle kept-alive connection is closed after TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS, not before', async function () {
    this.timeout(15_000);
    const port = await serve({ TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS: '1' });
    const c = await open(port);
    c.socket.write(GET);
    await until(
      'the answer',
      async () => c.text(),
      (t) => t.includes('"ok"'),
    );
    const answeredAt = Date.now();
    await c.closed;
    expect(Date.now() - answeredAt).to.be.within(900, 5000);
    // The default keeps it far longer (Node's own would close it after 5 s).
    expect(loadConfig({}).http.keepAliveTimeoutMs).to.equal(75_000);
  });

  it('the connection past TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT is closed unanswered; one closing makes room', async function () {
    this.timeout(15_000);
    const port = await serve({ TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '3' });
    const kept = await Promise.all([open(port), open(port), open(port)]);
    for (const c of kept) {
      c.socket.write(GET);
      await until(
        'an answer on a connection within the cap',
        async () => c.text(),
        (t) => t.startsWith('HTTP/1.1 200'),
      );
    }
    const refused = await open(port);
    refused.socket.write(GET);
    await refused.closed;
    expect(refused.text()).to.equal('');
    // The three still work.
    kept[0].socket.write(GET);
    await until(
      'a second answer on a kept connection',
      async () => kept[0].text(),
      (t) => t.split('HTTP/1.1 200').length === 3,
    );
    kept[1].socket.destroy();
    await until(
      'a new connection served once one closed',
      async () => {
        const c = await open(port);
        c.socket.write(CLOSING_GET);
        await c.closed;
        return c.text();
      },
      (t) => t.startsWith('HTTP/1.1 200'),
    );
  });

  it('0 turns the cap off', async () => {
    const port = await serve({ TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '0' });
    const many = await Promise.all(Array.from({ length: 20 }, () => open(port)));
    for (const c of many) c.socket.write(CLOSING_GET);
    await Promise.all(many.map((c) => c.closed));
    for (const c of many) expect(c.text()).to.match(/^HTTP\/1\.1 200 /);
  });
});

/** bin/tokenpool.ts as an operator starts it; resolves with the port once it prints where it listens. */
function startProgram(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOKENPOOL_|DATABASE_URL$|PORT$|HOST$)/.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/tokenpool.ts'], {
    cwd: ROOT,
    env: { ...inherited, PORT: '0', TOKENPOOL_ADMIN_TOKEN: ADMIN_TOKEN, TOKENPOOL_DEMO: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening on http:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${err}`)));
  });
}

describe('the program holds clients to its limits', function () {
  this.timeout(120_000);
  const programs: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of programs.splice(0)) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  async function check(env: Record<string, string>, cap: number): Promise<void> {
    const { child, port } = await startProgram({ ...env, TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '1', TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '1' });
    programs.push(child);
    // Each process counts its own: with node:cluster, connections are dealt round the workers.
    const kept: Connection[] = [];
    for (let i = 0; i < cap; i++) {
      const c = await open(port);
      c.socket.write(GET);
      await until(
        'an answer within the cap',
        async () => c.text(),
        (t) => t.startsWith('HTTP/1.1 200'),
      );
      kept.push(c);
    }
    const refused = await open(port);
    refused.socket.write(GET);
    await refused.closed;
    expect(refused.text()).to.equal('');
    for (const c of kept) c.socket.destroy();
    // Once they are closed, a connection is let in again: its first request answered, a second
    // one that trickles in is cut at the headers timeout.
    const slow = await until(
      'a connection the cap lets in again',
      async () => {
        const c = await open(port);
        c.socket.write(GET);
        await Promise.race([
          c.closed,
          until(
            'an answer',
            async () => c.text(),
            (t) => t.includes('"ok"'),
            2000,
          ),
        ]);
        return c;
      },
      (c) => c.text().startsWith('HTTP/1.1 200'),
    );
    const started = Date.now();
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    trickle(
      slow,
      Array.from({ length: 300 }, (_, i) => `X-Slow-${i}: y\r\n`),
      100,
    );
    await slow.closed;
    expect(slow.text()).to.match(/^HTTP\/1\.1 200 [^]*HTTP\/1\.1 408 /);
    // The variable's 1 s, not the default 20 s.
    expect(Date.now() - started).to.be.below(10_000);
  }

  it('one process: the headers timeout and the per-client cap from its environment', async () => {
    await check({ DATABASE_URL: 'pglite://memory' }, 1);
  });

  it('two workers (PostgreSQL): each holds its clients to them', async function () {
    if (!process.env.TEST_DATABASE_URL) this.skip();
    await check({ DATABASE_URL: await freshPostgresUrl(), TOKENPOOL_WORKERS: '2' }, 2);
  });
});
