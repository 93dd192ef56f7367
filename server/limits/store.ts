/**
 * Where the limits keep their state: the API's request rates (`rpm`, server/http/rate-limit.ts)
 * and the gateway's tokens per minute (`tpm`) and calls in flight (`maxConcurrent`,
 * server/gateway/gateway.service.ts). One interface, two stores: this process's memory
 * ({@link MemoryLimitStore}), or Redis when `REDIS_URL` is set (redis-store.ts, behind
 * fallback.ts), so that the limits hold across every process that shares it. Both keep the same
 * rules, exactly: GCRA for requests (request-rates.ts), leaky buckets for tokens (token-rates.ts).
 */
import { RateLimiter, type Decision, type Limit } from './request-rates.js';
import { TokenRates, type Reservation, type TokenLimit } from './token-rates.js';

export type { Decision, Limit } from './request-rates.js';
export type { Reservation, TokenLimit } from './token-rates.js';

/** Releases a slot of `maxConcurrent`; calling it again does nothing. */
export type ReleaseSlot = () => void;

export interface LimitStore {
  /** Which store this is (a fallback store names its primary). */
  readonly kind: 'memory' | 'redis';
  /**
   * Counts one request against every limit if all allow it, else against none (GCRA,
   * request-rates.ts). No limits: allowed, with an infinite limit.
   */
  takeRequests(limits: readonly Limit[]): Promise<Decision>;
  /**
   * Reserves `estimate` tokens against every limit if all have room, else against none
   * (token-rates.ts). The reservation's `settle` never throws and is not awaited.
   */
  reserveTokens(limits: readonly TokenLimit[], estimate: number): Promise<Reservation>;
  /**
   * Takes one of `max` slots of `key` (> 0), or answers undefined when all are taken. A slot is
   * held until released; in a shared store, a slot whose process died frees itself (redis-store.ts).
   */
  takeSlot(key: string, max: number): Promise<ReleaseSlot | undefined>;
  /** Lets go of connections and timers; the store is not used after. */
  close(): Promise<void>;
}

/** The limits in this process's memory, bounded in size (each rule drops idle state). */
export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory';
  private readonly requests: RateLimiter;
  private readonly tokens: TokenRates;
  /** Slots taken per key. */
  private readonly inFlight = new Map<string, number>();

  /** `now`: the clock, in ms. */
  constructor(now: () => number) {
    this.requests = new RateLimiter(now);
    this.tokens = new TokenRates(now);
  }

  takeRequests(limits: readonly Limit[]): Promise<Decision> {
    return Promise.resolve(this.requests.take(limits));
  }

  reserveTokens(limits: readonly TokenLimit[], estimate: number): Promise<Reservation> {
    return Promise.resolve(this.tokens.reserve(limits, estimate));
  }

  takeSlot(key: string, max: number): Promise<ReleaseSlot | undefined> {
    return Promise.resolve(this.slot(key, max));
  }

  /** {@link takeSlot}, answered at once. */
  slot(key: string, max: number): ReleaseSlot | undefined {
    const held = this.inFlight.get(key) ?? 0;
    if (held >= max) return undefined;
    this.inFlight.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
