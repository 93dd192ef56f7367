/**
 * The API's hot requests answered on plain node:http, everything else by Express.
 *
 * Express costs about 200 µs of CPU per request on a small machine (it swaps the prototypes of
 * every request and response, then walks its middleware and routes), more than a create or a
 * heartbeat costs otherwise. So a change (POST, PUT, PATCH, DELETE) to a route with a fixed path
 * — creating workloads, agents' heartbeats and usage reports among them — that carries plain JSON
 * or nothing is answered here: the same route declaration, authentication, validation, handler
 * and problem+json errors, through `runRoute` (route.ts). Anything else goes to Express as before:
 * reads (with their ETags), paths with parameters, compressed or non-JSON bodies, unknown paths.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Authenticator } from '../auth/authenticate.js';
import { AppError, answerError, sendJson } from '../errors.js';
import { runRoute, type AnyRoute } from './route.js';

/** The largest body accepted (as express.json's limit in app.ts). */
export const BODY_LIMIT = 16 * 1024 * 1024;

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

export interface DispatchOptions {
  readonly routes: readonly AnyRoute[];
  readonly auth: Authenticator;
  /** Everything this module does not answer itself. */
  readonly fallback: RequestListener;
  /** Told of every request answered here as it starts, with its route template (for request metrics). */
  readonly observe: (req: IncomingMessage, res: ServerResponse, route: string) => void;
  readonly log: (msg: string, fields: object) => void;
}

export function dispatcher(opts: DispatchOptions): RequestListener {
  const byKey = new Map<string, AnyRoute>();
  for (const r of opts.routes) if (!r.path.includes(':')) byKey.set(`${r.method.toUpperCase()} ${r.path}`, r);

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const spec = CHANGES.has(req.method ?? '') ? byKey.get(`${req.method} ${path}`) : undefined;
    if (!spec || !plainBody(req)) {
      opts.fallback(req, res);
      return;
    }
    opts.observe(req, res, spec.path);
    void answer(spec, req, res, q < 0 ? '' : url.slice(q + 1)).catch((err: unknown) => fail(req, res, err, opts.log));
  };

  async function answer(spec: AnyRoute, req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const body = await readJson(req);
    const reply = await runRoute(spec, opts.auth, { req, res, params: {}, query: parseQuery(search), body });
    if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    if (reply.body === undefined) {
      res.statusCode = reply.status;
      res.end();
    } else {
      sendJson(res, reply.status, reply.body);
    }
  }
}

/** A request whose body this module reads as Express would: none, or uncompressed UTF-8 JSON. */
function plainBody(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  if (!hasBody(req)) return true;
  const type = req.headers['content-type'];
  return type !== undefined && JSON_TYPE.test(type);
}

/** As type-is's `hasBody`, which Express asks: a chunked body, or any Content-Length (even 0). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && !Number.isNaN(Number(length)));
}

/** The JSON body (an object or array, as body-parser's strict mode), or undefined when there is none. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!hasBody(req)) {
    req.resume();
    return undefined;
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > BODY_LIMIT) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw tooLarge();
    chunks.push(chunk);
  }
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw notJson();
  try {
    return JSON.parse(text);
  } catch {
    throw notJson();
  }
}

function tooLarge(): AppError {
  return new AppError('too_large', 'The request body is larger than 16 MiB.');
}

function notJson(): AppError {
  return new AppError('invalid', 'The request body is not valid JSON.');
}

function fail(req: IncomingMessage, res: ServerResponse, err: unknown, log: DispatchOptions['log']): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An unread body (a refused large upload) must not be parsed as the next request.
  if (!req.readableEnded) res.setHeader('connection', 'close');
  answerError(res, err, log, { method: req.method, path: req.url });
}
