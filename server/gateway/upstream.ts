/**
 * The gateway's upstream side: one OpenAI-format call sent to a serving replica and its answer
 * passed to the client. Endpoints are tried in the {@link Balancer}'s order; a call goes to another
 * endpoint only while nothing has been written to the client (connection errors, timeouts, retryable
 * statuses). Once a replica answers, its body flows to the client as it arrives; a failure after that
 * cuts the client's answer short and is never retried. Connections are pooled and kept alive by one
 * undici Agent per {@link Upstream}. Endpoints `tunnel://…` (a cluster that accepts no inbound
 * connection) are reached through that cluster's tunnel (server/tunnel/) instead, with the same
 * retries, breakers, timeouts and aborts: only the dispatcher differs.
 *
 * This module writes nothing to the client but the replica's answer: failures before the answer are
 * thrown as {@link UpstreamError}, which the /v1 routes turn into OpenAI-shaped errors.
 */
import type { Readable, Writable } from 'node:stream';
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { Abort, type AbortLike } from '../abort.js';
import { Balancer, type Candidate } from './balancer.js';
import { CircuitBreakers } from './breaker.js';
import { SseUsageTap, usageFromJson } from './sse-usage.js';
import type { TunnelRequest, TunnelResponse, TunnelTimeouts } from '../tunnel/tunnels.js';

export type { Candidate } from './balancer.js';

/** The OpenAI endpoints the gateway forwards. */
export type UpstreamPath = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings';

/**
 * Tokens to meter for a served call. `estimated: false`: the engine's own counts (`usage` of the
 * answer, or of a stream's last chunk). `estimated: true`: a stream ended without usage (the client
 * left, the replica failed mid-stream, or the engine sends none): completion tokens are the number
 * of content chunks that passed (one token per chunk, as OpenAI-compatible engines stream) and the
 * prompt tokens are unknown here — the caller supplies its own estimate.
 */
export type MeteredUsage =
  | { readonly estimated: false; readonly promptTokens: number; readonly completionTokens: number; readonly totalTokens: number }
  | { readonly estimated: true; readonly promptTokens: null; readonly completionTokens: number; readonly totalTokens: null };

/**
 * Why one attempt did not serve: `connect` (refused, reset or closed before an answer), `timeout`
 * (connecting, the headers, or the body stalled before anything reached the client), `status` (the
 * replica answered a server error, 401 or 403: counted against its breaker), `busy` (429: tried
 * elsewhere, not counted against the replica), `too_large` (an answer past `maxAnswerBytes`).
 */
export type FailureReason = 'connect' | 'timeout' | 'status' | 'busy' | 'too_large';

/** One attempt that did not serve, for logs and for metrics of upstream errors by cluster. */
export interface AttemptFailure {
  readonly candidate: Candidate;
  readonly reason: FailureReason;
  /** The replica's status, for `status` and `busy`. */
  readonly status?: number;
  /** The error's code or message, for logs (no secret in it). */
  readonly detail: string;
}

/**
 * Nothing was written to the client. `no_endpoint`: no candidate could take the call (none given,
 * or every breaker open) — OpenAI's 503 `model_not_available`. `all_failed`: every endpoint tried
 * failed (`lastStatus` is the last replica status seen, if any) — 502. `timeout`: the call's
 * overall timeout passed before an answer — 504 or 502. `client_closed`: the client left before an
 * answer (nothing to answer; log as 499).
 */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'no_endpoint' | 'all_failed' | 'timeout' | 'client_closed',
    readonly failures: readonly AttemptFailure[],
    readonly lastStatus: number | undefined,
  ) {
    super(`upstream ${kind}${lastStatus === undefined ? '' : ` (last status ${lastStatus})`}`);
    this.name = 'UpstreamError';
  }
}

/** What the replica answered, given to {@link UpstreamCall.onHeaders} before the first byte is written. */
export interface UpstreamAnswer {
  readonly candidate: Candidate;
  /** The replica's status: 2xx, or a 4xx that is the request's fault (400, 404, 413, 422, …), passed on as is. */
  readonly status: number;
  /** The replica's content type ("text/event-stream" for a stream). */
  readonly contentType: string;
  /** The body is streamed as it arrives (true), or was read whole and is written at once (false). */
  readonly streamed: boolean;
  /** The body's length when read whole. */
  readonly contentLength: number | undefined;
}

export interface UpstreamCall {
  /** The endpoints that may serve, in any order ({@link Balancer.order} decides). */
  readonly candidates: readonly Candidate[];
  readonly path: UpstreamPath;
  /** The client's JSON body, with `model` already the serving name (and, for streams, usage requested: {@link requestUsage}). */
  readonly body: Readonly<Record<string, unknown>>;
  /** The client asked for `stream: true`. */
  readonly stream: boolean;
  /** Drop the usage-only chunk from a stream: the client did not ask for it ({@link requestUsage} says). */
  readonly withholdUsage?: boolean;
  /** Aborts the call (the client disconnected). */
  readonly signal?: AbortLike;
  /** Sent upstream as `x-request-id`, so the engine's logs match the gateway's. */
  readonly requestId?: string;
  /** Where the answer goes (an http.ServerResponse). Ended after the answer; destroyed if it was cut short. */
  readonly client: Writable;
  /** Called once, before anything is written to `client`: set the status and headers there. Not called when the call throws. */
  onHeaders(answer: UpstreamAnswer): void;
  /**
   * Called once the answer is complete and before its end is written (a whole answer's only write,
   * or a stream's last bytes), with the usage to meter; the end waits for it. Not called for an
   * answer cut short, nor when the call throws. Meant to make the call's usage safe before the
   * client has the whole answer.
   */
  beforeEnd?(answer: { readonly candidate: Candidate; readonly status: number; readonly usage: MeteredUsage | undefined }): Promise<void> | void;
}

export interface UpstreamResult {
  /** The endpoint that served. */
  readonly candidate: Candidate;
  /** Endpoints tried, the serving one included. */
  readonly attempts: number;
  /** The attempts before the serving one that failed. */
  readonly failures: readonly AttemptFailure[];
  /** The status passed to the client. */
  readonly status: number;
  /** From the call's start (retries included) to the answer's first byte, in ms. */
  readonly ttfbMs: number;
  /** From the call's start to the answer's end or cut, in ms. */
  readonly durationMs: number;
  /** Why the answer was cut short after its first byte; undefined when it was passed whole. */
  readonly cut: 'client_closed' | 'upstream_error' | 'timeout' | undefined;
  /** Tokens to meter; undefined for an answer that is not a 2xx or carries no usage (a non-streamed body without `usage`). */
  readonly usage: MeteredUsage | undefined;
}

export interface UpstreamOptions {
  /** The time in ms (Date.now-like), for breakers and timings. */
  readonly now: () => number;
  /** The breakers to use (shared with metrics); a fresh set with default settings if not given. */
  readonly breakers?: CircuitBreakers;
  /** The balancer to use; a fresh one over `breakers` if not given. */
  readonly balancer?: Balancer;
  /** Endpoints tried per call at most. Default 3. */
  readonly maxAttempts?: number;
  /** Connections kept per replica at most; further calls queue for one. Default 128. */
  readonly connectionsPerEndpoint?: number;
  /** An idle connection is closed after this (undici also heeds the replica's Keep-Alive hint). Default 4,000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Connecting to a replica. Default 5,000 ms. */
  readonly connectTimeoutMs?: number;
  /** From the request sent to the answer's headers; a non-streamed answer comes whole, so allow for generation. Default 300,000 ms. */
  readonly headersTimeoutMs?: number;
  /** Longest silence between two pieces of a body. Default 60,000 ms. */
  readonly bodyTimeoutMs?: number;
  /** A whole call, retries and the body included; past it the call is aborted. Default 600,000 ms. */
  readonly timeoutMs?: number;
  /** A non-streamed answer longer than this is refused (the replica misbehaves). Default 64 MiB. */
  readonly maxAnswerBytes?: number;
  /** The agents' tunnels (server/tunnel/tunnels.ts), for `tunnel://` endpoints; none: such endpoints fail to connect. */
  readonly tunnels?: { request(req: TunnelRequest, timeouts: TunnelTimeouts): Promise<TunnelResponse> };
}

/** One request to a replica, as a dispatcher sends it. */
interface DispatchRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal: AbortLike;
}

/** The replica's answer: status and headers, the body streaming. */
interface DispatchResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable;
}

/** Sends requests to the endpoints of one kind (by URL scheme). */
type Dispatcher = (request: DispatchRequest) => Promise<DispatchResponse>;

/** Statuses that are the replica's fault: another endpoint may serve, and the breaker counts them. 401/403: the replica does not know its serving key yet. */
const failureStatus = (status: number) => status >= 500 || status === 401 || status === 403;

/**
 * Prepares a streamed call's body so the engine reports usage in a last chunk
 * (`stream_options.include_usage: true`), leaving the client's body untouched. `clientAsked`: the
 * client asked for usage itself; when false, pass `withholdUsage: true` to {@link Upstream.call} so
 * the client gets no chunk it did not ask for. A non-streamed body is returned as is.
 */
export function requestUsage(body: Readonly<Record<string, unknown>>): { body: Readonly<Record<string, unknown>>; clientAsked: boolean } {
  if (body.stream !== true) return { body, clientAsked: false };
  const options = typeof body.stream_options === 'object' && body.stream_options !== null ? (body.stream_options as Record<string, unknown>) : {};
  if (options.include_usage === true) return { body, clientAsked: true };
  return { body: { ...body, stream_options: { ...options, include_usage: true } }, clientAsked: false };
}

const detailOf = (err: unknown): string => {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e?.code === 'string' ? e.code : typeof e?.message === 'string' ? e.message : String(err);
};

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const reasonOf = (err: unknown): FailureReason => (TIMEOUT_CODES.has((err as { code?: string })?.code ?? '') ? 'timeout' : 'connect');

/** Closes a body not read to its end; its connection goes with it, and so does the error undici raises for it. */
function drop(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** Waits until `client` drains, closes or errs, or `signal` aborts; answers whether writing may go on. */
function drained(client: Writable, signal: AbortLike): Promise<boolean> {
  if (client.destroyed || signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      client.off('drain', onDrain);
      client.off('close', onStop);
      client.off('error', onStop);
      signal.off('abort', onStop);
      resolve(ok);
    };
    const onDrain = done(true);
    const onStop = done(false);
    client.on('drain', onDrain);
    client.on('close', onStop);
    client.on('error', onStop);
    signal.once('abort', onStop);
  });
}

/** Calls serving replicas for the gateway; one per process, closed on shutdown. */
export class Upstream {
  readonly breakers: CircuitBreakers;
  readonly balancer: Balancer;
  readonly #now: () => number;
  /** Made on the first call over http(s): a process that never calls a replica never loads undici (README "Memory"). */
  #agent: Agent | undefined;
  readonly #agentOptions: Agent.Options;
  readonly #maxAttempts: number;
  readonly #timeoutMs: number;
  readonly #maxAnswerBytes: number;
  readonly #endpoints = new Map<string, ParsedEndpoint>();
  /** By URL scheme: undici for http and https, the cluster's tunnel for `tunnel`. */
  readonly #dispatchers: ReadonlyMap<string, Dispatcher>;

  constructor(options: UpstreamOptions) {
    this.#now = options.now;
    this.breakers = options.breakers ?? new CircuitBreakers({ now: options.now });
    this.balancer = options.balancer ?? new Balancer({ breakers: this.breakers });
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#timeoutMs = options.timeoutMs ?? 600_000;
    this.#maxAnswerBytes = options.maxAnswerBytes ?? 64 * 1024 * 1024;
    this.#agentOptions = {
      connections: options.connectionsPerEndpoint ?? 128,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
      connect: { timeout: options.connectTimeoutMs ?? 5_000 },
    };
    const http: Dispatcher = (r) => {
      this.#agent ??= new (createRequire(import.meta.url)('undici') as typeof import('undici')).Agent(this.#agentOptions);
      return this.#agent.request(r);
    };
    const dispatchers = new Map<string, Dispatcher>([
      ['http:', http],
      ['https:', http],
    ]);
    const tunnels = options.tunnels;
    if (tunnels) {
      const timeouts = { headersTimeoutMs: options.headersTimeoutMs ?? 300_000, bodyTimeoutMs: options.bodyTimeoutMs ?? 60_000 };
      dispatchers.set('tunnel:', (r) => tunnels.request(r, timeouts));
    }
    this.#dispatchers = dispatchers;
  }

  /**
   * Sends `call` to the first endpoint that answers and passes the answer to `call.client`.
   * Resolves once the answer is passed or cut short (see {@link UpstreamResult.cut}); throws
   * {@link UpstreamError} when nothing was written to the client.
   */
  async call(call: UpstreamCall): Promise<UpstreamResult> {
    const started = this.#now();
    const order = this.balancer.order(call.candidates);
    const failures: AttemptFailure[] = [];
    // One signal for the attempts: aborted by the client's leaving or by the call's deadline (`timedOut` says which).
    const abort = new Abort();
    const signal = abort;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.#timeoutMs);
    const left = (): void => abort.abort();
    if (call.signal?.aborted) abort.abort();
    else call.signal?.once('abort', left);
    const payload = JSON.stringify(call.body);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (call.requestId !== undefined) headers['x-request-id'] = call.requestId;
    let attempts = 0;
    let lastStatus: number | undefined;
    try {
      for (const candidate of order) {
        if (attempts >= this.#maxAttempts || signal.aborted) break;
        const pass = this.breakers.enter(candidate.endpoint);
        if (!pass) continue;
        attempts += 1;
        const end = this.balancer.begin(candidate.endpoint);
        const fail = (reason: FailureReason, detail: string, status?: number) => {
          failures.push(status === undefined ? { candidate, reason, detail } : { candidate, reason, detail, status });
          if (reason === 'busy' || reason === 'too_large') pass.release();
          else pass.failure();
          end();
        };
        let response: DispatchResponse;
        try {
          const url = this.#parsed(candidate.endpoint);
          response = await url.dispatch({
            origin: url.origin,
            path: url.base + call.path,
            method: 'POST',
            headers: { ...headers, authorization: `Bearer ${candidate.servingKey}` },
            body: payload,
            signal,
          });
        } catch (err) {
          if (signal.aborted) {
            pass.release();
            end();
            break;
          }
          fail(reasonOf(err), detailOf(err));
          continue;
        }
        const status = response.statusCode;
        if (status === 429 || failureStatus(status)) {
          lastStatus = status;
          // Dropped with its connection rather than read off: a replica that fails may also stall its error body.
          drop(response.body);
          fail(status === 429 ? 'busy' : 'status', `status ${status}`, status);
          continue;
        }
        const contentType = String(response.headers['content-type'] ?? 'application/json');
        const streamed = call.stream && status >= 200 && status < 300 && contentType.startsWith('text/event-stream');
        const served = streamed
          ? await this.#stream(
              call,
              candidate,
              response.body,
              status,
              contentType,
              signal,
              () => timedOut,
              started,
              () => pass.success(),
            )
          : await this.#whole(call, candidate, response.body, status, contentType, signal, started);
        if ('failed' in served) {
          if (signal.aborted) {
            pass.release();
            end();
            break;
          }
          fail(served.failed, served.detail);
          if (served.failed === 'too_large') break;
          continue;
        }
        pass.success();
        end();
        return { candidate, attempts, failures, status, ...served, durationMs: this.#now() - started };
      }
      if (timedOut && !call.signal?.aborted) throw new UpstreamError('timeout', failures, lastStatus);
      if (call.signal?.aborted) throw new UpstreamError('client_closed', failures, lastStatus);
      throw new UpstreamError(attempts === 0 ? 'no_endpoint' : 'all_failed', failures, lastStatus);
    } finally {
      clearTimeout(timer);
      call.signal?.off('abort', left);
    }
  }

  /** An endpoint's origin, base path and dispatcher, parsed once (a bad one throws, each time: a failed attempt). */
  #parsed(endpoint: string): ParsedEndpoint {
    let hit = this.#endpoints.get(endpoint);
    if (!hit) {
      const url = new URL(endpoint);
      const dispatch = this.#dispatchers.get(url.protocol);
      if (!dispatch) throw Object.assign(new Error(`no way to reach ${url.protocol} endpoints`), { code: 'UNSUPPORTED_ENDPOINT' });
      // A tunnel endpoint's origin keeps its user part: the cluster whose tunnel leads there (tunnelOrigin).
      const origin = url.protocol === 'tunnel:' ? `tunnel://${url.username}@${url.host}` : url.origin;
      hit = { origin, base: url.pathname.replace(/\/$/, ''), dispatch };
      if (this.#endpoints.size >= 10_000) this.#endpoints.clear();
      this.#endpoints.set(endpoint, hit);
    }
    return hit;
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.#agent?.close();
  }

  /** Reads an answer whole (small: non-streamed, or an error), then writes it at once. */
  async #whole(
    call: UpstreamCall,
    candidate: Candidate,
    body: Readable,
    status: number,
    contentType: string,
    signal: AbortLike,
    started: number,
  ): Promise<Served | Failed> {
    const parts: Buffer[] = [];
    let length = 0;
    let ttfb: number | undefined;
    try {
      for await (const part of body as AsyncIterable<Buffer>) {
        ttfb ??= this.#now() - started;
        length += part.length;
        if (length > this.#maxAnswerBytes) {
          drop(body);
          return { failed: 'too_large', detail: `answer over ${this.#maxAnswerBytes} bytes` };
        }
        parts.push(part);
      }
    } catch (err) {
      return { failed: reasonOf(err), detail: detailOf(err) };
    }
    const answer = Buffer.concat(parts, length);
    let usage: MeteredUsage | undefined;
    if (status >= 200 && status < 300 && contentType.includes('json')) {
      try {
        const engine = usageFromJson((JSON.parse(answer.toString('utf8')) as { usage?: unknown }).usage);
        if (engine) usage = { estimated: false, ...engine };
      } catch {
        // Not JSON after all: passed on as it came, with nothing to meter from it.
      }
    }
    await call.beforeEnd?.({ candidate, status, usage });
    // Headers, body and end in one write.
    call.onHeaders({ candidate, status, contentType, streamed: false, contentLength: length });
    call.client.end(answer);
    return { ttfbMs: ttfb ?? this.#now() - started, cut: undefined, usage };
  }

  /** Passes a server-sent-event answer on as it arrives, reading usage from it on the way. */
  async #stream(
    call: UpstreamCall,
    candidate: Candidate,
    body: Readable,
    status: number,
    contentType: string,
    signal: AbortLike,
    timedOut: () => boolean,
    started: number,
    answered: () => void,
  ): Promise<Served | Failed> {
    const tap = new SseUsageTap({ withholdUsage: call.withholdUsage === true });
    const client = call.client;
    let ttfb: number | undefined;
    let cut: UpstreamResult['cut'];
    // From the chunk with `data: [DONE]` on, bytes wait for the answer's end: they leave with it, in
    // one write, once beforeEnd has made the usage safe.
    const tail: Buffer[] = [];
    const usage = (): MeteredUsage =>
      tap.usage ? { estimated: false, ...tap.usage } : { estimated: true, promptTokens: null, completionTokens: tap.contentChunks, totalTokens: null };
    try {
      for await (const part of body as AsyncIterable<Buffer>) {
        if (ttfb === undefined) {
          ttfb = this.#now() - started;
          // The replica answered: its breaker hears so now, not when a long stream ends.
          answered();
          call.onHeaders({ candidate, status, contentType, streamed: true, contentLength: undefined });
        }
        const out = tap.push(part);
        if (tap.done) {
          if (out.length > 0) tail.push(out);
          continue;
        }
        if (out.length > 0 && !client.write(out) && !(await drained(client, signal))) {
          cut = 'client_closed';
          break;
        }
      }
    } catch (err) {
      // Before the first byte nothing reached the client: another endpoint may serve.
      if (ttfb === undefined) return { failed: reasonOf(err), detail: detailOf(err) };
      cut = call.signal?.aborted ? 'client_closed' : timedOut() ? 'timeout' : 'upstream_error';
      // A replica that failed after its `[DONE]` had sent the whole answer.
      if (cut === 'upstream_error' && tap.done) cut = undefined;
    }
    if (ttfb === undefined) {
      ttfb = this.#now() - started;
      call.onHeaders({ candidate, status, contentType, streamed: true, contentLength: undefined });
    }
    if (cut !== undefined) {
      drop(body);
      // Destroyed, not ended: the client must see that the answer is incomplete, not a clean end.
      client.destroy();
      return { ttfbMs: ttfb, cut, usage: usage() };
    }
    const served = usage();
    tail.push(tap.end());
    await call.beforeEnd?.({ candidate, status, usage: served });
    client.end(tail.length === 1 ? tail[0] : Buffer.concat(tail));
    return { ttfbMs: ttfb, cut: undefined, usage: served };
  }
}

type Served = Pick<UpstreamResult, 'ttfbMs' | 'cut' | 'usage'>;

interface ParsedEndpoint {
  readonly origin: string;
  readonly base: string;
  readonly dispatch: Dispatcher;
}

interface Failed {
  readonly failed: FailureReason;
  readonly detail: string;
}
