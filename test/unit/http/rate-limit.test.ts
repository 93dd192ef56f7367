import { expect } from 'chai';
import type { Principal } from '../../../server/auth/authenticate.js';
import { AppError } from '../../../server/errors.js';
import { requestRates, type DefaultRates, type SetRates } from '../../../server/http/rate-limit.js';
import { RateLimiter, type Limit } from '../../../server/limits/request-rates.js';
import { MemoryLimitStore } from '../../../server/limits/store.js';

/** A limiter over a clock the test moves (ms). */
function limiterAt(start = 1_000_000, maxKeys?: number): { limiter: RateLimiter; advance: (ms: number) => void } {
  let t = start;
  return { limiter: new RateLimiter(() => t, maxKeys), advance: (ms) => (t += ms) };
}

const limit = (key: string, perMinute: number, name = key): Limit => ({ key, perMinute, name });

describe('RateLimiter (GCRA)', () => {
  it('allows a burst of the limit, then refuses with the wait until the next request', () => {
    const { limiter } = limiterAt();
    const seen = [1, 2, 3].map(() => limiter.take([limit('k', 3)]));
    expect(seen.map((d) => d.allowed)).to.deep.equal([true, true, true]);
    expect(seen.map((d) => d.remaining)).to.deep.equal([2, 1, 0]);
    const refused = limiter.take([limit('k', 3, "the key's rate")]);
    expect(refused).to.deep.include({ allowed: false, limit: 3, remaining: 0, retryAfterSeconds: 20, name: "the key's rate" });
  });

  it('gives back one request per 60/limit seconds, and no more than the burst', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 3; i++) limiter.take([limit('k', 3)]);
    advance(19_999);
    expect(limiter.take([limit('k', 3)]).allowed).to.equal(false);
    advance(1);
    expect(limiter.take([limit('k', 3)]).allowed).to.equal(true);
    expect(limiter.take([limit('k', 3)]).allowed).to.equal(false);
    advance(10 * 60_000);
    expect([1, 2, 3, 4].map(() => limiter.take([limit('k', 3)]).allowed)).to.deep.equal([true, true, true, false]);
  });

  it('refuses no longer than the limit says when the clock steps back (an NTP step of ten minutes)', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 3; i++) limiter.take([limit('k', 3)]);
    advance(-10 * 60_000);
    // As if the whole minute were used: one request back after 20 s, not after ten minutes.
    expect(limiter.take([limit('k', 3)]).allowed).to.equal(false);
    advance(20_000);
    expect(limiter.take([limit('k', 3)]).allowed).to.equal(true);
  });

  const exact: ReadonlyArray<readonly [number]> = [[7], [60], [6000], [999_983]];
  for (const [perMinute] of exact) {
    it(`allows exactly ${perMinute} at once for a limit of ${perMinute} a minute`, () => {
      const { limiter } = limiterAt();
      let allowed = 0;
      while (limiter.take([limit('k', perMinute)]).allowed) allowed += 1;
      expect(allowed).to.equal(perMinute);
    });
  }

  it('a refusal by one limit counts against none; the one that frees last is named', () => {
    const { limiter } = limiterAt();
    expect(limiter.take([limit('tenant', 1)]).allowed).to.equal(true);
    const d = limiter.take([limit('tenant', 1, 'tenant'), limit('key', 2, 'key')]);
    expect(d).to.deep.include({ allowed: false, name: 'tenant', retryAfterSeconds: 60 });
    // The key's limit was not charged by the refused request: both of its two are still there.
    expect(limiter.take([limit('key', 2)]).remaining).to.equal(1);
  });

  it('a limit whose rate changes keeps what the last minute used, counted at the new rate', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 4; i++) limiter.take([limit('tenant', 4)]);
    expect(limiter.take([limit('tenant', 4)]).allowed).to.equal(false);
    // Raised to 40: the 4 used leave 36.
    expect(limiter.take([limit('tenant', 40)])).to.deep.include({ allowed: true, remaining: 35 });
    // Lowered to 2: the 5 used are more than 2, so the wait is for 3 of them to age at 2 a minute.
    const d = limiter.take([limit('tenant', 2)]);
    expect(d).to.deep.include({ allowed: false, retryAfterSeconds: 120 });
  });

  it('reports the tightest of several limits', () => {
    const { limiter } = limiterAt();
    const d = limiter.take([limit('tenant', 100), limit('key', 5)]);
    expect(d).to.deep.include({ allowed: true, limit: 5, remaining: 4, resetSeconds: 12 });
  });

  it('says at least one second to wait, however short the wait', () => {
    const { limiter } = limiterAt();
    limiter.take([limit('k', 600_000)]);
    let d = limiter.take([limit('k', 600_000)]);
    while (d.allowed) d = limiter.take([limit('k', 600_000)]);
    expect(d.allowed).to.equal(false);
    if (!d.allowed) expect(d.retryAfterSeconds).to.equal(1);
  });

  it('keeps at most maxKeys entries, dropping the least recently used', () => {
    const { limiter } = limiterAt(0, 100);
    for (let i = 0; i < 10_000; i++) limiter.take([limit(`random-${i}`, 1)]);
    expect(limiter.size).to.equal(100);
    // The most recent keys are still limited.
    expect(limiter.take([limit('random-9999', 1)]).allowed).to.equal(false);
  });

  it('drops keys that have gone idle as later requests pass by', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 8; i++) limiter.take([limit(`k${i}`, 60)]);
    advance(1001);
    for (let i = 0; i < 3; i++) limiter.take([limit('busy', 60)]);
    expect(limiter.size).to.be.at.most(2);
  });
});

describe('requestRates (the pipeline hook)', () => {
  const defaults: DefaultRates = { tenantRpm: 10, keyRpm: 5, agentRpm: 4 };

  async function run(
    principal: Principal,
    times: number,
    opts: { set?: SetRates; defaults?: DefaultRates } = {},
  ): Promise<{ allowed: number; error?: AppError; headers: Record<string, string> }> {
    const store = new MemoryLimitStore(() => 1_000_000);
    const admit = requestRates({ store, defaults: opts.defaults ?? defaults, ratesOf: () => Promise.resolve(opts.set ?? { tenantRpm: null, keyRpm: null }) });
    let allowed = 0;
    let headers: Record<string, string> = {};
    for (let i = 0; i < times; i++) {
      headers = {};
      try {
        await admit(principal, (name, value) => (headers[name] = value));
        allowed += 1;
      } catch (err) {
        return { allowed, error: err as AppError, headers };
      }
    }
    return { allowed, headers };
  }

  const key: Principal = { kind: 'tenant', tenantId: 'tn_1', apiKeyId: 'key_1' };

  it('limits a key by the platform default per key, and says so with Retry-After', async () => {
    const r = await run(key, 100);
    expect(r.allowed).to.equal(5);
    expect(r.error?.kind).to.equal('rate_limited');
    expect(r.error?.message).to.contain("the platform's rate per key");
    expect(r.error?.retryAfterSeconds).to.equal(12);
    expect(r.headers).to.include({ 'ratelimit-limit': '5', 'ratelimit-remaining': '0', 'ratelimit-reset': '60' });
  });

  it("a key's own rpm lowers its limit but cannot raise it past the platform's", async () => {
    expect((await run(key, 100, { set: { tenantRpm: null, keyRpm: 2 } })).allowed).to.equal(2);
    expect((await run(key, 100, { set: { tenantRpm: null, keyRpm: 50 } })).allowed).to.equal(5);
  });

  it("the tenant's operator-set rpm replaces the platform's per tenant, and binds every key and user", async () => {
    const user: Principal = { kind: 'tenant', tenantId: 'tn_1', userId: 'u_1' };
    const r = await run(user, 100, { set: { tenantRpm: 3, keyRpm: null } });
    expect(r.allowed).to.equal(3);
    expect(r.error?.message).to.contain("the tenant's rate (rpm)");
    expect((await run(key, 100, { set: { tenantRpm: 1000, keyRpm: null }, defaults: { ...defaults, keyRpm: 0 } })).allowed).to.equal(100);
  });

  it('leaves the operator alone, limits agents by their own rate, and 0 turns a limit off', async () => {
    expect((await run({ kind: 'operator', name: 'admin' }, 200)).allowed).to.equal(200);
    expect((await run({ kind: 'agent', clusterId: 'cl_1' }, 100)).allowed).to.equal(4);
    expect((await run(key, 100, { defaults: { tenantRpm: 0, keyRpm: 0, agentRpm: 0 } })).allowed).to.equal(100);
  });
});
