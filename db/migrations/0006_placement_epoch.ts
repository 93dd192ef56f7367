import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * A counter that moves whenever the set of device-holding placements changes, or what they count
 * against quotas: a placement inserted, released, lost or deleted, a workload's size, priority or
 * model changed, a model's cost factor edited. The leading scheduler keeps the active placements
 * in memory and reads them again only when the counter has moved since it last read them.
 *
 * The triggers are deferred to commit, so a transaction takes the counter's row lock as its last
 * act and cannot deadlock on it; each transaction moves the counter once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE placement_epoch (id boolean PRIMARY KEY DEFAULT true CHECK (id), epoch bigint NOT NULL)`.execute(db);
  await sql`INSERT INTO placement_epoch (id, epoch) VALUES (true, 0)`.execute(db);
  await sql`
    CREATE FUNCTION bump_placement_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('tokenpool.placement_epoch_moved', true) IS DISTINCT FROM 'on' THEN
        UPDATE placement_epoch SET epoch = epoch + 1;
        PERFORM set_config('tokenpool.placement_epoch_moved', 'on', true);
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  const trigger = (name: string, event: string, table: string, when?: string) =>
    sql
      .raw(
        `CREATE CONSTRAINT TRIGGER ${name} AFTER ${event} ON ${table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      ${when ? `WHEN (${when})` : ''} EXECUTE FUNCTION bump_placement_epoch()`,
      )
      .execute(db);
  await trigger('placements_inserted', 'INSERT', 'placements');
  await trigger('placements_deleted', 'DELETE', 'placements');
  await trigger(
    'placements_changed',
    'UPDATE',
    'placements',
    `
    (OLD.state IN ('placed', 'running')) <> (NEW.state IN ('placed', 'running'))
    OR OLD.cluster_id IS DISTINCT FROM NEW.cluster_id OR OLD.device_model IS DISTINCT FROM NEW.device_model
    OR OLD.replicas IS DISTINCT FROM NEW.replicas OR OLD.devices_per_replica IS DISTINCT FROM NEW.devices_per_replica
    OR OLD.tokens_per_min IS DISTINCT FROM NEW.tokens_per_min OR OLD.workload_id IS DISTINCT FROM NEW.workload_id`,
  );
  await trigger(
    'workloads_counted_changed',
    'UPDATE',
    'workloads',
    `
    OLD.tokens_per_min IS DISTINCT FROM NEW.tokens_per_min OR OLD.priority IS DISTINCT FROM NEW.priority
    OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.model_id IS DISTINCT FROM NEW.model_id`,
  );
  await trigger('models_cost_changed', 'UPDATE', 'models', 'OLD.cost_factor IS DISTINCT FROM NEW.cost_factor');
}
