/**
 * One error type for everything a request can get wrong, mapped to RFC 9457 problem+json in one
 * place. Domain code throws AppError with a kind, never an HTTP status.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { isUniqueViolation } from '../db/errors.js';

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

/**
 * Writes `body` as JSON with its length. (Express's `res.json` would also hash it for an ETag,
 * which only a GET can use.)
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', `${type}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

export function sendProblem(res: ServerResponse, problem: Problem): void {
  sendJson(res, problem.status, problem, 'application/problem+json');
}

const INTERNAL: Problem = {
  type: 'https://tokenpool.dev/problems/internal',
  title: 'Internal Server Error',
  status: 500,
  detail: 'An unexpected error occurred.',
};

/** Answers an error as problem+json; one that no client caused is logged and answered 500. */
export function answerError(res: ServerResponse, err: unknown, log: (msg: string, fields: object) => void, where: { method?: string | undefined; path?: string | undefined }): void {
  const known = err instanceof AppError ? err : (fromParser(err) ?? fromDatabase(err));
  if (!known) log('unexpected error', { ...where, error: String((err as Error | undefined)?.stack ?? err) });
  sendProblem(res, known ? problemOf(known) : INTERNAL);
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
  if (isUniqueViolation(err)) return new AppError('conflict', 'The resource already exists.');
  return undefined;
}

export function errorHandler(log: (msg: string, fields: object) => void): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    answerError(res, err, log, { method: req.method, path: req.path });
  };
}
