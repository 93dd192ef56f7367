import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The ledger is append-only: balances are derived from its rows, so a row once written is never
 * changed or removed. The database refuses UPDATE, DELETE and TRUNCATE on `ledger_entries`, from
 * any code path (a tenant with ledger entries can therefore not be deleted either: the cascade
 * would delete them).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed', TG_OP USING ERRCODE = 'restrict_violation';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
      FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()`.execute(db);
}
