import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, EnginesTable } from '../../db/schema.js';
import type { WeightSource } from '../../scheduler/framework/types.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import { AppError } from '../errors.js';
import { onePage, type PageRequest } from './paging.js';
import { ACTIVE_SQL } from './workloads.repository.js';

export type EngineRow = Selectable<EnginesTable> & { readonly default_for: string[]; readonly cluster_images: Record<string, string> };

/** What an operator gives for an engine (every field; a patch is merged into the stored one first). */
export interface EngineValues {
  readonly name: string;
  readonly vendors: readonly string[];
  /** Vendors whose placements get this engine when their model names none; each a vendor it serves. */
  readonly defaultFor: readonly string[];
  readonly image: string;
  /** Cluster id → image used there instead of `image` (a private registry's copy). */
  readonly clusterImages?: Readonly<Record<string, string>>;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly apiKeyEnv: string | null;
  readonly port: number;
  readonly shmSize: string;
  readonly cpuPerDevice: string;
  readonly memoryPerDevice: string;
  readonly healthPath: string;
  readonly metricsPath: string;
  readonly metricsDialect: string;
  readonly startupSeconds: number;
  readonly runAsNonRoot: boolean;
  readonly basis: string;
}

/**
 * An active placement of a cluster as its agent is told to run it: what to run (the desired set of
 * the heartbeat answer), the vendor of its devices and which engine serves it. The engine comes as
 * its id and version: its row is the engine catalog's (EnginesService keeps the rows it has read).
 */
export interface PlacementEngineRow {
  readonly placementId: string;
  readonly workloadId: string;
  readonly model: string;
  readonly deviceModel: string;
  readonly profile: string;
  readonly resourceName: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly servingKey: string;
  /** The vendor of the placement's device profile; null when the profile is gone. */
  readonly vendor: string | null;
  /** The engine id the placement's model names for that vendor; null: none (the default applies). */
  readonly named: string | null;
  /** The engine resolved (named, else the vendor's default); null when there is none. */
  readonly engineId: string | null;
  /** The version of that engine's row (the transaction that wrote it), to tell a copy EnginesService holds is current. */
  readonly engineVersion: string | null;
  /** The engine's image on this cluster (its cluster image, else its own); null when there is no engine. */
  readonly image: string | null;
  /** Where the placement's weights come from: its cluster's own source for the model, else the model's; null: none set. */
  readonly source: WeightSource | null;
  /** The name the engine serves the model under: the model's `servedName`, else its name. */
  readonly servedName: string;
}

const withDefaults = sql<string[]>`coalesce((SELECT array_agg(d.vendor ORDER BY d.vendor) FROM engine_defaults d WHERE d.engine_id = engines.id), '{}')`;
const withClusterImages = sql<
  Record<string, string>
>`coalesce((SELECT jsonb_object_agg(i.cluster_id, i.image) FROM engine_cluster_images i WHERE i.engine_id = engines.id), '{}'::jsonb)`;

/** The engine catalog and each vendor's default engine (migration 0023). */
export class EnginesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  list(page: PageRequest): Promise<EngineRow[]> {
    return this.db
      .selectFrom('engines')
      .selectAll()
      .select([withDefaults.as('default_for'), withClusterImages.as('cluster_images')])
      .$call(onePage(page))
      .execute();
  }

  get(id: string): Promise<EngineRow | undefined> {
    return selectOne(this.db, id);
  }

  /** Engines with these ids (the ones a model names), with the vendors they serve. */
  vendorsOf(ids: readonly string[]): Promise<Array<{ id: string; vendors: string[] }>> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('engines')
      .select(['id', 'vendors'])
      .where('id', 'in', [...ids])
      .execute();
  }

  /** Adds an engine; its `defaultFor` vendors move to it from any engine that was their default. */
  insert(id: string, v: EngineValues, now: Date, builtin = false): Promise<EngineRow> {
    return this.write(id, v, async (tx) => {
      await tx
        .insertInto('engines')
        .values({ id, ...columns(v), builtin, created_at: now, updated_at: now })
        .execute();
      return true;
    }) as Promise<EngineRow>;
  }

  /** Replaces an engine's values; its default vendors become exactly `defaultFor` (taken from others). */
  update(id: string, v: EngineValues, now: Date): Promise<EngineRow | undefined> {
    return this.write(id, v, async (tx) => {
      const r = await tx
        .updateTable('engines')
        .set({ ...columns(v), updated_at: now })
        .where('id', '=', id)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      await tx.deleteFrom('engine_defaults').where('engine_id', '=', id).execute();
      return true;
    });
  }

  /** Writes the engine row (`row` answers whether there was one), then its defaults and cluster images, in one transaction. */
  private async write(id: string, v: EngineValues, row: (tx: Transaction<DB>) => Promise<boolean>): Promise<EngineRow | undefined> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        if (!(await row(tx))) return undefined;
        await setDefaults(tx, id, v.defaultFor);
        await setClusterImages(tx, id, v.clusterImages ?? {});
        return selectOne(tx, id);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `An engine named "${v.name}" already exists.`);
      if (isForeignKeyViolation(err))
        throw new AppError('unprocessable', 'A cluster named in clusterImages does not exist.', [
          { path: 'clusterImages', message: 'names a cluster that does not exist' },
        ]);
      throw err;
    }
  }

  /**
   * Deletes an operator-added engine that no model names, in one statement (a model naming it
   * between a check and the delete cannot slip through). `builtin` and `named` say why not.
   */
  async delete(id: string): Promise<'deleted' | 'missing' | 'builtin' | 'named'> {
    const r = await sql<{ id: string }>`
      DELETE FROM engines e
       WHERE e.id = ${id} AND NOT e.builtin
         AND NOT EXISTS (SELECT 1 FROM models m, jsonb_each_text(m.engines) n WHERE n.value = ${id})
       RETURNING e.id`.execute(this.db);
    if (r.rows.length > 0) return 'deleted';
    const row = await this.db.selectFrom('engines').select('builtin').where('id', '=', id).executeTakeFirst();
    if (!row) return 'missing';
    return row.builtin ? 'builtin' : 'named';
  }

  /**
   * Every active placement of a cluster with the engine that serves it: the engine its model names
   * for the vendor of its device profile, else that vendor's default; and the weights it loads
   * (the cluster's own source for the model, else the model's) and the name it serves them under.
   */
  /**
   * A cluster's active placements in the order they were made, each with what its engine is: the
   * heartbeat's one read of what the agent should run. Active states are literals (ACTIVE_SQL), so
   * that a generic plan still uses the partial index on active placements.
   */
  async forPlacements(clusterId: string): Promise<PlacementEngineRow[]> {
    const r = await sql<PlacementEngineRow>`
      SELECT p.id AS "placementId", p.workload_id AS "workloadId", m.name AS model, p.device_model AS "deviceModel",
             p.profile_name AS profile, p.resource_name AS "resourceName", p.replicas, p.devices_per_replica AS "devicesPerReplica",
             p.serving_key AS "servingKey", dp.vendor, m.engines ->> dp.vendor AS named,
             e.id AS "engineId", e.xmin::text AS "engineVersion", coalesce(ci.image, e.image) AS image,
             coalesce(ms.source, m.source) AS source, coalesce(m.served_name, m.name) AS "servedName"
        FROM placements p
        JOIN workloads w ON w.id = p.workload_id
        JOIN models m ON m.id = w.model_id
        LEFT JOIN model_cluster_sources ms ON ms.model_id = m.id AND ms.cluster_id = p.cluster_id
        LEFT JOIN device_profiles dp ON dp.id = p.profile_id
        LEFT JOIN engines e ON e.id = coalesce(m.engines ->> dp.vendor, (SELECT d.engine_id FROM engine_defaults d WHERE d.vendor = dp.vendor))
        LEFT JOIN engine_cluster_images ci ON ci.engine_id = e.id AND ci.cluster_id = p.cluster_id
       WHERE p.cluster_id = ${clusterId} AND p.state IN ${ACTIVE_SQL}
       ORDER BY p.seq`.execute(this.db);
    return r.rows;
  }

  /** The engines with these ids, as stored, each with the version of its row (see forPlacements). */
  byIds(ids: readonly string[]): Promise<Array<Selectable<EnginesTable> & { readonly version: string }>> {
    return this.db
      .selectFrom('engines')
      .selectAll()
      .select(sql<string>`xmin::text`.as('version'))
      .where('id', 'in', [...ids])
      .execute();
  }
}

function selectOne(db: Kysely<DB>, id: string): Promise<EngineRow | undefined> {
  return db
    .selectFrom('engines')
    .selectAll()
    .select([withDefaults.as('default_for'), withClusterImages.as('cluster_images')])
    .where('id', '=', id)
    .executeTakeFirst();
}

function columns(v: EngineValues) {
  return {
    name: v.name,
    vendors: [...new Set(v.vendors)],
    image: v.image,
    args: [...v.args],
    env: JSON.stringify(v.env),
    api_key_env: v.apiKeyEnv,
    port: v.port,
    shm_size: v.shmSize,
    cpu_per_device: v.cpuPerDevice,
    memory_per_device: v.memoryPerDevice,
    health_path: v.healthPath,
    metrics_path: v.metricsPath,
    metrics_dialect: v.metricsDialect,
    startup_seconds: v.startupSeconds,
    run_as_non_root: v.runAsNonRoot,
    basis: v.basis,
  };
}

async function setClusterImages(tx: Transaction<DB>, id: string, images: Readonly<Record<string, string>>): Promise<void> {
  await tx.deleteFrom('engine_cluster_images').where('engine_id', '=', id).execute();
  const rows = Object.entries(images).map(([cluster_id, image]) => ({ engine_id: id, cluster_id, image }));
  if (rows.length > 0) await tx.insertInto('engine_cluster_images').values(rows).execute();
}

async function setDefaults(tx: Transaction<DB>, id: string, vendors: readonly string[]): Promise<void> {
  if (vendors.length === 0) return;
  await tx
    .insertInto('engine_defaults')
    // Once each: ON CONFLICT cannot touch one row twice in a statement.
    .values([...new Set(vendors)].map((vendor) => ({ vendor, engine_id: id })))
    .onConflict((oc) => oc.column('vendor').doUpdateSet({ engine_id: id }))
    .execute();
}
