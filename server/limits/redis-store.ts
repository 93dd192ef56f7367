/**
 * The limits in Redis, shared by every process that points at it (`REDIS_URL`). Each check is one
 * Lua script, so one round trip and atomic: no other process's check runs between its read and its
 * write. The scripts run the in-memory rules step for step (request-rates.ts, token-rates.ts), on
 * the same doubles, over the caller's clock (processes' clocks are assumed to agree, as NTP keeps
 * them, to well under a request's interval); test/unit/limit-store.test.ts holds both stores to the
 * same answers.
 *
 * State: `<prefix>rpm:<key>` holds a limit's theoretical arrival time and rate, `<prefix>tpm:<key>`
 * a bucket's level, time and rate, each expiring once it holds nothing a fresh key would not;
 * `<prefix>slots:<key>` is a sorted set of slot ids scored by their deadline. A slot lives
 * {@link SLOT_TTL_MS} and its process renews it every third of that while the call runs, so the
 * slots of a process that died free themselves within {@link SLOT_TTL_MS}.
 *
 * A failed command rejects (the fallback store, fallback.ts, then answers from memory); a failure
 * after the check (settling tokens, releasing or renewing a slot) goes to `onError` and is
 * otherwise ignored: the bucket drains and the slot expires on their own.
 *
 * The scripts touch several keys at once: a single Redis (or a primary with replicas), not Redis
 * Cluster.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Decision, Limit } from './request-rates.js';
import type { ReleaseSlot, LimitStore } from './store.js';
import { reserved, type Reservation, type TokenLimit } from './token-rates.js';

/** How long a slot of `maxConcurrent` is held without being renewed (a process that died holds it this long at most). */
export const SLOT_TTL_MS = 30_000;

/** Which limit a failure was on, for the metric's label. */
export type LimitKind = 'rpm' | 'tpm' | 'concurrency';

// GCRA, as RateLimiter.take: KEYS the limits, ARGV[1] the time (ms), ARGV[1+i] limit i's rate.
// Answers {1, index of the tightest limit, its remaining, its reset (s)} or {0, index of the
// refusing limit, its reset (s), retry after (s)}.
const TAKE_REQUESTS = `
local PERIOD = 60000
local EPSILON = 1e-6
local t = tonumber(ARGV[1])
local nexts = {}
local tightest, tightestRemaining, tightestReset
local refusal, refusalWait, refusalReset
for i = 1, #KEYS do
  local pm = tonumber(ARGV[i + 1])
  local interval = PERIOD / pm
  local backlog = 0
  local held = redis.call('GET', KEYS[i])
  if held then
    local tat, heldPm = string.match(held, '^(%S+) (%S+)$')
    tat = tonumber(tat)
    -- Only a clock stepped back puts it more than a minute ahead: a used-up minute, kept so.
    if tat > t + PERIOD then
      tat = t + PERIOD
      redis.call('SET', KEYS[i], string.format('%.17g %s', tat, heldPm), 'PX', PERIOD + 1000)
    end
    backlog = math.max(0, tat - t) * (tonumber(heldPm) / pm)
  end
  local tat = t + backlog + interval
  nexts[i] = tat
  local ahead = tat - t
  if ahead > PERIOD + EPSILON then
    local wait = ahead - PERIOD
    if not refusal or wait > refusalWait then
      refusal, refusalWait, refusalReset = i, wait, ahead - interval
    end
  else
    local remaining = math.floor((PERIOD - ahead + EPSILON) / interval)
    if not tightest or remaining < tightestRemaining then
      tightest, tightestRemaining, tightestReset = i, remaining, ahead
    end
  end
end
if refusal then
  return {0, refusal, math.max(1, math.ceil(refusalReset / 1000)), math.max(1, math.ceil((refusalWait - EPSILON) / 1000))}
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.17g %.17g', nexts[i], tonumber(ARGV[i + 1])), 'PX', math.ceil(nexts[i] - t) + 1000)
end
return {1, tightest, tightestRemaining, math.ceil(tightestReset / 1000)}
`;

// Leaky buckets, as TokenRates: a bucket's level at a time, and storing one.
const BUCKETS = `
local MINUTE = 60000
local function level(key, at)
  local b = redis.call('GET', key)
  if not b then return 0 end
  local lv, bat, bpm = string.match(b, '^(%S+) (%S+) (%S+)$')
  return math.max(0, tonumber(lv) - (math.max(0, at - tonumber(bat)) * tonumber(bpm)) / MINUTE)
end
local function put(key, lv, at, pm)
  if lv <= 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%.17g %.17g %.17g', lv, at, pm), 'PX', math.ceil((lv / pm) * MINUTE) + 1000)
  end
end
`;

// TokenRates.reserve: KEYS the buckets, ARGV[1] the time, ARGV[2] the estimate, ARGV[2+i] bucket
// i's rate. Answers {1} or {0, index of the refusing limit, retry after (s)}.
const RESERVE_TOKENS = `${BUCKETS}
local t = tonumber(ARGV[1])
local estimate = tonumber(ARGV[2])
local levels = {}
local refusal, refusalWait
for i = 1, #KEYS do
  local pm = tonumber(ARGV[i + 2])
  local lv = level(KEYS[i], t)
  levels[i] = lv
  if lv > 0 and lv + estimate > pm then
    local wait = ((lv + math.min(estimate, pm) - pm) / pm) * MINUTE
    if not refusal or wait > refusalWait then refusal, refusalWait = i, wait end
  end
end
if refusal then return {0, refusal, math.max(1, math.ceil(refusalWait / 1000))} end
for i = 1, #KEYS do put(KEYS[i], levels[i] + estimate, t, tonumber(ARGV[i + 2])) end
return {1}
`;

// A reservation's settlement: ARGV[1] the time, ARGV[2] the tokens counted, ARGV[3] the estimate,
// ARGV[3+i] bucket i's rate.
const SETTLE_TOKENS = `${BUCKETS}
local at = tonumber(ARGV[1])
for i = 1, #KEYS do
  put(KEYS[i], math.max(0, level(KEYS[i], at) + tonumber(ARGV[2]) - tonumber(ARGV[3])), at, tonumber(ARGV[i + 3]))
end
return 1
`;

// A slot: KEYS[1] the key's slots, ARGV the time, the most slots, the new slot's deadline, its id,
// and how long the set is kept (ms). Slots past their deadline are dropped first. Answers 1 or 0.
const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

// Renews slots still held: KEYS[i] slot i's set, ARGV[1] the new deadline, ARGV[2] how long the
// set is kept, ARGV[2+i] slot i's id. A slot already dropped (its deadline passed) is not revived.
const RENEW_SLOTS = `
for i = 1, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', ARGV[1], ARGV[i + 2]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
`;

type Args = (string | number)[];
interface Scripted {
  tpTakeRequests(keys: number, ...args: Args): Promise<number[]>;
  tpReserveTokens(keys: number, ...args: Args): Promise<number[]>;
  tpSettleTokens(keys: number, ...args: Args): Promise<number>;
  tpTakeSlot(keys: number, ...args: Args): Promise<number>;
  tpRenewSlots(keys: number, ...args: Args): Promise<number>;
}

export interface RedisStoreOptions {
  /** A connected (or connecting) client; the store defines its scripts on it and quits it on close. */
  readonly redis: Redis;
  /** The clock, in ms. */
  readonly now: () => number;
  /** Prepended to every key (e.g. `tokenpool:`), so that platforms may share a Redis. */
  readonly prefix: string;
  /** Told of failures after a check (settling, releasing, renewing). */
  readonly onError: (limit: LimitKind, err: unknown) => void;
}

export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis';
  private readonly redis: Redis & Scripted;
  /** Slots this process holds: id → their set's key. */
  private readonly held = new Map<string, string>();
  private readonly renewal: NodeJS.Timeout;

  constructor(private readonly opts: RedisStoreOptions) {
    const r = opts.redis;
    r.defineCommand('tpTakeRequests', { lua: TAKE_REQUESTS });
    r.defineCommand('tpReserveTokens', { lua: RESERVE_TOKENS });
    r.defineCommand('tpSettleTokens', { lua: SETTLE_TOKENS });
    r.defineCommand('tpTakeSlot', { lua: TAKE_SLOT });
    r.defineCommand('tpRenewSlots', { lua: RENEW_SLOTS });
    this.redis = r as Redis & Scripted;
    this.renewal = setInterval(() => this.renew(), SLOT_TTL_MS / 3);
    this.renewal.unref();
  }

  async takeRequests(limits: readonly Limit[]): Promise<Decision> {
    if (limits.length === 0) return { allowed: true, limit: Infinity, remaining: Infinity, resetSeconds: 0 };
    const keys = limits.map((l) => `${this.opts.prefix}rpm:${l.key}`);
    const answer = await this.redis.tpTakeRequests(keys.length, ...keys, this.opts.now(), ...limits.map((l) => l.perMinute));
    const [allowed, index, a, b] = answer as [number, number, number, number];
    const limit = limits[index - 1]!;
    if (allowed === 1) return { allowed: true, limit: limit.perMinute, remaining: a, resetSeconds: b };
    return { allowed: false, limit: limit.perMinute, remaining: 0, resetSeconds: a, retryAfterSeconds: b, name: limit.name };
  }

  async reserveTokens(limits: readonly TokenLimit[], estimate: number): Promise<Reservation> {
    const keys = limits.map((l) => `${this.opts.prefix}tpm:${l.key}`);
    const rates = limits.map((l) => l.perMinute);
    if (limits.length === 0) return reserved(() => {});
    const answer = await this.redis.tpReserveTokens(keys.length, ...keys, this.opts.now(), estimate, ...rates);
    const [ok, index, retryAfterSeconds] = answer as [number, number, number];
    if (ok !== 1) {
      const l = limits[index - 1]!;
      return { ok: false, name: l.name, perMinute: l.perMinute, retryAfterSeconds };
    }
    return reserved((actual) => {
      this.redis.tpSettleTokens(keys.length, ...keys, this.opts.now(), actual, estimate, ...rates).catch((err: unknown) => this.opts.onError('tpm', err));
    });
  }

  async takeSlot(key: string, max: number): Promise<ReleaseSlot | undefined> {
    const set = `${this.opts.prefix}slots:${key}`;
    const id = randomUUID();
    const now = this.opts.now();
    const taken = await this.redis.tpTakeSlot(1, set, now, max, now + SLOT_TTL_MS, id, 2 * SLOT_TTL_MS);
    if (taken !== 1) return undefined;
    this.held.set(id, set);
    return () => {
      if (!this.held.delete(id)) return;
      this.redis.zrem(set, id).catch((err: unknown) => this.opts.onError('concurrency', err));
    };
  }

  /** Moves every held slot's deadline on, in one round trip. */
  renew(): void {
    if (this.held.size === 0) return;
    const ids = [...this.held.keys()];
    const sets = ids.map((id) => this.held.get(id)!);
    this.redis
      .tpRenewSlots(sets.length, ...sets, this.opts.now() + SLOT_TTL_MS, 2 * SLOT_TTL_MS, ...ids)
      .catch((err: unknown) => this.opts.onError('concurrency', err));
  }

  async close(): Promise<void> {
    clearInterval(this.renewal);
    // Slots still held are released by their callers or expire; an unreachable Redis must not hold up the stop.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
