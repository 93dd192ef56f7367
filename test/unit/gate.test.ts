import { expect } from 'chai';
import { createGate, type Release } from '../../server/gate.js';

describe('createGate', () => {
  it('lets `concurrency` in, queues up to `queue`, refuses the rest at once', async () => {
    const gate = createGate({ concurrency: 2, queue: 1 });
    const a = await gate.enter()!;
    const b = await gate.enter()!;
    const waiting = gate.enter();
    expect(waiting).to.be.instanceOf(Promise);
    expect(gate.enter()).to.equal(undefined);
    expect({ active: gate.active, waiting: gate.waiting }).to.deep.equal({ active: 2, waiting: 1 });
    let c: Release | undefined;
    void waiting!.then((r) => (c = r));
    a();
    await Promise.resolve();
    // The freed slot went to the one waiting: still two in, none waiting, room in the queue again.
    expect(c).to.be.a('function');
    expect({ active: gate.active, waiting: gate.waiting }).to.deep.equal({ active: 2, waiting: 0 });
    expect(gate.enter()).to.be.instanceOf(Promise);
    b();
    c!();
    await Promise.resolve();
    expect(gate.waiting).to.equal(0);
  });

  it('a release called twice frees one slot', async () => {
    const gate = createGate({ concurrency: 1, queue: 0 });
    const a = await gate.enter()!;
    a();
    a();
    expect(gate.active).to.equal(0);
    await gate.enter()!;
    expect(gate.active).to.equal(1);
    expect(gate.enter()).to.equal(undefined);
  });

  it('runs work in a slot, frees it after (also when the work throws), refuses past the queue', async () => {
    const gate = createGate({ concurrency: 1, queue: 1 });
    const refused = () => new Error('refused');
    let open!: () => void;
    const first = gate.run(() => new Promise<string>((done) => (open = () => done('first'))), refused);
    const second = gate.run(() => Promise.reject(new Error('boom')), refused);
    await Promise.resolve();
    let thrown: unknown;
    try {
      await gate.run(() => Promise.resolve('third'), refused);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).to.equal('refused');
    open();
    expect(await first).to.equal('first');
    let failed: unknown;
    await second.catch((err: unknown) => (failed = err));
    expect((failed as Error).message).to.equal('boom');
    expect({ active: gate.active, waiting: gate.waiting }).to.deep.equal({ active: 0, waiting: 0 });
  });
});
