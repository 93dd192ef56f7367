import { expect } from 'chai';

import type { Database } from '../../db/connect.js';
import { EventBus } from '../../server/events.js';
import { TtlSweeper, type TtlSweeperOptions } from '../../server/jobs/ttl-sweeper.js';
import { silentLogger } from '../../server/log.js';
import { ClustersRepository } from '../../server/repositories/clusters.repository.js';
import { freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';

const TTL = 30_000;

/** A timer the test fires by hand. */
class ManualInterval {
  readonly calls: { fn: () => void; ms: number; handle: symbol }[] = [];
  readonly cleared: unknown[] = [];
  readonly setInterval = (fn: () => void, ms: number): unknown => {
    const handle = Symbol(`interval ${this.calls.length + 1}`);
    this.calls.push({ fn, ms, handle });
    return handle;
  };
  readonly clearInterval = (handle: unknown): void => {
    this.cleared.push(handle);
  };

  fire(): void {
    const last = this.calls.at(-1);
    if (!last) throw new Error('no interval was set');
    last.fn();
  }
}

/** A promise with its resolve function, for holding a sweep in the middle. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('TtlSweeper', function () {
  this.timeout(60_000);

  let database: Database;
  let repo: ClustersRepository;
  let clock: FakeClock;
  let seq = 0;

  before(async () => {
    database = await freshDatabase('pglite');
    repo = new ClustersRepository(database.db);
  });

  after(async () => {
    await database?.close();
  });

  beforeEach(async () => {
    clock = new FakeClock();
    await database.db.deleteFrom('clusters').execute();
  });

  async function cluster(name = `c${++seq}`): Promise<string> {
    const id = `cl_${name}`;
    await repo.insert({ id, name, region: 'nansha', labels: {}, tokenHash: `hash-${name}`, now: clock.now() });
    return id;
  }

  const heartbeat = (id: string) => repo.recordHeartbeat(id, [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }], clock.now());

  /** A sweeper whose `cluster.changed` events go into `told` (the ids of each `not_ready`). */
  function sweeper(opts: Partial<TtlSweeperOptions> = {}, told: string[][] = []): TtlSweeper {
    const events = new EventBus(silentLogger);
    events.on('cluster.changed', (e) => told.push(e.change === 'not_ready' ? [...e.clusterIds] : [`unexpected ${e.change}`]));
    return new TtlSweeper({ repo, clock, ttlMs: TTL, log: silentLogger, events, ...opts });
  }

  async function liveness(id: string): Promise<string | undefined> {
    return (await repo.get(id))?.liveness;
  }

  it('sweeps a cluster that heartbeated exactly once, 1 ms after the TTL and not before', async () => {
    const id = await cluster();
    await heartbeat(id);
    const s = sweeper();

    expect(await s.sweep()).to.deep.equal([]);
    clock.advance(TTL - 1);
    expect(await s.sweep()).to.deep.equal([]);
    clock.advance(1);
    expect(await s.sweep(), 'exactly at the TTL').to.deep.equal([]);
    expect(await liveness(id)).to.equal('ready');

    clock.advance(1);
    expect(await s.sweep()).to.deep.equal([id]);
    expect(await liveness(id)).to.equal('not_ready');
    expect(await s.sweep(), 'a second sweep').to.deep.equal([]);
    clock.advance(3_600_000);
    expect(await s.sweep(), 'much later').to.deep.equal([]);
  });

  it('never sweeps a cluster that has not reported yet', async () => {
    const id = await cluster();
    clock.advance(10 * TTL);
    expect(await sweeper().sweep()).to.deep.equal([]);
    expect(await liveness(id)).to.equal('pending');
  });

  it('says which clusters went not ready in one sweep (cluster.changed), and only when some did', async () => {
    const [a, b, c] = [await cluster('a'), await cluster('b'), await cluster('c')];
    await heartbeat(a);
    await heartbeat(b);
    clock.advance(10_000);
    await heartbeat(c);
    const told: string[][] = [];
    const s = sweeper({}, told);

    await s.sweep();
    expect(told).to.deep.equal([]);
    clock.advance(TTL - 10_000 + 1);
    expect(await s.sweep()).to.have.members([a, b]);
    expect(told).to.have.length(1);
    expect(told[0]).to.have.members([a, b]);
    clock.advance(10_000);
    expect(await s.sweep()).to.deep.equal([c]);
    expect(told.slice(1)).to.deep.equal([[c]]);
  });

  it('a new heartbeat makes a swept cluster ready, and sweepable again one TTL later', async () => {
    const id = await cluster();
    await heartbeat(id);
    const s = sweeper();
    clock.advance(TTL + 1);
    expect(await s.sweep()).to.deep.equal([id]);

    clock.advance(60_000);
    await heartbeat(id);
    expect(await liveness(id)).to.equal('ready');
    clock.advance(TTL);
    expect(await s.sweep()).to.deep.equal([]);
    clock.advance(1);
    expect(await s.sweep()).to.deep.equal([id]);
  });

  it('a cordon does not stop the sweep', async () => {
    const id = await cluster();
    await heartbeat(id);
    await repo.setCordoned(id, true);
    clock.advance(TTL + 1);
    expect(await sweeper().sweep()).to.deep.equal([id]);
  });

  describe('start and stop', () => {
    it('sweeps on the injected interval, a third of the TTL by default, at most 5 s', async () => {
      const cases: ReadonlyArray<readonly [number, number | undefined, number]> = [
        [30_000, undefined, 5000],
        [9_000, undefined, 3000],
        [150, undefined, 100],
        [30_000, 250, 250],
      ];
      for (const [ttlMs, intervalMs, every] of cases) {
        const timer = new ManualInterval();
        const s = sweeper({ ttlMs, intervalMs, setInterval: timer.setInterval, clearInterval: timer.clearInterval });
        s.start();
        expect(
          timer.calls.map((c) => c.ms),
          `TTL ${ttlMs}, interval ${intervalMs}`,
        ).to.deep.equal([every]);
        await s.stop();
      }
    });

    it('sweeps each time the interval fires, and stop clears the interval', async () => {
      const id = await cluster();
      await heartbeat(id);
      const timer = new ManualInterval();
      const told: string[][] = [];
      const s = sweeper({ setInterval: timer.setInterval, clearInterval: timer.clearInterval }, told);

      s.start();
      s.start();
      expect(timer.calls, 'a second start sets no second interval').to.have.length(1);

      timer.fire();
      await s.stop();
      expect(told).to.deep.equal([]);
      expect(timer.cleared).to.deep.equal([timer.calls[0]!.handle]);

      s.start();
      clock.advance(TTL + 1);
      timer.fire();
      await s.stop();
      expect(told).to.deep.equal([[id]]);
      expect(await liveness(id)).to.equal('not_ready');
      expect(timer.cleared).to.have.length(2);
    });

    it('stop waits for a sweep in flight, and ticks during a sweep do not start another', async () => {
      const id = await cluster();
      await heartbeat(id);
      clock.advance(TTL + 1);
      const held = gate();
      let sweeps = 0;
      const slowRepo = Object.create(repo) as ClustersRepository;
      slowRepo.markStale = async (cutoff) => {
        sweeps++;
        await held.promise;
        return repo.markStale(cutoff);
      };
      const timer = new ManualInterval();
      const s = sweeper({ repo: slowRepo, setInterval: timer.setInterval, clearInterval: timer.clearInterval });

      s.start();
      timer.fire();
      timer.fire();
      expect(sweeps).to.equal(1);

      let stopped = false;
      const stopping = s.stop().then(() => (stopped = true));
      // Turns of the event loop in which a stop that did not wait would have finished.
      for (let i = 0; i < 20; i++) await new Promise(setImmediate);
      expect(stopped, 'stopped before the sweep finished').to.equal(false);
      expect(await liveness(id)).to.equal('ready');

      held.open();
      await stopping;
      expect(await liveness(id)).to.equal('not_ready');
      expect(sweeps).to.equal(1);
    });

    it('a failed sweep is logged and the next tick sweeps again', async () => {
      const errors: string[] = [];
      const log = { ...silentLogger, error: (msg: string) => void errors.push(msg) };
      let fail = true;
      const flakyRepo = Object.create(repo) as ClustersRepository;
      flakyRepo.markStale = async (cutoff) => {
        if (fail) throw new Error('connection reset');
        return repo.markStale(cutoff);
      };
      const id = await cluster();
      await heartbeat(id);
      clock.advance(TTL + 1);
      const timer = new ManualInterval();
      const s = sweeper({ repo: flakyRepo, log, setInterval: timer.setInterval, clearInterval: timer.clearInterval });

      s.start();
      timer.fire();
      await s.stop();
      expect(errors).to.deep.equal(['TTL sweep failed']);

      fail = false;
      s.start();
      timer.fire();
      await s.stop();
      expect(await liveness(id)).to.equal('not_ready');
    });

    it('stop without start resolves', async () => {
      await sweeper({
        setInterval: () => {
          throw new Error('not started');
        },
      }).stop();
    });
  });
});
