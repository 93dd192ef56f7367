/**
 * The scheduler's copy of the active placements: read once, kept while the placement epoch shows
 * only this scheduler's own commits, read again whenever anything else moved it.
 */
import { expect } from 'chai';
import { ActivePlacements } from '../../server/scheduling/active-placements.js';
import type { ActivePlacement, WorkloadsRepository } from '../../server/repositories/workloads.repository.js';

function placement(id: string, workloadId: string): ActivePlacement {
  return {
    id,
    workload_id: workloadId,
    tenant_id: 'tn_1',
    priority: 'normal',
    workload_seq: 1,
    cluster_id: 'cl_1',
    device_model: 'H100',
    replicas: 1,
    devices_per_replica: 1,
    tokens_per_min: 1000,
    workload_tokens_per_min: 1000,
    cost_factor: '1',
  };
}

/** The two reads the copy makes, over a table and an epoch the test moves. */
class Table {
  epoch = 7;
  rows: ActivePlacement[] = [placement('pl_a', 'wl_a'), placement('pl_b', 'wl_b')];
  reads = 0;
  readonly repo = {
    placementEpoch: async () => this.epoch,
    active: async () => {
      this.reads++;
      return [...this.rows];
    },
  } as unknown as WorkloadsRepository;
}

const ids = (rows: readonly ActivePlacement[]) => rows.map((r) => r.id).sort();

describe('ActivePlacements (the scheduler copy of the active placements)', () => {
  it('reads the table once and keeps the copy while the epoch does not move', async () => {
    const table = new Table();
    const copy = new ActivePlacements(table.repo);
    expect(ids(await copy.current())).to.deep.equal(['pl_a', 'pl_b']);
    expect(ids(await copy.current())).to.deep.equal(['pl_a', 'pl_b']);
    expect(table.reads).to.equal(1);
    expect(copy.fullReads).to.equal(1);
  });

  it('reads again once something else moved the epoch (a delete, a rescale, another replica)', async () => {
    const table = new Table();
    const copy = new ActivePlacements(table.repo);
    await copy.current();
    table.rows = [placement('pl_b', 'wl_b')];
    table.epoch++;
    expect(ids(await copy.current())).to.deep.equal(['pl_b']);
    expect(table.reads).to.equal(2);
  });

  const cases = [
    {
      name: 'its own commit, the only move of the epoch: kept, with the new placements and without the released ones',
      commitEpoch: (read: number) => read + 1,
      added: [placement('pl_c', 'wl_c')],
      released: ['wl_a'],
      kept: ['pl_b', 'pl_c'],
      reads: 1,
    },
    {
      name: 'another change committed between the read and its own commit: dropped and read again',
      commitEpoch: (read: number) => read + 2,
      added: [placement('pl_c', 'wl_c')],
      released: [],
      kept: undefined,
      reads: 2,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const table = new Table();
      const copy = new ActivePlacements(table.repo);
      await copy.current();
      const epoch = c.commitEpoch(table.epoch);
      table.epoch = epoch;
      copy.committed(epoch, c.added, new Set(c.released));
      expect(copy.kept && ids(copy.kept)).to.deep.equal(c.kept);
      await copy.current();
      expect(table.reads).to.equal(c.reads);
    });
  }

  it('forgets the copy on request (leadership changed, a cycle failed)', async () => {
    const table = new Table();
    const copy = new ActivePlacements(table.repo);
    await copy.current();
    copy.forget();
    expect(copy.kept).to.equal(undefined);
    await copy.current();
    expect(table.reads).to.equal(2);
  });
});
