import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * An exact close (API.md v2 "Billing"): usage events carry `seq`, drawn from one sequence while
 * the inserting transaction holds an advisory lock shared, and a close draws its watermark from
 * the same sequence holding that lock exclusively. So every event whose `seq` is below a close's
 * watermark was committed before the close read it, and every event committed after has a larger
 * `seq`: the watermark replaces the received-time cutoff, which needed a settle margin (and one
 * clock for every process) to be safe.
 *
 * The sequence keeps the default CACHE 1: a session that cached a block of values could hand out
 * a value below a watermark drawn after it, which would break the order the close relies on.
 *
 * Rows stored before are numbered in order of arrival (`received_at`), and each stored cutoff
 * becomes the watermark that covers exactly the events received by it: `1 + ` the number of
 * events received by then. The watermark columns are kept beside the times, which stay as the
 * moments of the closes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE SEQUENCE usage_event_seq AS bigint`.execute(db);
  await sql`ALTER TABLE usage_events ADD COLUMN seq bigint`.execute(db);
  await sql`
    UPDATE usage_events u SET seq = n.rn
      FROM (SELECT cluster_id, id, row_number() OVER (ORDER BY received_at, cluster_id, id) AS rn FROM usage_events) n
     WHERE u.cluster_id = n.cluster_id AND u.id = n.id`.execute(db);
  await sql`SELECT setval('usage_event_seq', coalesce((SELECT max(seq) FROM usage_events), 0) + 1, false)`.execute(db);
  await sql`ALTER TABLE usage_events ALTER COLUMN seq SET DEFAULT nextval('usage_event_seq'), ALTER COLUMN seq SET NOT NULL`.execute(db);
  await sql`ALTER SEQUENCE usage_event_seq OWNED BY usage_events.seq`.execute(db);
  // Late usage is read by watermark: rows are appended roughly in `seq` order, as with received_at.
  await sql`CREATE INDEX usage_events_seq_brin ON usage_events USING brin (seq)`.execute(db);

  // A close's watermark: events with a smaller seq were committed before it.
  await sql`ALTER TABLE billing_closes ADD COLUMN cutoff_seq bigint`.execute(db);
  await sql`ALTER TABLE usage_billing ADD COLUMN billed_through_seq bigint`.execute(db);
  await sql`
    WITH t AS (SELECT DISTINCT cutoff AS at FROM billing_closes),
         w AS (SELECT t.at, 1 + (SELECT count(*) FROM usage_events e WHERE e.received_at <= t.at) AS seq FROM t)
    UPDATE billing_closes c SET cutoff_seq = w.seq FROM w WHERE w.at = c.cutoff`.execute(db);
  await sql`
    WITH t AS (SELECT DISTINCT billed_through AS at FROM usage_billing),
         w AS (SELECT t.at, 1 + (SELECT count(*) FROM usage_events e WHERE e.received_at <= t.at) AS seq FROM t)
    UPDATE usage_billing b SET billed_through_seq = w.seq FROM w WHERE w.at = b.billed_through`.execute(db);
  await sql`ALTER TABLE billing_closes ALTER COLUMN cutoff_seq SET NOT NULL`.execute(db);
  await sql`ALTER TABLE usage_billing ALTER COLUMN billed_through_seq SET NOT NULL`.execute(db);
}
