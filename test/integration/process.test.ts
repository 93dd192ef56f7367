/**
 * The real program, as an operator runs it: `node --import tsx bin/tokenpool.ts` as a child process,
 * configured only through its environment, talked to over HTTP, stopped with SIGTERM.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshPostgresUrl } from '../databases.js';
import { killAll, ServerProcess, STARTUP_MS, within } from '../server-process.js';
import { until } from '../until.js';

async function getJson(baseUrl: string, path: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(baseUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, body: /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
}

/** Polls `probe` until it answers a value, or fails with the last answer after `timeoutMs`. */
async function eventually<T>(timeoutMs: number, probe: () => Promise<T | undefined>, what: string): Promise<T> {
  return (await until(what, probe, (v) => v !== undefined, timeoutMs, 250)) as T;
}

interface ClusterItem {
  id: string;
  name: string;
  state: string;
  lastHeartbeatAt: string | null;
  unprofiledDevices: string[];
}

async function clusters(baseUrl: string, token: string): Promise<ClusterItem[]> {
  const res = await getJson(baseUrl, '/api/v1/clusters?limit=1000', token);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.items;
}

/**
 * Sends a request whose headers reach the server at once and whose body follows only when
 * `release` is called: a request the server is in the middle of. It asks `Expect: 100-continue`,
 * so `begun` resolves when the server has read the headers and taken the request up.
 */
function heldRequest(
  baseUrl: string,
  path: string,
  token: string,
  body: unknown,
): { begun: Promise<void>; release: () => void; answer: Promise<{ status: number; body: any }> } {
  const payload = Buffer.from(JSON.stringify(body));
  const url = new URL(path, baseUrl);
  const req = httpRequest(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(payload.length), expect: '100-continue' },
  });
  const begun = new Promise<void>((resolve) => req.once('continue', resolve));
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      res.on('error', reject);
    });
  });
  // Rejections surface where the answer is awaited; this keeps one from going unhandled before.
  answer.catch(() => undefined);
  req.flushHeaders();
  return {
    begun,
    release: () => req.end(payload),
    answer,
  };
}

describe('the server process', function () {
  this.timeout(120_000);
  this.slow(10_000);

  // Every describe kills what it started in its own `after`; this catches anything left.
  after(killAll);

  describe('a wrong configuration', () => {
    afterEach(killAll);

    const cases: ReadonlyArray<readonly [string, Record<string, string>]> = [
      ['PORT', { PORT: 'abc' }],
      ['PORT', { PORT: '70000' }],
      ['TOKENPOOL_TIMEZONE', { TOKENPOOL_TIMEZONE: 'Nowhere' }],
      ['DATABASE_URL', { DATABASE_URL: 'mysql://localhost/tokenpool' }],
      ['TOKENPOOL_DEMO', { TOKENPOOL_DEMO: 'yes' }],
      ['TOKENPOOL_CLUSTER_TTL_SECONDS', { TOKENPOOL_CLUSTER_TTL_SECONDS: '0' }],
      ['TOKENPOOL_ADMIN_TOKEN', { TOKENPOOL_ADMIN_TOKEN: 'short' }],
    ];
    for (const [variable, env] of cases) {
      const shown = Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      it(`${shown}: exits 1 and names ${variable} on stderr, starting nothing`, async () => {
        // A data dir that must stay untouched: the process stops before opening a database.
        const dataDir = join(mkdtempSync(join(tmpdir(), 'tokenpool-bad-')), 'data');
        try {
          const p = new ServerProcess({ ...env, TOKENPOOL_DATA_DIR: dataDir });
          const exit = await within(p.exited, 30_000, `no exit:\n${p.output()}`);
          expect(exit, p.output()).to.deep.equal({ code: 1, signal: null });
          expect(p.stderr).to.include(variable);
          expect(p.stderr).to.match(/invalid configuration/);
          expect(p.stdout).to.not.match(/listening on/);
          expect(existsSync(dataDir), 'no database was created').to.equal(false);
        } finally {
          rmSync(join(dataDir, '..'), { recursive: true, force: true });
        }
      });
    }
  });

  describe('DATABASE_URL=pglite://memory', () => {
    let server: ServerProcess;
    let baseUrl: string;
    let token: string;

    before(async () => {
      server = new ServerProcess({ DATABASE_URL: 'pglite://memory', PORT: '0' });
      baseUrl = await server.listening();
      token = server.printedAdminToken() ?? '';
    });
    after(killAll);

    it('prints where it listens, on 127.0.0.1 by default, and says it is not a demo', () => {
      expect(baseUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(Number(new URL(baseUrl).port)).to.be.greaterThan(0);
      const line = server.stdout.split('\n').find((l) => l.includes('listening on'));
      expect(line).to.not.include('demo');
    });

    it('prints a generated admin token once, and it works as the operator', async () => {
      expect(token, server.output()).to.match(/^tp_admin_[A-Za-z0-9_-]{43}$/);
      expect(server.stdout.split(token).length - 1, 'printed once').to.equal(1);
      expect(server.stderr, 'not in the logs').to.not.include(token);
      const pool = await getJson(baseUrl, '/api/v1/pool', token);
      expect(pool.status).to.equal(200);
      expect(pool.body).to.deep.include({ totalStdPerMin: 0, allocatedStdPerMin: 0, freeStdPerMin: 0, byVendor: [], byCluster: [] });
      expect((await getJson(baseUrl, '/api/v1/pool')).status).to.equal(401);
      expect((await getJson(baseUrl, '/api/v1/pool', 'tp_admin_wrong')).status).to.equal(401);
    });

    it('starts empty: the demo is off with pglite://memory', async () => {
      expect(await clusters(baseUrl, token)).to.deep.equal([]);
    });

    it('answers /healthz, /readyz and /metrics without credentials', async () => {
      expect(await getJson(baseUrl, '/healthz')).to.deep.include({ status: 200 });
      expect(await getJson(baseUrl, '/readyz')).to.deep.include({ status: 200 });
      const metrics = await getJson(baseUrl, '/metrics');
      expect(metrics.status).to.equal(200);
      expect(metrics.body).to.match(/^process_cpu_user_seconds_total/m);
      expect(metrics.body).to.match(/^tokenpool_/m);
    });

    it('keeps an idle connection longer than an agent waits between heartbeats (Node would close it after 5 s)', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = () =>
        new Promise<{ status: number; port: number; keepAlive: string | undefined }>((done, fail) => {
          httpRequest(`${baseUrl}/healthz`, { agent }, (res) => {
            const port = res.socket.localPort ?? -1;
            res.resume().on('end', () => done({ status: res.statusCode ?? 0, port, keepAlive: res.headers['keep-alive'] as string | undefined }));
          })
            .on('error', fail)
            .end();
        });
      const first = await get();
      const second = await get();
      agent.destroy();
      // Node tells the client how long it keeps an idle connection, and closes it then: 75 s here
      // (its default, timeout=5, would drop an agent's connection between two heartbeats).
      expect(first).to.deep.include({ status: 200, keepAlive: 'timeout=75' });
      expect(second, 'the connection is reused').to.deep.equal({ status: 200, port: first.port, keepAlive: 'timeout=75' });
    });

    it('exits 0 on SIGTERM', async () => {
      expect(await server.terminate()).to.deep.equal({ code: 0, signal: null });
    });
  });

  describe('the demo city on the embedded database (DATABASE_URL unset)', () => {
    let dataDir: string;
    let token: string;
    let firstIds: Map<string, string>;
    let extraId: string;

    before(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'tokenpool-demo-'));
    });
    after(async () => {
      await killAll();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('starts the simulated city: within 15 s a pool of ready clusters across vendors, one with an unprofiled device', async () => {
      const server = new ServerProcess({ PORT: '0', TOKENPOOL_DATA_DIR: dataDir });
      const baseUrl = await server.listening();
      expect(server.stdout).to.match(/listening on http:\/\/127\.0\.0\.1:\d+ .*demo city/);
      token = server.printedAdminToken()!;
      expect(token, server.output()).to.match(/^tp_admin_/);

      const pool = await eventually(
        15_000,
        async () => {
          const res = await getJson(baseUrl, '/api/v1/pool', token);
          return res.status === 200 && res.body.clusters.ready >= 6 ? res.body : undefined;
        },
        '6 ready clusters',
      );
      expect(pool.byVendor.length).to.be.at.least(4);
      expect(pool.totalStdPerMin).to.be.greaterThan(0);
      expect(pool.freeStdPerMin).to.be.greaterThan(0);
      for (const v of pool.byVendor) expect(v.devices, v.vendor).to.be.greaterThan(0);

      // Six ready does not mean every agent has reported: the one with the unprofiled device may come later.
      const list = await eventually(
        15_000,
        async () => {
          const all = await clusters(baseUrl, token);
          return all.some((c) => c.unprofiledDevices.length > 0) ? all : undefined;
        },
        'the cluster with an unprofiled device',
      );
      expect(list.length).to.be.at.least(6);
      expect(list.filter((c) => c.unprofiledDevices.length > 0)).to.have.length(1);
      firstIds = new Map(list.map((c) => [c.name, c.id]));

      // An operator's own cluster, which must survive the restart too.
      const res = await fetch(`${baseUrl}/api/v1/clusters`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'operator-added', region: 'tianhe' }),
      });
      expect(res.status).to.equal(201);
      extraId = ((await res.json()) as { id: string }).id;

      expect(await server.terminate()).to.deep.equal({ code: 0, signal: null });
      expect(server.stderr).to.not.match(/"level":"error"/);
    });

    it('restarted on the same data dir: same clusters, the admin token is not printed again, agents heartbeat again', async () => {
      expect(firstIds, 'the first start ran').to.not.equal(undefined);
      const restartedAt = new Date();
      const server = new ServerProcess({ PORT: '0', TOKENPOOL_DATA_DIR: dataDir });
      const baseUrl = await server.listening();

      expect(server.printedAdminToken(), server.output()).to.equal(undefined);
      expect(server.stdout).to.match(/admin token: .*stored hashed/);
      expect((await getJson(baseUrl, '/api/v1/pool', token)).status, 'the first token still works').to.equal(200);

      const list = await clusters(baseUrl, token);
      const ids = new Map(list.map((c) => [c.name, c.id]));
      expect(ids.get('operator-added')).to.equal(extraId);
      ids.delete('operator-added');
      expect(ids).to.deep.equal(firstIds);

      // The demo agents' tokens are stored hashed, so the restart issued new ones: heartbeats
      // after the restart prove the agents use them.
      const fresh = await eventually(
        15_000,
        async () => {
          const now = await clusters(baseUrl, token);
          const demo = now.filter((c) => firstIds.has(c.name));
          const ok = demo.every((c) => c.state === 'ready' && c.lastHeartbeatAt !== null && new Date(c.lastHeartbeatAt) > restartedAt);
          return ok ? now : undefined;
        },
        'fresh heartbeats from every demo cluster',
      );
      expect(fresh.find((c) => c.id === extraId)).to.include({ state: 'pending' });
      const pool = (await getJson(baseUrl, '/api/v1/pool', token)).body;
      expect(pool.clusters.ready).to.equal(firstIds.size);
      expect(server.stderr).to.not.match(/demo agent/);

      expect(await server.terminate()).to.deep.equal({ code: 0, signal: null });
    });
  });

  describe('SIGTERM with requests in flight', () => {
    after(killAll);

    it('finishes the requests it has begun, takes no new ones, and exits 0 promptly', async () => {
      const token = 'tp_admin_process-test-operator-0123456789';
      const server = new ServerProcess({ DATABASE_URL: 'pglite://memory', PORT: '0', TOKENPOOL_DEMO: '1', TOKENPOOL_ADMIN_TOKEN: token });
      const baseUrl = await server.listening();
      expect(server.stdout).to.include('admin token: the value of TOKENPOOL_ADMIN_TOKEN');
      expect(server.stdout + server.stderr).to.not.include(token);
      await eventually(15_000, async () => ((await getJson(baseUrl, '/api/v1/pool', token)).body.clusters.ready >= 6 ? true : undefined), 'the demo city');

      // Requests the server has begun (headers read, body still coming) when SIGTERM arrives.
      const held = Array.from({ length: 10 }, (_, i) => heldRequest(baseUrl, '/api/v1/clusters', token, { name: `late-${i}`, region: 'liwan' }));
      await within(Promise.all(held.map((h) => h.begun)), 10_000, 'the server did not take up the held requests');
      // And a burst of reads: the signal comes as the first is answered. The server answers
      // those it has accepted; connections still in the kernel's accept queue are reset when it
      // stops listening, and later ones are refused.
      const burst = Array.from({ length: 40 }, () =>
        getJson(baseUrl, '/api/v1/pool', token).then(
          (r) => r.status,
          (err: Error) => (err.cause as { code?: string } | undefined)?.code ?? err.message,
        ),
      );
      await Promise.race(burst);
      server.signal('SIGTERM');
      await until(
        'the server to begin its stop',
        async () => server.stderr,
        (text) => text.includes('"msg":"shutting down"'),
        10_000,
      );
      for (const h of held) h.release();

      const answers = await Promise.all(held.map((h) => h.answer));
      const answered = Date.now();
      answers.forEach((a, i) => {
        expect(a.status, JSON.stringify(a.body)).to.equal(201);
        expect(a.body).to.include({ name: `late-${i}`, state: 'pending' });
      });
      const statuses = await Promise.all(burst);
      expect(statuses).to.include(200);
      for (const s of statuses) expect([200, 'ECONNREFUSED', 'ECONNRESET']).to.include(s);

      const exit = await within(server.exited, 20_000, `no exit after SIGTERM:\n${server.output()}`);
      expect(exit, server.output()).to.deep.equal({ code: 0, signal: null });
      // Keep-alive connections of the answered requests do not hold the stop up.
      expect(Date.now() - answered, 'ms from the last answer to the exit').to.be.below(2500);
      const after = await fetch(`${baseUrl}/healthz`).then(
        (r) => r.status,
        (err: Error) => (err.cause as { code?: string } | undefined)?.code,
      );
      expect(after).to.equal('ECONNREFUSED');
    });
  });

  describe('SIGTERM during start-up', () => {
    let dataDir: string;
    before(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'tokenpool-early-'));
    });
    after(async () => {
      await killAll();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('exits 0 without serving, and the data dir starts cleanly afterwards', async () => {
      const first = new ServerProcess({ PORT: '0', TOKENPOOL_DATA_DIR: dataDir, TOKENPOOL_DEMO: '0' });
      // The embedded database is being created: the process is in the middle of starting.
      await eventually(STARTUP_MS, async () => (existsSync(join(dataDir, 'pgdata')) ? true : undefined), 'the embedded database folder');
      first.signal('SIGTERM');
      const exit = await within(first.exited, 30_000, `no exit after SIGTERM:\n${first.output()}`);
      expect(exit, first.output()).to.deep.equal({ code: 0, signal: null });
      expect(first.stdout).to.not.match(/listening on/);

      const second = new ServerProcess({ PORT: '0', TOKENPOOL_DATA_DIR: dataDir, TOKENPOOL_DEMO: '0' });
      const baseUrl = await second.listening();
      expect((await getJson(baseUrl, '/readyz')).status).to.equal(200);
      expect(await second.terminate()).to.deep.equal({ code: 0, signal: null });
    });
  });

  describe('on PostgreSQL', function () {
    before(function () {
      if (!process.env.TEST_DATABASE_URL) this.skip();
    });
    after(killAll);

    it('starts empty by default, and TOKENPOOL_DEMO=1 starts the demo city on the same database', async () => {
      const url = await freshPostgresUrl();

      const plain = new ServerProcess({ DATABASE_URL: url, PORT: '0' });
      let baseUrl = await plain.listening();
      expect(plain.stdout).to.match(/database: postgres\)/);
      const token = plain.printedAdminToken()!;
      expect(token, plain.output()).to.match(/^tp_admin_/);
      const empty = await getJson(baseUrl, '/api/v1/pool', token);
      expect(empty.status).to.equal(200);
      expect(empty.body.clusters).to.deep.include({ ready: 0, notReady: 0, cordoned: 0 });
      expect(empty.body.byCluster).to.deep.equal([]);
      expect((await getJson(baseUrl, '/readyz')).status).to.equal(200);
      expect(await plain.terminate()).to.deep.equal({ code: 0, signal: null });

      const demo = new ServerProcess({ DATABASE_URL: url, PORT: '0', TOKENPOOL_DEMO: '1' });
      baseUrl = await demo.listening();
      expect(demo.stdout).to.match(/database: postgres, demo city/);
      expect(demo.printedAdminToken(), 'the token is stored hashed in the database').to.equal(undefined);
      const pool = await eventually(
        15_000,
        async () => {
          const res = await getJson(baseUrl, '/api/v1/pool', token);
          // byVendor lists the vendors of ready clusters: wait for four of them too, not only six clusters.
          return res.status === 200 && res.body.clusters.ready >= 6 && res.body.byVendor.length >= 4 ? res.body : undefined;
        },
        '6 ready clusters of 4 vendors on PostgreSQL',
      );
      expect(pool.byVendor.length).to.be.at.least(4);
      expect(pool.totalStdPerMin).to.be.greaterThan(0);
      expect(await demo.terminate()).to.deep.equal({ code: 0, signal: null });
    });
  });
});
