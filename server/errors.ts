/**
 * One error type for everything a request can get wrong, mapped to RFC 9457 problem+json in one
 * place (`fail` in http/pipeline.ts). Domain code throws AppError with a kind, never an HTTP status.
 */
import { isUniqueViolation } from '../db/errors.js';

export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'bad_gateway'
  /** A route that only answers a protocol upgrade (the agent's tunnel) was called without one: 426. */
  | 'upgrade_required';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly errors?: readonly FieldError[],
    /** For `rate_limited` and `unavailable`: whole seconds after which a retry may succeed, sent as `Retry-After`. */
    readonly retryAfterSeconds?: number,
    /** A machine-readable code for OpenAI-shaped errors (`model_not_found`, `insufficient_quota`, …); see openAiErrorOf. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** A 429: too many requests or pending things; `Retry-After` says when to try again. */
export function rateLimited(message: string, retryAfterSeconds: number): AppError {
  return new AppError('rate_limited', message, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));
}

/** For seeding rows that may already be there: a conflict is passed over, anything else rethrown. */
export function ignoreConflict(err: unknown): void {
  if (err instanceof AppError && err.kind === 'conflict') return;
  throw err;
}

const STATUS: Record<ErrorKind, { status: number; title: string }> = {
  invalid: { status: 400, title: 'Bad Request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
  unprocessable: { status: 422, title: 'Unprocessable Content' },
  too_large: { status: 413, title: 'Content Too Large' },
  rate_limited: { status: 429, title: 'Too Many Requests' },
  unavailable: { status: 503, title: 'Service Unavailable' },
  bad_gateway: { status: 502, title: 'Bad Gateway' },
  upgrade_required: { status: 426, title: 'Upgrade Required' },
};

/** The HTTP status of an error kind. */
export function statusOf(kind: ErrorKind): number {
  return STATUS[kind].status;
}

/** An error as OpenAI's API answers it, under `/v1` (API.md v2 "Token gateway"). */
export interface OpenAiError {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

/** OpenAI's `type` for each kind of error: what its SDKs and their users look at. */
const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'invalid_request_error',
  conflict: 'invalid_request_error',
  unprocessable: 'invalid_request_error',
  too_large: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  unavailable: 'server_error',
  bad_gateway: 'server_error',
  upgrade_required: 'invalid_request_error',
};

/**
 * An AppError in OpenAI's shape: `type` from its kind (`insufficient_quota` is its own type, as
 * OpenAI answers it), `code` as given, `param` the first field in error.
 */
export function openAiErrorOf(err: AppError): OpenAiError {
  const param = err.errors?.[0]?.path;
  return {
    error: {
      message: err.errors?.length ? `${err.message} ${err.errors.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ')}` : err.message,
      type: err.code === 'insufficient_quota' ? 'insufficient_quota' : OPENAI_TYPE[err.kind],
      param: param === undefined || param === '' ? null : param,
      code: err.code ?? null,
    },
  };
}

/** The answer to an error that no client caused, in OpenAI's shape. */
export const INTERNAL_OPENAI_ERROR: OpenAiError = { error: { message: 'An unexpected error occurred.', type: 'server_error', param: null, code: null } };

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: readonly FieldError[];
}

export function problemOf(err: AppError): Problem {
  const { status, title } = STATUS[err.kind];
  return {
    type: `https://tokenpool.dev/problems/${err.kind.replace('_', '-')}`,
    title,
    status,
    detail: err.message,
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

/** The answer to an error that no client caused; its cause is logged, never told. */
export const INTERNAL_PROBLEM: Problem = {
  type: 'https://tokenpool.dev/problems/internal',
  title: 'Internal Server Error',
  status: 500,
  detail: 'An unexpected error occurred.',
};

/**
 * SQLSTATEs that only a value a client sent can cause, once the code is right: text the database
 * cannot store (22P05, 22021), a number or date out of its type's range (22003, 22008) or not of
 * its form (22007, 22P02), a string longer than its column (22001), a LIMIT or OFFSET out of range
 * (2201W, 2201X), a value too long for an index (54000). Not a server fault: 400.
 */
const CLIENT_DATA_ERRORS: ReadonlySet<string> = new Set(['22P05', '22021', '22003', '22008', '22007', '22P02', '22001', '2201W', '2201X', '54000']);

/**
 * The AppError a thrown value stands for, or undefined for an unexpected one (a bug or an
 * outage: answered 500). Besides AppError: unique violations that escaped a repository (409),
 * database errors that a value sent by the client caused (400, {@link CLIENT_DATA_ERRORS}), and
 * the 4xx errors of the HTTP libraries (a path parameter that is not valid percent-encoding).
 */
export function knownError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (isUniqueViolation(err)) return new AppError('conflict', 'The resource already exists.');
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CLIENT_DATA_ERRORS.has(code)) return new AppError('invalid', 'A value in the request is out of range or not storable.');
  const status = (err as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return status === 404 ? new AppError('not_found', 'Not found.') : new AppError('invalid', 'The request is malformed.');
  }
  return undefined;
}
