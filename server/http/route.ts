/**
 * Routes are declared as data: method, path, who may call it, and zod schemas for params, query,
 * body and responses. The same declaration validates requests and produces the OpenAPI document,
 * so the two cannot drift.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { AppError, sendJson, type FieldError } from '../errors.js';
import type { Authenticator, Principal, PrincipalKind } from '../auth/authenticate.js';

type AnyObject = z.ZodType<Record<string, unknown>>;

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HandlerInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly principal: Principal;
  /** The plain node:http request and response (routes may be answered without Express, see dispatch.ts). */
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
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
  handler(input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<Reply>;
}

/** A route with its type parameters erased, as the registry keeps it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<any, any, any>;

export function route<
  P extends AnyObject = z.ZodObject<{}>,
  Q extends AnyObject = z.ZodObject<{}>,
  B extends z.ZodType = z.ZodUndefined,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return spec as AnyRoute;
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

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // Body paths are the fields themselves (`tokensPerMin`); query and path parameters say where.
  throw new AppError('invalid', `The request ${where} is invalid.`, fieldErrors(result.error, where === 'body' ? '' : where));
}

const EMPTY = z.strictObject({});
/** The body of a route that takes none: absent, or `{}` (clients often send one with actions). */
const NO_BODY = EMPTY.optional();

/** What a request brings to a route: its parts as parsed so far. */
export interface RouteRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: object;
  /** The parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
}

/** Authenticates, validates and runs one route; answers its reply (not yet written). */
export async function runRoute(spec: AnyRoute, auth: Authenticator, r: RouteRequest): Promise<Reply> {
  const principal = await auth.fromRequest(r.req as IncomingMessage & { method: string }, spec.auth);
  const params = parse(spec.params ?? EMPTY, { ...r.params }, 'params');
  const query = parse(spec.query ?? EMPTY, { ...r.query }, 'query');
  // Routes without a body schema take none, but unknown fields are refused everywhere (API.md).
  const body = spec.body ? parse(spec.body, r.body, 'body') : (parse(NO_BODY, r.body, 'body'), undefined);
  return spec.handler({ params, query, body, principal, req: r.req, res: r.res });
}

/** Registers routes on an Express router with authentication, validation and replies. */
export function mountRoutes(router: Router, routes: readonly AnyRoute[], auth: Authenticator): void {
  for (const spec of routes) {
    router[spec.method](spec.path, async (req: Request, res: Response) => {
      const reply = await runRoute(spec, auth, { req, res, params: req.params, query: req.query as object, body: req.body });
      if (reply.headers) res.set(reply.headers);
      if (reply.body === undefined) res.status(reply.status).end();
      else if (req.method === 'GET' || req.method === 'HEAD') res.status(reply.status).json(reply.body);
      else sendJson(res, reply.status, reply.body);
    });
  }
}
