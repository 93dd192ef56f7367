import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type pg from 'pg';

import { silentLogger, type Logger } from '../../server/log.js';
import { CREDENTIALS_CHANNEL, PgNotifier, WAKE_CHANNEL, WAKE_INTERVAL_MS } from '../../server/scheduling/notifier.js';
import { FakeClock } from '../fake-clock.js';

/** Timeouts the test fires by hand, in the order they were set. */
class ManualTimeouts {
  readonly pending: { fn: () => void; ms: number; handle: symbol }[] = [];
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const handle = Symbol('timeout');
    this.pending.push({ fn, ms, handle });
    return handle;
  };
  readonly clearTimeout = (handle: unknown): void => {
    const at = this.pending.findIndex((t) => t.handle === handle);
    if (at >= 0) this.pending.splice(at, 1);
  };

  /** Fires the oldest timeout; answers the delay it was set with. */
  fire(): number {
    const t = this.pending.shift();
    if (!t) throw new Error('no timeout is pending');
    t.fn();
    return t.ms;
  }
}

/** Sends the test settles by hand, in order. */
class ManualSends {
  readonly calls: { channel: string; settle: (err?: Error) => void }[] = [];
  private settled = 0;
  readonly send = (channel: string): Promise<void> =>
    new Promise((resolve, reject) => this.calls.push({ channel, settle: (err) => (err ? reject(err) : resolve()) }));

  /** Ends the oldest send in flight (failed if `err`), and lets the notifier react. */
  async settle(err?: Error): Promise<void> {
    const call = this.calls[this.settled++];
    if (!call) throw new Error('no send is in flight');
    call.settle(err);
    for (let i = 0; i < 5; i++) await new Promise(setImmediate);
  }
}

describe('PgNotifier', () => {
  let clock: FakeClock;
  let timers: ManualTimeouts;
  let sends: ManualSends;
  const notifier = (log: Logger = silentLogger) =>
    new PgNotifier({ send: sends.send, clock, log, setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });

  beforeEach(() => {
    clock = new FakeClock();
    timers = new ManualTimeouts();
    sends = new ManualSends();
  });

  it('sends the first wake-up at once, on the wake channel', () => {
    const n = notifier();
    n.wake();
    expect(timers.fire()).to.equal(0);
    expect(sends.calls.map((c) => c.channel)).to.deep.equal([WAKE_CHANNEL]);
  });

  it('coalesces a burst: one send in flight, then one more for all asked meanwhile, 20 ms after the last', async () => {
    const n = notifier();
    n.wake();
    timers.fire();
    for (let i = 0; i < 50; i++) n.wake();
    expect(sends.calls, 'nothing more while one is in flight').to.have.length(1);
    expect(timers.pending).to.have.length(0);

    clock.advance(5);
    await sends.settle();
    // The follow-up waits for the rest of the interval since the last send (5 of 20 ms passed).
    expect(timers.pending.map((t) => t.ms)).to.deep.equal([WAKE_INTERVAL_MS - 5]);
    n.wake();
    expect(timers.pending, 'a wake-up while one waits for its turn is covered by it').to.have.length(1);
    clock.advance(WAKE_INTERVAL_MS - 5);
    timers.fire();
    expect(sends.calls).to.have.length(2);
    await sends.settle();
    expect(timers.pending, 'nothing was asked after the second send').to.have.length(0);

    clock.advance(1000);
    n.wake();
    expect(timers.fire(), 'long after the last send: at once').to.equal(0);
    expect(sends.calls).to.have.length(3);
  });

  it('logs a failed send and sends again on the next wake-up', async () => {
    const warned: string[] = [];
    const n = notifier({ ...silentLogger, warn: (msg) => void warned.push(msg) });
    n.wake();
    timers.fire();
    await sends.settle(new Error('connection refused'));
    expect(warned).to.deep.equal(['could not wake the scheduler leader']);
    clock.advance(WAKE_INTERVAL_MS);
    n.wake();
    timers.fire();
    expect(sends.calls).to.have.length(2);
  });

  it('stop drops a wake-up waiting for its turn and waits for one in flight', async () => {
    const n = notifier();
    n.wake();
    timers.fire();
    n.wake();
    let stopped = false;
    const stopping = n.stop().then(() => (stopped = true));
    for (let i = 0; i < 5; i++) await new Promise(setImmediate);
    expect(stopped, 'stopped with a send in flight').to.equal(false);
    await sends.settle();
    await stopping;
    expect(timers.pending, 'the one asked meanwhile is dropped').to.have.length(0);
    n.wake();
    expect(timers.pending, 'nothing after stop').to.have.length(0);
    expect(sends.calls).to.have.length(1);
  });

  it('listens on the connection it is given, and tells its listeners of wake-ups on its channel only', async () => {
    const n = notifier();
    const queries: string[] = [];
    const client = Object.assign(new EventEmitter(), { query: async (text: string) => void queries.push(text) });
    let woken = 0;
    n.onWake(() => woken++);
    await n.listen(client as unknown as pg.Client);
    expect(queries).to.deep.equal([`LISTEN ${WAKE_CHANNEL}`, `LISTEN ${CREDENTIALS_CHANNEL}`]);
    client.emit('notification', { channel: WAKE_CHANNEL, payload: '', processId: 1 });
    client.emit('notification', { channel: 'another_channel', payload: '', processId: 1 });
    client.emit('notification', { channel: WAKE_CHANNEL, payload: '', processId: 2 });
    expect(woken).to.equal(2);
  });

  it('sends revoked credentials on their own channel, and tells its listeners of them and of each new connection', async () => {
    const sent: { channel: string; payload: string | undefined }[] = [];
    const n = new PgNotifier({ send: async (channel, payload) => void sent.push({ channel, payload }), clock: new FakeClock(), log: silentLogger });
    await n.revoked('{"kind":"api_key","apiKeyId":"key_1"}');
    expect(sent).to.deep.equal([{ channel: CREDENTIALS_CHANNEL, payload: '{"kind":"api_key","apiKeyId":"key_1"}' }]);
    const client = Object.assign(new EventEmitter(), { query: async () => undefined });
    const heard: string[] = [];
    let listening = 0;
    let woken = 0;
    n.onRevoked((p) => heard.push(p));
    n.onListening(() => listening++);
    n.onWake(() => woken++);
    await n.listen(client as unknown as pg.Client);
    expect(listening).to.equal(1);
    client.emit('notification', { channel: CREDENTIALS_CHANNEL, payload: 'x', processId: 1 });
    client.emit('notification', { channel: WAKE_CHANNEL, payload: '', processId: 1 });
    expect(heard).to.deep.equal(['x']);
    expect(woken).to.equal(1);
  });
});
