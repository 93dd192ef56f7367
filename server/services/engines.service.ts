import type { Clock } from '../clock.js';
import { AppError, ignoreConflict, type FieldError } from '../errors.js';
import type { IdGenerator } from '../auth/tokens.js';
import type { Selectable } from 'kysely';
import type { EnginesTable } from '../../db/schema.js';
import type { EngineRow, EngineValues, EnginesRepository } from '../repositories/engines.repository.js';
import type { DesiredPlacement } from './clusters.service.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { SettingsRepository } from '../repositories/settings.repository.js';
import { BUILTIN_ENGINES } from '../catalog/builtin-engines.js';

/** How an engine reports its metrics, for the agent's scrape (NOTES.md "Token counters"). */
export type MetricsDialect = 'vllm' | 'sglang' | 'mindie' | 'none';

/**
 * The engine a desired placement carries in the heartbeat answer (the shape the agent renders
 * from). `args` may hold {model} {servedName} {tensorParallel} {port}, which the agent fills in.
 */
export interface PlacementEngine {
  readonly id: string;
  readonly image: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The env var the engine reads its API key (the placement's servingKey) from; null: `--api-key`. */
  readonly apiKeyEnv: string | null;
  readonly port: number;
  readonly shmSize: string;
  readonly cpuPerDevice: string;
  readonly memoryPerDevice: string;
  readonly healthPath: string;
  readonly metricsPath: string;
  readonly metricsDialect: MetricsDialect;
  readonly startupSeconds: number;
  readonly runAsNonRoot: boolean;
}

/** An engine of the catalog, as the API shows it: what a placement carries, and its catalog facts. */
export interface Engine extends PlacementEngine {
  /** Cluster id → the image used there instead of `image`. */
  readonly clusterImages: Readonly<Record<string, string>>;
  readonly name: string;
  readonly vendors: readonly string[];
  readonly defaultFor: readonly string[];
  readonly builtin: boolean;
  readonly basis: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A placement's engine, or why it has none (said in the heartbeat answer as `engineProblem`). */
export type EngineResolution = { readonly engine: PlacementEngine } | { readonly problem: string };

type EngineFacts = Omit<EngineRow, 'default_for' | 'cluster_images' | 'seq'>;

function toPlacementEngine(r: EngineFacts): PlacementEngine {
  return {
    id: r.id,
    image: r.image,
    args: r.args,
    env: r.env,
    apiKeyEnv: r.api_key_env,
    port: r.port,
    shmSize: r.shm_size,
    cpuPerDevice: r.cpu_per_device,
    memoryPerDevice: r.memory_per_device,
    healthPath: r.health_path,
    metricsPath: r.metrics_path,
    metricsDialect: r.metrics_dialect as MetricsDialect,
    startupSeconds: r.startup_seconds,
    runAsNonRoot: r.run_as_non_root,
  };
}

export function toEngine(r: EngineRow): Engine {
  return {
    ...toPlacementEngine(r),
    clusterImages: r.cluster_images,
    name: r.name,
    vendors: r.vendors,
    defaultFor: r.default_for,
    builtin: r.builtin,
    basis: r.basis,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** What a placement's engine lookup found, as an engine or a reason an operator can act on. */
export function resolution(r: { readonly vendor: string | null; readonly named: string | null; readonly engine: EngineFacts | null }): EngineResolution {
  if (r.vendor === null) return { problem: "The placement's device profile no longer exists, so its vendor (and engine) is unknown." };
  if (!r.engine) {
    return r.named
      ? { problem: `The model names engine ${r.named} for vendor "${r.vendor}", which no longer exists.` }
      : { problem: `No engine is the default for vendor "${r.vendor}" and the model names none for it.` };
  }
  if (r.engine.image === '') {
    return {
      problem: `Engine "${r.engine.name}" (${r.engine.id}) has no image configured for this cluster; set one (image or clusterImages) with PATCH /api/v1/engines/${r.engine.id}.`,
    };
  }
  return { engine: toPlacementEngine(r.engine) };
}

const SEEDED_KEY = 'builtin_engines_seeded';

const notFound = (): AppError => new AppError('not_found', 'No engine has this id.');

/**
 * The engine catalog: which serving engine runs a model on which vendor's devices. Built-ins are
 * seeded once (their own seed mark, so platforms seeded before the catalog existed get them on the
 * next start); operators patch them (image, arguments, environment…) but cannot delete them.
 * A vendor's default engine is the one whose `defaultFor` names it (at most one per vendor).
 */
export class EnginesService {
  /** Engine rows read for desired sets, by id: each replaced when a read shows another version. */
  readonly #engines = new Map<string, Selectable<EnginesTable> & { readonly version: string }>();

  constructor(
    private readonly repo: EnginesRepository,
    private readonly settings: SettingsRepository,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async seedBuiltins(): Promise<boolean> {
    if (await this.settings.get(SEEDED_KEY)) return false;
    const now = this.clock.now();
    for (const e of BUILTIN_ENGINES) {
      await this.repo.insert(this.ids.next('eng'), e, now, true).catch(ignoreConflict);
    }
    await this.settings.put(SEEDED_KEY, now.toISOString());
    return true;
  }

  async list(page: PageRequest): Promise<Page<Engine>> {
    return toPage(await this.repo.list(page), page.limit, toEngine);
  }

  async get(id: string): Promise<Engine> {
    const row = await this.repo.get(id);
    if (!row) throw notFound();
    return toEngine(row);
  }

  async create(v: EngineValues): Promise<Engine> {
    assertDefaultsServed(v);
    return toEngine(await this.repo.insert(this.ids.next('eng'), v, this.clock.now()));
  }

  /** Merges the fields given into the engine (built-ins included: an operator sets their image). */
  async update(id: string, patch: Partial<EngineValues>): Promise<Engine> {
    const row = await this.repo.get(id);
    if (!row) throw notFound();
    const v: EngineValues = {
      name: patch.name ?? row.name,
      vendors: patch.vendors ?? row.vendors,
      defaultFor: patch.defaultFor ?? row.default_for,
      image: patch.image ?? row.image,
      clusterImages: patch.clusterImages ?? row.cluster_images,
      args: patch.args ?? row.args,
      env: patch.env ?? row.env,
      apiKeyEnv: patch.apiKeyEnv === undefined ? row.api_key_env : patch.apiKeyEnv,
      port: patch.port ?? row.port,
      shmSize: patch.shmSize ?? row.shm_size,
      cpuPerDevice: patch.cpuPerDevice ?? row.cpu_per_device,
      memoryPerDevice: patch.memoryPerDevice ?? row.memory_per_device,
      healthPath: patch.healthPath ?? row.health_path,
      metricsPath: patch.metricsPath ?? row.metrics_path,
      metricsDialect: patch.metricsDialect ?? row.metrics_dialect,
      startupSeconds: patch.startupSeconds ?? row.startup_seconds,
      runAsNonRoot: patch.runAsNonRoot ?? row.run_as_non_root,
      basis: patch.basis ?? row.basis,
    };
    assertDefaultsServed(v);
    const updated = await this.repo.update(id, v, this.clock.now());
    if (!updated) throw notFound();
    return toEngine(updated);
  }

  /** Built-ins stay (409); so does an engine a model names (409). */
  async remove(id: string): Promise<void> {
    const outcome = await this.repo.delete(id);
    if (outcome === 'missing') throw notFound();
    if (outcome === 'builtin') throw new AppError('conflict', 'Built-in engines cannot be deleted; patch them instead.');
    if (outcome === 'named') throw new AppError('conflict', 'A model names this engine; change the model first.');
  }

  /**
   * Checks a model's vendor → engine map: each engine exists and serves that vendor (422 with the
   * entry's path otherwise).
   */
  async checkModelEngines(engines: Readonly<Record<string, string>>): Promise<void> {
    const found = new Map((await this.repo.vendorsOf([...new Set(Object.values(engines))])).map((e) => [e.id, e.vendors]));
    const errors: FieldError[] = [];
    for (const [vendor, id] of Object.entries(engines)) {
      const vendors = found.get(id);
      if (!vendors) errors.push({ path: `engines.${vendor}`, message: `no engine has id "${id}"` });
      else if (!vendors.includes(vendor)) errors.push({ path: `engines.${vendor}`, message: `engine "${id}" does not serve vendor "${vendor}"` });
    }
    if (errors.length > 0) throw new AppError('unprocessable', "The model's engines cannot be used.", errors);
  }

  /** What each active placement of a cluster runs, or why it runs nothing (the operator's view of engineProblem). */
  async placementsOf(clusterId: string): Promise<Array<{ placementId: string; engineId: string | null; image: string | null; problem: string | null }>> {
    return (await this.desired(clusterId)).map((p) =>
      p.engine
        ? { placementId: p.id, engineId: p.engine.id, image: p.engine.image, problem: null }
        : { placementId: p.id, engineId: null, image: null, problem: p.engineProblem ?? null },
    );
  }

  /**
   * A cluster's desired set, as its heartbeat answers it: each active placement with its engine (or
   * why there is none), the weights it loads and the name it serves them under. One read of the
   * placements; engine rows come from this process's copies, read again whenever the placements'
   * read shows an engine's row was written since (so an edit is seen by every process at the next heartbeat).
   */
  async desired(clusterId: string): Promise<DesiredPlacement[]> {
    const rows = await this.repo.forPlacements(clusterId);
    const stale = new Set<string>();
    for (const r of rows) {
      if (r.engineId !== null && this.#engines.get(r.engineId)?.version !== r.engineVersion) stale.add(r.engineId);
    }
    if (stale.size > 0) for (const e of await this.repo.byIds([...stale])) this.#engines.set(e.id, e);
    return rows.map((r) => {
      const stored = r.engineId === null ? undefined : this.#engines.get(r.engineId);
      const found = resolution({ vendor: r.vendor, named: r.named, engine: stored ? { ...stored, image: r.image ?? stored.image } : null });
      const placement = {
        id: r.placementId,
        workloadId: r.workloadId,
        model: r.model,
        deviceModel: r.deviceModel,
        profile: r.profile,
        resourceName: r.resourceName,
        replicas: r.replicas,
        devicesPerReplica: r.devicesPerReplica,
        servingKey: r.servingKey,
        ...(r.source ? { source: r.source } : {}),
        servedName: r.servedName,
      };
      return 'engine' in found ? { ...placement, engine: found.engine } : { ...placement, engineProblem: found.problem };
    });
  }
}

function assertDefaultsServed(v: EngineValues): void {
  const errors: FieldError[] = [];
  v.defaultFor.forEach((vendor, i) => {
    if (!v.vendors.includes(vendor)) errors.push({ path: `defaultFor.${i}`, message: `"${vendor}" is not among the vendors the engine serves` });
  });
  if (errors.length > 0) throw new AppError('invalid', 'An engine can be the default only for vendors it serves.', errors);
}
