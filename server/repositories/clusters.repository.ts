import { sql, type Kysely, type Selectable } from 'kysely';
import type { ClusterInventoryTable, ClustersTable, DB } from '../../db/schema.js';
import { nodeFitOf, type NodeFitByModel, type NodeReport } from '../domain/node-report.js';
import { isUniqueViolation } from '../../db/errors.js';
import { AppError } from '../errors.js';
import { onePage, type PageRequest } from './paging.js';
import { ACTIVE_SQL, requeueWhole } from './workloads.repository.js';

export type ClusterRow = Selectable<ClustersTable>;
export type InventoryRow = Selectable<ClusterInventoryTable>;

export interface ReportedDevice {
  readonly deviceModel: string;
  readonly total: number;
  readonly healthy: number;
}

/** Member clusters, their agents' token hashes and the inventory their agents last reported. */
export class ClustersRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(row: { id: string; name: string; region: string; labels: Record<string, string>; tokenHash: string; now: Date }): Promise<ClusterRow> {
    try {
      return await this.db
        .insertInto('clusters')
        .values({
          id: row.id,
          name: row.name,
          region: row.region,
          labels: JSON.stringify(row.labels),
          agent_token_hash: row.tokenHash,
          created_at: row.now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A cluster named "${row.name}" already exists.`);
      throw err;
    }
  }

  list(page: PageRequest): Promise<ClusterRow[]> {
    return this.db.selectFrom('clusters').selectAll().$call(onePage(page)).execute();
  }

  all(): Promise<ClusterRow[]> {
    return this.db.selectFrom('clusters').selectAll().orderBy('seq').execute();
  }

  /** What a scheduling cycle reads of every cluster, in registration order (no labels or token hashes to decode). */
  forScheduling(): Promise<Pick<ClusterRow, 'id' | 'name' | 'region' | 'cordoned' | 'last_heartbeat_at' | 'weight_sources'>[]> {
    return this.db.selectFrom('clusters').select(['id', 'name', 'region', 'cordoned', 'last_heartbeat_at', 'weight_sources']).orderBy('seq').execute();
  }

  /** Healthy devices of every cluster by device model, as a scheduling cycle reads them. */
  healthyDevices(): Promise<Pick<InventoryRow, 'cluster_id' | 'device_model' | 'healthy'>[]> {
    return this.db.selectFrom('cluster_inventory').select(['cluster_id', 'device_model', 'healthy']).orderBy('cluster_id').orderBy('device_model').execute();
  }

  get(id: string): Promise<ClusterRow | undefined> {
    return this.db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
  }

  getByName(name: string): Promise<ClusterRow | undefined> {
    return this.db.selectFrom('clusters').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Inventory of the given clusters (all clusters when `ids` is undefined). */
  inventory(ids?: readonly string[]): Promise<InventoryRow[]> {
    let q = this.db.selectFrom('cluster_inventory').selectAll();
    if (ids) {
      if (ids.length === 0) return Promise.resolve([]);
      q = q.where('cluster_id', 'in', ids);
    }
    return q.orderBy('cluster_id').orderBy('device_model').execute();
  }

  async findByTokenHash(hash: string): Promise<{ clusterId: string } | undefined> {
    const row = await this.db.selectFrom('clusters').select('id').where('agent_token_hash', '=', hash).executeTakeFirst();
    return row && { clusterId: row.id };
  }

  async setCordoned(id: string, cordoned: boolean): Promise<ClusterRow | undefined> {
    return this.db.updateTable('clusters').set({ cordoned }).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async setTokenHash(id: string, tokenHash: string): Promise<boolean> {
    const r = await this.db.updateTable('clusters').set({ agent_token_hash: tokenHash }).where('id', '=', id).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /**
   * Deregisters a cluster. Its placements go with it, so the workloads that held any are sent
   * back to pending (reason `capacity`) in the same transaction, releasing what else they held,
   * to be placed again whole: a workload is never left `placed` without its placements. The
   * cluster row is locked first, so a scheduling cycle cannot add placements on it meanwhile.
   */
  async delete(id: string, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const found = await tx.selectFrom('clusters').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
      if (!found) return false;
      const held = await tx
        .selectFrom('placements')
        .select('workload_id')
        .distinct()
        .where('cluster_id', '=', id)
        .where(sql<boolean>`state IN ${ACTIVE_SQL}`)
        .execute();
      const ids = held.map((r) => r.workload_id);
      await requeueWhole(tx, ids, { reason: 'capacity', message: 'a cluster it ran on was deregistered; waiting to be placed again' }, now);
      const r = await tx.deleteFrom('clusters').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    });
  }

  /**
   * Records a heartbeat: replaces the inventory and marks the cluster ready, atomically.
   * Answers the liveness the cluster had before and whether the inventory changed, so callers
   * can tell a cluster that came back or shrank. `weightSources`, when the agent reports them
   * (sorted, so that the same report compares equal), replace the stored ones, and a change
   * counts as an inventory change (what the cluster can take changed); undefined keeps them.
   */
  async recordHeartbeat(
    id: string,
    devices: readonly ReportedDevice[],
    now: Date,
    weightSources?: { readonly kinds: readonly string[]; readonly claims: readonly string[] },
  ): Promise<{ previousLiveness: string; inventoryChanged: boolean }> {
    const sources = weightSources === undefined ? null : JSON.stringify({ kinds: [...weightSources.kinds].sort(), claims: [...weightSources.claims].sort() });
    // One statement, one round trip (heartbeats are the platform's most frequent write): lock the
    // cluster row, compare the reported inventory with the stored one, delete the models no
    // longer reported, upsert the others, and mark the cluster ready. The delete and the upsert
    // touch disjoint rows, as data-modifying CTEs must.
    const r = await sql<{ previous: string; changed: boolean }>`
      WITH old AS (SELECT liveness, weight_sources FROM clusters WHERE id = ${id} FOR UPDATE),
      reported AS (
        SELECT * FROM unnest(${devices.map((d) => d.deviceModel)}::text[], ${devices.map((d) => d.total)}::int[], ${devices.map((d) => d.healthy)}::int[])
          AS n(device_model, total, healthy)
      ),
      stored AS (SELECT device_model, total, healthy FROM cluster_inventory WHERE cluster_id = ${id}),
      changed AS (
        SELECT EXISTS (SELECT * FROM stored EXCEPT SELECT * FROM reported)
            OR EXISTS (SELECT * FROM reported EXCEPT SELECT * FROM stored) AS yes
      ),
      sources_changed AS (
        SELECT ${sources}::jsonb IS NOT NULL AND ${sources}::jsonb IS DISTINCT FROM (SELECT weight_sources FROM old) AS yes
      ),
      gone AS (
        DELETE FROM cluster_inventory
         WHERE cluster_id = ${id} AND device_model NOT IN (SELECT device_model FROM reported)
      ),
      upsert AS (
        INSERT INTO cluster_inventory (cluster_id, device_model, total, healthy)
        SELECT ${id}, device_model, total, healthy FROM reported WHERE (SELECT yes FROM changed)
        ON CONFLICT (cluster_id, device_model) DO UPDATE SET total = EXCLUDED.total, healthy = EXCLUDED.healthy
      ),
      touched AS (
        UPDATE clusters SET last_heartbeat_at = ${now}, liveness = 'ready', weight_sources = coalesce(${sources}::jsonb, weight_sources) WHERE id = ${id}
      )
      SELECT (SELECT liveness FROM old) AS previous, (SELECT yes FROM changed) OR (SELECT yes FROM sources_changed) AS changed`.execute(this.db);
    const row = r.rows[0];
    if (!row || row.previous === null) throw new Error(`cluster ${id} does not exist`);
    return { previousLiveness: row.previous, inventoryChanged: row.changed };
  }

  /**
   * Records an agent's node report (nodes and capabilities replace the previous report together;
   * `nodes` undefined: capabilities only, the scheduler then judges by device counts). Touches
   * `reported_at` on every call, and rewrites the stored nodes only when they changed. Answers
   * whether the report changed (the scheduler should look again).
   */
  async recordNodes(id: string, nodes: readonly NodeReport[] | undefined, leaderWorkerSet: boolean, now: Date): Promise<boolean> {
    const text = nodes === undefined ? null : JSON.stringify(nodes.map((n) => ({ name: n.name, deviceModel: n.deviceModel, total: n.total, free: n.free })));
    const fit = nodes === undefined ? null : JSON.stringify(nodeFitOf(nodes));
    const r = await sql<{ changed: boolean }>`
      WITH old AS (SELECT nodes, leader_worker_set FROM cluster_nodes WHERE cluster_id = ${id}),
      up AS (
        INSERT INTO cluster_nodes AS c (cluster_id, nodes, fit, leader_worker_set, reported_at)
        VALUES (${id}, ${text}::jsonb, ${fit}::jsonb, ${leaderWorkerSet}, ${now})
        ON CONFLICT (cluster_id) DO UPDATE SET
          nodes = CASE WHEN c.nodes IS DISTINCT FROM EXCLUDED.nodes THEN EXCLUDED.nodes ELSE c.nodes END,
          fit = CASE WHEN c.nodes IS DISTINCT FROM EXCLUDED.nodes THEN EXCLUDED.fit ELSE c.fit END,
          leader_worker_set = EXCLUDED.leader_worker_set,
          reported_at = EXCLUDED.reported_at
      )
      SELECT NOT EXISTS (SELECT 1 FROM old)
          OR EXISTS (SELECT 1 FROM old WHERE nodes IS DISTINCT FROM ${text}::jsonb OR leader_worker_set <> ${leaderWorkerSet}) AS changed`.execute(this.db);
    return r.rows[0]?.changed ?? true;
  }

  /** The node report of one cluster, if its agent ever sent one. */
  nodeReport(id: string): Promise<{ nodes: NodeReport[] | null; leader_worker_set: boolean; reported_at: Date } | undefined> {
    return this.db.selectFrom('cluster_nodes').select(['nodes', 'leader_worker_set', 'reported_at']).where('cluster_id', '=', id).executeTakeFirst();
  }

  /** What a scheduling cycle reads of the node reports sent since `since` (older ones are stale). */
  nodeFits(since: Date): Promise<{ cluster_id: string; fit: NodeFitByModel | null; leader_worker_set: boolean }[]> {
    return this.db.selectFrom('cluster_nodes').select(['cluster_id', 'fit', 'leader_worker_set']).where('reported_at', '>=', since).execute();
  }

  /** Marks ready clusters whose last heartbeat is older than `cutoff` as not ready; answers their ids. */
  async markStale(cutoff: Date): Promise<string[]> {
    const rows = await this.db
      .updateTable('clusters')
      .set({ liveness: 'not_ready' })
      .where('liveness', '=', 'ready')
      .where('last_heartbeat_at', '<', cutoff)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async countByLiveness(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('clusters')
      .select(['liveness', sql<number>`count(*)::int8`.as('n')])
      .groupBy('liveness')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.liveness, r.n]));
  }
}
