/**
 * Request rates on the API: how many requests a minute a tenant, each of its keys (or users) and
 * each agent may make, checked by the pipeline right after authentication and before the body is
 * read. Over a limit the answer is 429 problem+json naming the limit, with `Retry-After`; every
 * limited answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (the
 * IETF httpapi draft's fields) for the limit closest to running out.
 *
 * The algorithm is GCRA (the generic cell rate algorithm, as in ATM networks and redis-cell): a
 * limit of r a minute allows a burst of r and then one request every 60/r seconds; each limit
 * keeps one number, its theoretical arrival time. Exact, with no timers and no windows.
 *
 * Limits are per server process: with N processes (TOKENPOOL_WORKERS, or replicas) behind a
 * balancer that spreads requests, a client may make up to N times a limit. Set the limits with that
 * in mind; the token gateway's limits (API.md) hold across processes by other means.
 */
import type { Principal } from '../auth/authenticate.js';
import { rateLimited } from '../errors.js';

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

/** Requests per minute from the platform's configuration; 0 turns a limit off. */
export interface DefaultRates {
  /** Per tenant, when the operator has set none on it (`TOKENPOOL_TENANT_RPM`). */
  readonly tenantRpm: number;
  /** Per API key or tenant user, whatever the key's own `rpm` (`TOKENPOOL_KEY_RPM`). */
  readonly keyRpm: number;
  /** Per cluster agent (`TOKENPOOL_AGENT_RPM`). */
  readonly agentRpm: number;
}

/** The rates set on a tenant and on the key used (null: unset). */
export interface SetRates {
  readonly tenantRpm: number | null;
  readonly keyRpm: number | null;
}

/** The pipeline's hook after authentication: may set headers on the answer; throws a 429 AppError to refuse. */
export type Admission = (principal: Principal, setHeader: (name: string, value: string) => void) => Promise<void>;

/**
 * The request-rate check for the pipeline. A tenant's request counts against the tenant (its
 * operator-set `rpm`, else the platform default) and against the key or user making it (the
 * platform default per key, and the key's own `rpm` when set — a tenant admin can only lower
 * it). An agent counts against the platform's per-agent rate. The operator is not limited.
 */
export function requestRates(opts: {
  limiter: RateLimiter;
  defaults: DefaultRates;
  ratesOf: (tenantId: string, apiKeyId: string | undefined) => Promise<SetRates | undefined>;
}): Admission {
  const { limiter, defaults } = opts;
  return async (principal, setHeader) => {
    const limits: Limit[] = [];
    if (principal.kind === 'agent') {
      if (defaults.agentRpm > 0) limits.push({ key: `agent:${principal.clusterId}`, perMinute: defaults.agentRpm, name: "the platform's rate per agent" });
    } else if (principal.kind === 'tenant') {
      const set = await opts.ratesOf(principal.tenantId, principal.apiKeyId);
      const tenantRpm = set?.tenantRpm ?? defaults.tenantRpm;
      if (tenantRpm > 0) {
        limits.push({
          key: `tenant:${principal.tenantId}`,
          perMinute: tenantRpm,
          name: set?.tenantRpm ? "the tenant's rate (rpm)" : "the platform's rate per tenant",
        });
      }
      const who = principal.apiKeyId !== undefined ? `key:${principal.apiKeyId}` : principal.userId !== undefined ? `user:${principal.userId}` : undefined;
      if (who !== undefined) {
        const own = set?.keyRpm ?? 0;
        if (own > 0 && (defaults.keyRpm === 0 || own <= defaults.keyRpm)) limits.push({ key: who, perMinute: own, name: "the key's rate (rpm)" });
        else if (defaults.keyRpm > 0) limits.push({ key: who, perMinute: defaults.keyRpm, name: "the platform's rate per key" });
      }
    }
    if (limits.length === 0) return;
    const d = limiter.take(limits);
    setHeader('ratelimit-limit', String(d.limit));
    setHeader('ratelimit-remaining', String(d.remaining));
    setHeader('ratelimit-reset', String(d.resetSeconds));
    if (!d.allowed) {
      // Sent as Retry-After by the pipeline.
      throw rateLimited(`Too many requests: over ${d.name} of ${d.limit} a minute; try again in ${d.retryAfterSeconds} s.`, d.retryAfterSeconds);
    }
  };
}
