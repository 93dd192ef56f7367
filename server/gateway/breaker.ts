/**
 * Circuit breakers, one per upstream endpoint (a serving replica's base URL).
 *
 * closed → open after `failureThreshold` consecutive failures (connection errors, timeouts, 5xx:
 * the caller decides what a failure is). While open, the endpoint takes nothing for the cooldown.
 * After the cooldown it is half-open: exactly one request (the probe) may go; its success closes the
 * breaker and resets the cooldown, its failure re-opens it with the cooldown doubled, up to
 * `maxCooldownMs`. Time is read from the injected `now`, so tests move it by hand.
 */

/** A breaker's state, as metrics show it. */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** The time in ms (Date.now-like); injected so cooldowns are testable without waiting. */
  readonly now: () => number;
  /** Consecutive failures that open a closed breaker; at least 1. Default 5. */
  readonly failureThreshold?: number;
  /** The first cooldown in ms. Default 5,000. */
  readonly cooldownMs?: number;
  /** The longest cooldown in ms, however often the probe fails. Default 60,000. */
  readonly maxCooldownMs?: number;
}

/**
 * Leave to send one request to an endpoint, from {@link CircuitBreakers.enter}. Report its outcome
 * once: the first of `success`, `failure` or `release` counts, later calls do nothing. An outcome
 * reported after the breaker changed state since the pass was given (a request that was already
 * under way when the breaker opened) is ignored: only the probe decides a half-open breaker.
 */
export interface BreakerPass {
  /** This pass is the half-open breaker's single probe. */
  readonly probe: boolean;
  /** The endpoint answered (any status that is not its fault). */
  success(): void;
  /** The endpoint failed: could not connect, timed out, or answered a server error. */
  failure(): void;
  /** No verdict (the client left, the endpoint was busy): a probe's slot is freed for the next request. */
  release(): void;
}

interface Breaker {
  state: 'closed' | 'open';
  failures: number;
  openedAt: number;
  cooldownMs: number;
  probing: boolean;
  /** Changes whenever the state does, so a stale pass cannot decide the new state. */
  generation: number;
}

export class CircuitBreakers {
  readonly #now: () => number;
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #maxCooldownMs: number;
  readonly #breakers = new Map<string, Breaker>();

  constructor(options: BreakerOptions) {
    this.#now = options.now;
    this.#threshold = Math.max(1, options.failureThreshold ?? 5);
    this.#cooldownMs = options.cooldownMs ?? 5_000;
    this.#maxCooldownMs = Math.max(this.#cooldownMs, options.maxCooldownMs ?? 60_000);
  }

  /** The state of `endpoint`'s breaker now; an endpoint never seen is closed. */
  state(endpoint: string): BreakerState {
    const b = this.#breakers.get(endpoint);
    if (!b || b.state === 'closed') return 'closed';
    return this.#now() - b.openedAt >= b.cooldownMs ? 'half_open' : 'open';
  }

  /** Whether `endpoint` could take a request now (closed, or half-open with its probe not yet taken); takes nothing. */
  usable(endpoint: string): boolean {
    const state = this.state(endpoint);
    return state === 'closed' || (state === 'half_open' && !this.#breakers.get(endpoint)!.probing);
  }

  /** Leave to send one request to `endpoint`, or undefined while it is open or its half-open probe is under way. */
  enter(endpoint: string): BreakerPass | undefined {
    const state = this.state(endpoint);
    if (state === 'open') return undefined;
    let b = this.#breakers.get(endpoint);
    if (state === 'half_open') {
      if (b!.probing) return undefined;
      b!.probing = true;
      return this.#pass(b!, true);
    }
    if (!b) {
      b = { state: 'closed', failures: 0, openedAt: 0, cooldownMs: this.#cooldownMs, probing: false, generation: 0 };
      this.#breakers.set(endpoint, b);
    }
    return this.#pass(b, false);
  }

  /** Every endpoint that has a breaker, with its state (for metrics). */
  *states(): IterableIterator<[endpoint: string, state: BreakerState]> {
    for (const endpoint of this.#breakers.keys()) yield [endpoint, this.state(endpoint)];
  }

  /** Drops `endpoint`'s breaker (the endpoint left the routing table). */
  forget(endpoint: string): void {
    this.#breakers.delete(endpoint);
  }

  #pass(b: Breaker, probe: boolean): BreakerPass {
    const generation = b.generation;
    let done = false;
    const settle = (outcome: 'success' | 'failure' | 'release') => {
      if (done) return;
      done = true;
      if (b.generation !== generation) return;
      if (probe) {
        b.probing = false;
        if (outcome === 'success') this.#close(b);
        else if (outcome === 'failure') this.#open(b, Math.min(b.cooldownMs * 2, this.#maxCooldownMs));
        return;
      }
      if (b.state !== 'closed') return;
      if (outcome === 'success') b.failures = 0;
      else if (outcome === 'failure' && ++b.failures >= this.#threshold) this.#open(b, this.#cooldownMs);
    };
    return { probe, success: () => settle('success'), failure: () => settle('failure'), release: () => settle('release') };
  }

  #open(b: Breaker, cooldownMs: number): void {
    b.state = 'open';
    b.openedAt = this.#now();
    b.cooldownMs = cooldownMs;
    b.probing = false;
    b.generation += 1;
  }

  #close(b: Breaker): void {
    b.state = 'closed';
    b.failures = 0;
    b.cooldownMs = this.#cooldownMs;
    b.probing = false;
    b.generation += 1;
  }
}
