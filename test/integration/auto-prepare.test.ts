/**
 * Statements the pool runs often become prepared statements (db/auto-prepare.ts): PostgreSQL
 * then shows them in the connection's pg_prepared_statements, and answers are unchanged.
 */
import { expect } from 'chai';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { autoPreparing } from '../../db/auto-prepare.js';
import { freshPostgresUrl } from '../databases.js';

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('prepared statements for what runs often [postgres]', () => {
  let pool: pg.Pool;
  let prepared: ReturnType<typeof autoPreparing>;
  let db: Kysely<unknown>;

  before(async () => {
    // One connection, so that what it prepared can be read back on it.
    pool = new pg.Pool({ connectionString: await freshPostgresUrl(), max: 1 });
    prepared = autoPreparing(pool, { prepareAfter: 3, maxPrepared: 2 });
    db = new Kysely({ dialect: new PostgresDialect({ pool: prepared }) });
  });

  after(async () => {
    await db.destroy();
  });

  const onConnection = async () =>
    (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements ORDER BY statement`.execute(db)).rows.map((r) => r.statement);

  it('prepares a text once it has run prepareAfter times, and answers as before', async () => {
    for (let i = 0; i < 2; i++) expect((await sql<{ n: number }>`SELECT ${i}::int + 1 AS n`.execute(db)).rows).to.deep.equal([{ n: i + 1 }]);
    expect(await onConnection()).to.deep.equal([]);
    for (let i = 2; i < 6; i++) expect((await sql<{ n: number }>`SELECT ${i}::int + 1 AS n`.execute(db)).rows).to.deep.equal([{ n: i + 1 }]);
    expect(await onConnection()).to.deep.equal(['SELECT $1::int + 1 AS n']);
  });

  it('a prepared statement that fails reports the error, and the connection goes on', async () => {
    for (let i = 0; i < 3; i++) await sql`SELECT 10 / ${i + 1}::int AS n`.execute(db).catch(() => undefined);
    let failure: unknown;
    await sql`SELECT 10 / ${0}::int AS n`.execute(db).catch((err: unknown) => (failure = err));
    expect(String(failure)).to.match(/division by zero/);
    expect(await onConnection()).to.include('SELECT 10 / $1::int AS n');
    expect((await sql<{ n: number }>`SELECT ${41}::int + 1 AS n`.execute(db)).rows).to.deep.equal([{ n: 42 }]);
  });

  it('prepares no more than maxPrepared texts', async () => {
    for (const text of ['SELECT 2 AS n', 'SELECT 3 AS n', 'SELECT 4 AS n']) {
      for (let i = 0; i < 4; i++) await sql.raw(text).execute(db);
    }
    expect(prepared.prepared()).to.equal(2);
    expect(await onConnection()).to.have.length(2);
  });
});
