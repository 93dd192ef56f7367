/**
 * Strings the database can store. PostgreSQL's text holds neither NUL (U+0000) nor an unpaired
 * UTF-16 surrogate (which has no UTF-8 form): either makes the statement fail. The pipeline
 * refuses them at the door, in every place a request carries text (body fields and their keys at
 * any depth, path parameters, query values, the headers and cookies handlers read), with the
 * field's path, so that no schema and no handler has to remember them.
 */
import { AppError } from '../errors.js';

/** NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `text` holds a NUL character or an unpaired surrogate. */
export function unstorable(text: string): boolean {
  return UNSTORABLE.test(text);
}

/** The 400 naming `path` (`name`, `params.id`, `header.idempotency-key`, …). */
export function unstorableError(path: string): AppError {
  return new AppError('invalid', 'The request holds a NUL character or an unpaired UTF-16 surrogate, which cannot be stored.', [
    { path, message: 'must not contain NUL characters (U+0000) or unpaired surrogates' },
  ]);
}

/** Throws {@link unstorableError} when `text` is not storable. */
export function checkStorable(text: string, path: string): void {
  if (UNSTORABLE.test(text)) throw unstorableError(path);
}

/**
 * Throws {@link unstorableError} for the first string in `value` (parsed JSON, or parsed query
 * and path parameters) that is not storable, keys included. `base` prefixes the paths ('' for a
 * body, whose paths are its fields). Walks with its own stack: a body may nest deeper than the
 * call stack goes.
 */
export function checkStorableTree(value: unknown, base: string): void {
  const stack: Array<readonly [unknown, string]> = [[value, base]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, path] = item;
    if (typeof v === 'string') {
      checkStorable(v, path);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(path, String(i))]);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        // The key cannot be named as it is; its unstorable characters are shown as U+FFFD.
        if (UNSTORABLE.test(key)) throw unstorableError(join(path, key.replace(new RegExp(UNSTORABLE.source, 'g'), '\ufffd')));
        stack.push([child, join(path, key)]);
      }
    }
  }
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}
