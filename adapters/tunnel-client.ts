/**
 * The agent's end of the tunnel (README "Tunnel"), for a cluster that accepts no inbound
 * connection: the agent opens one outbound connection to the platform, `GET /api/v1/agent/tunnel`
 * with its agent token, upgraded to `tokenpool-tunnel`; from then on the connection speaks HTTP/2
 * (node:http2) with the platform as the client and the agent as the server. Each stream is one
 * gateway call for an in-cluster address (its `:authority`, the `tunnel://<host>:<port>` endpoint
 * the agent reported), which the agent forwards there over plain HTTP/1.1 and streams back.
 *
 * - Back-pressure: HTTP/2 flow control per stream. The agent writes an answer into its stream only
 *   as fast as the platform reads it, and stops reading the replica meanwhile, so a slow client
 *   holds back its own replica's answer and nothing else.
 * - Aborts: a stream the platform resets (the client left, a timeout) aborts the call to the replica.
 * - A replica the agent cannot reach resets the stream with REFUSED_STREAM before any answer:
 *   the gateway counts it as a failure to connect and tries another replica.
 * - Only addresses `allow` accepts are forwarded to (the agent's own placements' Services): the
 *   tunnel is no way into the rest of the cluster.
 * - Reconnects: a tunnel that fails or closes is opened again after a capped exponential back-off
 *   with jitter ({@link reconnectDelay}); a tunnel that stayed up a while resets the back-off. Both
 *   ends PING each other, so a connection dropped silently (a NAT timing out) is noticed.
 * - Several platform processes (workers, replicas behind a load balancer): a tunnel serves only the
 *   process that accepted it, so the agent keeps one to each process the platform names in its 101
 *   answer, opening more connections (bounded per minute) until each holds one ({@link TunnelClient}).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { constants, createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { AgentLog } from './agent.js';

/** The platform's tunnel route (API: `GET /api/v1/agent/tunnel`). */
export const TUNNEL_PATH = 'api/v1/agent/tunnel';
/** The protocol named in `Upgrade:`. */
export const TUNNEL_PROTOCOL = 'tokenpool-tunnel';

/** Headers of one hop only: never forwarded (HTTP/2 forbids them in its frames). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);

export interface BackoffOptions {
  /** The first retry's delay, in ms. */
  readonly baseMs: number;
  /** No delay is longer, in ms. */
  readonly maxMs: number;
  /** Random spread of a delay, as a fraction of it (0 … 1): `delay × (1 ± jitter)`. */
  readonly jitter: number;
}

/**
 * The delay before the `attempt`-th consecutive attempt to open the tunnel (1, 2, …):
 * `baseMs × 2^(attempt − 1)`, at most `maxMs`, spread by `jitter` with `random` (uniform in [0, 1)).
 * A refusal that a retry will not cure (`fatal`: a refused token) waits `maxMs`, spread the same.
 */
export function reconnectDelay(attempt: number, backoff: BackoffOptions, random: () => number, fatal = false): number {
  const raw = fatal ? backoff.maxMs : Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.max(0, Math.round(raw * (1 + backoff.jitter * (2 * random() - 1))));
}

/** The platform answered the tunnel request without switching protocols. */
export class TunnelRefused extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`the platform refused the tunnel (${status}): ${detail}`);
    this.name = 'TunnelRefused';
  }

  /** A refused token or route will not be cured by retrying soon. */
  get fatal(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404 || this.status === 426;
  }
}

/** The longest platform process id the agent takes from a 101 answer, and the most ids it keeps. */
const PROCESS_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_PROCESSES = 64;

/** An opened tunnel connection, and what the platform said of its processes. */
export interface OpenedTunnel {
  readonly socket: Socket;
  /**
   * The platform process that holds this tunnel (header `tokenpool-process`); `''` when the
   * platform names none (an older platform: one process as far as the agent can tell).
   */
  readonly processId: string;
  /** The platform's live processes (header `tokenpool-processes`), `processId` among them; at most 64. */
  readonly processes: readonly string[];
}

/** The process ids of a 101 answer's headers: malformed ids are left out, `processId` always in. */
export function processesOf(headers: IncomingMessage['headers']): { readonly processId: string; readonly processes: readonly string[] } {
  const named = headers['tokenpool-process'];
  const processId = typeof named === 'string' && PROCESS_ID.test(named.trim()) ? named.trim() : '';
  const listed = headers['tokenpool-processes'];
  const ids = (typeof listed === 'string' ? listed.split(',') : []).map((id) => id.trim()).filter((id) => PROCESS_ID.test(id));
  return { processId, processes: [...new Set([processId, ...ids])].slice(0, MAX_PROCESSES) };
}

/**
 * Opens the tunnel's connection: `GET <platform>/api/v1/agent/tunnel` upgraded to
 * `tokenpool-tunnel`. Resolves with the socket once the platform answered 101 (bytes it sent
 * after the 101 put back for the reader) and the processes it named; rejects with
 * {@link TunnelRefused} for any other answer.
 */
export function openTunnel(platformUrl: string, token: string, timeoutMs: number): Promise<OpenedTunnel> {
  const url = new URL(TUNNEL_PATH, platformUrl.endsWith('/') ? platformUrl : `${platformUrl}/`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'GET',
      headers: { connection: 'Upgrade', upgrade: TUNNEL_PROTOCOL, authorization: `Bearer ${token}` },
      timeout: timeoutMs,
      agent: false,
    });
    req.once('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const upgraded = (res.headers.upgrade ?? '').toLowerCase() === TUNNEL_PROTOCOL;
      if (res.statusCode !== 101 || !upgraded) {
        socket.destroy();
        reject(new TunnelRefused(res.statusCode ?? 0, `switched to ${res.headers.upgrade ?? 'nothing'}`));
        return;
      }
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      if (head.length > 0) socket.unshift(head);
      socket.once('end', () => socket.destroy());
      resolve({ socket, ...processesOf(res.headers) });
    });
    req.once('response', (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (part: Buffer) => {
        size += part.length;
        if (size <= 16_384) parts.push(part);
      });
      res.once('end', () => reject(new TunnelRefused(res.statusCode ?? 0, problemDetail(Buffer.concat(parts).toString('utf8')))));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer to the tunnel request in ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** A problem+json's `detail`, or the text as it came (shortened). */
function problemDetail(text: string): string {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
  } catch {
    // Not JSON: said as it came.
  }
  return text.slice(0, 300);
}

/** `host:port` → its parts (an IPv6 host in brackets); undefined when it is not of that form. */
export function splitAuthority(authority: string): { readonly host: string; readonly port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** The headers to send on, from one hop's: pseudo-headers and hop-by-hop ones left out. */
export function forwardedHeaders(headers: IncomingHttpHeaders | IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface TunnelClientOptions {
  /** The platform's base URL (TOKENPOOL_URL). */
  readonly platformUrl: string;
  readonly token: string;
  /** Whether calls may be forwarded to `authority` (`host:port`): the in-cluster addresses this agent reported. */
  readonly allow: (authority: string) => boolean;
  readonly log?: AgentLog;
  /** Reconnect back-off. Default 500 ms doubling to 30 s, ±20 %. */
  readonly backoff?: BackoffOptions;
  /** A tunnel that stayed up this long resets the back-off, in ms. Default 30,000. */
  readonly stableMs?: number;
  /** A PING is sent this often; one not answered within it closes the tunnel. Default 20,000 ms. */
  readonly pingIntervalMs?: number;
  /** The tunnel request's answer is awaited this long, in ms. Default 10,000. */
  readonly connectTimeoutMs?: number;
  /** Bytes of one call's request body that may wait unread here (its HTTP/2 stream window). Default 256 KiB. */
  readonly streamWindowBytes?: number;
  /**
   * Tunnel requests per platform process per minute, at most (the platform's processes as last
   * named; at least one), made while a tunnel is open: the bound on opening connections to reach
   * every process. With none open, the back-off alone paces the attempts. Default 4.
   */
  readonly opensPerProcess?: number;
  /** The window of `opensPerProcess`, in ms. Default 60,000. */
  readonly opensWindowMs?: number;
  /**
   * With a tunnel to every process named, one more tunnel request this long after the last one
   * learns of processes started since (a tunnel that lands on a process already held replaces
   * its older one there). Default 60,000 ms; never when the platform names no processes.
   */
  readonly recheckMs?: number;
  /** Uniform in [0, 1). Default Math.random. */
  readonly random?: () => number;
  readonly now?: () => number;
  /**
   * Where a call for an allowed `authority` connects. Default: that address itself (cluster DNS
   * resolves a Service's name). A test harness without cluster DNS maps Services to its engines.
   */
  readonly connectTo?: (authority: string, target: { readonly host: string; readonly port: number }) => { readonly host: string; readonly port: number };
}

/** Counters for metrics; a snapshot. */
export interface TunnelStats {
  /** At least one tunnel is open now. */
  readonly connected: boolean;
  /** Tunnels open now (one per platform process reached). */
  readonly tunnels: number;
  /** Platform processes the platform last named (1 when it names none). */
  readonly processes: number;
  /** Of those, the ones this agent holds a tunnel to. */
  readonly covered: number;
  /** Times a tunnel was opened after one had dropped (or after a failed attempt). */
  readonly reconnects: number;
  /** Tunnels that reached a platform process already held (the older one there then closes). */
  readonly duplicates: number;
  /** Attempts to open a tunnel that failed. */
  readonly failures: number;
  /** Tunnel requests made (successful or not). */
  readonly opens: number;
  /** Calls being forwarded now. */
  readonly streams: number;
  readonly lastError: string | null;
}

interface Held {
  readonly session: ServerHttp2Session;
  /** When it opened (the clock of `now`). */
  readonly since: number;
}

/**
 * Keeps a tunnel open to each of the platform's processes until stopped, and forwards the
 * platform's calls over them. A tunnel lives in the platform process that accepted it, and a
 * load balancer (or the primary of the platform's workers) hands each connection to a process of
 * its choosing; so after each tunnel opens, while a process the platform named has none, the agent
 * opens another (at most `opensPerProcess` per process per minute), and a tunnel that lands on a
 * process already held replaces the older one there, as the platform does.
 */
export class TunnelClient {
  readonly #opts: TunnelClientOptions;
  readonly #log: AgentLog;
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  readonly #now: () => number;
  // Calls to the replicas: pooled and kept alive, as the gateway's own are.
  readonly #agent = new HttpAgent({ keepAlive: true, maxSockets: 128 });
  #running = false;
  /** The tunnels, by the platform process that holds each (`''`: a platform that names none). */
  readonly #held = new Map<string, Held>();
  /** The platform's processes, as the last 101 named them. */
  #known: readonly string[] = [];
  #named = false;
  /** When recent tunnel requests were made while a tunnel was open (within the opens window). */
  #recent: number[] = [];
  #lastOpen = -Infinity;
  /** No tunnel request before this (back-off after failures and drops). */
  #notBefore = -Infinity;
  /** Consecutive failures and short-lived tunnels. */
  #attempt = 0;
  /** Tunnels dropped and not yet opened again, and whether the last attempt failed (for `reconnects`). */
  #owed = 0;
  #lastFailed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #opens = 0;
  #reconnects = 0;
  #duplicates = 0;
  #failures = 0;
  #streams = 0;
  #lastError: string | null = null;
  readonly #connectedWaiters = new Set<() => void>();

  constructor(opts: TunnelClientOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? (() => {});
    this.#backoff = opts.backoff ?? { baseMs: 500, maxMs: 30_000, jitter: 0.2 };
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
  }

  get stats(): TunnelStats {
    const processes = this.#known.length > 0 ? this.#known : [''];
    return {
      connected: this.#held.size > 0,
      tunnels: this.#held.size,
      processes: processes.length,
      covered: processes.filter((id) => this.#held.has(id)).length,
      reconnects: this.#reconnects,
      duplicates: this.#duplicates,
      failures: this.#failures,
      opens: this.#opens,
      streams: this.#streams,
      lastError: this.#lastError,
    };
  }

  /** The platform processes this agent holds a tunnel to now (`''`: a platform that names none). */
  get heldProcesses(): readonly string[] {
    return [...this.#held.keys()];
  }

  /** Starts keeping the tunnels open; a no-op when it runs already. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Resolves once a tunnel is open (at once if one is). */
  connected(): Promise<void> {
    if (this.#held.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.#connectedWaiters.add(resolve));
  }

  /** Closes the tunnels (calls under way are cut) and stops reopening them. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const { session } of this.#held.values()) session.destroy();
    this.#wake?.();
    await this.#loop;
    this.#agent.destroy();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const wait = this.#nextOpenIn();
      if (wait > 0) await this.#sleep(wait);
      else await this.#openOne();
    }
  }

  /**
   * Milliseconds until the next tunnel request may go (0: now; Infinity: when something changes):
   * at once while a named process has no tunnel, else at the next re-check; never before the
   * back-off ends, nor past the requests' budget.
   */
  #nextOpenIn(): number {
    const now = this.#now();
    const window = this.#opts.opensWindowMs ?? 60_000;
    this.#recent = this.#recent.filter((at) => now - at < window);
    const missing = this.#held.size === 0 || this.#known.some((id) => !this.#held.has(id));
    let at = missing ? now : this.#named ? this.#lastOpen + (this.#opts.recheckMs ?? 60_000) : Infinity;
    at = Math.max(at, this.#notBefore);
    // With no tunnel open, only the back-off paces the attempts (as with one process); the budget
    // bounds the extra ones made to reach more processes.
    const budget = Math.max(0, Math.floor((this.#opts.opensPerProcess ?? 4) * Math.max(1, this.#known.length)));
    if (this.#held.size > 0 && this.#recent.length >= budget) at = budget === 0 ? Infinity : Math.max(at, this.#recent[this.#recent.length - budget]! + window);
    return Math.max(0, at - now);
  }

  /** Waits `ms` (Infinity: until woken), or until woken by a tunnel closing or stop(). */
  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(resolve, Math.min(ms, 2 ** 31 - 1)) : undefined;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /** One tunnel request; a tunnel it opens is served until it closes. */
  async #openOne(): Promise<void> {
    const started = this.#now();
    if (this.#held.size > 0) this.#recent.push(started);
    this.#lastOpen = started;
    this.#opens += 1;
    let opened: OpenedTunnel;
    try {
      opened = await openTunnel(this.#opts.platformUrl, this.#opts.token, this.#opts.connectTimeoutMs ?? 10_000);
    } catch (err) {
      this.#failures += 1;
      this.#lastFailed = true;
      this.#lastError = err instanceof Error ? err.message : String(err);
      const fatal = err instanceof TunnelRefused && err.fatal;
      this.#attempt += 1;
      const delay = reconnectDelay(this.#attempt, this.#backoff, this.#random, fatal);
      this.#notBefore = this.#now() + delay;
      this.#log('opening the tunnel failed; trying again', { error: this.#lastError, inMs: delay });
      return;
    }
    if (!this.#running) {
      opened.socket.destroy();
      return;
    }
    this.#named = opened.processId !== '';
    this.#known = opened.processes;
    if (this.#held.has(opened.processId)) {
      this.#duplicates += 1;
    } else if (this.#owed > 0 || this.#lastFailed) {
      this.#reconnects += 1;
      this.#owed = Math.max(0, this.#owed - 1);
    }
    this.#lastFailed = false;
    this.#lastError = null;
    this.#serve(opened.socket, opened.processId);
    // Every process named is held: what dropped before (a process that stopped, say) is owed no more.
    if (this.#known.every((id) => this.#held.has(id))) this.#owed = 0;
  }

  /** Serves HTTP/2 on the upgraded socket until the session closes; it replaces an older tunnel to the same process. */
  #serve(socket: Socket, processId: string): void {
    const window = this.#opts.streamWindowBytes ?? 256 * 1024;
    const server = createServer({ settings: { initialWindowSize: window, enablePush: false } });
    server.on('stream', (stream, headers) => this.#forward(stream, headers));
    server.once('session', (session: ServerHttp2Session) => {
      const held: Held = { session, since: this.#now() };
      const previous = this.#held.get(processId);
      this.#held.set(processId, held);
      if (previous) {
        // The platform replaced it with this one already; calls under way on it finish there.
        previous.session.close();
      }
      const covered = this.stats;
      this.#log('tunnel open', { process: processId || undefined, tunnels: covered.tunnels, covered: covered.covered, processes: covered.processes });
      for (const wake of this.#connectedWaiters) wake();
      this.#connectedWaiters.clear();
      const interval = this.#opts.pingIntervalMs ?? 20_000;
      const ping = setInterval(() => {
        const sent = session.ping((err) => {
          if (err && !session.destroyed) session.destroy();
        });
        if (!sent) session.destroy();
      }, interval);
      ping.unref();
      session.on('error', (err: Error) => {
        this.#lastError = err.message;
      });
      session.once('close', () => {
        clearInterval(ping);
        socket.destroy();
        if (this.#held.get(processId) !== held) return;
        this.#held.delete(processId);
        if (!this.#running) return;
        // A drop: the process's tunnel is opened again after the back-off.
        const now = this.#now();
        if (now - held.since >= (this.#opts.stableMs ?? 30_000)) this.#attempt = 0;
        this.#attempt += 1;
        const delay = reconnectDelay(this.#attempt, this.#backoff, this.#random);
        this.#notBefore = Math.max(this.#notBefore, now + delay);
        this.#owed += 1;
        this.#log('a tunnel closed; opening it again', { process: processId || undefined, inMs: delay });
        this.#wake?.();
      });
    });
    server.emit('connection', socket);
  }

  /** Forwards one stream to its in-cluster address and streams the answer back. */
  #forward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // A reset stream errs; its 'close' below does what is needed.
    stream.on('error', () => {});
    const authority = headers[':authority'];
    const target = typeof authority === 'string' ? splitAuthority(authority) : undefined;
    if (!target || !this.#opts.allow(authority!)) {
      // Not an address this agent serves: refused like a replica it cannot reach.
      this.#log('the tunnel refused a call to an address the agent does not serve', { authority });
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    this.#streams += 1;
    let done = false;
    const to = this.#opts.connectTo?.(authority!, target) ?? target;
    const call = httpRequest({
      host: to.host,
      port: to.port,
      method: String(headers[':method'] ?? 'GET'),
      path: String(headers[':path'] ?? '/'),
      headers: { ...forwardedHeaders(headers), host: authority! },
      agent: this.#agent,
    });
    stream.once('close', () => {
      this.#streams -= 1;
      // Reset by the platform (the client left, a timeout): the replica stops working for nobody.
      if (!done) call.destroy();
    });
    call.once('response', (res) => {
      res.once('end', () => (done = true));
      if (stream.destroyed) {
        res.destroy();
        return;
      }
      const out: OutgoingHttpHeaders = { ':status': res.statusCode ?? 502, ...forwardedHeaders(res.headers) };
      stream.respond(out);
      pipeline(res, stream, (err) => {
        if (err && !stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
    call.once('error', () => {
      if (stream.destroyed) return;
      // Before an answer: the replica was not reached, and the gateway may try another.
      stream.close(stream.headersSent ? constants.NGHTTP2_INTERNAL_ERROR : constants.NGHTTP2_REFUSED_STREAM);
    });
    stream.pipe(call);
  }
}
