import { parseMicro } from '../../scheduler/capacity.js';
import type { Clock } from '../clock.js';
import { AppError, ignoreConflict } from '../errors.js';
import type { IdGenerator } from '../auth/tokens.js';
import type { WeightSource } from '../../scheduler/framework/types.js';
import type { CatalogRepository, DeviceProfileRow, DeviceProfileValues, ModelRow, ModelValues } from '../repositories/catalog.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { SettingsRepository } from '../repositories/settings.repository.js';
import { BUILTIN_DEVICE_PROFILES, BUILTIN_MODELS } from '../catalog/builtin-catalog.js';
import type { ProfileIndex, ProfileRef } from './cluster-view.js';

/** A catalog factor as an answer shows it: the JSON number whose text is the stored decimal. */
const num = (decimal: string): number => Number(decimal);

export interface DeviceProfile {
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly memoryGiB: number;
  readonly tdpWatts: number;
  readonly stdTokensPerSec: number;
  readonly resourceName: string;
  readonly aliases: readonly string[];
  readonly builtin: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Model {
  readonly id: string;
  readonly name: string;
  readonly minMemoryGiB: number;
  readonly costFactor: number;
  readonly inputFactor: number;
  readonly vendors: readonly string[];
  /** Vendor → engine id; a vendor not named gets its default engine. */
  readonly engines: Readonly<Record<string, string>>;
  /** Where its weights come from (a cluster may have its own); null: none set. */
  readonly source: WeightSource | null;
  /** The name its engine serves it under; null: its own name. */
  readonly servedName: string | null;
  readonly builtin: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A cluster's own weights source for a model, as the API shows it. */
export interface ClusterSource {
  readonly modelId: string;
  readonly model: string;
  readonly clusterId: string;
  readonly source: WeightSource;
  readonly updatedAt: string;
}

export function toDeviceProfile(r: DeviceProfileRow): DeviceProfile {
  return {
    id: r.id,
    name: r.name,
    vendor: r.vendor,
    memoryGiB: num(r.memory_gib),
    tdpWatts: num(r.tdp_watts),
    stdTokensPerSec: num(r.std_tokens_per_sec),
    resourceName: r.resource_name,
    aliases: r.aliases,
    builtin: r.builtin,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function toModel(r: ModelRow): Model {
  return {
    id: r.id,
    name: r.name,
    minMemoryGiB: num(r.min_memory_gib),
    costFactor: num(r.cost_factor),
    inputFactor: num(r.input_factor),
    vendors: r.vendors,
    engines: r.engines,
    source: (r.source as WeightSource | null) ?? null,
    servedName: r.served_name,
    builtin: r.builtin,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

const SEEDED_KEY = 'builtin_catalog_seeded';

/** Device profiles and models: the operator's catalog, seeded once from the built-in one. */
export class CatalogService {
  constructor(
    private readonly repo: CatalogRepository,
    private readonly settings: SettingsRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** Checks a model's vendor → engine map (the engine catalog); none: not checked. */
    private readonly checkEngines?: (engines: Readonly<Record<string, string>>) => Promise<void>,
  ) {}

  /**
   * Seeds the built-in catalog on the first start only, so that an operator's edits and
   * deletions stay as they are across restarts.
   */
  async seedBuiltins(): Promise<boolean> {
    if (await this.settings.get(SEEDED_KEY)) return false;
    const now = this.clock.now();
    for (const p of BUILTIN_DEVICE_PROFILES) {
      await this.repo.insertProfile(this.ids.next('dp'), p, now, true).catch(ignoreConflict);
    }
    for (const m of BUILTIN_MODELS) {
      await this.repo.insertModel(this.ids.next('mdl'), m, now, true).catch(ignoreConflict);
    }
    await this.settings.put(SEEDED_KEY, now.toISOString());
    return true;
  }

  async listProfiles(page: PageRequest): Promise<Page<DeviceProfile>> {
    return toPage(await this.repo.listProfiles(page), page.limit, toDeviceProfile);
  }

  async getProfile(id: string): Promise<DeviceProfile> {
    const row = await this.repo.getProfile(id);
    if (!row) throw new AppError('not_found', 'No device profile has this id.');
    return toDeviceProfile(row);
  }

  async createProfile(v: DeviceProfileValues): Promise<DeviceProfile> {
    assertDistinctNames(v);
    const now = this.clock.now();
    return toDeviceProfile(await this.repo.insertProfile(this.ids.next('dp'), v, now));
  }

  async updateProfile(id: string, patch: Partial<DeviceProfileValues>): Promise<DeviceProfile> {
    const row = await this.repo.getProfile(id);
    if (!row) throw new AppError('not_found', 'No device profile has this id.');
    const v: DeviceProfileValues = {
      name: patch.name ?? row.name,
      vendor: patch.vendor ?? row.vendor,
      memoryGiB: patch.memoryGiB ?? row.memory_gib,
      tdpWatts: patch.tdpWatts ?? row.tdp_watts,
      stdTokensPerSec: patch.stdTokensPerSec ?? row.std_tokens_per_sec,
      resourceName: patch.resourceName ?? row.resource_name,
      aliases: patch.aliases ?? row.aliases,
    };
    assertDistinctNames(v);
    const updated = await this.repo.updateProfile(id, v, this.clock.now());
    if (!updated) throw new AppError('not_found', 'No device profile has this id.');
    return toDeviceProfile(updated);
  }

  async deleteProfile(id: string): Promise<void> {
    if (!(await this.repo.deleteProfile(id))) throw new AppError('not_found', 'No device profile has this id.');
  }

  async listModels(page: PageRequest): Promise<Page<Model>> {
    return toPage(await this.repo.listModels(page), page.limit, toModel);
  }

  async getModel(id: string): Promise<Model> {
    const row = await this.repo.getModel(id);
    if (!row) throw new AppError('not_found', 'No model has this id.');
    return toModel(row);
  }

  async createModel(v: ModelValues): Promise<Model> {
    if (v.engines) await this.checkEngines?.(v.engines);
    const now = this.clock.now();
    return toModel(await this.repo.insertModel(this.ids.next('mdl'), v, now));
  }

  async updateModel(id: string, patch: Partial<ModelValues>): Promise<Model> {
    const row = await this.repo.getModel(id);
    if (!row) throw new AppError('not_found', 'No model has this id.');
    const v: ModelValues = {
      name: patch.name ?? row.name,
      minMemoryGiB: patch.minMemoryGiB ?? row.min_memory_gib,
      costFactor: patch.costFactor ?? row.cost_factor,
      inputFactor: patch.inputFactor ?? row.input_factor,
      vendors: patch.vendors ?? row.vendors,
      engines: patch.engines ?? row.engines,
      source: patch.source === undefined ? (row.source as WeightSource | null) : patch.source,
      servedName: patch.servedName === undefined ? row.served_name : patch.servedName,
    };
    if (patch.engines) await this.checkEngines?.(patch.engines);
    const updated = await this.repo.updateModel(id, v, this.clock.now());
    if (!updated) throw new AppError('not_found', 'No model has this id.');
    return toModel(updated);
  }

  async deleteModel(id: string): Promise<void> {
    if (!(await this.repo.deleteModel(id))) throw new AppError('not_found', 'No model has this id.');
  }

  /** The clusters' own weights sources of one cluster, by model. */
  async clusterSources(clusterId: string): Promise<ClusterSource[]> {
    return (await this.repo.clusterSources(clusterId)).map((r) => ({ ...r, updatedAt: r.updatedAt.toISOString() }));
  }

  /** Sets a cluster's own source for a model; the caller has checked the cluster (404 here is the model). */
  async putClusterSource(modelId: string, clusterId: string, source: WeightSource): Promise<ClusterSource> {
    const model = await this.repo.getModel(modelId);
    const now = this.clock.now();
    // A model or cluster deleted meanwhile fails the foreign key: the same 404.
    if (!model || !(await this.repo.putClusterSource(modelId, clusterId, source, now))) throw new AppError('not_found', 'No model has this id.');
    return { modelId, model: model.name, clusterId, source, updatedAt: now.toISOString() };
  }

  deleteClusterSource(modelId: string, clusterId: string): Promise<boolean> {
    return this.repo.deleteClusterSource(modelId, clusterId);
  }

  /** Every reportable device name (profile names and aliases) to its profile. */
  async profileIndex(): Promise<ProfileIndex> {
    const index = new Map<string, ProfileRef>();
    for (const r of await this.repo.allProfiles()) {
      const ref: ProfileRef = { id: r.id, name: r.name, vendor: r.vendor, stdTokensPerSec: parseMicro(r.std_tokens_per_sec) };
      index.set(r.name, ref);
      for (const a of r.aliases) index.set(a, ref);
    }
    return index;
  }
}

function assertDistinctNames(v: DeviceProfileValues): void {
  const seen = new Set<string>();
  for (const [i, n] of [v.name, ...v.aliases].entries()) {
    if (seen.has(n)) {
      throw new AppError('invalid', "A profile's name and aliases must all differ.", [
        { path: i === 0 ? 'name' : `aliases.${i - 1}`, message: `"${n}" appears twice` },
      ]);
    }
    seen.add(n);
  }
}
