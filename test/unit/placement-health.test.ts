import { expect } from 'chai';

import { DEFAULT_HEALTH_DEADLINES, deadlinesFor, overdue, type PlacementHealth } from '../../server/domain/placement-health.js';

const MIN = 60_000;
const base = { failAfterMs: 5 * MIN, startupMs: 30 * MIN };
const T0 = new Date('2026-12-07T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('placement health deadlines', () => {
  const scale: ReadonlyArray<[number, number]> = [
    [1, 1],
    [2, 2],
    [4, 3],
    [8, 4],
    [64, 7],
  ];
  for (const [devices, factor] of scale) {
    it(`${devices} device(s) per replica: ${factor}× the base`, () => {
      expect(deadlinesFor(devices, base)).to.deep.equal({ failAfterMs: factor * 5 * MIN, startupMs: factor * 30 * MIN });
    });
  }

  it('defaults to 5 minutes failing and 30 minutes to start', () => {
    expect(DEFAULT_HEALTH_DEADLINES).to.deep.equal(base);
  });

  const healthy: PlacementHealth = { devicesPerReplica: 1, phase: 'running', failingSince: null, readyAt: T0, createdAt: T0 };
  const cases: ReadonlyArray<{ name: string; p: Partial<PlacementHealth>; now: number; want: 'failing' | 'startup' | null }> = [
    { name: 'running long after every deadline', p: {}, now: 600 * MIN, want: null },
    { name: 'failing just short of the deadline', p: { phase: 'failing', failingSince: T0 }, now: 5 * MIN - 1, want: null },
    { name: 'failing for the whole deadline', p: { phase: 'failing', failingSince: T0 }, now: 5 * MIN, want: 'failing' },
    { name: 'failing as long on 8 devices per replica', p: { phase: 'failing', failingSince: T0, devicesPerReplica: 8 }, now: 5 * MIN, want: null },
    { name: 'failing four times as long on 8 devices', p: { phase: 'failing', failingSince: T0, devicesPerReplica: 8 }, now: 20 * MIN, want: 'failing' },
    { name: 'starting, never ready, within its startup deadline', p: { phase: 'starting', readyAt: null }, now: 30 * MIN - 1, want: null },
    { name: 'starting, never ready, past it', p: { phase: 'pending', readyAt: null }, now: 30 * MIN, want: 'startup' },
    { name: 'starting again after it was once ready', p: { phase: 'starting' }, now: 600 * MIN, want: null },
    { name: 'no phase reported (an agent without health): never', p: { phase: null, readyAt: null, failingSince: T0 }, now: 6000 * MIN, want: null },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.want ?? 'kept'}`, () => {
      expect(overdue({ ...healthy, ...c.p }, at(c.now), base)).to.equal(c.want);
    });
  }
});
