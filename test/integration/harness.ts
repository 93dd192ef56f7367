/**
 * Runs the platform in-process on a clean database, listening on a loopback port, with a fake
 * clock; suites talk to it over real HTTP as any client would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database, DatabaseKind } from '../../db/connect.js';
import { createApp, type App } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';

export const ADMIN_TOKEN = 'tp_admin_test-operator-token-0123456789';

export interface Answer<T = any> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface RequestOptions {
  readonly token?: string | null;
  readonly body?: unknown;
  /** Sent as is, instead of JSON-encoding `body`. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

export interface TestPlatform {
  readonly kind: DatabaseKind;
  readonly baseUrl: string;
  readonly app: App;
  /** The suite's database, for a test that must store what the API cannot (sums past int8, say). */
  readonly database: Database;
  readonly clock: FakeClock;
  /** Calls the API; the operator's token is used unless `token` is given (null: none). */
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<Answer<T>>;
  close(): Promise<void>;
}

/**
 * `shared`: run on another platform's database and clock (a second process of one city, say); its
 * owner closes the database.
 */
export async function startPlatform(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  shared?: { readonly database: Database; readonly clock: FakeClock },
): Promise<TestPlatform> {
  const database = shared?.database ?? (await freshDatabase(kind));
  const clock = shared?.clock ?? new FakeClock();
  const config = loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_ADMIN_TOKEN: ADMIN_TOKEN, TOKENPOOL_DEMO: '0', ...env });
  const app = await createApp({ database, config, clock, log: silentLogger });
  // Suites drive scheduling cycles themselves; on PostgreSQL this instance must hold the lead.
  await app.leader.check();
  const server: Server = createServer(app.handler).on('upgrade', app.upgrade).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    kind,
    baseUrl,
    app,
    database,
    clock,
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = opts.raw;
      if (payload === undefined && opts.body !== undefined) payload = JSON.stringify(opts.body);
      if (payload !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(baseUrl + path, { method, headers, body: payload });
      const text = await res.text();
      let body: unknown = text;
      if (/json/.test(res.headers.get('content-type') ?? '') && text) body = JSON.parse(text);
      return { status: res.status, body: body as any, headers: res.headers };
    },
    async close() {
      await app.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!shared) await database.close();
    },
  };
}

/**
 * Declares a suite once per database kind (PGlite, and PostgreSQL when TEST_DATABASE_URL is set),
 * each on its own clean database.
 */
export function describeOnDatabases(title: string, body: (platform: () => TestPlatform) => void, env: Record<string, string> = {}): void {
  for (const kind of DATABASE_KINDS) {
    describe(`${title} [${kind}]`, function () {
      let platform: TestPlatform | undefined;
      before(async function () {
        this.timeout(60_000);
        platform = await startPlatform(kind, env);
      });
      body(() => {
        if (!platform) throw new Error('the platform did not start');
        return platform;
      });
      // Registered after the body's own hooks, so that theirs run first, on a live platform.
      after(async () => {
        await platform?.close();
        // Mocha keeps every suite's functions, and with them this closure, to the end of the run:
        // dropped here, the platform and its database (PGlite's whole heap) can be collected.
        platform = undefined;
      });
    });
  }
}
