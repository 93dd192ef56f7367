/**
 * The typed API client: openapi-fetch over the types generated from the server's OpenAPI document
 * (schema.gen.d.ts), so a path, parameter or field the API does not have fails vue-tsc. Requests
 * go with the session cookie; every change carries the session's CSRF token. A failure becomes an
 * ApiError holding the problem+json answer (its `detail` and field `errors`).
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.gen';

export type { components, paths };

/** One field error of a problem+json answer: the dot-separated path of the field, and what is wrong. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** A failed request: the HTTP status and the problem's detail and field errors (status 0: no answer). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errors: readonly FieldError[] = [],
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;
/** The session's CSRF token, sent in X-CSRF-Token on every request that changes something. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD' && csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

/** Reads a problem+json (or any) error body into an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  const p = (body ?? {}) as { detail?: unknown; title?: unknown; errors?: unknown; error?: { message?: unknown } };
  const detail =
    typeof p.detail === 'string'
      ? p.detail
      : typeof p.error?.message === 'string'
        ? p.error.message
        : typeof p.title === 'string'
          ? p.title
          : typeof body === 'string' && body
            ? body
            : `HTTP ${status}`;
  const errors = Array.isArray(p.errors)
    ? p.errors.filter((e): e is FieldError => typeof e === 'object' && e !== null && typeof (e as FieldError).path === 'string')
    : [];
  return new ApiError(status, detail, errors);
}

/** The data of an openapi-fetch answer, or its error thrown as an ApiError. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await call;
  } catch (e) {
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  if (!answer.response.ok) throw toApiError(answer.response.status, answer.error);
  return answer.data as T;
}

export type Schemas = components['schemas'];
/** The JSON body of a 200 answer to GET `P`. */
export type Get<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer B } } } } } ? B : never;
