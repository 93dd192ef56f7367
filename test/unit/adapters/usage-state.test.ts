import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileStateStore,
  MemoryStateStore,
  parseUsageState,
  serializeUsageState,
  StateTooLargeError,
  UnreadableStateError,
  type UsageState,
  type UsageStateStore,
} from '../../../adapters/usage-state.js';

const state: UsageState = {
  version: 1,
  cluster: 'nansha-1',
  firstScrapeAt: Date.parse('2026-11-01T00:00:00Z'),
  baselines: [
    ['pl-1', 'pod-a', 'uid-a/0', 1200, 300, 0, Date.parse('2026-11-01T00:10:00Z')],
    ['pl-1', 'pod-b', null, 0, 0, 2, Date.parse('2026-11-01T00:10:00Z')],
  ],
  queue: [{ id: 'nansha-1:abc', workloadId: 'wl-1', inputTokens: 40, outputTokens: 4, occurredAt: '2026-11-01T00:10:00.000Z' }],
};

describe('usage state', () => {
  describe('text', () => {
    it('reads back what it wrote', () => {
      expect(parseUsageState(serializeUsageState(state))).to.deep.equal(state);
    });

    const unreadable: [string, string][] = [
      ['not JSON', '{"version":1,'],
      ['empty', ''],
      ['another format version', JSON.stringify({ ...state, version: 2 })],
      ['a negative counter', JSON.stringify({ ...state, baselines: [['pl-1', 'pod-a', null, -1, 0, 0, 0]] })],
      ['an event without an id', JSON.stringify({ ...state, queue: [{ ...state.queue[0], id: undefined }] })],
      ['no cluster', JSON.stringify({ ...state, cluster: '' })],
      ['an array', '[]'],
    ];
    for (const [what, text] of unreadable) {
      it(`calls ${what} unreadable`, () => {
        expect(() => parseUsageState(text)).to.throw(UnreadableStateError);
      });
    }
  });

  const stores: [string, () => { store: UsageStateStore; dispose(): void; leftovers(): string[] }][] = [
    ['in memory', () => ({ store: new MemoryStateStore({ maxBytes: 1000 }), dispose() {}, leftovers: () => [] })],
    [
      'in a file',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'tokenpool-state-'));
        return {
          store: new FileStateStore(join(dir, 'sub', 'usage-state.json'), { maxBytes: 1000 }),
          dispose: () => rmSync(dir, { recursive: true, force: true }),
          leftovers: () => readdirSync(join(dir, 'sub')).filter((f) => f !== 'usage-state.json'),
        };
      },
    ],
  ];
  for (const [name, make] of stores) {
    describe(`store ${name}`, () => {
      let s: ReturnType<typeof make>;
      beforeEach(() => (s = make()));
      afterEach(() => s.dispose());

      it('has nothing before the first save, then the last text saved', async () => {
        expect(await s.store.load()).to.equal(undefined);
        await s.store.save('first');
        await s.store.save(serializeUsageState(state));
        expect(parseUsageState((await s.store.load())!)).to.deep.equal(state);
        expect(s.leftovers()).to.deep.equal([]);
      });

      it('refuses a text larger than it keeps, and keeps the previous one', async () => {
        await s.store.save('kept');
        const err = await s.store.save('x'.repeat(1001)).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(StateTooLargeError);
        expect(await s.store.load()).to.equal('kept');
        // Counted in bytes, not characters.
        expect(await s.store.save('字'.repeat(334)).catch((e: unknown) => e)).to.be.instanceOf(StateTooLargeError);
      });
    });
  }
});
