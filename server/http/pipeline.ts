/**
 * How the API answers a request, whichever router found its route: dispatch.ts (fixed paths, on
 * plain node:http) or Express (paths with parameters). Everything that is not routing happens
 * here, once, in this order:
 *
 * 1. `begin` (every request, routed or not): the client — its address and whether it came over
 *    TLS, believing `X-Forwarded-For` and `X-Forwarded-Proto` only from trusted proxies
 *    (client-address.ts), found once and used by everything below; the request id — the client's
 *    `x-request-id` when it is sane, else a new one — echoed in the answer; security headers; the
 *    request's duration by route template in the HTTP metrics.
 * 2. `run` (a declared route): a body declared larger than 16 MiB is refused (413); then the
 *    caller is authenticated before any of the body is read (401, 403) and its request rate checked (429); path parameters and query
 *    pass the route's strict schemas (400); the body is read as a stream — JSON in UTF-8, as is or
 *    gzip/deflate/br, at most 16 MiB once decoded (413) — and passes its schema (400); the
 *    handler's Reply is written: status, headers, cookies, JSON (with a weak ETag and 304 on reads),
 *    `cache-control: no-store`.
 * 3. `fail`: errors as problem+json; one no client caused is logged with the request id and
 *    answered 500.
 *
 * Text that the database could not store (NUL, unpaired surrogates) is refused with its field's path
 * wherever it comes (storable.ts): path parameters, query values and headers before validation,
 * body fields and keys once parsed. No more bodies than `bodyGate` allows are read and parsed at once
 * (server/gate.ts); past its queue the answer is 503 with `Retry-After`.
 *
 * An answer given before the body was read (a 401, a 413, a 503) drains what the client still sends, up
 * to DRAIN_LIMIT, rather than close the connection under it: a client still writing would see a
 * reset instead of the answer.
 *
 * Requests that ask for a protocol upgrade (`Connection: Upgrade`) come through `upgrade` and take
 * the same path: a route that upgrades (`RouteSpec.upgrade`, the agent's tunnel) answers 101 and
 * hands the socket to its handler, after authentication and validation as above; any other route
 * answers as usual, and the connection is closed after the answer.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ServerResponse, type IncomingMessage, type RequestListener } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Duplex, Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Abort } from '../abort.js';
import { z } from 'zod';
import { cookieValue, SESSION_COOKIE, type Authenticator, type Principal } from '../auth/authenticate.js';
import type { Clock } from '../clock.js';
import { AppError, INTERNAL_OPENAI_ERROR, INTERNAL_PROBLEM, knownError, openAiErrorOf, problemOf, statusOf, type Problem } from '../errors.js';
import type { Gate } from '../gate.js';
import type { Logger } from '../log.js';
import { clientOf, NO_TRUSTED_PROXIES, type Client, type TrustedProxies } from './client-address.js';
import { jsonText } from './json-text.js';
import { fieldErrors, type AnyRoute, type Cookie, type Reply } from './route.js';
import { checkStorable, checkStorableTree } from './storable.js';

/** The largest request body accepted, in bytes (after decompression). */
export const BODY_LIMIT = 16 * 1024 * 1024;
/** How much of a body left unread by an early answer is read and dropped before the connection is cut. */
export const DRAIN_LIMIT = 64 * 1024 * 1024;
/** `Retry-After` of a 503 when too many bodies are being read: a moment, slots free in milliseconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/** Headers on every answer: no MIME sniffing, no referrer, never framed. */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  ['x-frame-options', 'DENY'],
];
/** Strict-Transport-Security on answers over TLS: a year, subdomains included. */
const HSTS = 'max-age=31536000; includeSubDomains';
/** A client's request id kept as is: short, and nothing that could split a header or a log line. */
const SANE_REQUEST_ID = /^[\w.:@+=/-]{1,128}$/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;
const DECODERS: Readonly<Record<string, () => Transform>> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

export interface PipelineOptions {
  readonly auth: Authenticator;
  /** Cookies' `Expires`. */
  readonly clock: Clock;
  /** Unexpected errors, with the request id. */
  readonly log: Logger;
  /** Request durations in seconds (prom-client's Histogram fits). */
  readonly httpDuration: DurationSink;
  /** Told how every request to a declared route ended (the audit log, refusal metrics); none: nobody is. */
  readonly audit?: AuditSink;
  /** Called right after authentication, before the body is read: may set headers, throws to refuse (request rates, http/rate-limit.ts). */
  readonly admit?: (principal: Principal, setHeader: (name: string, value: string) => void) => Promise<void>;
  /** Bounds the bodies read and parsed at once; none: unbounded (tests of other things). */
  readonly bodyGate?: Gate;
  /** The proxies believed about the client's address and scheme; none: nobody is. */
  readonly trustedProxies?: TrustedProxies;
}

/** How a request to a declared route ended, for the audit log. */
export interface RequestOutcome {
  /** Upper-case, e.g. `POST`. */
  readonly method: string;
  /** The route's template, e.g. `/api/v1/tenants/:id`. */
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  /** Undefined when the caller was not authenticated (or not allowed on the route). */
  readonly principal: Principal | undefined;
  /** The validated request body; undefined when there is none or it was not reached. */
  readonly body: unknown;
  /** The status answered. */
  readonly status: number;
  /** The body answered on success. */
  readonly reply: unknown;
  /** The client's address: the socket's, or behind trusted proxies the real client's (client-address.ts). */
  readonly address: string | undefined;
  readonly requestId: string;
}

/** Called once per request to a declared route, after the answer; must not throw nor block. */
export type AuditSink = (outcome: RequestOutcome) => void;

export interface DurationSink {
  observe(labels: { method: string; route: string; status: string }, seconds: number): void;
}

export interface Pipeline {
  /** Starts the answer to any request: request id, security headers, timing under `route()` (read when it ends). */
  begin(req: IncomingMessage, res: ServerResponse, route: () => string): void;
  /** Answers a request (after `begin`) by a route, with its path parameters. Never rejects. */
  run(spec: AnyRoute, req: IncomingMessage, res: ServerResponse, params: Readonly<Record<string, string>>): Promise<void>;
  /** Answers OPTIONS on a path that has routes: 204 with the methods it takes in `allow`. */
  allow(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): void;
  /** Answers an error as problem+json, or in OpenAI's shape (after `begin`). */
  fail(req: IncomingMessage, res: ServerResponse, err: unknown, format?: AnyRoute['errorFormat']): void;
  /**
   * Answers a request that asked for a protocol upgrade (node:http's `upgrade` event) through
   * `listener`, as any request; a route that upgrades may then take over `socket`. Any other answer
   * closes the connection once written.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, listener: RequestListener): void;
}

export function createPipeline(opts: PipelineOptions): Pipeline {
  const { auth, clock, log, httpDuration, audit, bodyGate } = opts;
  const trusted = opts.trustedProxies ?? NO_TRUSTED_PROXIES;
  const clients = new WeakMap<IncomingMessage, Client>();
  /** Requests that came with an upgrade: their socket, and the bytes read past their head. */
  const upgrades = new WeakMap<IncomingMessage, { readonly socket: Duplex; readonly head: Buffer }>();

  /** The request's client, worked out on first use and the same for the rest of the request. */
  function client(req: IncomingMessage): Client {
    let found = clients.get(req);
    if (!found) {
      found = clientOf(req, trusted);
      clients.set(req, found);
    }
    return found;
  }

  function begin(req: IncomingMessage, res: ServerResponse, route: () => string): void {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    res.setHeader('x-request-id', typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID());
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    // Browsers honour HSTS only over TLS: said when the request came that way (or through a trusted proxy that says so).
    if (client(req).secure) res.setHeader('strict-transport-security', HSTS);
    res.once('finish', () => {
      httpDuration.observe({ method: req.method ?? '', route: route(), status: String(res.statusCode) }, Number(process.hrtime.bigint() - started) / 1e9);
    });
  }

  async function run(spec: AnyRoute, req: IncomingMessage, res: ServerResponse, params: Readonly<Record<string, string>>): Promise<void> {
    let principal: Principal | undefined;
    let body: unknown;
    let reply: Reply | undefined;
    try {
      if (Number(req.headers['content-length']) > BODY_LIMIT) throw tooLarge();
      checkSessionCookie(req);
      principal = await auth.fromRequest({ method: req.method ?? '', headers: req.headers }, spec.auth);
      if (opts.admit) await opts.admit(principal, (name, value) => res.setHeader(name, value));
      if (spec.upgrade !== undefined && !(upgrades.has(req) && asksUpgrade(req, spec.upgrade))) {
        res.setHeader('upgrade', spec.upgrade);
        throw new AppError(
          'upgrade_required',
          `${spec.path} only opens a connection of protocol ${spec.upgrade}: send "Connection: Upgrade" and "Upgrade: ${spec.upgrade}".`,
        );
      }
      checkStorableTree(params, 'params');
      const p = validate(spec.params ?? EMPTY, { ...params }, 'params');
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const parsedQuery = q < 0 ? {} : { ...parseQuery(url.slice(q + 1)) };
      checkStorableTree(parsedQuery, 'query');
      const query = validate(spec.query ?? EMPTY, parsedQuery, 'query');
      const raw = spec.bodyType === 'csv' ? await readText(req, bodyGate, CSV_TYPE) : await readBody(req, bodyGate, spec.bodyType === 'any');
      // Routes without a body schema take none, but unknown fields are refused everywhere (API.md).
      body = spec.body ? validate(spec.body, raw, 'body') : (validate(NO_BODY, raw, 'body'), undefined);
      reply = await spec.handler({ params: p, query, body, principal, header: (name) => headerOf(req, name), address: client(req).address });
      if (reply.upgrade && spec.upgrade !== undefined) switchProtocols(req, res, spec.upgrade, reply.upgrade, reply.headers);
      else if (reply.stream) await stream(req, res, reply, reply.stream);
      else answer(req, res, reply);
    } catch (err) {
      fail(req, res, err, spec.errorFormat);
    }
    audit?.({
      method: req.method ?? '',
      route: spec.path,
      params,
      principal,
      body,
      status: res.statusCode,
      reply: reply?.body,
      address: client(req).address,
      requestId: String(res.getHeader('x-request-id')),
    });
  }

  function answer(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    res.statusCode = reply.status;
    res.setHeader('cache-control', 'no-store');
    if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    if (reply.cookies?.length) {
      const now = clock.now().getTime();
      res.setHeader(
        'set-cookie',
        reply.cookies.map((c) => cookieText(c, now, client(req).secure)),
      );
    }
    if (reply.body === undefined) {
      res.end();
      return;
    }
    const text = jsonText(reply.body);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const etag = weakEtag(text);
      res.setHeader('etag', etag);
      if (reply.status >= 200 && reply.status < 300 && fresh(req, etag)) {
        res.statusCode = 304;
        res.end();
        return;
      }
    }
    writeJson(res, reply.status, text, 'application/json');
  }

  /** A streamed reply: headers, then whatever the streamer writes; the client leaving aborts it. */
  async function stream(req: IncomingMessage, res: ServerResponse, reply: Reply, streamer: NonNullable<Reply['stream']>): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    const left = new Abort();
    const onClose = (): void => {
      if (!res.writableFinished) left.abort();
    };
    res.once('close', onClose);
    try {
      await streamer({
        body: res,
        head: (status, headers) => {
          res.statusCode = status;
          // Not flushed: they leave with the first write, in one packet with it.
          for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        },
        signal: left,
        requestId: String(res.getHeader('x-request-id')),
      });
    } finally {
      res.off('close', onClose);
    }
  }

  /** Answers 101 with the answer's headers so far and `headers`, and hands the connection to `take`. */
  function switchProtocols(
    req: IncomingMessage,
    res: ServerResponse,
    protocol: string,
    take: (socket: Duplex, head: Buffer) => void,
    headers: Reply['headers'],
  ): void {
    const { socket, head } = upgrades.get(req)!;
    upgrades.delete(req);
    res.statusCode = 101;
    if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', `upgrade: ${protocol}`];
    for (const [name, value] of Object.entries(res.getHeaders())) lines.push(`${name}: ${String(value)}`);
    res.detachSocket(socket as never);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    take(socket, head);
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, listener: RequestListener): void {
    upgrades.set(req, { socket, head });
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    // Not switched: the answer is the connection's last (node:http has let go of the socket).
    res.once('finish', () => socket.end());
    socket.once('error', () => socket.destroy());
    listener(req, res);
  }

  function allow(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): void {
    drain(req);
    res.statusCode = 204;
    res.setHeader('allow', methods.join(', '));
    res.end();
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown, format: AnyRoute['errorFormat'] = 'problem'): void {
    if (res.headersSent || res.destroyed || req.socket.destroyed) {
      // Too late for an answer: the client left, or the answer was already under way.
      res.destroy();
      return;
    }
    const known = knownError(err);
    if (!known) {
      const path = (req.url ?? '').split('?')[0];
      log.error('unexpected error', {
        requestId: res.getHeader('x-request-id'),
        method: req.method,
        path,
        error: String((err as Error | undefined)?.stack ?? err),
      });
    }
    drain(req);
    res.setHeader('cache-control', 'no-store');
    if (known?.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(known.retryAfterSeconds));
    if (format === 'openai') {
      writeJson(res, known ? statusOf(known.kind) : 500, JSON.stringify(known ? openAiErrorOf(known) : INTERNAL_OPENAI_ERROR), 'application/json');
      return;
    }
    const problem: Problem = known ? problemOf(known) : INTERNAL_PROBLEM;
    writeJson(res, problem.status, JSON.stringify(problem), 'application/problem+json');
  }

  return { begin, run, allow, fail, upgrade };
}

/** Whether the request's `Upgrade` header names `protocol` (case-insensitively, among others). */
function asksUpgrade(req: IncomingMessage, protocol: string): boolean {
  const asked = req.headers.upgrade;
  return typeof asked === 'string' && asked.split(',').some((p) => p.trim().toLowerCase() === protocol.toLowerCase());
}

const EMPTY = z.strictObject({});
/** The body of a route that takes none: absent, or `{}` (clients often send one with actions). */
const NO_BODY = EMPTY.optional();

function validate<T extends z.ZodType>(schema: T, value: unknown, where: 'params' | 'query' | 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // Body paths are the fields themselves (`tokensPerMin`); query and path parameters say where.
  throw new AppError('invalid', `The request ${where} is invalid.`, fieldErrors(result.error, where === 'body' ? '' : where));
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  const given = req.headers[lower];
  const value = Array.isArray(given) ? given.join(', ') : given;
  if (value !== undefined) checkStorable(value, `header.${lower}`);
  return value;
}

/**
 * The session cookie, the one cookie read: percent-encoding that does not decode, or text that
 * could not be stored, is the client's mistake (400) rather than an exception deeper down.
 */
function checkSessionCookie(req: IncomingMessage): void {
  const header = req.headers.cookie;
  if (header === undefined) return;
  const path = `cookie.${SESSION_COOKIE}`;
  let value: string | undefined;
  try {
    value = cookieValue(header, SESSION_COOKIE);
  } catch {
    throw new AppError('invalid', 'The session cookie is malformed.', [{ path, message: 'must be valid percent-encoding' }]);
  }
  if (value !== undefined) checkStorable(value, path);
}

function writeJson(res: ServerResponse, status: number, text: string, type: string): void {
  res.statusCode = status;
  res.setHeader('content-type', `${type}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

function cookieText(c: Cookie, now: number, tls: boolean): string {
  const expires = new Date(c.maxAgeMs > 0 ? now + c.maxAgeMs : 0);
  return `${c.name}=${encodeURIComponent(c.value)}; Max-Age=${Math.floor(c.maxAgeMs / 1000)}; Path=/; Expires=${expires.toUTCString()}; HttpOnly${tls ? '; Secure' : ''}; SameSite=Strict`;
}

/** As Express's default (the `etag` package, weak): the length and a SHA-1 of the JSON text. */
function weakEtag(text: string): string {
  const hash = createHash('sha1').update(text, 'utf8').digest('base64').slice(0, 27);
  return `W/"${Buffer.byteLength(text).toString(16)}-${hash}"`;
}

/** As Express's `req.fresh` (the `fresh` package) for an answer with an ETag and no Last-Modified. */
function fresh(req: IncomingMessage, etag: string): boolean {
  const noneMatch = req.headers['if-none-match'];
  if (!noneMatch) return false;
  if (/(?:^|,)\s*?no-cache\s*?(?:,|$)/.test(req.headers['cache-control'] ?? '')) return false;
  if (noneMatch !== '*') {
    const tags = noneMatch.split(',').map((t) => t.trim());
    if (!tags.some((t) => t === etag || `W/${t}` === etag || t === `W/${etag}`)) return false;
  }
  // A Last-Modified this answer does not have cannot be older than If-Modified-Since.
  return req.headers['if-modified-since'] === undefined;
}

function tooLarge(): AppError {
  return new AppError('too_large', 'The request body is larger than 16 MiB.');
}

function notJson(): AppError {
  return new AppError('invalid', 'The request body is not valid JSON.');
}

/** As type-is's `hasBody`: a chunked body, or any Content-Length (even 0). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

function busy(): AppError {
  return new AppError('unavailable', 'The server is reading too many request bodies at once; retry in a moment.', undefined, BUSY_RETRY_AFTER_SECONDS);
}

/**
 * The JSON body: an object or array, `{}` for an empty one, undefined when the request has none.
 * A body that is not JSON (by its Content-Type) counts as none and is left unread, unless
 * `anyType` (the route reads JSON whatever the type says). Read and parsed holding a slot of `gate`.
 */
const CSV_TYPE = /^text\/csv$/i;

/** A UTF-8 text body of the type `type` (CSV: `text/csv`), as a string; undefined when absent. */
async function readText(req: IncomingMessage, gate: Gate | undefined, type: RegExp): Promise<string | undefined> {
  if (!hasBody(req)) return undefined;
  const [mime = '', ...params] = (req.headers['content-type'] ?? '').split(';');
  if (!type.test(mime.trim())) throw new AppError('invalid', `The request body must be ${type.source.replace(/[\^$\\]/g, '')}.`);
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim());
    if (name.toLowerCase() === 'charset' && value.replace(/^"(.*)"$/, '$1').toLowerCase() !== 'utf-8')
      throw new AppError('invalid', 'The request body must be UTF-8.');
  }
  if ((req.headers['content-encoding'] ?? 'identity').trim().toLowerCase() !== 'identity') throw new AppError('invalid', 'Send the text body uncompressed.');
  const entered = gate?.enter();
  if (gate && !entered) throw busy();
  const release = await entered;
  try {
    const text = (await collect(req, req)).toString('utf8');
    checkStorableTree(text, 'body');
    return text;
  } finally {
    release?.();
  }
}

async function readBody(req: IncomingMessage, gate: Gate | undefined, anyType = false): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const [type = '', ...params] = (req.headers['content-type'] ?? '').split(';');
  if (!anyType && !JSON_TYPE.test(type.trim())) return undefined;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim());
    if (name.toLowerCase() === 'charset' && value.replace(/^"(.*)"$/, '$1').toLowerCase() !== 'utf-8') {
      throw new AppError('invalid', 'The request body must be UTF-8 JSON.');
    }
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder = encoding === 'identity' ? undefined : DECODERS[encoding];
  if (encoding !== 'identity' && !decoder) {
    throw new AppError('invalid', 'The Content-Encoding of the request body is not supported: send it as is, or in gzip, deflate or br.');
  }
  if (!gate) return parseBody(req, decoder);
  const entered = gate.enter();
  if (!entered) throw busy();
  const release = await entered;
  try {
    return await parseBody(req, decoder);
  } finally {
    release();
  }
}

async function parseBody(req: IncomingMessage, makeDecoder: (() => Transform) | undefined): Promise<unknown> {
  let bytes: Buffer;
  if (!makeDecoder) {
    bytes = await collect(req, req);
  } else {
    const decoder = makeDecoder();
    req.pipe(decoder);
    try {
      bytes = await collect(req, decoder);
    } catch (err) {
      req.unpipe(decoder);
      decoder.destroy();
      throw err instanceof AppError ? err : new AppError('invalid', 'The request body could not be decompressed.');
    }
    req.unpipe(decoder);
    decoder.destroy();
  }
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw notJson();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw notJson();
  }
  // JSON text can carry NUL or an unpaired surrogate only as a \u escape (raw control characters
  // are not JSON; UTF-8 decoding yields no lone surrogates): without one, nothing to walk.
  if (text.includes('\\u')) checkStorableTree(parsed, '');
  return parsed;
}

/**
 * Reads `stream` (the request, or its decoder) to its end, at most BODY_LIMIT bytes. Stops at the
 * limit without destroying anything: the caller answers, and `drain` reads the rest.
 */
function collect(req: IncomingMessage, stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined): void => {
      stream.off('data', onData).off('end', onEnd).off('error', settle);
      req.off('error', settle).off('aborted', onAborted).off('close', onClosed);
      if (err) {
        stream.pause();
        reject(err);
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > BODY_LIMIT) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    const onAborted = (): void => settle(new Error('the client aborted the request'));
    // A request whose client left (while it waited for a body slot, say) would never end.
    const onClosed = (): void => {
      if (!req.complete) onAborted();
    };
    if (req.destroyed) return onAborted();
    stream.on('data', onData).on('end', onEnd).on('error', settle);
    if (stream !== req) req.on('error', settle).on('aborted', onAborted);
    req.on('close', onClosed);
  });
}

/**
 * Reads and drops what is left of a request body once it will not be used, so that the answer
 * reaches a client still sending and the connection can carry the next request; past DRAIN_LIMIT
 * the connection is cut.
 */
function drain(req: IncomingMessage): void {
  if (req.readableEnded || req.destroyed) return;
  let left = DRAIN_LIMIT;
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) req.socket.destroy();
  });
  req.resume();
}
