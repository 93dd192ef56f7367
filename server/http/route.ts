/**
 * Routes are declared as data: method, path, who may call it, and zod schemas for params, query,
 * body and responses. The same declaration validates requests (pipeline.ts) and produces the
 * OpenAPI document, so the two cannot drift. A handler sees the request only through
 * HandlerInput and answers a Reply; it never touches the HTTP response.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type { AbortLike } from '../abort.js';
import type { FieldError } from '../errors.js';
import type { Principal, PrincipalKind } from '../auth/authenticate.js';

type AnyObject = z.ZodType<Record<string, unknown>>;

/**
 * A cookie the answer sets. The pipeline writes it with `Path=/; HttpOnly; SameSite=Strict`,
 * `Secure` when the client came over TLS, and `Expires` from the injected clock.
 */
export interface Cookie {
  readonly name: string;
  readonly value: string;
  /** How long the browser keeps it, in milliseconds; 0 clears it. */
  readonly maxAgeMs: number;
}

/** A handler's answer: status, JSON body (none when undefined), extra headers and cookies. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cookies?: readonly Cookie[];
  /**
   * An answer written as it is produced (the token gateway's streams), instead of `body`: the
   * pipeline calls it after setting `headers`. What it throws before it called `out.head` is
   * answered as any error; after, the answer is cut.
   */
  readonly stream?: (out: ReplyStream) => Promise<void>;
  /**
   * Takes over the connection of a route that upgrades (`RouteSpec.upgrade`): the pipeline answers
   * `101 Switching Protocols` and hands over the socket with any bytes read past the request
   * (`head`). The connection is then the callee's; `status` must be 101.
   */
  readonly upgrade?: (socket: Duplex, head: Buffer) => void;
}

/** Where a streamed reply goes. */
export interface ReplyStream {
  /** The answer, written as it comes (honour `write`'s backpressure). Ended by the streamer. */
  readonly body: ServerResponse;
  /** Sets the status and headers; once, before the first write, which sends them (they are not sent alone). */
  head(status: number, headers: Readonly<Record<string, string>>): void;
  /** Aborted when the client leaves before the answer ended. */
  readonly signal: AbortLike;
  /** The request id the answer carries in `x-request-id`. */
  readonly requestId: string;
}

export interface HandlerInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly principal: Principal;
  /** A request header by its lower-case name (repeated ones joined with ", "); undefined when absent. */
  readonly header: (name: string) => string | undefined;
  /**
   * The client's address (what sign-in throttles by): the socket's, or behind trusted proxies the
   * real client's (client-address.ts); undefined when the socket has none.
   */
  readonly address?: string | undefined;
}
export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** The answer may also come as `text/event-stream` (a streamed completion). */
  readonly eventStream?: boolean;
  /** The answer is text of this media type (`text/csv`), not JSON: the handler streams it. */
  readonly text?: string;
}

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  readonly method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Express path with `:name` parameters. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** Principals allowed to call; `public` needs no credentials. */
  readonly auth: readonly PrincipalKind[] | 'public';
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly headers?: readonly { name: string; description: string }[];
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** How its errors are answered: problem+json (the default), or OpenAI's `{ error }` (the token gateway under `/v1`). */
  readonly errorFormat?: 'problem' | 'openai';
  /**
   * `json` (the default): a body is read when its Content-Type is JSON. `any`: read as JSON whatever
   * the type says, as OpenAI-compatible servers do (`curl -d` sends a form's type).
   */
  readonly bodyType?: 'json' | 'any' | 'csv';
  /**
   * The protocol this route switches to (`Upgrade: <protocol>`), e.g. the agent's tunnel. Such a
   * route is authenticated like any other, and answers a request without that upgrade 426 (with
   * `Upgrade: <protocol>`); its handler answers a Reply with `upgrade`.
   */
  readonly upgrade?: string;
  handler(input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<Reply>;
}

/**
 * A route with its type parameters erased, as the registry keeps it. `handler` is a method, so a
 * route typed by `route()` stands as an AnyRoute (method parameters are checked bivariantly).
 */
export type AnyRoute = RouteSpec<AnyObject, AnyObject, z.ZodType>;

export function route<
  P extends AnyObject = z.ZodObject<Record<never, never>>,
  Q extends AnyObject = z.ZodObject<Record<never, never>>,
  B extends z.ZodType = z.ZodUndefined,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return spec;
}

/** Maps zod issues to API.md's `errors[]`: dot-separated paths, one entry per unknown key. */
export function fieldErrors(error: z.ZodError, base: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const path = [base, ...issue.path.map(String)].filter((s) => s !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: path ? `${path}.${key}` : key, message: 'unknown field' });
      }
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}
