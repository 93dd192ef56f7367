/**
 * The platform's end of the agents' tunnels (README "Tunnel"): a cluster that accepts no inbound
 * connection has its agent open one, `GET /api/v1/agent/tunnel` upgraded to `tokenpool-tunnel`,
 * and the gateway's calls to that cluster's replicas travel over it.
 *
 * After the upgrade the connection speaks HTTP/2 (node:http2, i.e. nghttp2) with the platform as
 * the client and the agent as the server: each call is one stream, many at once, each with its own
 * flow-control window, so a slow reader holds back its own replica and no other. A stream's
 * `:authority` is the in-cluster address the agent forwards it to (`tunnel://<host>:<port>`
 * endpoints, API.md v2); the agent forwards only to addresses it reported.
 *
 * One tunnel per cluster per process: a newer one from the same cluster replaces the older. A
 * tunnel lives in the process that accepted it; {@link Tunnels.connected} says whether this
 * process holds a cluster's, and the gateway routes to `tunnel://` endpoints only where it does.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AbortLike } from '../abort.js';
import type { Logger } from '../log.js';

/** The protocol named in `Upgrade:` to open a tunnel. */
export const TUNNEL_PROTOCOL = 'tokenpool-tunnel';

export interface TunnelsOptions {
  readonly log: Logger;
  /** Where the tunnel metrics go; none: not collected. */
  readonly registry?: Registry;
  /** A PING is sent this often; a tunnel whose PING is not answered within it is closed. Default 20,000 ms. */
  readonly pingIntervalMs?: number;
  /** Bytes of one call's answer that may wait unread in this process (its HTTP/2 stream window). Default 256 KiB. */
  readonly streamWindowBytes?: number;
  /** Bytes of all calls' answers on one tunnel that may wait unread (the connection window). Default 32 MiB. */
  readonly connectionWindowBytes?: number;
}

/** One call sent through a tunnel, as upstream.ts sends it to any endpoint. */
export interface TunnelRequest {
  /** `tunnel://<cluster id>@<host>:<port>` ({@link tunnelOrigin}). */
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly signal: AbortLike;
}

export interface TunnelResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** The answer's body, as it arrives; destroying it resets the stream (the agent then aborts its call). */
  readonly body: Readable;
}

export interface TunnelTimeouts {
  /** From the request sent to the answer's headers. */
  readonly headersTimeoutMs: number;
  /** Longest silence between two pieces of the answer's body. */
  readonly bodyTimeoutMs: number;
}

/** An error with a code upstream.ts reads (`UND_ERR_*_TIMEOUT` are timeouts, anything else a failure to connect). */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The endpoint the gateway calls for a `tunnel://<host>:<port>` endpoint of cluster `clusterId`:
 * the cluster in the user part, so that breakers and counts of two clusters' equal in-cluster
 * addresses stay apart, and the dispatcher knows whose tunnel to take.
 */
export function tunnelOrigin(endpoint: string, clusterId: string): string {
  return `tunnel://${encodeURIComponent(clusterId)}@${endpoint.slice('tunnel://'.length).replace(/\/+$/, '')}`;
}

interface Held {
  readonly session: ClientHttp2Session;
  readonly ping: NodeJS.Timeout;
}

export class Tunnels {
  readonly #log: Logger;
  readonly #held = new Map<string, Held>();
  readonly #pingIntervalMs: number;
  readonly #streamWindow: number;
  readonly #connectionWindow: number;
  readonly #seen = new Set<string>();
  #streams = 0;
  #closed = false;
  readonly #connects: Counter<'kind'> | undefined;

  constructor(options: TunnelsOptions) {
    this.#log = options.log;
    this.#pingIntervalMs = options.pingIntervalMs ?? 20_000;
    this.#streamWindow = options.streamWindowBytes ?? 256 * 1024;
    this.#connectionWindow = options.connectionWindowBytes ?? 32 * 1024 * 1024;
    const registry = options.registry;
    if (registry) {
      const held = this.#held;
      const streams = (): number => this.#streams;
      new Gauge({
        name: 'tokenpool_tunnels_connected',
        help: "Clusters whose agent's tunnel this process holds",
        registers: [registry],
        collect() {
          this.set(held.size);
        },
      });
      new Gauge({
        name: 'tokenpool_tunnel_streams_open',
        help: 'Gateway calls under way through tunnels held by this process',
        registers: [registry],
        collect() {
          this.set(streams());
        },
      });
      this.#connects = new Counter({
        name: 'tokenpool_tunnel_connects_total',
        help: 'Tunnels opened by agents, by kind: first (the cluster had none in this process before) or reconnect',
        labelNames: ['kind'] as const,
        registers: [registry],
      });
    }
  }

  /** Whether this process holds `clusterId`'s tunnel now. */
  connected(clusterId: string): boolean {
    const held = this.#held.get(clusterId);
    return held !== undefined && !held.session.closed && !held.session.destroyed;
  }

  /** Tunnels held, and calls under way through them. */
  get stats(): { readonly connected: number; readonly streams: number } {
    return { connected: this.#held.size, streams: this.#streams };
  }

  /**
   * Takes over an upgraded connection from `clusterId`'s agent (after the 101): speaks HTTP/2 over
   * it as the client, replacing the cluster's previous tunnel.
   */
  accept(clusterId: string, socket: Duplex, head: Buffer): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (head.length > 0) socket.unshift(head);
    // node:http keeps its sockets half-open; the agent's end closing is the tunnel's end.
    socket.once('end', () => socket.destroy());
    const session = connect('http://tokenpool-tunnel', {
      createConnection: () => socket,
      settings: { initialWindowSize: this.#streamWindow, enablePush: false },
    });
    // The agent's answers for all calls share this; each call is held to its stream window.
    session.on('connect', () => session.setLocalWindowSize(this.#connectionWindow));
    session.on('error', (err: Error) => this.#log.warn('tunnel failed', { clusterId, error: err.message }));
    const previous = this.#held.get(clusterId);
    const ping = setInterval(() => {
      const sent = session.ping((err) => {
        if (err && !session.destroyed) {
          this.#log.warn('tunnel did not answer a ping; closing it', { clusterId, error: err.message });
          session.destroy();
        }
      });
      if (!sent) session.destroy();
    }, this.#pingIntervalMs);
    ping.unref();
    const held: Held = { session, ping };
    this.#held.set(clusterId, held);
    this.#connects?.inc({ kind: this.#seen.has(clusterId) ? 'reconnect' : 'first' });
    this.#seen.add(clusterId);
    session.once('close', () => {
      clearInterval(ping);
      if (this.#held.get(clusterId) === held) this.#held.delete(clusterId);
      this.#log.info('tunnel closed', { clusterId });
    });
    if (previous) {
      clearInterval(previous.ping);
      // Calls under way on the old one finish there; it closes once they have.
      previous.session.close();
    }
    this.#log.info('tunnel opened', { clusterId });
  }

  /**
   * Sends one call through the tunnel `req.origin` names; resolves with the answer's status and
   * headers, its body streaming. Fails with code `TUNNEL_DOWN` when this process holds no tunnel
   * of the cluster, `TUNNEL_REFUSED` when the agent could not reach the replica, and undici's
   * timeout codes past `timeouts`.
   */
  request(req: TunnelRequest, timeouts: TunnelTimeouts): Promise<TunnelResponse> {
    const target = new URL(req.origin);
    const clusterId = decodeURIComponent(target.username);
    const held = this.#held.get(clusterId);
    if (!held || held.session.closed || held.session.destroyed) {
      return Promise.reject(coded('TUNNEL_DOWN', `this process holds no tunnel of cluster ${clusterId}`));
    }
    if (req.signal.aborted) return Promise.reject(coded('UND_ERR_ABORTED', 'aborted'));
    let stream: ClientHttp2Stream;
    try {
      stream = held.session.request({ ':method': req.method, ':path': req.path, ':authority': target.host, ...req.headers });
    } catch (err) {
      return Promise.reject(coded('TUNNEL_DOWN', (err as Error).message));
    }
    this.#streams += 1;
    const onAbort = (): void => {
      stream.destroy(coded('UND_ERR_ABORTED', 'the call was aborted'));
    };
    req.signal.once('abort', onAbort);
    stream.once('close', () => {
      this.#streams -= 1;
      req.signal.off('abort', onAbort);
    });
    stream.setTimeout(timeouts.headersTimeoutMs, () => stream.destroy(coded('UND_ERR_HEADERS_TIMEOUT', 'no answer through the tunnel in time')));
    stream.end(req.body);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      const onClose = (): void => {
        const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
        reject(
          coded(
            refused ? 'TUNNEL_REFUSED' : 'TUNNEL_RESET',
            refused ? 'the agent could not reach the replica' : `the tunnel stream ended before an answer (code ${stream.rstCode ?? 'none'})`,
          ),
        );
      };
      stream.once('error', onError);
      stream.once('close', onClose);
      stream.once('response', (headers) => {
        stream.off('error', onError);
        stream.off('close', onClose);
        stream.setTimeout(timeouts.bodyTimeoutMs, () => stream.destroy(coded('UND_ERR_BODY_TIMEOUT', 'the answer through the tunnel stalled')));
        resolve({ statusCode: Number(headers[':status']), headers, body: bodyOf(stream) });
      });
    });
  }

  /** Closes `clusterId`'s tunnel at once, calls under way included (its agent token stopped working). */
  drop(clusterId: string): void {
    const held = this.#held.get(clusterId);
    if (!held) return;
    this.#held.delete(clusterId);
    clearInterval(held.ping);
    held.session.destroy();
    this.#log.info('tunnel dropped: its agent token stopped working', { clusterId });
  }

  /**
   * Closes every tunnel gracefully: no new calls, the calls under way finish (as the server's own
   * requests in flight do when it stops); the agents then reconnect to another process or the next start.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(
      sessions.map(
        ({ session, ping }) =>
          new Promise<void>((resolve) => {
            clearInterval(ping);
            if (session.destroyed) return resolve();
            session.once('close', () => resolve());
            session.close();
          }),
      ),
    );
  }
}

/**
 * A stream's answer body that ends only when the agent ended the stream: node:http2 ends a
 * stream's readable side also when its tunnel drops (with a non-zero `rstCode`), which would pass
 * a cut answer for a whole one. Destroying the body resets the stream.
 */
function bodyOf(stream: ClientHttp2Stream): Readable {
  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  stream.pipe(body, { end: false });
  stream.once('error', (err: Error) => body.destroy(err));
  stream.once('close', () => {
    if (body.destroyed) return;
    if (stream.rstCode === constants.NGHTTP2_NO_ERROR) body.end();
    else body.destroy(coded('TUNNEL_RESET', `the tunnel stream was reset (code ${stream.rstCode ?? 'none'})`));
  });
  body.once('close', () => {
    if (!stream.destroyed) stream.destroy();
  });
  return body;
}
