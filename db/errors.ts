/**
 * PostgreSQL error codes the application reacts to, read the same way from `pg` and PGlite (both
 * put the SQLSTATE in `code`).
 */

/** Whether `err` carries SQLSTATE `code`. */
function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Whether `err` is a unique-constraint violation (SQLSTATE 23505), e.g. a name already taken. */
export function isUniqueViolation(err: unknown): boolean {
  return hasCode(err, '23505');
}

/** Whether `err` is a foreign-key violation (SQLSTATE 23503), e.g. deleting a row others still reference. */
export function isForeignKeyViolation(err: unknown): boolean {
  return hasCode(err, '23503');
}
