import { expect } from 'chai';

import {
  ACTIVE_PLACEMENT_STATES,
  HOLDING_WORKLOAD_STATES,
  Lifecycle,
  PLACEMENT,
  PlacementState as P,
  sqlStates,
  WORKLOAD,
  WorkloadState as W,
} from '../../server/domain/workload-states.js';

describe('workload and placement states', () => {
  describe('workloads', () => {
    // Every change of state the platform makes (API.md "Workloads", "Scheduling rules").
    const allowed: ReadonlyArray<readonly [string, W, W]> = [
      ['a cycle places a pending workload', W.pending, W.placed],
      ['every placement reports all replicas ready', W.placed, W.running],
      ['a replica stops being ready', W.running, W.placed],
      ['preempted, evicted, its cluster lost or deregistered, or rescaled up (placed)', W.placed, W.pending],
      ['… the same while running', W.running, W.pending],
      ['deleted while pending', W.pending, W.deleted],
      ['deleted while placed', W.placed, W.deleted],
      ['deleted while running', W.running, W.deleted],
    ];
    for (const [what, from, to] of allowed) {
      it(`allows ${from} → ${to}: ${what}`, () => {
        expect(WORKLOAD.canTransition(from, to)).to.equal(true);
      });
    }

    const refused: ReadonlyArray<readonly [string, W, W]> = [
      ['a deleted workload never comes back', W.deleted, W.pending],
      ['… nor is placed', W.deleted, W.placed],
      ['… nor runs', W.deleted, W.running],
      ['a pending workload runs only after it is placed', W.pending, W.running],
      ['staying is not a move', W.pending, W.pending],
      ['deleting twice is not a move', W.deleted, W.deleted],
    ];
    for (const [what, from, to] of refused) {
      it(`refuses ${from} → ${to}: ${what}`, () => {
        expect(WORKLOAD.canTransition(from, to)).to.equal(false);
      });
    }

    it('starts pending and lists the states API.md names, in its order', () => {
      expect(WORKLOAD.initial).to.equal('pending');
      expect(WORKLOAD.states).to.deep.equal(['pending', 'placed', 'running', 'deleted']);
    });

    it('holds placements while placed or running, and only those may be requeued', () => {
      expect(HOLDING_WORKLOAD_STATES).to.deep.equal(['placed', 'running']);
      expect(WORKLOAD.sources(W.pending)).to.deep.equal(HOLDING_WORKLOAD_STATES);
      expect(WORKLOAD.sources(W.deleted)).to.deep.equal(['pending', 'placed', 'running']);
    });
  });

  describe('placements', () => {
    const allowed: ReadonlyArray<readonly [P, P]> = [
      [P.placed, P.running],
      [P.running, P.placed],
      [P.placed, P.lost],
      [P.running, P.lost],
      [P.placed, P.released],
      [P.running, P.released],
      [P.lost, P.released],
      [P.placed, P.failed],
      [P.running, P.failed],
      [P.failed, P.released],
    ];
    for (const [from, to] of allowed) {
      it(`allows ${from} → ${to}`, () => {
        expect(PLACEMENT.canTransition(from, to)).to.equal(true);
      });
    }

    const refused: ReadonlyArray<readonly [P, P]> = [
      [P.released, P.placed],
      [P.released, P.running],
      [P.lost, P.running],
      [P.lost, P.placed],
      [P.released, P.lost],
      [P.failed, P.running],
      [P.failed, P.placed],
      [P.released, P.failed],
      [P.lost, P.failed],
    ];
    for (const [from, to] of refused) {
      it(`refuses ${from} → ${to}: released is history and a lost or failed placement is never revived`, () => {
        expect(PLACEMENT.canTransition(from, to)).to.equal(false);
      });
    }

    it('starts placed; placed and running hold devices', () => {
      expect(PLACEMENT.initial).to.equal('placed');
      expect(ACTIVE_PLACEMENT_STATES).to.deep.equal(['placed', 'running']);
      expect(PLACEMENT.sources(P.released)).to.deep.equal(['placed', 'running', 'lost', 'failed']);
    });
  });

  describe('move', () => {
    it('declares a move from every state that may make it, or from the ones named', () => {
      expect(WORKLOAD.move(W.deleted)).to.deep.equal({ from: ['pending', 'placed', 'running'], to: 'deleted' });
      expect(PLACEMENT.move(P.released, [P.lost])).to.deep.equal({ from: ['lost'], to: 'released' });
    });

    it('throws on a move the table forbids, so a repository declaring one fails as it loads', () => {
      expect(() => WORKLOAD.move(W.pending, [W.deleted])).to.throw(/deleted → pending/);
      expect(() => PLACEMENT.move(P.running, [P.lost])).to.throw(/lost → running/);
    });

    it('answers false for a state the table does not know (a row read from the database)', () => {
      expect(WORKLOAD.canTransition('archived' as W, W.deleted)).to.equal(false);
      expect(new Lifecycle<'a' | 'b'>('a', { a: ['b'], b: [] }).sources('b')).to.deep.equal(['a']);
    });

    it('the repositories that change states load, so every move they declare is allowed', async () => {
      // Each declares its moves at module level with `move`, which throws on a forbidden one.
      await import('../../server/repositories/workloads.repository.js');
      await import('../../server/repositories/clusters.repository.js');
    });
  });

  describe('sqlStates', () => {
    it('writes a literal list for SQL', () => {
      expect(sqlStates(ACTIVE_PLACEMENT_STATES)).to.equal("('placed', 'running')");
    });

    it('refuses anything that is not a plain word', () => {
      expect(() => sqlStates(["placed'); DROP TABLE workloads; --"])).to.throw(RangeError);
    });
  });
});
