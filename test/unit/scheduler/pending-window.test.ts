import { expect } from 'chai';

import type { PendingWorkload } from '../../../server/repositories/workloads.repository.js';
import { pendingWindow } from '../../../server/repositories/workloads.repository.js';
import { nextPendingCursors } from '../../../server/scheduling/scheduler.js';

const rows = (tenantId: string, seqs: readonly number[]): PendingWorkload[] =>
  seqs.map((seq) => ({
    id: `${tenantId}-${seq}`,
    tenant_id: tenantId,
    seq,
    model_id: 'm',
    tokens_per_min: 1,
    priority: 'normal',
    regions: null,
    ha: false,
    version: 0,
    cost_factor: '1',
  }));

describe('the pending window of a scheduling cycle', () => {
  it('splits a window into its oldest half and a half read in turns, at least one of each', () => {
    expect(pendingWindow(200)).to.deep.equal({ head: 100, tail: 100 });
    expect(pendingWindow(5)).to.deep.equal({ head: 3, tail: 2 });
    expect(pendingWindow(0)).to.deep.equal({ head: 1, tail: 1 });
  });

  it('continues a full window after its last workload, and starts a short one after the head again', () => {
    const seqs = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    const full = rows('flood', [...seqs(1, 3), ...seqs(40, 2)]);
    const short = rows('quiet', seqs(7, 4));
    const wrapped = rows('wrapped', [...seqs(1, 3), 90]);
    const next = nextPendingCursors(
      [...full, ...short, ...wrapped].sort((a, b) => a.seq - b.seq),
      5,
    );
    expect([...next]).to.deep.equal([['flood', 41]]);
  });
});
