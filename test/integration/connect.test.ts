/**
 * The PostgreSQL pool outlives connections the server ends: an idle connection terminated by an
 * administrator (or a restart, or a failover) must not end the process, and the next query works.
 */
import { expect } from 'chai';
import { sql } from 'kysely';
import { connectDatabase } from '../../db/connect.js';
import { freshPostgresUrl } from '../databases.js';
import { until } from '../until.js';

describe('database pool [postgres]', () => {
  it('survives its idle connections being terminated by the server', async function () {
    if (!process.env.TEST_DATABASE_URL) this.skip();
    const url = await freshPostgresUrl();
    const database = await connectDatabase({ url, poolSize: 3 });
    const admin = await connectDatabase({ url, poolSize: 1 });
    try {
      // Three idle connections in the pool.
      await Promise.all([1, 2, 3].map(() => sql`SELECT pg_sleep(0.05)`.execute(database.db)));
      const ended = await sql<{ n: string }>`
        SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`.execute(admin.db);
      expect(Number(ended.rows[0]!.n)).to.be.at.least(3);
      // The pool learns of each as its socket closes; an uncaught 'error' would fail this test.
      const one = await until(
        'a query on a new connection',
        () =>
          sql<{ one: number }>`SELECT 1 AS one`.execute(database.db).then(
            (r) => r.rows[0]!.one,
            () => 0,
          ),
        (x) => x === 1,
      );
      expect(one).to.equal(1);
      for (let i = 0; i < 3; i++) expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db)).rows[0]!.one).to.equal(1);
    } finally {
      await database.close();
      await admin.close();
    }
  });
});
