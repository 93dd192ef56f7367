import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Each tenant's pending workloads, counted as they change, so that a create checks the pending cap
 * in its own statement instead of counting rows behind a lock of its own.
 *
 * The count is kept in two rows per tenant, so that creates and the scheduler never wait for each
 * other: `pending_in` counts the workloads inserted pending, and only inserts move it;
 * `pending_out` counts, net, those that left pending since (placed, deleted, requeued back in).
 * A tenant's pending count is `pending_in.n - pending_out.n`. A create inserts what its snapshot
 * of the counts allows, and the insert's trigger, holding the tenants' `pending_in` rows, fails
 * the statement if a racing create committed meanwhile took the room: parallel creates from any
 * number of processes never pass the cap, and hold the rows only for the trigger's moment. The
 * scheduler's and deletes' transitions move only `pending_out`.
 *
 * Statement-level triggers keep both from any code path. pending_out's rows are taken in tenant
 * order, so two statements that move several tenants cannot deadlock on them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const side of ['in', 'out']) {
    await sql
      .raw(`CREATE TABLE pending_${side} (tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE, n bigint NOT NULL DEFAULT 0)`)
      .execute(db);
  }
  await sql`
    INSERT INTO pending_in (tenant_id, n)
    SELECT t.id, count(w.id) FROM tenants t LEFT JOIN workloads w ON w.tenant_id = t.id AND w.state = 'pending' GROUP BY t.id`.execute(db);
  await sql`INSERT INTO pending_out (tenant_id, n) SELECT id, 0 FROM tenants`.execute(db);

  await sql`
    CREATE FUNCTION pending_rows_open() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO pending_in (tenant_id, n) SELECT id, 0 FROM opened;
      INSERT INTO pending_out (tenant_id, n) SELECT id, 0 FROM opened;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER tenants_pending_rows AFTER INSERT ON tenants REFERENCING NEW TABLE AS opened
      FOR EACH STATEMENT EXECUTE FUNCTION pending_rows_open()`.execute(db);

  // Moves each named tenant's row of pending_out by its change. Rows of several tenants are locked
  // in tenant order first, so that two statements moving the same tenants cannot deadlock.
  await sql`
    CREATE FUNCTION pending_move_out(ids text[], deltas bigint[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF array_length(ids, 1) > 1 THEN
        PERFORM 1 FROM pending_out WHERE tenant_id = ANY (ids) ORDER BY tenant_id FOR UPDATE;
      END IF;
      UPDATE pending_out c SET n = c.n + m.delta FROM unnest(ids, deltas) AS m(tenant_id, delta) WHERE c.tenant_id = m.tenant_id;
    END $$`.execute(db);

  // Inserts move pending_in, the rows taken in tenant order. When the inserting statement set
  // `tokenpool.max_pending` (WorkloadsRepository.insert), a tenant now past it fails the statement
  // (SQLSTATE TPCAP): the statement counted from its snapshot, and a racing create of the same
  // tenant that committed meanwhile is seen here, where the row lock has waited for it.
  await sql`
    CREATE FUNCTION pending_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE cap bigint := nullif(current_setting('tokenpool.max_pending', true), '')::bigint; over text;
    BEGIN
      PERFORM 1 FROM pending_in WHERE tenant_id IN (SELECT tenant_id FROM added WHERE state = 'pending') ORDER BY tenant_id FOR UPDATE;
      WITH moved AS (
        UPDATE pending_in c SET n = c.n + m.delta
          FROM (SELECT tenant_id, count(*) AS delta FROM added WHERE state = 'pending' GROUP BY tenant_id) m
         WHERE c.tenant_id = m.tenant_id
        RETURNING c.tenant_id, c.n)
      SELECT moved.tenant_id INTO over FROM moved JOIN pending_out o ON o.tenant_id = moved.tenant_id WHERE moved.n - o.n > cap LIMIT 1;
      IF over IS NOT NULL THEN
        RAISE EXCEPTION 'tenant % has more than % pending workloads', over, cap USING ERRCODE = 'TPCAP';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION pending_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE ids text[]; deltas bigint[];
    BEGIN
      SELECT array_agg(tenant_id ORDER BY tenant_id), array_agg(delta ORDER BY tenant_id) INTO ids, deltas
        FROM (SELECT tenant_id, sum(delta) AS delta FROM (
                SELECT tenant_id, 1 AS delta FROM before WHERE state = 'pending'
                UNION ALL
                SELECT tenant_id, -1 FROM after WHERE state = 'pending') d
               GROUP BY tenant_id HAVING sum(delta) <> 0) m;
      IF ids IS NOT NULL THEN PERFORM pending_move_out(ids, deltas); END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION pending_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE ids text[]; deltas bigint[];
    BEGIN
      SELECT array_agg(tenant_id ORDER BY tenant_id), array_agg(delta ORDER BY tenant_id) INTO ids, deltas
        FROM (SELECT tenant_id, count(*) AS delta FROM removed WHERE state = 'pending' GROUP BY tenant_id) m;
      IF ids IS NOT NULL THEN PERFORM pending_move_out(ids, deltas); END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER workloads_pending_inserted AFTER INSERT ON workloads REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION pending_inserted()`.execute(db);
  await sql`
    CREATE TRIGGER workloads_pending_updated AFTER UPDATE ON workloads REFERENCING OLD TABLE AS before NEW TABLE AS after
      FOR EACH STATEMENT EXECUTE FUNCTION pending_updated()`.execute(db);
  await sql`
    CREATE TRIGGER workloads_pending_deleted AFTER DELETE ON workloads REFERENCING OLD TABLE AS removed
      FOR EACH STATEMENT EXECUTE FUNCTION pending_deleted()`.execute(db);
}
