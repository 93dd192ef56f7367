/**
 * One error type for everything a request can get wrong, mapped to RFC 9457 problem+json in one
 * place (`fail` in http/pipeline.ts). Domain code throws AppError with a kind, never an HTTP status.
 */
import { isUniqueViolation } from '../db/errors.js';

export type ErrorKind = 'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'unprocessable' | 'too_large' | 'rate_limited' | 'unavailable';

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
};

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
