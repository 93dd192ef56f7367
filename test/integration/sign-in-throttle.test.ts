/**
 * Sign-in throttling held in the database: failures counted atomically by every instance that
 * shares it, per name and per client address, a back-off that ends (never a lock-out), old rows
 * pruned; and passwords hashed at OWASP's parameters, older hashes upgraded on sign-in.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { sql } from 'kysely';
import { connectDatabase, type Database, type DatabaseKind } from '../../db/connect.js';
import { createApp, type App } from '../../server/app.js';
import { hashToken } from '../../server/auth/tokens.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';

const ADMIN = 'tp_admin_test-operator-token-0123456789';
const config = loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_ADMIN_TOKEN: ADMIN, TOKENPOOL_DEMO: '0' });
const OPERATOR = { kind: 'operator', name: 'admin' } as const;

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

interface Instance {
  readonly app: App;
  call(method: string, path: string, body?: unknown, token?: string): Promise<Answer>;
}

interface Instances {
  readonly a: Instance;
  readonly b: Instance;
  readonly database: Database;
  readonly clock: FakeClock;
  close(): Promise<void>;
}

/** Two app instances on one database (on PostgreSQL each with its own pool), as two replicas are. */
async function twoInstances(kind: DatabaseKind): Promise<Instances> {
  const database = await freshDatabase(kind);
  const second = kind === 'postgres' ? await connectDatabase({ url: database.url!, poolSize: 4 }) : database;
  const clock = new FakeClock();
  const servers: Server[] = [];
  const apps: App[] = [];
  async function instance(db: Database): Promise<Instance> {
    const app = await createApp({ database: db, config, clock, log: silentLogger });
    apps.push(app);
    const server = createServer(app.handler).listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      app,
      async call(method, path, body, token) {
        const headers: Record<string, string> = {};
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (token) headers.authorization = `Bearer ${token}`;
        const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        const text = await res.text();
        return { status: res.status, body: /json/.test(res.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text, headers: res.headers };
      },
    };
  }
  const a = await instance(database);
  const b = await instance(second);
  return {
    a,
    b,
    database,
    clock,
    async close() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
      for (const app of apps) await app.stop();
      if (second !== database) await second.close();
      await database.close();
    },
  };
}

async function failures(database: Database, key: string): Promise<number | undefined> {
  const row = await database.db.selectFrom('sign_in_failures').select('failures').where('key', '=', key).executeTakeFirst();
  return row?.failures;
}

async function throttledCount(i: Instance): Promise<number> {
  const text = (await i.call('GET', '/metrics')).body as string;
  const m = /^tokenpool_requests_refused_total\{reason="sign_in_throttled"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

for (const kind of DATABASE_KINDS) {
  describe(`sign-in throttling in the database [${kind}]`, function () {
    this.timeout(60_000);
    let t: Instances;

    beforeEach(async () => {
      t = await twoInstances(kind);
    });
    afterEach(async () => {
      await t.close();
    });

    it('counts every failure of parallel attempts on two instances: no lost update', async () => {
      const wrong = 'tp_admin_not-the-token';
      const attempts = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? t.a : t.b).call('POST', '/api/v1/session', { token: wrong })));
      const refused = attempts.filter((r) => r.status === 401).length;
      const throttled = attempts.filter((r) => r.status === 429).length;
      expect(refused + throttled).to.equal(16);
      expect(refused).to.be.at.least(5);
      // Every attempt answered 401 was counted, against the token and against the address.
      expect(await failures(t.database, `token:${hashToken(wrong).slice(0, 16)}`)).to.equal(refused);
      expect(await failures(t.database, 'addr:127.0.0.1')).to.equal(refused);
      // Past the free failures, the next attempt waits, on either instance.
      for (const i of [t.a, t.b]) {
        const next = await i.call('POST', '/api/v1/session', { token: wrong });
        expect(next.status).to.equal(429);
        expect(next.headers.get('content-type')).to.match(/application\/problem\+json/);
        expect(Number(next.headers.get('retry-after'))).to.be.at.least(1);
      }
    });

    it('tries no more passwords of a burst than the free failures and the hashes already under way', async () => {
      await t.a.app.context.services.accounts.createUser(OPERATOR, { username: 'fan.bo', password: 'right password 11', kind: 'operator' });
      const burst = await Promise.all(
        Array.from({ length: 12 }, (_, i) => t.a.call('POST', '/api/v1/session', { username: 'fan.bo', password: `wrong ${i}` })),
      );
      const tried = burst.filter((r) => r.status === 401).length;
      expect(burst.filter((r) => r.status === 429).length).to.equal(12 - tried);
      // Five free failures, and at most one more hash that had started (two at once per process).
      expect(tried).to.be.within(5, 6);
      expect(await failures(t.database, 'user:fan.bo')).to.equal(tried);
    });

    it('throttles a spray over many names from one address, and lets the right password in once the wait is over', async () => {
      await t.a.app.context.services.accounts.createUser(OPERATOR, { username: 'he.jun', password: 'right password 8', kind: 'operator' });
      const before = await throttledCount(t.a);
      // Twenty names, none known, from one address: fifteen tokens guessed and five usernames (each
      // of those costs a hash, as a known name's would), each a first failure for its name.
      const answers = await Promise.all([
        ...Array.from({ length: 15 }, (_, i) => (i % 2 ? t.a : t.b).call('POST', '/api/v1/session', { token: `tp_admin_guess-${i}` })),
        ...Array.from({ length: 5 }, (_, i) => (i % 2 ? t.a : t.b).call('POST', '/api/v1/session', { username: `guess-${i}`, password: 'password123' })),
      ]);
      expect(answers.map((r) => r.status)).to.deep.equal(Array(20).fill(401));
      expect(await failures(t.database, 'addr:127.0.0.1')).to.equal(20);
      // The address must now wait, even with a name it never tried and the right password.
      const blocked = await t.b.call('POST', '/api/v1/session', { username: 'he.jun', password: 'right password 8' });
      expect(blocked.status).to.equal(429);
      expect(blocked.body.detail).to.match(/Too many failed sign-ins; try again in \d+ s\./);
      const wait = Number(blocked.headers.get('retry-after'));
      expect(wait).to.be.at.least(1);
      expect(await throttledCount(t.b)).to.equal(1);
      expect(await throttledCount(t.a)).to.equal(before);

      t.clock.advance(wait * 1000);
      expect((await t.a.call('POST', '/api/v1/session', { username: 'he.jun', password: 'right password 8' })).status).to.equal(201);
    });

    it('backs a name off after five failures, doubling, and never locks it out: the right password works after the wait and clears the count', async () => {
      await t.a.app.context.services.accounts.createUser(OPERATOR, { username: 'lin.yu', password: 'right password 9', kind: 'operator' });
      for (let i = 0; i < 5; i++) {
        expect((await t.a.call('POST', '/api/v1/session', { username: 'lin.yu', password: `wrong ${i}` })).status).to.equal(401);
      }
      const first = await t.b.call('POST', '/api/v1/session', { username: 'lin.yu', password: 'right password 9' });
      expect(first.status).to.equal(429);
      expect(first.headers.get('retry-after')).to.equal('1');
      t.clock.advance(1000);
      expect((await t.b.call('POST', '/api/v1/session', { username: 'lin.yu', password: 'wrong 5' })).status).to.equal(401);
      const second = await t.a.call('POST', '/api/v1/session', { username: 'lin.yu', password: 'right password 9' });
      expect(second.headers.get('retry-after')).to.equal('2');
      // However many failures, the wait is at most 15 minutes.
      await t.database.db.updateTable('sign_in_failures').set({ failures: 500 }).where('key', '=', 'user:lin.yu').execute();
      t.clock.advance(2000);
      expect((await t.a.call('POST', '/api/v1/session', { username: 'lin.yu', password: 'wrong 6' })).status).to.equal(401);
      const capped = await t.b.call('POST', '/api/v1/session', { username: 'LIN.YU', password: 'right password 9' });
      expect(capped.headers.get('retry-after')).to.equal('900');
      t.clock.advance(900_000);
      expect((await t.b.call('POST', '/api/v1/session', { username: 'lin.yu', password: 'right password 9' })).status).to.equal(201);
      expect(await failures(t.database, 'user:lin.yu')).to.equal(undefined);
    });

    it('forgets a key a day after its last failure, and a failure prunes the rows old enough', async () => {
      const old = new Date(t.clock.now().getTime() - 25 * 3600_000);
      await t.database.db
        .insertInto('sign_in_failures')
        .values(Array.from({ length: 150 }, (_, i) => ({ key: `user:random-${i}`, failures: 9, blocked_until: old, last_failed_at: old })))
        .execute();
      await t.database.db.insertInto('sign_in_failures').values({ key: 'addr:127.0.0.1', failures: 400, blocked_until: old, last_failed_at: old }).execute();
      expect((await t.a.call('POST', '/api/v1/session', { token: 'tp_admin_wrong-again' })).status).to.equal(401);
      // The address starts again from one; a hundred old rows went with this failure, the rest go with the next ones.
      expect(await failures(t.database, 'addr:127.0.0.1')).to.equal(1);
      const left = await t.database.db
        .selectFrom('sign_in_failures')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(left.n)).to.equal(150 - 100 + 2);
      expect((await t.b.call('POST', '/api/v1/session', { token: 'tp_admin_wrong-again' })).status).to.equal(401);
      const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM sign_in_failures`.execute(t.database.db);
      expect(after.rows[0]!.n).to.equal(2);
    });

    it('upgrades a password hashed with older scrypt parameters on a successful sign-in', async () => {
      const user = await t.a.app.context.services.accounts.createUser(OPERATOR, { username: 'gao.fei', password: 'right password 10', kind: 'operator' });
      const stored = await t.database.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(stored.password_hash).to.match(/^scrypt\$131072\$8\$1\$/);
      // The hash of 'right password 10' at N=2^14, as this platform stored it before.
      const legacy = 'scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw$wsvge7t3Mu0PXVDUav8Rmb_HoEXuyeanBkRg7IJFYh4';
      await t.database.db.updateTable('users').set({ password_hash: legacy }).where('id', '=', user.id).execute();
      expect((await t.b.call('POST', '/api/v1/session', { username: 'gao.fei', password: 'right password 10' })).status).to.equal(201);
      const upgraded = await t.database.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(upgraded.password_hash).to.match(/^scrypt\$131072\$8\$1\$/);
      expect((await t.a.call('POST', '/api/v1/session', { username: 'gao.fei', password: 'right password 10' })).status).to.equal(201);
      expect((await t.a.call('POST', '/api/v1/session', { username: 'gao.fei', password: 'wrong password 10' })).status).to.equal(401);
    });
  });
}
