import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createLimitStore, FallbackLimitStore, SKIP_MS } from '../../server/limits/fallback.js';
import { RedisLimitStore, SLOT_TTL_MS } from '../../server/limits/redis-store.js';
import { MemoryLimitStore, type LimitStore } from '../../server/limits/store.js';
import { silentLogger } from '../../server/log.js';
import { tcpRelay } from '../tcp-relay.js';
import { seededRandom } from './scheduler/builders.js';

const REDIS_URL = process.env.TEST_REDIS_URL;

/** A Redis store over a clock the test moves, on `prefix` (a process of its own: a client of its own). */
function redisStore(clock: { t: number }, prefix: string): RedisLimitStore {
  const redis = new Redis(REDIS_URL!, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  return new RedisLimitStore({ redis, now: () => clock.t, prefix, onError: () => {} });
}

(REDIS_URL ? describe : describe.skip)(
  `limit store in Redis: the same answers as in memory${REDIS_URL ? '' : ' (skipped: TEST_REDIS_URL is unset; .ci/run sets it)'}`,
  () => {
    const clock = { t: 1_792_720_800_000 };
    let memory: MemoryLimitStore;
    let redis: RedisLimitStore;
    let prefix: string;

    beforeEach(() => {
      clock.t = 1_792_720_800_000;
      memory = new MemoryLimitStore(() => clock.t);
      prefix = `test:${process.pid}:${Math.random().toString(36).slice(2)}:`;
      redis = redisStore(clock, prefix);
    });
    afterEach(async () => {
      await redis.close();
    });

    it('answers a seeded run of request-rate checks exactly as memory does (GCRA, rate changes, several limits, a clock stepped back)', async () => {
      const rand = seededRandom(7);
      const keys = ['tenant:a', 'key:a1', 'key:a2', 'agent:c'];
      const rates = [1, 3, 7, 60, 600];
      let refused = 0;
      for (let i = 0; i < 600; i++) {
        // Now and then the clock steps back ten minutes, as an NTP step may.
        clock.t += rand() < 0.02 ? -600_000 : Math.floor(rand() * (rand() < 0.2 ? 20_000 : 400));
        const limits = keys
          .filter(() => rand() < 0.6)
          .map((key) => ({ key, perMinute: rates[Math.floor(rand() * (rand() < 0.9 ? 2 : rates.length))]!, name: `the ${key}` }));
        const want = await memory.takeRequests(limits);
        const got = await redis.takeRequests(limits);
        expect(got, `check ${i}`).to.deep.equal(want);
        if (!want.allowed) refused++;
      }
      // The run passes through both answers often.
      expect(refused).to.be.within(100, 500);
    });

    it('answers a seeded run of token reservations and settlements exactly as memory does (a clock stepped back too)', async () => {
      const rand = seededRandom(11);
      const limitsOf = () =>
        [
          { key: 'key:k', perMinute: 1000, name: "the key's tpm" },
          { key: 'tenant:t', perMinute: rand() < 0.8 ? 1500 : 900, name: "the tenant's tpm" },
        ].filter(() => rand() < 0.8);
      const open: { memory: (n: number) => void; redis: (n: number) => void; estimate: number }[] = [];
      let refused = 0;
      for (let i = 0; i < 400; i++) {
        clock.t += rand() < 0.02 ? -600_000 : Math.floor(rand() * 3000);
        if (open.length > 0 && rand() < 0.5) {
          const r = open.splice(Math.floor(rand() * open.length), 1)[0]!;
          const actual = Math.floor(rand() * r.estimate * 1.5);
          r.memory(actual);
          r.redis(actual);
          continue;
        }
        const limits = limitsOf();
        const estimate = Math.floor(rand() * (rand() < 0.05 ? 3000 : 400));
        const want = await memory.reserveTokens(limits, estimate);
        const got = await redis.reserveTokens(limits, estimate);
        expect(got.ok, `reservation ${i}`).to.equal(want.ok);
        if (!want.ok) {
          refused++;
          expect(got).to.deep.equal(want);
        } else if (got.ok) open.push({ memory: (n) => want.settle(n), redis: (n) => got.settle(n), estimate });
        // A settlement is not awaited by its caller; here the next check waits for it (a round trip).
        await redis.takeRequests([]);
        await new Promise((r) => setImmediate(r));
      }
      expect(refused).to.be.within(20, 300);
    });

    it('holds maxConcurrent slots until released; a slot never renewed (its process died) frees itself after SLOT_TTL_MS', async () => {
      const a = await redis.takeSlot('key:k', 2);
      const b = await redis.takeSlot('key:k', 2);
      expect(a).to.be.a('function');
      expect(b).to.be.a('function');
      expect(await redis.takeSlot('key:k', 2)).to.equal(undefined);
      a!();
      a!();
      await redis.takeRequests([]);
      const c = await redis.takeSlot('key:k', 2);
      expect(c).to.be.a('function');
      expect(await redis.takeSlot('key:k', 2)).to.equal(undefined);

      // Another process sees the same slots; once their deadline passes unrenewed, they are free.
      const other = redisStore(clock, prefix);
      try {
        expect(await other.takeSlot('key:k', 2)).to.equal(undefined);
        clock.t += SLOT_TTL_MS - 1;
        expect(await other.takeSlot('key:k', 2)).to.equal(undefined);
        clock.t += 1;
        expect(await other.takeSlot('key:k', 2)).to.be.a('function');
      } finally {
        await other.close();
      }
    });

    it('renews the slots it holds, so a long call keeps its slot past SLOT_TTL_MS', async () => {
      const held = await redis.takeSlot('key:long', 1);
      expect(held).to.be.a('function');
      for (let i = 0; i < 5; i++) {
        clock.t += SLOT_TTL_MS / 3;
        redis.renew();
        await redis.takeRequests([]);
      }
      expect(await redis.takeSlot('key:long', 1)).to.equal(undefined);
      held!();
      await redis.takeRequests([]);
      expect(await redis.takeSlot('key:long', 1)).to.be.a('function');
    });

    it('falls back after the timeout, not later, when a connected Redis stops answering', async () => {
      const relay = await tcpRelay(new URL(REDIS_URL!));
      const registry = new Registry();
      const store = await createLimitStore({ redisUrl: relay.url, timeoutMs: 100, prefix, now: () => clock.t, log: silentLogger, registry });
      try {
        const limits = [{ key: 'key:frozen', perMinute: 1, name: 'the key' }];
        expect((await store.takeRequests(limits)).allowed).to.equal(true);
        expect((await store.takeRequests(limits)).allowed).to.equal(false);
        relay.freeze();
        const started = performance.now();
        // Answered by this process's memory, where the key is fresh.
        expect((await store.takeRequests(limits)).allowed).to.equal(true);
        expect(performance.now() - started).to.be.within(90, 1000);
        // The next checks skip the hung Redis for a second: no timeout each.
        const again = performance.now();
        expect((await store.takeRequests(limits)).allowed).to.equal(false);
        expect(performance.now() - again).to.be.below(50);
        expect(await registry.metrics()).to.match(/tokenpool_limits_store_errors_total\{limit="rpm"\} 2/);
      } finally {
        await relay.cut();
        await store.close();
      }
    });
  },
);

describe('limit store fallback', () => {
  const failing: LimitStore = {
    kind: 'redis',
    takeRequests: () => Promise.reject(new Error('down')),
    reserveTokens: () => Promise.reject(new Error('down')),
    takeSlot: () => Promise.reject(new Error('down')),
    close: () => Promise.resolve(),
  };

  it('after a failure, skips the shared store for SKIP_MS, then asks it again', async () => {
    let up = false;
    let asked = 0;
    const flaky: LimitStore = {
      ...failing,
      takeRequests: () => {
        asked++;
        return up ? Promise.resolve({ allowed: true, limit: 9, remaining: 8, resetSeconds: 1 }) : Promise.reject(new Error('down'));
      },
    };
    let ms = 0;
    const errors: string[] = [];
    const store = new FallbackLimitStore(
      flaky,
      new MemoryLimitStore(() => 0),
      (limit) => errors.push(limit),
      () => ms,
    );
    const rpm = [{ key: 'key:k', perMinute: 100, name: 'the key' }];
    expect((await store.takeRequests(rpm)).limit).to.equal(100);
    up = true;
    ms += SKIP_MS - 1;
    expect((await store.takeRequests(rpm)).limit).to.equal(100);
    expect(asked).to.equal(1);
    ms += 1;
    expect((await store.takeRequests(rpm)).limit).to.equal(9);
    expect(asked).to.equal(2);
    expect(errors).to.deep.equal(['rpm', 'rpm']);
  });

  it("answers every limit from this process's memory while the shared store fails, and says which failed", async () => {
    const t = 0;
    const errors: string[] = [];
    const store = new FallbackLimitStore(failing, new MemoryLimitStore(() => t), (limit) => errors.push(limit));
    const rpm = [{ key: 'key:k', perMinute: 2, name: 'the key' }];
    expect((await store.takeRequests(rpm)).allowed).to.equal(true);
    expect((await store.takeRequests(rpm)).allowed).to.equal(true);
    expect((await store.takeRequests(rpm)).allowed).to.equal(false);
    const tpm = [{ key: 'key:k', perMinute: 100, name: "the key's tpm" }];
    expect((await store.reserveTokens(tpm, 80)).ok).to.equal(true);
    expect((await store.reserveTokens(tpm, 80)).ok).to.equal(false);
    const slot = await store.takeSlot('key:k', 1);
    expect(slot).to.be.a('function');
    expect(await store.takeSlot('key:k', 1)).to.equal(undefined);
    slot!();
    expect(await store.takeSlot('key:k', 1)).to.be.a('function');
    expect(errors).to.deep.equal(['rpm', 'rpm', 'rpm', 'tpm', 'tpm', 'concurrency', 'concurrency', 'concurrency']);
  });

  describe('with a Redis that is not there or does not answer', () => {
    let sockets: Socket[] = [];
    let silent: Server;
    let silentUrl: string;
    let closedUrl: string;
    before(async () => {
      // Accepts connections and never answers a byte.
      silent = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
      await new Promise((r) => silent.once('listening', r));
      silentUrl = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const closed = createServer().listen(0, '127.0.0.1');
      await new Promise((r) => closed.once('listening', r));
      closedUrl = `redis://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise((r) => closed.close(r));
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      sockets = [];
      await new Promise((r) => silent.close(r));
    });

    for (const [what, url] of [
      ['refused connections', () => closedUrl],
      ['a server that never answers', () => silentUrl],
    ] as const) {
      it(`falls back within the timeout on ${what}, and counts it in tokenpool_limits_store_errors_total`, async () => {
        const registry = new Registry();
        const store = await createLimitStore({ redisUrl: url(), timeoutMs: 50, prefix: 't:', now: () => 0, log: silentLogger, registry });
        try {
          const started = performance.now();
          const decisions = [];
          for (let i = 0; i < 3; i++) decisions.push(await store.takeRequests([{ key: 'key:k', perMinute: 2, name: 'the key' }]));
          expect(decisions.map((d) => d.allowed)).to.deep.equal([true, true, false]);
          expect((await store.reserveTokens([{ key: 'key:k', perMinute: 10, name: 'tpm' }], 5)).ok).to.equal(true);
          expect(await store.takeSlot('key:k', 1)).to.be.a('function');
          // Five checks, each bounded by the 50 ms timeout (or failing at once while disconnected).
          expect(performance.now() - started).to.be.below(5 * 50 + 200);
          const text = await registry.metrics();
          expect(text).to.match(/tokenpool_limits_store_errors_total\{limit="rpm"\} 3/);
          expect(text).to.match(/tokenpool_limits_store_errors_total\{limit="tpm"\} 1/);
          expect(text).to.match(/tokenpool_limits_store_errors_total\{limit="concurrency"\} 1/);
        } finally {
          await store.close();
        }
      });
    }
  });
});
