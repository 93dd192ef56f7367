import { expect } from 'chai';
import { shrinkPlacements, type HeldPlacement } from '../../../scheduler/rescale.js';
import { seededRandom } from './builders.js';

const p = (id: string, clusterId: string, replicas: number, perReplica: number): HeldPlacement => ({
  id,
  clusterId,
  replicas,
  tokensPerMin: replicas * perReplica,
});

/** Kept replicas by placement id, for compact comparison. */
function kept(placements: readonly HeldPlacement[], tokensPerMin: number, ha = false): Record<string, number> | null {
  const out = shrinkPlacements(placements, tokensPerMin, ha);
  return out && Object.fromEntries([...out].map(([id, k]) => [id, k.replicas]));
}

describe('shrinkPlacements (rescaling a placed workload down)', () => {
  const cases: ReadonlyArray<{ name: string; placements: HeldPlacement[]; tokensPerMin: number; ha?: boolean; want: Record<string, number> | null }> = [
    { name: 'keeps everything when all of it is needed', placements: [p('a', 'c1', 3, 100)], tokensPerMin: 300, want: { a: 3 } },
    { name: 'releases the replicas the new size no longer needs', placements: [p('a', 'c1', 4, 100)], tokensPerMin: 150, want: { a: 2 } },
    { name: 'a size one replica carries keeps one', placements: [p('a', 'c1', 4, 100)], tokensPerMin: 1, want: { a: 1 } },
    {
      name: 'keeps the largest replicas first (fewest replicas) and releases a placement left with none',
      placements: [p('small', 'c1', 4, 50), p('big', 'c2', 2, 200)],
      tokensPerMin: 350,
      want: { small: 0, big: 2 },
    },
    { name: 'growing past what is held: placed again (null)', placements: [p('a', 'c1', 2, 100)], tokensPerMin: 201, want: null },
    {
      name: 'ha: stays spread over two clusters',
      placements: [p('a', 'c1', 3, 100), p('b', 'c2', 1, 100)],
      tokensPerMin: 150,
      ha: true,
      want: { a: 1, b: 1 },
    },
    {
      name: 'without ha the same shrink may leave one cluster',
      placements: [p('a', 'c1', 3, 100), p('b', 'c2', 1, 100)],
      tokensPerMin: 150,
      want: { a: 2, b: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(kept(c.placements, c.tokensPerMin, c.ha)).to.deep.equal(c.want);
    });
  }

  it('keeps a placement whole with its own tokensPerMin, and a shrunk one in proportion', () => {
    const placements = [{ id: 'a', clusterId: 'c1', replicas: 3, tokensPerMin: 1000 }, p('b', 'c2', 2, 50)];
    const whole = shrinkPlacements(placements, 900, false)!;
    expect(whole.get('a')).to.deep.equal({ replicas: 3, tokensPerMin: 1000 });
    expect(whole.get('b')).to.deep.equal({ replicas: 0, tokensPerMin: 0 });
    expect(shrinkPlacements(placements, 500, false)!.get('a')).to.deep.equal({ replicas: 2, tokensPerMin: 2000 / 3 });
  });

  it('random shapes: carries the size with the fewest replicas, never more than held (seeded)', () => {
    const rand = seededRandom(12);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    for (let i = 0; i < 500; i++) {
      const placements = Array.from({ length: int(1, 4) }, (_, j) => p(`p${j}`, `c${int(1, 3)}`, int(1, 6), int(1, 5) * 1000 + rand()));
      const total = placements.reduce((s, x) => s + x.tokensPerMin, 0);
      const size = int(1, Math.floor(total));
      const out = shrinkPlacements(placements, size, false)!;
      let carried = 0;
      let count = 0;
      for (const x of placements) {
        const k = out.get(x.id)!;
        expect(k.replicas).to.be.within(0, x.replicas);
        carried += k.tokensPerMin;
        count += k.replicas;
      }
      expect(carried, `case ${i}`).to.be.at.least(size);
      // The fewest: the largest `count - 1` replicas of all do not carry the size.
      const sizes = placements.flatMap((x) => Array.from({ length: x.replicas }, () => x.tokensPerMin / x.replicas)).sort((a, b) => b - a);
      expect(
        sizes.slice(0, count - 1).reduce((s, x) => s + x, 0),
        `case ${i}`,
      ).to.be.below(size);
    }
  });
});
