import type { Kysely, Selectable } from 'kysely';
import type { DB, DeviceProfilesTable, ModelsTable } from '../../db/schema.js';
import type { WeightSource } from '../../scheduler/framework/types.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import { AppError } from '../errors.js';
import { onePage, type PageRequest } from './paging.js';

export type DeviceProfileRow = Selectable<DeviceProfilesTable>;
export type ModelRow = Selectable<ModelsTable>;

export interface DeviceProfileValues {
  readonly name: string;
  readonly vendor: string;
  readonly memoryGiB: string;
  readonly tdpWatts: string;
  readonly stdTokensPerSec: string;
  readonly resourceName: string;
  readonly aliases: readonly string[];
}

export interface ModelValues {
  readonly name: string;
  readonly minMemoryGiB: string;
  readonly costFactor: string;
  readonly inputFactor: string;
  readonly vendors: readonly string[];
  /** Vendor → engine id (absent: the vendor's default engine); none given: {}. */
  readonly engines?: Readonly<Record<string, string>>;
  /** Where the weights come from; null or absent: none set. */
  readonly source?: WeightSource | null;
  /** The name its engine serves it under; null or absent: the model's name. */
  readonly servedName?: string | null;
}

/** A cluster's own weights source for a model (migration 0025). */
export interface ClusterSourceRow {
  readonly modelId: string;
  readonly model: string;
  readonly clusterId: string;
  readonly source: WeightSource;
  readonly updatedAt: Date;
}

/** Device profiles and models. Names and aliases of profiles share one namespace (`device_names`). */
export class CatalogRepository {
  constructor(private readonly db: Kysely<DB>) {}

  listProfiles(page: PageRequest): Promise<DeviceProfileRow[]> {
    return this.db.selectFrom('device_profiles').selectAll().$call(onePage(page)).execute();
  }

  allProfiles(): Promise<DeviceProfileRow[]> {
    return this.db.selectFrom('device_profiles').selectAll().orderBy('seq').execute();
  }

  getProfile(id: string): Promise<DeviceProfileRow | undefined> {
    return this.db.selectFrom('device_profiles').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertProfile(id: string, v: DeviceProfileValues, now: Date, builtin = false): Promise<DeviceProfileRow> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        const row = await tx
          .insertInto('device_profiles')
          .values({
            id,
            name: v.name,
            vendor: v.vendor,
            memory_gib: v.memoryGiB,
            tdp_watts: v.tdpWatts,
            std_tokens_per_sec: v.stdTokensPerSec,
            resource_name: v.resourceName,
            aliases: [...v.aliases],
            builtin,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await tx
          .insertInto('device_names')
          .values([v.name, ...v.aliases].map((name) => ({ name, profile_id: id })))
          .execute();
        return row;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A device profile already uses the name or alias of "${v.name}".`);
      throw err;
    }
  }

  async updateProfile(id: string, v: DeviceProfileValues, now: Date): Promise<DeviceProfileRow | undefined> {
    try {
      return await this.db.transaction().execute(async (tx) => {
        const row = await tx
          .updateTable('device_profiles')
          .set({
            name: v.name,
            vendor: v.vendor,
            memory_gib: v.memoryGiB,
            tdp_watts: v.tdpWatts,
            std_tokens_per_sec: v.stdTokensPerSec,
            resource_name: v.resourceName,
            aliases: [...v.aliases],
            updated_at: now,
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
        if (!row) return undefined;
        await tx.deleteFrom('device_names').where('profile_id', '=', id).execute();
        await tx
          .insertInto('device_names')
          .values([v.name, ...v.aliases].map((name) => ({ name, profile_id: id })))
          .execute();
        return row;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `Another device profile already uses a name or alias of "${v.name}".`);
      throw err;
    }
  }

  async deleteProfile(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('device_profiles').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  listModels(page: PageRequest): Promise<ModelRow[]> {
    return this.db.selectFrom('models').selectAll().$call(onePage(page)).execute();
  }

  allModels(): Promise<ModelRow[]> {
    return this.db.selectFrom('models').selectAll().orderBy('seq').execute();
  }

  getModel(id: string): Promise<ModelRow | undefined> {
    return this.db.selectFrom('models').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertModel(id: string, v: ModelValues, now: Date, builtin = false): Promise<ModelRow> {
    try {
      return await this.db
        .insertInto('models')
        .values({
          id,
          name: v.name,
          min_memory_gib: v.minMemoryGiB,
          cost_factor: v.costFactor,
          input_factor: v.inputFactor,
          vendors: [...v.vendors],
          engines: JSON.stringify(v.engines ?? {}),
          source: v.source ? JSON.stringify(v.source) : null,
          served_name: v.servedName ?? null,
          builtin,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A model named "${v.name}" already exists.`);
      throw err;
    }
  }

  async updateModel(id: string, v: ModelValues, now: Date): Promise<ModelRow | undefined> {
    try {
      return await this.db
        .updateTable('models')
        .set({
          name: v.name,
          min_memory_gib: v.minMemoryGiB,
          cost_factor: v.costFactor,
          input_factor: v.inputFactor,
          vendors: [...v.vendors],
          engines: JSON.stringify(v.engines ?? {}),
          source: v.source ? JSON.stringify(v.source) : null,
          served_name: v.servedName ?? null,
          updated_at: now,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `A model named "${v.name}" already exists.`);
      throw err;
    }
  }

  /** A model that workloads name (running or from the past: their usage is billed by it) stays: 409. */
  async deleteModel(id: string): Promise<boolean> {
    try {
      const r = await this.db.deleteFrom('models').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('conflict', 'Workloads use this model; it cannot be deleted.');
      throw err;
    }
  }

  /** The clusters' own weights sources: of one cluster, or of every cluster (for a scheduling cycle). */
  async clusterSources(clusterId?: string): Promise<ClusterSourceRow[]> {
    let q = this.db
      .selectFrom('model_cluster_sources as s')
      .innerJoin('models as m', 'm.id', 's.model_id')
      .select(['s.model_id', 'm.name', 's.cluster_id', 's.source', 's.updated_at']);
    if (clusterId !== undefined) q = q.where('s.cluster_id', '=', clusterId);
    const rows = await q.orderBy('m.seq').execute();
    return rows.map((r) => ({
      modelId: r.model_id,
      model: r.name,
      clusterId: r.cluster_id,
      source: r.source as unknown as WeightSource,
      updatedAt: r.updated_at,
    }));
  }

  /** Sets a cluster's own source for a model; false when the model or the cluster does not exist. */
  async putClusterSource(modelId: string, clusterId: string, source: WeightSource, now: Date): Promise<boolean> {
    try {
      await this.db
        .insertInto('model_cluster_sources')
        .values({ model_id: modelId, cluster_id: clusterId, source: JSON.stringify(source), updated_at: now })
        .onConflict((oc) => oc.columns(['model_id', 'cluster_id']).doUpdateSet({ source: JSON.stringify(source), updated_at: now }))
        .execute();
      return true;
    } catch (err) {
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  async deleteClusterSource(modelId: string, clusterId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('model_cluster_sources').where('model_id', '=', modelId).where('cluster_id', '=', clusterId).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}
