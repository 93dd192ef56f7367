/**
 * Tokens per minute (API.md v2: a key's and a tenant's `tpm`), by reservation: before a call, its
 * estimated tokens are reserved against every limit that has room; after it, the reservation is
 * settled to what the engine really counted. Each limit is a leaky bucket of `perMinute` tokens that
 * drains at `perMinute` a minute — exact, with no windows and no timers.
 *
 * A call estimated at more than a whole minute's tokens is let through when its bucket is empty
 * (else it could never be made); it then fills the bucket past the brim and the next calls wait.
 *
 * This is the in-memory rule; the Redis store (redis-store.ts) runs the same steps in Lua scripts,
 * and test/unit/limit-store.test.ts holds the two to the same answers.
 */

/** One token limit a call counts against. */
export interface TokenLimit {
  /** Identifies the bucket, e.g. `tenant:tn_1`. */
  readonly key: string;
  /** Tokens allowed a minute; > 0. */
  readonly perMinute: number;
  /** The limit in words, for the client: "the key's tpm". */
  readonly name: string;
}

export type Reservation =
  | { readonly ok: true; settle(actualTokens: number): void }
  | { readonly ok: false; readonly name: string; readonly perMinute: number; readonly retryAfterSeconds: number };

const MINUTE_MS = 60_000;

/** A granted reservation whose `settle` runs once; later calls do nothing. */
export function reserved(settle: (actualTokens: number) => void): Reservation {
  let settled = false;
  return {
    ok: true,
    settle: (actual) => {
      if (settled) return;
      settled = true;
      settle(actual);
    },
  };
}

export class TokenRates {
  /** Per bucket: its level in tokens at `at` (ms), least recently used first. */
  private readonly buckets = new Map<string, { level: number; at: number; perMinute: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Buckets held (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  /** Reserves `estimate` tokens against every limit if all have room; otherwise against none. */
  reserve(limits: readonly TokenLimit[], estimate: number): Reservation {
    const t = this.now();
    const levels = limits.map((l) => this.level(l, t));
    let refusal: { limit: TokenLimit; waitMs: number } | undefined;
    limits.forEach((l, i) => {
      const level = levels[i]!;
      if (level > 0 && level + estimate > l.perMinute) {
        const waitMs = ((level + Math.min(estimate, l.perMinute) - l.perMinute) / l.perMinute) * MINUTE_MS;
        if (!refusal || waitMs > refusal.waitMs) refusal = { limit: l, waitMs };
      }
    });
    if (refusal) {
      return { ok: false, name: refusal.limit.name, perMinute: refusal.limit.perMinute, retryAfterSeconds: Math.max(1, Math.ceil(refusal.waitMs / 1000)) };
    }
    limits.forEach((l, i) => this.put(l, levels[i]! + estimate, t));
    return reserved((actual) => {
      const at = this.now();
      for (const l of limits) this.put(l, Math.max(0, this.level(l, at) + actual - estimate), at);
    });
  }

  /** A bucket's level at `t`, drained since it was last set. */
  private level(l: TokenLimit, t: number): number {
    const b = this.buckets.get(l.key);
    if (!b) return 0;
    // A clock stepped back drains nothing rather than filling the bucket.
    return Math.max(0, b.level - (Math.max(0, t - b.at) * b.perMinute) / MINUTE_MS);
  }

  private put(l: TokenLimit, level: number, t: number): void {
    this.buckets.delete(l.key);
    this.buckets.set(l.key, { level, at: t, perMinute: l.perMinute });
    // Drained buckets hold nothing a new one would not; the least recently used go first.
    for (const [key, b] of this.buckets) {
      if (this.buckets.size <= this.maxKeys && b.level - ((t - b.at) * b.perMinute) / MINUTE_MS > 0) break;
      this.buckets.delete(key);
    }
  }
}
