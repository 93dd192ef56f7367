/**
 * A multi-process server (`TOKENPOOL_WORKERS=2`) as an operator runs it: two workers on one port,
 * one scheduler among them, metrics added up across them, a dead worker replaced (and the lead
 * taken over), and a clean stop. PostgreSQL only: the embedded database lives in one process.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freshPostgresUrl } from '../databases.js';
import { call } from '../own-connection.js';
import { until } from '../until.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const ADMIN = 'tp_admin_workers-test-token-0123456789';

interface Server {
  readonly child: ChildProcess;
  readonly base: string;
  stderr(): string;
  exited: Promise<number | null>;
}

function startServer(env: Record<string, string>): Promise<Server> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOKENPOOL_|DATABASE_URL$|PORT$)/.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/tokenpool.ts'], {
    cwd: ROOT,
    env: { ...base, PORT: '0', TOKENPOOL_ADMIN_TOKEN: ADMIN, TOKENPOOL_DEMO: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return new Promise((ok, fail) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) ok({ child, base: m[1]!, stderr: () => err, exited });
    });
    void exited.then((code) => fail(new Error(`server exited with ${code}: ${err}`)));
  });
}

/** The worker processes under the primary. */
function workerPids(primary: number): number[] {
  const children = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim();
  return children ? children.split(/\s+/).map(Number) : [];
}

const metric = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('a server of two worker processes on PostgreSQL', function () {
  this.timeout(90_000);
  let url: string;
  let server: Server;
  let db: pg.Client;
  let agentToken: string;
  let apiKey: string;

  before(async () => {
    url = await freshPostgresUrl();
    server = await startServer({ DATABASE_URL: url, TOKENPOOL_WORKERS: '2' });
    db = new pg.Client({ connectionString: url });
    await db.connect();
  });

  after(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await db.end();
  });

  it('runs two workers on one port, and /metrics adds up what every worker counted', async () => {
    expect(workerPids(server.child.pid!)).to.have.length(2);
    const before = await call(server.base, 'GET', '/metrics', null);
    expect(metric(before.text, /^tokenpool_server_processes (\S+)/m)).to.equal(2);
    const healthz = /^tokenpool_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} (\S+)/m;
    const counted = metric(before.text, healthz) || 0;
    for (let i = 0; i < 20; i++) expect((await call(server.base, 'GET', '/healthz', null)).status).to.equal(200);
    const after = await call(server.base, 'GET', '/metrics', null);
    // Twenty connections went round the workers; each counted its own, the sum is all of them.
    expect(metric(after.text, healthz)).to.equal(counted + 20);
    // Read from the database by every worker, shown once.
    expect(metric(after.text, /^tokenpool_clusters\{state="ready"\} (\S+)/m)).to.equal(0);
  });

  it('one scheduler among the workers places what was created through either, without double-booking', async () => {
    const cluster = await call(server.base, 'POST', '/api/v1/clusters', ADMIN, { name: 'w-1', region: 'nansha' });
    expect(cluster.status).to.equal(201);
    agentToken = cluster.body.agentToken;
    const hb = await call(server.base, 'POST', '/api/v1/agent/heartbeat', agentToken, {
      inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }],
      placements: [],
    });
    expect(hb.status).to.equal(200);
    const tenant = await call(server.base, 'POST', '/api/v1/tenants', ADMIN, { name: 'workers-tenant', kind: 'enterprise' });
    apiKey = tenant.body.apiKey;
    // Twelve one-device workloads for eight devices, on connections of their own.
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const r = await call(server.base, 'POST', '/api/v1/workloads', apiKey, { name: `w-${i}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 10_000 });
        expect(r.status).to.equal(202);
      }),
    );
    const states = await until(
      'eight placed and four waiting for capacity',
      async () =>
        (await db.query<{ state: string; reason: string | null; n: string }>('SELECT state, reason, count(*) AS n FROM workloads GROUP BY 1, 2 ORDER BY 1'))
          .rows,
      (rows) => rows.some((r) => r.state === 'placed' && r.n === '8') && rows.some((r) => r.reason === 'capacity' && r.n === '4'),
      20_000,
    );
    expect(states).to.have.length(2);
    const held = await db.query<{ devices: string }>(
      `SELECT sum(replicas * devices_per_replica) AS devices FROM placements WHERE state IN ('placed', 'running')`,
    );
    expect(Number(held.rows[0]!.devices)).to.equal(8);
    expect(server.stderr().match(/scheduler leadership taken/g)).to.have.length(1);
  });

  it('replaces workers that die, and one of the replacements takes the lead', async () => {
    const [first, second] = workerPids(server.child.pid!);
    process.kill(first!, 'SIGKILL');
    process.kill(second!, 'SIGKILL');
    const replaced = await until(
      'two new workers',
      async () => workerPids(server.child.pid!),
      (pids) => pids.length === 2 && !pids.includes(first!) && !pids.includes(second!),
      30_000,
      100,
    );
    expect(replaced).to.have.length(2);
    await until(
      'the replacements answering',
      () => call(server.base, 'GET', '/metrics', null),
      (r) => metric(r.text, /^tokenpool_server_processes (\S+)/m) === 2,
      30_000,
      100,
    );
    // Free two devices: the replacements' leader places two of the four waiting.
    const placed = (await db.query<{ id: string }>(`SELECT id FROM workloads WHERE state = 'placed' ORDER BY seq LIMIT 2`)).rows;
    for (const w of placed) expect((await call(server.base, 'DELETE', `/api/v1/workloads/${w.id}`, apiKey)).status).to.equal(202);
    await until(
      'two more placed',
      async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM workloads WHERE state = 'placed'`)).rows[0]!.n),
      (n) => n === 8,
      30_000,
      100,
    );
    expect(server.stderr()).to.match(/"msg":"worker died; starting another"/);
  });

  it('stops every worker and itself on SIGTERM', async () => {
    const pids = workerPids(server.child.pid!);
    server.child.kill('SIGTERM');
    expect(await server.exited).to.equal(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).to.throw();
  });

  it('refuses more than one worker on the embedded database, saying why', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/tokenpool.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: 'pglite://memory', TOKENPOOL_WORKERS: '2', PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const code = await new Promise((done) => child.once('exit', done));
    expect(code).to.equal(1);
    expect(err).to.include('TOKENPOOL_WORKERS: more than one worker needs DATABASE_URL=postgres://');
  });
});
