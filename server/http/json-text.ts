/**
 * The JSON text of an answer's body. A `bigint` is written as the exact JSON integer it is (token
 * sums pass 2^53, where a JS number would round them; `JSON.stringify` refuses bigints). Bodies
 * without one take `JSON.stringify` alone, at its speed.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  const text = exact(value);
  if (text === undefined) throw new TypeError('the body has no JSON text');
  return text;
}

// JSON.stringify's rules (toJSON, undefined and functions left out of objects, null in arrays),
// with bigints as integers.
function exact(value: unknown): string | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') return exact((withToJson.toJSON as () => unknown).call(value));
  if (Array.isArray(value)) return `[${value.map((v) => exact(v) ?? 'null').join(',')}]`;
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const text = exact(v);
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
