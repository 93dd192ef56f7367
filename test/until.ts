import { inspect } from 'node:util';

/** Polls `probe` until `ok` holds of its value, or throws after `ms` naming what it waited for and the last value. */
export async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let value: T | undefined;
    let failure: unknown;
    try {
      value = await probe();
      if (ok(value)) return value;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}; last: ${failure === undefined ? JSON.stringify(value) : failure instanceof Error ? String(failure) : inspect(failure)}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
