import { expect } from 'chai';
import { PlatformError, type DesiredPlacement, type UsageEvent, type UsageRequest, type UsageResponse } from '../../../adapters/platform-client.js';
import { SimulatedCluster } from '../../../adapters/simulated/cluster.js';
import { OUTPUT_TOKENS_PER_MIN_PER_DEVICE, SimulatedServing } from '../../../adapters/simulated/serving.js';
import { UsageReporter, type CounterSample, type UsageReporterOptions } from '../../../adapters/usage-reporter.js';
import { MemoryStateStore, parseUsageState } from '../../../adapters/usage-state.js';

/** A platform that dedupes on the event id, as the real one does, and can be made unreachable. */
class FakePlatform {
  readonly requests: UsageRequest[] = [];
  readonly stored = new Map<string, UsageEvent>();
  failWith: Error | undefined;
  /** Stores the batch but loses the answer, as a timeout after the commit would. */
  loseAnswer = false;

  async usage(body: UsageRequest): Promise<UsageResponse> {
    if (this.failWith) throw this.failWith;
    this.requests.push(body);
    let accepted = 0;
    for (const e of body.events) {
      if (this.stored.has(e.id)) continue;
      this.stored.set(e.id, e);
      accepted++;
    }
    if (this.loseAnswer) throw new PlatformError('no answer', { kind: 'timeout', retryable: true });
    return { accepted, duplicates: body.events.length - accepted, rejected: [] };
  }

  total(): { input: number; output: number } {
    let input = 0;
    let output = 0;
    for (const e of this.stored.values()) {
      input += e.inputTokens;
      output += e.outputTokens;
    }
    return { input, output };
  }
}

const unreachable = () => new PlatformError('connect ECONNREFUSED', { kind: 'network', retryable: true });

class Clock {
  ms = Date.parse('2026-11-01T00:00:00Z');
  now = (): Date => new Date(this.ms);
}

function reporter(platform: FakePlatform, clock = new Clock(), opts: Partial<UsageReporterOptions> = {}): UsageReporter {
  return new UsageReporter({ cluster: 'nansha-1', client: platform, now: clock.now, random: () => 0.5, ...opts });
}

const sample = (pod: string, prompt: number, generation: number, extra: Partial<CounterSample> = {}): CounterSample => ({
  placementId: 'pl-1',
  workloadId: 'wl-1',
  pod,
  promptTokensTotal: prompt,
  generationTokensTotal: generation,
  ...extra,
});
const at = new Date('2026-11-01T00:00:10Z');

describe('UsageReporter', () => {
  describe('counter deltas', () => {
    it("reports each pod's growth since its previous scrape, and nothing for a pod seen first at start", async () => {
      const platform = new FakePlatform();
      const r = reporter(platform);
      r.observe([sample('p1', 100, 10)], at);
      expect(r.queued).to.equal(0);
      r.observe([sample('p1', 400, 110), sample('p2', 5, 5)], at);
      r.observe([sample('p1', 400, 110), sample('p2', 5, 5)], at);
      await r.flush();
      expect(platform.requests).to.have.length(1);
      expect(platform.requests[0]!.events).to.have.length(1);
      expect(platform.requests[0]!.events[0]).to.deep.include({ workloadId: 'wl-1', inputTokens: 300, outputTokens: 100, occurredAt: at.toISOString() });
      r.observe([sample('p1', 401, 110), sample('p2', 5, 7)], at);
      await r.flush();
      expect(platform.requests[1]!.events.map((e) => [e.inputTokens, e.outputTokens])).to.deep.equal([
        [1, 0],
        [0, 2],
      ]);
    });

    it('counts a pod born after the first scrape from zero', async () => {
      const platform = new FakePlatform();
      const r = reporter(platform);
      r.observe([], new Date('2026-11-01T00:00:00Z'));
      r.observe([sample('new', 40, 4, { startedAtMs: Date.parse('2026-11-01T00:00:05Z') })], at);
      // Started before the reporter's first scrape: an earlier agent may have reported it.
      r.observe([sample('old', 40, 4, { startedAtMs: Date.parse('2026-10-31T00:00:00Z') })], at);
      await r.flush();
      expect(platform.total()).to.deep.equal({ input: 40, output: 4 });
    });

    it('reads a counter that went down as a restart: the new value is the growth', async () => {
      const platform = new FakePlatform();
      const r = reporter(platform);
      r.observe([sample('p1', 1000, 100)], at);
      r.observe([sample('p1', 30, 7)], at);
      r.observe([sample('p1', 50, 9)], at);
      await r.flush();
      expect(platform.requests[0]!.events.map((e) => [e.inputTokens, e.outputTokens])).to.deep.equal([
        [30, 7],
        [20, 2],
      ]);
    });

    it('reads a new incarnation as a restart even when its counters already passed the old ones', async () => {
      const platform = new FakePlatform();
      const r = reporter(platform);
      r.observe([sample('p1', 100, 10, { incarnation: 'a' })], at);
      r.observe([sample('p1', 150, 15, { incarnation: 'b' })], at);
      r.observe([sample('p1', 0, 0, { incarnation: 'c' })], at);
      r.observe([sample('p1', 10, 1, { incarnation: 'c' })], at);
      await r.flush();
      expect(platform.requests[0]!.events.map((e) => [e.inputTokens, e.outputTokens])).to.deep.equal([
        [150, 15],
        [10, 1],
      ]);
    });

    it('ignores samples that are not whole non-negative counts', () => {
      const r = reporter(new FakePlatform());
      r.observe([sample('p1', 0, 0)], at);
      r.observe([sample('p1', 1.5, 0), sample('p1', -1, 0), sample('p1', Number.NaN, 0)], at);
      expect(r.queued).to.equal(0);
    });
  });

  describe('event ids', () => {
    it('names the same counter window the same way, and different windows, pods or placements differently', async () => {
      const ids = async (samples: CounterSample[][]) => {
        const platform = new FakePlatform();
        const r = reporter(platform);
        for (const s of samples) r.observe(s, at);
        await r.flush();
        return platform.requests.flatMap((b) => b.events.map((e) => e.id));
      };
      const a = await ids([[sample('p1', 0, 0)], [sample('p1', 10, 1)], [sample('p1', 20, 2)]]);
      const again = await ids([[sample('p1', 0, 0)], [sample('p1', 10, 1)], [sample('p1', 20, 2)]]);
      expect(a).to.deep.equal(again);
      expect(new Set(a).size).to.equal(2);
      // The same values after a restart, another pod, another placement: all different windows.
      const restarted = await ids([[sample('p1', 20, 2)], [sample('p1', 0, 0)], [sample('p1', 10, 1)], [sample('p1', 20, 2)]]);
      const otherPod = await ids([[sample('p2', 0, 0)], [sample('p2', 10, 1)], [sample('p2', 20, 2)]]);
      const otherPlacement = await ids([[sample('p1', 0, 0, { placementId: 'pl-2' })], [sample('p1', 10, 1, { placementId: 'pl-2' })]]);
      expect(restarted).to.have.length(2);
      const all = [...a, ...restarted, ...otherPod, ...otherPlacement];
      expect(new Set(all).size).to.equal(all.length);
      for (const id of all) expect(id).to.match(/^nansha-1:[A-Za-z0-9_-]{32}$/);
    });

    it('sends a batch whose answer was lost again with the same ids, so it counts once', async () => {
      const platform = new FakePlatform();
      const clock = new Clock();
      const r = reporter(platform, clock);
      r.observe([sample('p1', 0, 0)], at);
      r.observe([sample('p1', 300, 100)], at);
      platform.loseAnswer = true;
      await r.flush();
      expect(r.queued).to.equal(1);
      platform.loseAnswer = false;
      clock.ms = r.stats.retryAt!;
      await r.flush();
      expect(platform.requests.map((b) => b.events[0]!.id)).to.deep.equal([platform.requests[0]!.events[0]!.id, platform.requests[0]!.events[0]!.id]);
      expect(r.stats).to.deep.include({ accepted: 0, duplicates: 1, queued: 0 });
      expect(platform.total()).to.deep.equal({ input: 300, output: 100 });
    });
  });

  describe('sending', () => {
    it('sends in batches of at most batchSize, oldest first', async () => {
      const platform = new FakePlatform();
      const r = reporter(platform, new Clock(), { batchSize: 2 });
      r.observe([sample('p1', 0, 0)], at);
      for (let i = 1; i <= 5; i++) r.observe([sample('p1', i * 10, i)], at);
      await r.flush();
      expect(platform.requests.map((b) => b.events.map((e) => e.inputTokens))).to.deep.equal([[10, 10], [10, 10], [10]]);
      expect(r.stats).to.deep.include({ sent: 5, accepted: 5, queued: 0 });
      expect(() => reporter(platform, new Clock(), { batchSize: 10_001 })).to.throw(RangeError);
    });

    it('keeps events while the platform is unreachable and retries after a growing, jittered backoff', async () => {
      const platform = new FakePlatform();
      const clock = new Clock();
      const r = reporter(platform, clock, { backoffBaseMs: 1000, maxBackoffMs: 8000 });
      r.observe([sample('p1', 0, 0)], at);
      r.observe([sample('p1', 10, 1)], at);
      platform.failWith = unreachable();
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        const before = clock.ms;
        await r.flush();
        delays.push(r.stats.retryAt! - before);
        // Before the backoff has passed, a flush sends nothing.
        clock.ms = r.stats.retryAt! - 1;
        await r.flush();
        clock.ms = r.stats.retryAt!;
      }
      // random() = 0.5: three quarters of 1, 2, 4, 8, 8, 8 seconds.
      expect(delays).to.deep.equal([750, 1500, 3000, 6000, 6000, 6000]);
      expect(r.stats).to.deep.include({ failures: 6, queued: 1, sent: 0 });
      platform.failWith = undefined;
      await r.flush();
      expect(r.stats).to.deep.include({ sent: 1, queued: 0, retryAt: null });
    });

    it("waits as long as the platform's Retry-After asks", async () => {
      const platform = new FakePlatform();
      const clock = new Clock();
      const r = reporter(platform, clock);
      r.observe([sample('p1', 0, 0)], at);
      r.observe([sample('p1', 10, 1)], at);
      platform.failWith = new PlatformError('busy', { kind: 'http', status: 429, retryable: true, retryAfterMs: 30_000 });
      await r.flush();
      expect(r.stats.retryAt! - clock.ms).to.equal(30_000);
    });

    it('drops a batch the platform refuses as a whole, so it cannot block the rest', async () => {
      const platform = new FakePlatform();
      const client = {
        calls: 0,
        usage: async (body: UsageRequest) => {
          if (client.calls++ === 0) throw new PlatformError('invalid', { kind: 'http', status: 400, retryable: false });
          return platform.usage(body);
        },
      };
      const r = new UsageReporter({ cluster: 'nansha-1', client, batchSize: 1 });
      r.observe([sample('p1', 0, 0)], at);
      r.observe([sample('p1', 10, 1)], at);
      r.observe([sample('p1', 20, 2)], at);
      await r.flush();
      expect(r.stats).to.deep.include({ dropped: 1, sent: 1, queued: 0, failures: 0 });
      expect(platform.total()).to.deep.equal({ input: 10, output: 1 });
    });

    it('bounds its queue: when full, windows stay open and the next event covers them, so nothing is lost', async () => {
      const platform = new FakePlatform();
      const clock = new Clock();
      const r = reporter(platform, clock, { maxQueued: 3 });
      r.observe([sample('p1', 0, 0), sample('p2', 0, 0)], at);
      platform.failWith = unreachable();
      for (let i = 1; i <= 50; i++) {
        r.observe([sample('p1', i * 100, i * 10), sample('p2', i * 7, i)], at);
        await r.flush();
        expect(r.queued).to.be.at.most(3);
      }
      platform.failWith = undefined;
      clock.ms += 120_000;
      await r.flush();
      r.observe([sample('p1', 5000, 500), sample('p2', 350, 50)], at);
      await r.flush();
      expect(platform.total()).to.deep.equal({ input: 5000 + 350, output: 500 + 50 });
    });

    it('forgets pods it has not seen for forgetAfterMs', async () => {
      const platform = new FakePlatform();
      const r = reporter(platform, new Clock(), { forgetAfterMs: 60_000 });
      r.observe([sample('p1', 10, 1)], new Date('2026-11-01T00:00:00Z'));
      r.observe([sample('p2', 10, 1)], new Date('2026-11-01T00:02:00Z'));
      // p1 was forgotten: seen again, it is a first sight, a baseline only.
      r.observe([sample('p1', 20, 2)], new Date('2026-11-01T00:02:10Z'));
      expect(r.queued).to.equal(0);
    });
  });

  describe('with the simulated serving pods', () => {
    const desired: DesiredPlacement = {
      id: 'pl-sim',
      workloadId: 'wl-sim',
      model: 'qwen2.5-72b-instruct',
      deviceModel: 'NVIDIA-H100-80GB-HBM3',
      profile: 'NVIDIA-H100-80GB',
      resourceName: 'nvidia.com/gpu',
      replicas: 2,
      devicesPerReplica: 4,
    };

    it('loses nothing over 10 minutes without the platform, and reports what the counters show', async () => {
      const cluster = new SimulatedCluster({ name: 'tianhe-1', region: 'tianhe', nodes: [{ name: 'n1', deviceModel: 'NVIDIA-H100-80GB-HBM3', devices: 8 }] });
      await cluster.reconcile([desired]);
      await cluster.reconcile([desired]);
      let seed = 1;
      const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      const serving = new SimulatedServing(cluster, random);
      const platform = new FakePlatform();
      const clock = new Clock();
      const r = reporter(platform, clock, { random });
      let last: CounterSample[] = [];
      const tick = async () => {
        last = serving.scrape(clock.now());
        r.observe(last, clock.now());
        await r.flush();
      };
      await tick();
      for (let i = 0; i < 6; i++) {
        clock.ms += 10_000;
        await tick();
      }
      platform.failWith = unreachable();
      for (let i = 0; i < 60; i++) {
        clock.ms += 10_000;
        await tick();
      }
      expect(r.stats.queued).to.equal(120);
      platform.failWith = undefined;
      for (let i = 0; i < 8; i++) {
        clock.ms += 10_000;
        await tick();
      }
      expect(r.stats.queued).to.equal(0);
      const counted = last.reduce((t, s) => ({ input: t.input + s.promptTokensTotal, output: t.output + s.generationTokensTotal }), { input: 0, output: 0 });
      expect(platform.total()).to.deep.equal(counted);
      // Two pods of 4 devices for 740 s, at 30–100% of the nominal rate.
      const nominal = 2 * 4 * OUTPUT_TOKENS_PER_MIN_PER_DEVICE * (740 / 60);
      expect(counted.output).to.be.within(0.3 * nominal, nominal);
      expect(new Set(last.map((s) => s.pod)).size).to.equal(2);
      await cluster.close();
    });

    it('scrapes and sends on its own with start(), retrying sooner than the next scrape after a failure', async () => {
      const timers: { fn: () => void; ms: number }[] = [];
      const platform = new FakePlatform();
      const clock = new Clock();
      let scrapes = 0;
      const r = new UsageReporter({
        cluster: 'nansha-1',
        client: platform,
        now: clock.now,
        random: () => 0.5,
        intervalMs: 10_000,
        source: { scrape: () => [sample('p1', ++scrapes * 10, scrapes)] },
        setTimeout: (fn, ms) => timers.push({ fn, ms }),
        clearTimeout: () => {},
      });
      const fire = async () => {
        const t = timers.shift()!;
        clock.ms += t.ms;
        t.fn();
        for (let i = 0; i < 20; i++) await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        return t.ms;
      };
      r.start();
      expect(await fire()).to.equal(0);
      platform.failWith = unreachable();
      expect(await fire()).to.equal(10_000);
      expect(timers.map((t) => t.ms)).to.deep.equal([750, 10_000]);
      platform.failWith = undefined;
      expect(await fire()).to.equal(750);
      expect(r.stats).to.deep.include({ sent: 1, queued: 0 });
      await r.stop();
    });
  });
});

describe('UsageReporter with a state store: what it owes outlives a restart', () => {
  /** A pod's counters that the test advances, and the growth it expects billed. */
  class Counters {
    prompt = 5000;
    generation = 500;
    grown = { input: 0, output: 0 };
    grow(input: number, output: number): void {
      this.prompt += input;
      this.generation += output;
      this.grown.input += input;
      this.grown.output += output;
    }
    sample(pod = 'p1', extra: Partial<CounterSample> = {}): CounterSample {
      return sample(pod, this.prompt, this.generation, { incarnation: 'uid/0', ...extra });
    }
  }

  async function restored(platform: FakePlatform, store: MemoryStateStore, clock: Clock, opts: Partial<UsageReporterOptions> = {}) {
    const r = reporter(platform, clock, { store, ...opts });
    return { r, outcome: await r.restore() };
  }

  /** A reporter `a` on a fresh store, which has seen the pod's counters once (its baseline). */
  async function scene() {
    const platform = new FakePlatform();
    const store = new MemoryStateStore();
    const clock = new Clock();
    const c = new Counters();
    const { r: a } = await restored(platform, store, clock);
    a.observe([c.sample()], clock.now());
    return { platform, store, clock, c, a };
  }

  it('loses nothing and counts nothing twice when the process dies mid-outage and a new one takes over', async () => {
    const { platform, store, clock, c, a } = await scene();
    c.grow(100, 10);
    a.observe([c.sample()], clock.now());
    await a.flush();
    expect(platform.total()).to.deep.equal(c.grown);

    platform.failWith = unreachable();
    for (let i = 0; i < 5; i++) {
      clock.ms += 10_000;
      c.grow(200 + i, 20 + i);
      a.observe([c.sample()], clock.now());
      await a.flush();
    }
    expect(a.queued).to.equal(5);
    // The process dies: no stop(), nothing more saved. Its counters go on while no agent runs.
    c.grow(70, 7);
    clock.ms += 60_000;
    const { r: b, outcome } = await restored(platform, store, clock);
    expect(outcome).to.equal('restored');
    expect(b.queued, 'the unsent events, taken over').to.equal(5);
    b.observe([c.sample()], clock.now());
    c.grow(30, 3);
    clock.ms += 10_000;
    b.observe([c.sample()], clock.now());
    platform.failWith = undefined;
    await b.flush();
    expect(b.queued).to.equal(0);
    expect(platform.total()).to.deep.equal(c.grown);
    expect(b.stats.duplicates).to.equal(0);
    // What the store keeps now owes nothing.
    expect(parseUsageState(store.text!).queue).to.deep.equal([]);
  });

  it('sends again, with the same ids, events the platform stored but whose acknowledgement was never saved', async () => {
    const { platform, store, clock, c, a } = await scene();
    c.grow(100, 10);
    a.observe([c.sample()], clock.now());
    platform.loseAnswer = true; // stored, but the answer is lost; then the process dies
    await a.flush();
    const before = store.text;
    expect(parseUsageState(before!).queue).to.have.length(1);
    platform.loseAnswer = false;
    const { r: b } = await restored(platform, new MemoryStateStore({ text: before }), clock);
    c.grow(1, 1);
    b.observe([c.sample()], clock.now());
    await b.flush();
    expect(b.stats).to.deep.include({ duplicates: 1, accepted: 1 });
    expect(platform.total()).to.deep.equal(c.grown);
  });

  it('counts a window once when the process dies after observing but before saving it', async () => {
    const { platform, store, clock, c, a } = await scene();
    await a.flush();
    c.grow(100, 10);
    a.observe([c.sample()], clock.now()); // queued and baseline moved in memory only
    const { r: b } = await restored(platform, store, clock);
    c.grow(5, 5);
    b.observe([c.sample()], clock.now());
    await b.flush();
    expect(platform.total()).to.deep.equal(c.grown);
    expect(platform.stored.size, 'one window from the saved baseline').to.equal(1);
  });

  it('sends no event before a saved state holds it', async () => {
    const platform = new FakePlatform();
    const store = new MemoryStateStore();
    const failing = Object.assign(Object.create(store) as MemoryStateStore, {
      save: async () => {
        throw new Error('etcd is away');
      },
    });
    const clock = new Clock();
    const c = new Counters();
    const logs: string[] = [];
    const r = reporter(platform, clock, { store: failing, log: (m) => logs.push(m) });
    await r.restore();
    r.observe([c.sample()], clock.now());
    c.grow(100, 10);
    r.observe([c.sample()], clock.now());
    await r.flush();
    expect(platform.requests).to.deep.equal([]);
    expect(r.stats).to.deep.include({ queued: 1, saveFailures: 1 });
    expect(logs).to.include('usage: cannot save the usage state; events not saved yet wait');
    // Saves work again: the event goes, and the saved state owes nothing.
    (failing as { save: unknown }).save = (text: string) => store.save(text);
    await r.flush();
    expect(platform.total()).to.deep.equal(c.grown);
    expect(parseUsageState(store.text!).queue).to.deep.equal([]);
  });

  it('sends no event queued during a send until a saved state holds it', async () => {
    const store = new MemoryStateStore();
    let saves = true;
    const gated = Object.assign(Object.create(store) as MemoryStateStore, {
      save: async (text: string) => {
        if (!saves) throw new Error('etcd is away');
        await store.save(text);
      },
    });
    const platform = new FakePlatform();
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const client = {
      async usage(body: UsageRequest) {
        if (platform.requests.length === 0) await blocked;
        return platform.usage(body);
      },
    };
    const clock = new Clock();
    const c = new Counters();
    const r = reporter(platform, clock, { store: gated, client, batchSize: 1 });
    await r.restore();
    r.observe([c.sample()], clock.now());
    for (let i = 0; i < 2; i++) {
      c.grow(10, 1);
      r.observe([c.sample()], clock.now());
    }
    const sending = r.flush();
    await new Promise((resolve) => setImmediate(resolve));
    c.grow(7, 7); // observed while the first batch is on its way, and never saved
    r.observe([c.sample()], clock.now());
    saves = false;
    release();
    await sending;
    expect(platform.requests.map((b) => b.events[0]!.inputTokens)).to.deep.equal([10, 10]);
    expect(r.queued).to.equal(1);
    saves = true;
    await r.flush();
    expect(platform.total()).to.deep.equal(c.grown);
  });

  it("stays within its store's size: when the next event would not fit, windows stay open and nothing is lost", async () => {
    const platform = new FakePlatform();
    const store = new MemoryStateStore({ maxBytes: 2_000 });
    const clock = new Clock();
    const pods = ['p1', 'p2', 'p3'].map((pod) => ({ pod, c: new Counters() }));
    const { r } = await restored(platform, store, clock);
    const observe = () =>
      r.observe(
        pods.map(({ pod, c }) => c.sample(pod)),
        clock.now(),
      );
    observe();
    platform.failWith = unreachable();
    for (let i = 0; i < 40; i++) {
      clock.ms += 10_000;
      for (const { c } of pods) c.grow(10 + i, 1 + i);
      observe();
      await r.flush();
      expect(Buffer.byteLength(store.text!)).to.be.at.most(2_000);
    }
    expect(r.queued).to.be.within(1, 20);
    platform.failWith = undefined;
    clock.ms += 120_000;
    for (let i = 0; i < 3; i++) {
      observe();
      await r.flush();
    }
    const grown = pods.reduce((t, { c }) => ({ input: t.input + c.grown.input, output: t.output + c.grown.output }), { input: 0, output: 0 });
    expect(platform.total()).to.deep.equal(grown);
  });

  it('counts a pod started while no agent ran from zero, as the first process would have', async () => {
    const platform = new FakePlatform();
    const store = new MemoryStateStore();
    const clock = new Clock();
    const { r: a } = await restored(platform, store, clock);
    a.observe([], clock.now());
    await a.flush();
    clock.ms += 60_000;
    const { r: b } = await restored(platform, store, clock);
    b.observe([sample('born-meanwhile', 40, 4, { startedAtMs: clock.ms - 30_000 })], clock.now());
    await b.flush();
    expect(platform.total()).to.deep.equal({ input: 40, output: 4 });
  });

  const fresh: [string, string, string][] = [
    ['unreadable', '{"version":1,"cluster":', 'usage: the saved state is unreadable; starting fresh (pods seen first now only set their baselines)'],
    [
      'other-cluster',
      JSON.stringify({ version: 1, cluster: 'other-1', firstScrapeAt: null, baselines: [['pl-1', 'p1', null, 0, 0, 0, 0]], queue: [] }),
      'usage: the saved state is of another cluster; starting fresh',
    ],
  ];
  for (const [outcome, text, message] of fresh) {
    it(`starts fresh under the safe rule from a state that is ${outcome}, says so, and replaces it`, async () => {
      const platform = new FakePlatform();
      const store = new MemoryStateStore({ text });
      const logs: string[] = [];
      const clock = new Clock();
      const { r, outcome: got } = await restored(platform, store, clock, { log: (m) => logs.push(m) });
      expect(got).to.equal(outcome);
      expect(logs).to.include(message);
      // A pod seen first only sets its baseline: an earlier process may have reported its tokens.
      r.observe([sample('p1', 900, 90)], clock.now());
      r.observe([sample('p1', 1000, 100)], clock.now());
      await r.flush();
      expect(platform.total()).to.deep.equal({ input: 100, output: 10 });
      expect(parseUsageState(store.text!).cluster).to.equal('nansha-1');
    });
  }

  it('changes nothing when the store cannot be read, and observes nothing before restore()', async () => {
    const store = new MemoryStateStore({ text: 'kept' });
    const r = reporter(new FakePlatform(), new Clock(), {
      store: Object.assign(Object.create(store) as MemoryStateStore, {
        load: async () => {
          throw new Error('403 forbidden');
        },
      }),
    });
    expect(await r.restore().catch((e: unknown) => String(e))).to.equal('Error: 403 forbidden');
    expect(() => r.observe([sample('p1', 1, 1)], at)).to.throw(/restore\(\) must come before observe\(\)/);
    await r.flush();
    expect(store.text).to.equal('kept');
  });
});
