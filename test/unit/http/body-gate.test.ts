import { expect } from 'chai';
import { createBodyGate, type Release } from '../../../server/http/body-gate.js';

describe('createBodyGate', () => {
  it('lets `concurrency` in, queues up to `queue`, refuses the rest at once', async () => {
    const gate = createBodyGate({ concurrency: 2, queue: 1 });
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
    const gate = createBodyGate({ concurrency: 1, queue: 0 });
    const a = await gate.enter()!;
    a();
    a();
    expect(gate.active).to.equal(0);
    await gate.enter()!;
    expect(gate.active).to.equal(1);
    expect(gate.enter()).to.equal(undefined);
  });
});
