/**
 * The lock order of workloads and placements (workloads.repository.ts, lockPlacementsOf): agents'
 * ready reports, a cycle's preemptions, deletes and rescales running at once on the same
 * placements never deadlock (on PostgreSQL, one would be aborted: a heartbeat's 500, a failed
 * cycle). On PGlite, one connection, they simply take turns.
 */
import { expect } from 'chai';
import { sql } from 'kysely';
import { WorkloadsRepository } from '../../server/repositories/workloads.repository.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const WORKLOADS = 12;
const ROUNDS = 15;

/** A deterministic shuffle (a linear congruential generator), so that a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function active(p: TestPlatform, ids: readonly string[]) {
  const r = await sql<{ id: string; workload_id: string; cluster_id: string; replicas: number; ready_replicas: number }>`
    SELECT id, workload_id, cluster_id, replicas, ready_replicas FROM placements
     WHERE workload_id = ANY(${[...ids]}::text[]) AND state IN ('placed', 'running')`.execute(p.database.db);
  return r.rows;
}

describeOnDatabases('lock order: ready reports, preemption, deletes and rescales at once', (platform) => {
  it('never deadlocks, however the work interleaves', async function () {
    this.timeout(120_000);
    const p = platform();
    const repo = new WorkloadsRepository(p.database.db);
    const c = await p.request('POST', '/api/v1/clusters', { body: { name: 'lock-order', region: 'nansha' } });
    const inventory = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 64, healthy: 64 }];
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: c.body.agentToken, body: { inventory, placements: [] } })).status).to.equal(200);
    const t = await p.request('POST', '/api/v1/tenants', { body: { name: 'Lock Order Tenant', kind: 'enterprise' } });
    const ids: string[] = [];
    for (let i = 0; i < WORKLOADS; i++) {
      const w = await p.request('POST', '/api/v1/workloads', {
        token: t.body.apiKey,
        body: { name: `lo-${i}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 1000 },
      });
      expect(w.status).to.equal(202);
      ids.push(w.body.id);
    }
    for (let round = 0; round < ROUNDS; round++) {
      await p.app.scheduler.runCycle();
      const held = await active(p, ids);
      expect(held.length, `round ${round}: placed`).to.be.greaterThan(0);
      const now = p.clock.now();
      // Reports that change every placement (ready flips), in orders of their own, beside a
      // cycle's preemption of every workload in yet another order, a delete and a rescale.
      const reports = (seed: number) =>
        shuffled(
          held.map((h) => ({ id: h.id, readyReplicas: h.ready_replicas === h.replicas ? 0 : h.replicas })),
          seed,
        );
      const victims = shuffled(ids, round * 7 + 1).map((workloadId) => ({ workloadId, reason: 'capacity', message: 'preempted (lock-order test)' }));
      const clusterId = held[0]!.cluster_id;
      const work: Promise<unknown>[] = [
        repo.recordReady(clusterId, reports(round * 7 + 2), now),
        repo.recordReady(clusterId, reports(round * 7 + 3), now),
        repo.commitCycle({ placed: [], pending: [], requeued: victims }, now),
        repo.recordReady(clusterId, reports(round * 7 + 4), now),
      ];
      if (round === ROUNDS - 2) work.push(repo.markDeleted(ids.pop()!, now));
      if (round % 3 === 0) work.push(repo.rescale(ids[round % ids.length]!, 1000, now, () => null));
      const outcomes = await Promise.allSettled(work);
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => String(o.reason));
      expect(failed, `round ${round}`).to.deep.equal([]);
    }
  });
});
