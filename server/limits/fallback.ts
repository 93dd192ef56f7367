/**
 * The limit store a process uses: memory, or — with `REDIS_URL` — Redis, falling back to memory
 * while Redis does not answer (README "Limits across processes").
 *
 * The fallback, the same for every limit: a check Redis does not answer within
 * `timeoutMs` (or at once, while disconnected: commands are never queued) is answered by this
 * process's own limits in memory, counted in `tokenpool_limits_store_errors_total{limit}` and
 * logged as a warning (at most once per {@link WARN_EVERY_MS}). After a failure the checks of the
 * next {@link SKIP_MS} go to memory straight away, so that a Redis that hangs costs a call the
 * timeout at most once a second, not on every call. The limits then hold per process, as
 * without Redis: a client may get up to N times a limit from N processes for as long as Redis is
 * away, but no call fails because of the outage, and none waits for it longer than the timeout.
 * Failing closed instead would turn an outage of a cache into an outage of the city's gateway.
 */
import type { Redis as RedisClient } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Decision, Limit } from './request-rates.js';
import { RedisLimitStore, type LimitKind } from './redis-store.js';
import { MemoryLimitStore, type LimitStore, type ReleaseSlot } from './store.js';
import type { Reservation, TokenLimit } from './token-rates.js';

/** The shortest time between two warnings that Redis fails. */
export const WARN_EVERY_MS = 10_000;
/** How long a starting process waits for Redis before it serves without it. */
export const CONNECT_WAIT_MS = 2_000;
/** How long checks skip the shared store after it failed. */
export const SKIP_MS = 1_000;

/** A shared store in front of this process's memory, used when the shared one fails. */
export class FallbackLimitStore implements LimitStore {
  readonly kind: LimitStore['kind'];
  /** Until when (`monotonic` ms) checks skip the shared store. */
  private skipUntil = -Infinity;

  /** `onError` is told of each check the shared store did not answer (skipped ones too). */
  constructor(
    private readonly shared: LimitStore,
    private readonly local: LimitStore,
    private readonly onError: (limit: LimitKind, err: unknown) => void,
    /** A monotonic clock, in ms (the skip is about Redis's time, not the platform's clock). */
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.kind = shared.kind;
  }

  takeRequests(limits: readonly Limit[]): Promise<Decision> {
    return this.either('rpm', (s) => s.takeRequests(limits));
  }

  reserveTokens(limits: readonly TokenLimit[], estimate: number): Promise<Reservation> {
    return this.either('tpm', (s) => s.reserveTokens(limits, estimate));
  }

  takeSlot(key: string, max: number): Promise<ReleaseSlot | undefined> {
    return this.either('concurrency', (s) => s.takeSlot(key, max));
  }

  private async either<T>(limit: LimitKind, check: (store: LimitStore) => Promise<T>): Promise<T> {
    if (this.monotonic() < this.skipUntil) {
      this.onError(limit, new Error('skipped: the shared store failed less than a second ago'));
      return check(this.local);
    }
    try {
      return await check(this.shared);
    } catch (err) {
      this.skipUntil = this.monotonic() + SKIP_MS;
      this.onError(limit, err);
      return check(this.local);
    }
  }

  async close(): Promise<void> {
    await this.shared.close();
    await this.local.close();
  }
}

export interface LimitStoreOptions {
  /** `REDIS_URL`; undefined: the limits live in this process's memory. */
  readonly redisUrl: string | undefined;
  /** The most a Redis command may take before the check falls back (`TOKENPOOL_REDIS_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /** Prepended to every Redis key (`TOKENPOOL_REDIS_PREFIX`). */
  readonly prefix: string;
  /** The clock, in ms. */
  readonly now: () => number;
  readonly log: Logger;
  /** Where `tokenpool_limits_store_errors_total` goes. */
  readonly registry: Registry;
}

/**
 * The store for `opts`: memory without a Redis URL; else Redis behind the fallback, once it is
 * connected or {@link CONNECT_WAIT_MS} have passed (a process that starts while Redis is away
 * starts all the same). The client reconnects in the background, forever; while it is not
 * connected, checks fall back.
 */
export async function createLimitStore(opts: LimitStoreOptions): Promise<LimitStore> {
  const local = new MemoryLimitStore(opts.now);
  if (opts.redisUrl === undefined) return local;
  const errors = new Counter({
    name: 'tokenpool_limits_store_errors_total',
    help: "Limit checks and updates that Redis did not answer, by limit (rpm, tpm, concurrency); a failed check was answered by the process's own limits",
    labelNames: ['limit'] as const,
    registers: [opts.registry],
  });
  for (const limit of ['rpm', 'tpm', 'concurrency']) errors.inc({ limit }, 0);
  let warnedAt = -Infinity;
  let unsaid = 0;
  const warn = (message: string, fields: Record<string, unknown>): void => {
    const now = Date.now();
    unsaid++;
    if (now - warnedAt < WARN_EVERY_MS) return;
    opts.log.warn(message, { ...fields, since: unsaid });
    warnedAt = now;
    unsaid = 0;
  };
  // Loaded only here: a process without Redis never pays for the client's code (README "Memory").
  const { Redis } = await import('ioredis');
  const redis: RedisClient = new Redis(opts.redisUrl, {
    // Bounded time per check: a command fails after the timeout, or at once while disconnected.
    commandTimeout: opts.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(1000, opts.timeoutMs),
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  redis.on('error', (err: Error) => warn('redis for limits: connection failed; limits are per process until it is back', { error: err.message }));
  redis.on('ready', () => {
    if (warnedAt > -Infinity) opts.log.info('redis for limits: connected; limits are shared again', {});
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_WAIT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const onError = (limit: LimitKind, err: unknown): void => {
    errors.inc({ limit });
    warn('redis for limits: a command failed; this process answered from its own limits', { limit, error: err instanceof Error ? err.message : String(err) });
  };
  return new FallbackLimitStore(new RedisLimitStore({ redis, now: opts.now, prefix: opts.prefix, onError }), local, onError);
}
