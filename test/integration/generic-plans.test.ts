/**
 * Hot statements stay served by their indexes once prepared. db/auto-prepare.ts names a statement
 * after a few runs, and PostgreSQL may then plan it once, generically, without the parameters'
 * values: a partial index whose predicate the generic plan cannot prove from the statement is
 * never used again. Each statement here is planned as a generic plan would be, on a database
 * where sequential scans are discouraged, and must use its index.
 */
import { expect } from 'chai';
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import pg from 'pg';
import type { DB } from '../../db/schema.js';
import { EnginesRepository } from '../../server/repositories/engines.repository.js';
import { WorkloadsRepository } from '../../server/repositories/workloads.repository.js';
import { freshPostgresUrl } from '../databases.js';

describe('generic plans of hot statements [postgres]', () => {
  it("a heartbeat's desired set and held devices use the partial index on active placements", async function () {
    if (!process.env.TEST_DATABASE_URL) this.skip();
    const url = await freshPostgresUrl();
    const captured: CompiledQuery[] = [];
    const db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
      log: (e) => {
        if (e.level === 'query') captured.push(e.query);
      },
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await new EnginesRepository(db).forPlacements('cl_generic');
      await new WorkloadsRepository(db).heldDevices(['cl_generic']);
      expect(captured).to.have.length(2);
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query('SET enable_seqscan = off');
      for (const [i, q] of captured.entries()) {
        await client.query(`PREPARE generic_${i} AS ${q.sql}`);
        const args = q.parameters.map((v) => client.escapeLiteral(String(v))).join(', ');
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE generic_${i}${args ? `(${args})` : ''}`);
        const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(text, q.sql).to.include('placements_active_cluster_idx');
      }
    } finally {
      await client.end();
      await db.destroy();
    }
  });
});
