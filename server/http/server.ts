/**
 * The HTTP request listener of the platform: its API routes, health, readiness, metrics, the
 * OpenAPI document and the console's static files.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Authenticator } from '../auth/authenticate.js';
import { AppError, errorHandler, problemOf, sendProblem } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { dispatcher } from './dispatch.js';
import { mountRoutes, type AnyRoute } from './route.js';

export interface HttpServerOptions {
  readonly routes: readonly AnyRoute[];
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The Prometheus text of /metrics (in a multi-process server, every worker's). */
  readonly metricsText: () => Promise<string>;
  /** For /readyz: the database answers and is migrated. */
  readonly ready: () => Promise<boolean>;
  /** Served at /api/v1/openapi.json. */
  readonly openapi: object;
}

export interface HttpServer {
  /** The request listener: the API's hot changes answered directly (dispatch.ts), the rest by Express. */
  readonly handler: RequestListener;
  /** The same requests all answered through Express (the dispatch parity test compares the two). */
  readonly viaExpress: RequestListener;
}

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { routes, auth, log, metrics } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(observeRequests(metrics));
  app.use(express.json({ limit: '16mb', type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (await opts.ready()) {
      res.json({ status: 'ready' });
      return;
    }
    sendProblem(res, { type: 'https://tokenpool.dev/problems/not-ready', title: 'Service Unavailable', status: 503, detail: 'The database is not reachable or not migrated.' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await opts.metricsText());
  });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(opts.openapi);
  });

  // The console (/console) and the portal (/portal): one static page each, working only through
  // the public API above with the session cookie.
  // From dist/server/http/ when built, from server/http/ under tsx: the repository root is two or three up.
  const root = ['../../', '../../../'].map((up) => fileURLToPath(new URL(up, import.meta.url))).find((dir) => existsSync(`${dir}package.json`))!;
  const web = `${root}web/`;
  const echarts = `${root}node_modules/echarts/dist/echarts.min.js`;
  app.get('/', (_req, res) => res.redirect(302, '/console/'));
  app.get('/assets/echarts.min.js', (_req, res) => res.sendFile(echarts, { maxAge: '1d' }));
  app.use('/assets', express.static(web, { index: false, maxAge: 0 }));
  for (const area of ['console', 'portal']) {
    app.get(`/${area}`, (req, res) => {
      // Relative asset paths need the trailing slash (routing here ignores it).
      if (!req.originalUrl.split('?')[0]!.endsWith('/')) return res.redirect(302, `/${area}/`);
      res.set('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
      res.sendFile(`${web}index.html`);
    });
  }

  const router = express.Router();
  mountRoutes(router, routes, auth);
  app.use(router);
  app.use((req: Request, res: Response) => {
    sendProblem(res, problemOf(new AppError('not_found', `No route for ${req.method} ${req.path}.`)));
  });
  app.use(errorHandler((msg, fields) => log.error(msg, fields)));

  return {
    handler: dispatcher({
      routes, auth, fallback: app, log: (msg, fields) => log.error(msg, fields),
      observe: (req, res, route) => observeRequest(metrics, req, res, () => route),
    }),
    viaExpress: app,
  };
}

/** Times a request until its answer is written, labelled with its route template. */
function observeRequest(metrics: Metrics, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.httpDuration.observe({ method: req.method!, route: route(), status: String(res.statusCode) }, seconds);
  });
}

/** Times every request by route template (never the raw URL) and status. */
function observeRequests(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    observeRequest(metrics, req, res, () => {
      const template = (req.route as { path?: string } | undefined)?.path;
      return typeof template === 'string' ? template : 'unmatched';
    });
    next();
  };
}
