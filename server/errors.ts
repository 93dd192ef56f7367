/**
 * One error type for everything a request can get wrong, mapped to RFC 9457 problem+json in one
 * place. Domain code throws AppError with a kind, never an HTTP status.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';

export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'rate_limited';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly errors?: readonly FieldError[],
  ) {
    super(message);
    this.name = 'AppError';
  }
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

export function sendProblem(res: ServerResponse, problem: Problem): void {
  const text = JSON.stringify(problem);
  res.statusCode = problem.status;
  res.setHeader('content-type', 'application/problem+json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** The problem an error stands for, when it is one a client caused; undefined for a fault of ours. */
export function problemFor(err: unknown): Problem | undefined {
  const known = err instanceof AppError ? err : (fromParser(err) ?? fromDatabase(err));
  return known && problemOf(known);
}

/** Errors raised by body-parser before a route runs. */
function fromParser(err: unknown): AppError | undefined {
  const type = (err as { type?: unknown }).type;
  if (type === 'entity.parse.failed') return new AppError('invalid', 'The request body is not valid JSON.');
  if (type === 'entity.too.large') return new AppError('too_large', 'The request body is larger than 16 MiB.');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError('invalid', 'The request body must be UTF-8 JSON.');
  }
  return undefined;
}

/** PostgreSQL unique violations that escaped a repository become 409. */
function fromDatabase(err: unknown): AppError | undefined {
  if ((err as { code?: unknown }).code === '23505') return new AppError('conflict', 'The resource already exists.');
  return undefined;
}

export function errorHandler(log: (msg: string, fields: object) => void): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const problem = problemFor(err);
    if (problem) return sendProblem(res, problem);
    log('unexpected error', { method: req.method, path: req.path, error: String(err?.stack ?? err) });
    sendProblem(res, {
      type: 'https://tokenpool.dev/problems/internal',
      title: 'Internal Server Error',
      status: 500,
      detail: 'An unexpected error occurred.',
    });
  };
}
