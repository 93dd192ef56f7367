import { expect } from 'chai';
import { ClusterAgent } from '../../../adapters/agent.js';
import type { ClusterAgentOptions, ClusterBackend, HeartbeatClient } from '../../../adapters/agent.js';
import { PlatformError } from '../../../adapters/platform-client.js';
import type { DesiredPlacement, HeartbeatRequest, HeartbeatResponse, InventoryReport, RunningPlacement } from '../../../adapters/platform-client.js';

/** Timers that fire only when a test says so. */
class ManualTimers {
  #next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  readonly delays: number[] = [];

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    this.delays.push(ms);
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };

  /** Fires the one pending timer and lets the tick it starts run to its end. */
  async fire(): Promise<void> {
    expect(this.pending.size, 'pending timers').to.equal(1);
    const [id, timer] = [...this.pending][0]!;
    this.pending.delete(id);
    timer.fn();
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const placement: DesiredPlacement = {
  id: 'pl-1',
  workloadId: 'wl-1',
  model: 'qwen2.5-72b-instruct',
  deviceModel: 'NVIDIA-H100-80GB-HBM3',
  profile: 'NVIDIA-H100-80GB',
  resourceName: 'nvidia.com/gpu',
  replicas: 2,
  devicesPerReplica: 4,
};

class FakeClient implements HeartbeatClient {
  readonly sent: HeartbeatRequest[] = [];
  /** Answers in order; an Error entry rejects; past the end, the default answer. */
  script: (HeartbeatResponse | Error | Promise<HeartbeatResponse>)[] = [];
  answer: HeartbeatResponse = { clusterId: 'c-1', placements: [placement] };

  async heartbeat(body: HeartbeatRequest): Promise<HeartbeatResponse> {
    this.sent.push(body);
    const next = this.script.shift() ?? this.answer;
    if (next instanceof Error) throw next;
    return next;
  }
}

class FakeBackend implements ClusterBackend {
  readonly reconciled: (readonly DesiredPlacement[])[] = [];
  inv: InventoryReport[] = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 7 }];
  run: RunningPlacement[] = [{ id: 'pl-0', readyReplicas: 1 }];
  reconcileError: Error | undefined;

  async inventory(): Promise<InventoryReport[]> {
    return this.inv;
  }
  async running(): Promise<RunningPlacement[]> {
    return this.run;
  }
  async reconcile(desired: readonly DesiredPlacement[]): Promise<void> {
    this.reconciled.push(desired);
    if (this.reconcileError) throw this.reconcileError;
  }
}

function setup(opts: Partial<ClusterAgentOptions> = {}) {
  const timers = new ManualTimers();
  const client = new FakeClient();
  const backend = new FakeBackend();
  const logs: { msg: string; fields?: object }[] = [];
  const agent = new ClusterAgent({
    client,
    backend,
    intervalMs: 10_000,
    jitter: 0.1,
    random: () => 0.5, // the middle of the jitter range: delays come out exact
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    log: (msg, fields) => logs.push({ msg, ...(fields ? { fields } : {}) }),
    ...opts,
  });
  return { agent, timers, client, backend, logs };
}

const unavailable = () => new PlatformError('503', { kind: 'http', status: 503, retryable: true });

describe('ClusterAgent', () => {
  describe('tick', () => {
    it("sends the backend's weight sources when it has them, and nothing when it answers undefined", async () => {
      const { agent, client, backend } = setup();
      const reports = [{ kinds: ['hostPath', 'pvc'] as const, claims: ['qwen-weights'] }, undefined];
      (backend as ClusterBackend).weightSources = async () => reports.shift();
      await agent.tick();
      await agent.tick();
      expect(client.sent[0]).to.deep.equal({
        inventory: backend.inv,
        placements: backend.run,
        weightSources: { kinds: ['hostPath', 'pvc'], claims: ['qwen-weights'] },
      });
      expect(client.sent[1]).to.not.have.property('weightSources');
    });

    it('reports inventory and running placements, then reconciles to the desired set it returns', async () => {
      const { agent, client, backend } = setup();
      const desired = await agent.tick();
      expect(client.sent).to.deep.equal([{ inventory: backend.inv, placements: backend.run }]);
      expect(backend.reconciled).to.deep.equal([[placement]]);
      expect(desired).to.deep.equal([placement]);
      expect(agent.stats).to.include({ heartbeatsOk: 1, heartbeatsFailed: 0, desiredPlacements: 1 });
    });

    it("sends the backend's node report (free devices per node, capabilities) beside the inventory", async () => {
      const { agent, client, backend } = setup();
      const report = { nodes: [{ name: 'gpu-a', deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, free: 3 }], capabilities: { leaderWorkerSet: true } };
      Object.assign(backend, { nodeReport: async () => report });
      await agent.tick();
      expect(client.sent).to.deep.equal([{ inventory: backend.inv, placements: backend.run, ...report }]);
    });

    it('reconciles to an empty set when the platform wants nothing', async () => {
      const { agent, client, backend } = setup();
      client.answer = { clusterId: 'c-1', placements: [] };
      await agent.tick();
      expect(backend.reconciled).to.deep.equal([[]]);
    });

    it('does not reconcile when the heartbeat fails, and rejects with its error', async () => {
      const { agent, client, backend } = setup();
      const err = unavailable();
      client.script = [err];
      let caught: unknown;
      await agent.tick().catch((e: unknown) => (caught = e));
      expect(caught).to.equal(err);
      expect(backend.reconciled).to.have.length(0);
      expect(agent.stats).to.include({ heartbeatsOk: 0, heartbeatsFailed: 1, consecutiveFailures: 1, lastError: '503' });
    });

    it('joins a tick already in flight instead of sending a second heartbeat', async () => {
      const { agent, client } = setup();
      const answer = deferred<HeartbeatResponse>();
      client.script = [answer.promise];
      const a = agent.tick();
      const b = agent.tick();
      answer.resolve({ clusterId: 'c-1', placements: [] });
      await Promise.all([a, b]);
      expect(client.sent).to.have.length(1);
    });
  });

  describe('timer loop', () => {
    it('sends the first heartbeat after initialDelayMs, then one per interval', async () => {
      const { agent, timers, client } = setup({ initialDelayMs: 0 });
      agent.start();
      expect(timers.delays).to.deep.equal([0]);
      await timers.fire();
      await timers.fire();
      expect(client.sent).to.have.length(2);
      expect(timers.delays).to.deep.equal([0, 10_000, 10_000]);
      await agent.stop();
    });

    it('retries a failed heartbeat with exponential backoff capped at the interval, then resumes the interval', async () => {
      const { agent, timers, client, backend } = setup();
      client.script = [unavailable(), unavailable(), unavailable(), unavailable(), unavailable(), unavailable()];
      agent.start();
      for (let i = 0; i < 7; i++) await timers.fire();
      // 0 (first), then 1 s, 2 s, 4 s, 8 s, capped 10 s, 10 s, and after the 7th (a success) the interval.
      expect(timers.delays).to.deep.equal([0, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
      expect(client.sent).to.have.length(7);
      expect(backend.reconciled).to.have.length(1);
      expect(agent.stats).to.include({ heartbeatsOk: 1, heartbeatsFailed: 6, consecutiveFailures: 0 });
      await agent.stop();
    });

    it('waits the full interval after a failure that retrying soon cannot fix', async () => {
      const { agent, timers, client, logs } = setup();
      client.script = [new PlatformError('401 bad token', { kind: 'http', status: 401, retryable: false })];
      agent.start();
      await timers.fire();
      expect(timers.delays).to.deep.equal([0, 10_000]);
      expect(logs[0]).to.deep.include({ msg: 'heartbeat failed' });
      await agent.stop();
    });

    it('honours a Retry-After longer than its own backoff', async () => {
      const { agent, timers, client } = setup();
      client.script = [new PlatformError('429', { kind: 'http', status: 429, retryable: true, retryAfterMs: 30_000 })];
      agent.start();
      await timers.fire();
      expect(timers.delays[1]).to.equal(30_000);
      await agent.stop();
    });

    it('spreads delays by ±jitter', async () => {
      for (const [r, want] of [
        [0, 9_000],
        [0.999999, 11_000],
      ] as const) {
        const { agent, timers } = setup({ random: () => r });
        agent.start();
        await timers.fire();
        expect(timers.delays[1]).to.equal(want);
        await agent.stop();
      }
    });

    it('keeps going, without an unhandled rejection, when reconcile and the logger throw', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const { agent, timers, backend } = setup({
          log: () => {
            throw new Error('logger down');
          },
        });
        backend.reconcileError = new Error('apiserver unreachable');
        agent.start();
        await timers.fire();
        await timers.fire();
        expect(timers.delays).to.deep.equal([0, 1_000, 2_000]);
        expect(agent.stats).to.include({
          heartbeatsOk: 2,
          reconcilesFailed: 2,
          consecutiveFailures: 2,
          lastError: 'apiserver unreachable',
        });
        expect(agent.running).to.equal(true);
        await agent.stop();
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).to.deep.equal([]);
    });

    it('logs once when heartbeats recover', async () => {
      const { agent, timers, client, logs } = setup();
      client.script = [unavailable()];
      agent.start();
      await timers.fire();
      await timers.fire();
      expect(logs.map((l) => l.msg)).to.deep.equal(['heartbeat failed', 'heartbeat recovered']);
      await agent.stop();
    });
  });

  describe('stop', () => {
    it('waits for the tick in flight and schedules nothing after it', async () => {
      const { agent, timers, client, backend } = setup();
      const answer = deferred<HeartbeatResponse>();
      client.script = [answer.promise];
      agent.start();
      await timers.fire();
      expect(client.sent).to.have.length(1);

      let stopped = false;
      const stopping = agent.stop().then(() => (stopped = true));
      await settle();
      expect(stopped).to.equal(false);

      answer.resolve({ clusterId: 'c-1', placements: [placement] });
      await stopping;
      expect(backend.reconciled).to.have.length(1);
      expect(timers.pending.size).to.equal(0);
      expect(agent.running).to.equal(false);
    });

    it('cancels the pending timer when idle, and resolves even if the tick in flight fails', async () => {
      const { agent, timers, client } = setup();
      agent.start();
      await agent.stop();
      expect(timers.pending.size).to.equal(0);

      const answer = deferred<HeartbeatResponse>();
      client.script = [answer.promise];
      agent.start();
      await timers.fire();
      const stopping = agent.stop();
      answer.reject(unavailable());
      await stopping;
      expect(timers.pending.size).to.equal(0);
    });

    it('does not double the loop when restarted while a tick is in flight', async () => {
      const { agent, timers, client } = setup();
      const answer = deferred<HeartbeatResponse>();
      client.script = [answer.promise];
      agent.start();
      await timers.fire();
      const stopping = agent.stop();
      agent.start();
      answer.resolve({ clusterId: 'c-1', placements: [] });
      await stopping;
      await settle();
      expect(timers.pending.size).to.equal(1);
      await agent.stop();
    });
  });

  it('rejects nonsensical options', () => {
    expect(() => setup({ intervalMs: 0 })).to.throw(RangeError);
    expect(() => setup({ jitter: 1.5 })).to.throw(RangeError);
  });
});
