/**
 * The HTTP request listener of the platform: the API's routes, health, readiness, metrics, the
 * OpenAPI document and the UI (dist/ui/: console, portal and cockpit). Routes with fixed paths are found by
 * dispatch.ts, the rest by Express; either way the answer comes from one pipeline (pipeline.ts),
 * and Express only routes.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Authenticator } from '../auth/authenticate.js';
import type { Clock } from '../clock.js';
import type { HttpLimits } from '../config.js';
import { AppError, type Problem } from '../errors.js';
import { createGate } from '../gate.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { trustedProxies } from './client-address.js';
import { allowedMethods, dispatcher } from './dispatch.js';
import { createPipeline, type AuditSink } from './pipeline.js';
import type { Admission } from './rate-limit.js';
import type { AnyRoute } from './route.js';

export interface HttpServerOptions {
  readonly routes: readonly AnyRoute[];
  readonly auth: Authenticator;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The Prometheus text of /metrics (in a multi-process server, every worker's). */
  readonly metricsText: () => Promise<string>;
  /** For /readyz: the database answers and is migrated. */
  readonly ready: () => Promise<boolean>;
  /** Served at /api/v1/openapi.json. */
  readonly openapi: object;
  /** Told how each request to a route ended (pipeline.ts). */
  readonly audit?: AuditSink;
  /** Checked after authentication, before the body (request rates, rate-limit.ts). */
  readonly admit?: Admission;
  /** Request bodies read and parsed at once, and how many may wait (config.ts); none: unbounded. */
  readonly bodies?: { readonly concurrency: number; readonly queue: number };
  /** The proxies believed about the client's address and scheme (config.ts, canonical entries); none: nobody. */
  readonly trustedProxies?: readonly string[];
}

export interface HttpServer {
  /** The request listener: routes with fixed paths found by dispatch.ts, the rest by Express. */
  readonly handler: RequestListener;
  /** The same requests with every route found by Express (the dispatch parity test compares the two). */
  readonly viaExpress: RequestListener;
  /**
   * node:http's `upgrade` listener: a request asking for a protocol upgrade, answered by the same
   * routes and pipeline (the agent's tunnel takes the connection; anything else is answered and closed).
   */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const NOT_READY: Problem = {
  type: 'https://tokenpool.dev/problems/not-ready',
  title: 'Service Unavailable',
  status: 503,
  detail: 'The database is not reachable or not migrated.',
};
/** The page of the console and the portal may load only this origin's scripts and styles. */
const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { routes, metrics } = opts;
  const pipeline = createPipeline({
    auth: opts.auth,
    clock: opts.clock,
    log: opts.log,
    httpDuration: metrics.httpDuration,
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.admit ? { admit: opts.admit } : {}),
    ...(opts.bodies ? { bodyGate: createGate(opts.bodies) } : {}),
    trustedProxies: trustedProxies(opts.trustedProxies ?? []),
  });
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (await opts.ready()) res.json({ status: 'ready' });
    else res.status(503).type('application/problem+json').json(NOT_READY);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await opts.metricsText());
  });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(opts.openapi);
  });

  // The UI (ui/, built by Vite into dist/ui/): its hashed scripts and styles under /ui/assets,
  // cached for good, and index.html, with the console's CSP, for each of its pages: the console,
  // the portal, the cockpit and the sign-in page (history-mode routes, ui/src/router.ts).
  // From dist/server/http/ when built, from server/http/ under tsx: the repository root is three or two up.
  const root = ['../../', '../../../'].map((up) => fileURLToPath(new URL(up, import.meta.url))).find((dir) => existsSync(`${dir}package.json`))!;
  const ui = `${root}dist/ui/`;
  app.get('/', (_req, res) => res.redirect(302, '/console'));
  app.use('/ui/assets', express.static(`${ui}assets/`, { index: false, immutable: true, maxAge: '365d', fallthrough: false }));
  app.get(['/console', '/console/*rest', '/portal', '/portal/*rest', '/cockpit', '/login'], (_req, res) => {
    res.set('content-security-policy', CONSOLE_CSP);
    if (!existsSync(`${ui}index.html`)) {
      res.status(503).type('text/plain').send('The UI is not built: run `npm run build` (or `npm start`, which builds it).');
      return;
    }
    res.set('cache-control', 'no-cache');
    res.sendFile(`${ui}index.html`);
  });
  // Addresses of the UI from when it was served under /ui/ keep working: the same page without
  // the prefix (never another host: leading slashes and backslashes are dropped).
  app.get(['/ui', '/ui/*rest'], (req, res) => {
    res.redirect(301, `/${req.originalUrl.slice('/ui'.length).replace(/^[/\\]+/, '')}`);
  });

  const router = express.Router();
  for (const spec of routes) {
    router[spec.method](spec.path, (req: Request, res: Response) => pipeline.run(spec, req, res, req.params as Record<string, string>));
  }
  for (const path of new Set(routes.map((r) => r.path))) {
    const allow = allowedMethods(routes, path);
    router.options(path, (req: Request, res: Response) => pipeline.allow(req, res, allow));
  }
  app.use(router);
  app.use((req: Request, res: Response) => {
    pipeline.fail(req, res, new AppError('not_found', `No route for ${req.method} ${req.path}.`));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    pipeline.fail(req, res, err);
  });

  const viaExpress: RequestListener = (req, res) => {
    pipeline.begin(req, res, () => routeTemplate(req));
    app(req, res);
  };
  const handler = dispatcher({ routes, pipeline, fallback: viaExpress });
  return { handler, viaExpress, upgrade: (req, socket, head) => pipeline.upgrade(req, socket, head, handler) };
}

/** The template of the route Express matched (never the raw URL), for the request metrics. */
function routeTemplate(req: IncomingMessage): string {
  const template = (req as { route?: { path?: unknown } }).route?.path;
  return typeof template === 'string' ? template : 'unmatched';
}

/**
 * The node:http server of one process (the only one, or each worker of a multi-process server),
 * not yet listening, holding its clients to `limits`: headers and the whole request within their
 * timeouts (else 408 and the connection closed), idle kept-alive connections closed after theirs,
 * and at most `maxConnectionsPerClient` open connections from one address — one more is closed as
 * soon as it is accepted, before anything is read from it (an answer would cost what the cap
 * saves). The cap is per process and counts sockets, before any header is read: behind a proxy it
 * would count the proxy's connections, not its clients', so connections from the trusted proxies
 * (`limits.trustedProxies`) are exempt from it — cap connections per client at the proxy.
 */
export function createNodeServer(handler: RequestListener, limits: HttpLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for expired requests every 30 s by default, which would let a timeout of a few
      // seconds run on for half a minute.
      connectionsCheckingInterval: Math.min(Math.max(limits.headersTimeoutMs / 4, 250), 5000),
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const cap = limits.maxConnectionsPerClient;
  if (cap > 0) {
    const open = new Map<string, number>();
    const proxies = trustedProxies(limits.trustedProxies);
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress;
      if (address === undefined || proxies.has(address)) return;
      const count = (open.get(address) ?? 0) + 1;
      if (count > cap) {
        socket.destroy();
        return;
      }
      open.set(address, count);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left === 0) open.delete(address);
        else open.set(address, left);
      });
    });
  }
  return server;
}
