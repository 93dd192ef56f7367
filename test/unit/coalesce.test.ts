import { expect } from 'chai';
import { Coalescer } from '../../server/repositories/coalesce.js';

describe('Coalescer (writes that arrive together share a statement)', () => {
  function recorder(failOn?: number) {
    const batches: number[][] = [];
    const singles: number[] = [];
    const c = new Coalescer<number, string>({
      many: async (items) => {
        batches.push([...items]);
        if (failOn !== undefined && items.includes(failOn)) throw new Error('batch refused');
        return items.map((i) => `many:${i}`);
      },
      one: async (item) => {
        singles.push(item);
        if (item === failOn) throw new Error(`item ${item} refused`);
        return `one:${item}`;
      },
      maxBatch: 4,
    });
    return { c, batches, singles };
  }

  it('writes the items of one turn together, in order, at most maxBatch at a time', async () => {
    const { c, batches } = recorder();
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => c.write(i)));
    expect(answers).to.deep.equal(['many:1', 'many:2', 'many:3', 'many:4', 'many:5', 'many:6']);
    expect(batches).to.deep.equal([
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });

  it('writes a lone item on its own, and items of a later turn in a later statement', async () => {
    const { c, batches, singles } = recorder();
    expect(await c.write(1)).to.equal('one:1');
    expect(await Promise.all([c.write(2), c.write(3)])).to.deep.equal(['many:2', 'many:3']);
    expect(singles).to.deep.equal([1]);
    expect(batches).to.deep.equal([[2, 3]]);
  });

  it('when the batch fails, writes each item alone so only the bad one fails', async () => {
    const { c, singles } = recorder(2);
    const settled = await Promise.allSettled([1, 2, 3].map((i) => c.write(i)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).to.deep.equal(['one:1', 'item 2 refused', 'one:3']);
    expect(singles.sort()).to.deep.equal([1, 2, 3]);
  });

  it('while a statement is in flight, gathers what arrives meanwhile into the next one', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const batches: number[][] = [];
    const c = new Coalescer<number, string>({
      one: async (item) => {
        await gate;
        return `one:${item}`;
      },
      many: async (items) => {
        batches.push([...items]);
        return items.map((i) => `many:${i}`);
      },
    });
    const first = c.write(1);
    await new Promise((r) => setImmediate(r)); // 1 is now in flight, held at the gate
    const later = [c.write(2), c.write(3)];
    await new Promise((r) => setImmediate(r));
    const last = c.write(4);
    await new Promise((r) => setImmediate(r));
    expect(batches, 'nothing else is written while 1 is in flight').to.deep.equal([]);
    open();
    expect(await Promise.all([first, ...later, last])).to.deep.equal(['one:1', 'many:2', 'many:3', 'many:4']);
    expect(batches).to.deep.equal([[2, 3, 4]]);
  });
});
