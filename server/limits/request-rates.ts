/**
 * Request rates by GCRA (the generic cell rate algorithm, as in ATM networks and redis-cell): a
 * limit of r a minute allows a burst of r and then one request every 60/r seconds; each limit
 * keeps one number, its theoretical arrival time. Exact, with no timers and no windows.
 *
 * This is the in-memory rule; the Redis store (redis-store.ts) runs the same steps in a Lua script,
 * and test/unit/limit-store.test.ts holds the two to the same answers.
 */

/** One limit a request counts against. */
export interface Limit {
  /** Identifies the limit's state, e.g. `tenant:tn_1`. */
  readonly key: string;
  /** Requests allowed per minute, and the burst allowed at once; > 0. */
  readonly perMinute: number;
  /** Which limit, in words for the client, e.g. "the tenant's rate". */
  readonly name: string;
}

/** The outcome of a request against its limits; `limit`, `remaining`, `resetSeconds` are of the tightest limit. */
export type Decision =
  | { readonly allowed: true; readonly limit: number; readonly remaining: number; readonly resetSeconds: number }
  | {
      readonly allowed: false;
      readonly limit: number;
      readonly remaining: 0;
      readonly resetSeconds: number;
      /** Whole seconds until the request would be allowed, at least 1. */
      readonly retryAfterSeconds: number;
      /** The `name` of the limit that refused it (the one that frees last). */
      readonly name: string;
    };

const PERIOD_MS = 60_000;
// Slack for floating-point sums of intervals (7 × 60000/7 may exceed 60000 by a hair).
const EPSILON_MS = 1e-6;

/**
 * GCRA over an injected clock (ms). State is one number per limit key, kept in least-recently-used
 * order; a key whose limit is fully replenished holds nothing a fresh key would not, so it is
 * dropped as the oldest entries are passed, and past `maxKeys` the least recently used entries
 * are dropped: memory stays bounded whatever keys are asked.
 */
export class RateLimiter {
  /** Per limit key: its theoretical arrival time (ms) and the rate it was taken at. */
  private readonly tats = new Map<string, { tat: number; perMinute: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** How many limit keys are held (for tests of the bound). */
  get size(): number {
    return this.tats.size;
  }

  /**
   * Counts one request against every limit if all of them allow it; otherwise counts it against
   * none and says which refused. No limits: allowed, with an infinite limit. A limit whose rate
   * changed keeps the requests already counted: those of the last minute count at the new rate.
   */
  take(limits: readonly Limit[]): Decision {
    const t = this.now();
    this.sweep(t);
    let tightest: { limit: number; remaining: number; resetMs: number } | undefined;
    let refusal: { limit: Limit; waitMs: number; resetMs: number } | undefined;
    const next: number[] = [];
    for (const l of limits) {
      const interval = PERIOD_MS / l.perMinute;
      const held = this.tats.get(l.key);
      // Only a clock stepped back puts a stored arrival time more than a minute ahead: it counts as
      // a used-up minute, kept so, and drains from there (not for as long as the clock went back).
      if (held && held.tat > t + PERIOD_MS) held.tat = t + PERIOD_MS;
      const backlog = held ? Math.max(0, held.tat - t) * (held.perMinute / l.perMinute) : 0;
      const tat = t + backlog + interval;
      next.push(tat);
      const ahead = tat - t;
      if (ahead > PERIOD_MS + EPSILON_MS) {
        const waitMs = ahead - PERIOD_MS;
        if (!refusal || waitMs > refusal.waitMs) refusal = { limit: l, waitMs, resetMs: ahead - interval };
        continue;
      }
      const remaining = Math.floor((PERIOD_MS - ahead + EPSILON_MS) / interval);
      if (!tightest || remaining < tightest.remaining) tightest = { limit: l.perMinute, remaining, resetMs: ahead };
    }
    if (refusal) {
      return {
        allowed: false,
        limit: refusal.limit.perMinute,
        remaining: 0,
        resetSeconds: Math.max(1, Math.ceil(refusal.resetMs / 1000)),
        retryAfterSeconds: Math.max(1, Math.ceil((refusal.waitMs - EPSILON_MS) / 1000)),
        name: refusal.limit.name,
      };
    }
    limits.forEach((l, i) => {
      this.tats.delete(l.key);
      this.tats.set(l.key, { tat: next[i]!, perMinute: l.perMinute });
    });
    while (this.tats.size > this.maxKeys) this.tats.delete(this.tats.keys().next().value!);
    if (!tightest) return { allowed: true, limit: Infinity, remaining: Infinity, resetSeconds: 0 };
    return { allowed: true, limit: tightest.limit, remaining: tightest.remaining, resetSeconds: Math.ceil(tightest.resetMs / 1000) };
  }

  /** Drops idle entries from the least recently used end, a few per call. */
  private sweep(t: number): void {
    let budget = 4;
    for (const [key, { tat }] of this.tats) {
      if (tat > t || budget-- === 0) return;
      this.tats.delete(key);
    }
  }
}
