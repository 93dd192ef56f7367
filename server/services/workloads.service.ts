import { createHash } from 'node:crypto';
import type { Priority } from '../../scheduler/framework/types.js';
import { shrinkPlacements, type HeldPlacement } from '../../scheduler/rescale.js';
import { PRIORITY_RANK } from '../../scheduler/snapshot.js';
import type { Principal } from '../auth/authenticate.js';
import type { IdGenerator } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import { ACTIVE_PLACEMENT_STATES, WORKLOAD, WorkloadState, type PlacementState } from '../domain/workload-states.js';
import { AppError, rateLimited } from '../errors.js';
import type { EventBus } from '../events.js';
import { createGate, type Gate } from '../gate.js';
import type { CatalogRepository } from '../repositories/catalog.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { PlacementRow, WorkloadsRepository, WorkloadWithModel } from '../repositories/workloads.repository.js';
import type { Scheduler } from '../scheduling/scheduler.js';
import { owns, ownTenant, scopeTenant } from '../auth/policy.js';
import { roundHalfUpToFen } from '../billing/rating.js';

export interface WorkloadInput {
  readonly name: string;
  readonly kind: string;
  readonly model: string;
  readonly tokensPerMin: number;
  readonly priority: Priority;
  readonly regions?: readonly string[] | undefined;
  readonly ha: boolean;
  /** `gateway` (the default): called through the token gateway; `direct`: on the cluster's own endpoints. */
  readonly access?: WorkloadAccess | undefined;
  /** Operators only: run it for every tenant to call through the gateway (no `tenantId`). */
  readonly shared?: boolean | undefined;
  readonly tenantId?: string | undefined;
}

/** How a workload's replicas are called (API.md v2 "Token gateway"). */
export type WorkloadAccess = 'gateway' | 'direct';

export interface PlacementView {
  readonly id: string;
  readonly clusterId: string;
  readonly deviceModel: string;
  readonly profile: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly tokensPerMin: number;
  readonly readyReplicas: number;
  readonly state: string;
  /** Its health as its agent last reported it (placement-health.ts); null: never reported. */
  readonly phase: string | null;
  /** Why it is failing (or was, when it failed). */
  readonly reason: string | null;
  readonly message: string | null;
  readonly desiredReplicas: number | null;
  /** RFC 3339: since when it has been failing; null when it is not. */
  readonly failingSince: string | null;
  /** RFC 3339: when the platform gave up on it (state `failed`). */
  readonly failedAt: string | null;
}

/** The fields of a placement that only a made placement has. */
type MadeOnly = 'id' | 'readyReplicas' | 'state' | 'phase' | 'reason' | 'message' | 'desiredReplicas' | 'failingSince' | 'failedAt';

export interface Workload {
  readonly id: string;
  readonly name: string;
  readonly tenantId: string;
  readonly kind: string;
  readonly model: string;
  readonly tokensPerMin: number;
  readonly priority: Priority;
  readonly regions: readonly string[] | null;
  readonly ha: boolean;
  readonly access: WorkloadAccess;
  readonly shared: boolean;
  readonly state: WorkloadState;
  readonly reason: string | null;
  readonly message: string | null;
  readonly placedTokensPerMin: number;
  readonly placements: readonly PlacementView[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
}

export interface DryRunAnswer {
  readonly dryRun: true;
  readonly placements: readonly Omit<PlacementView, MadeOnly>[];
  readonly placedTokensPerMin: number;
  /** The caller's own workloads that would be preempted (all of them for the operator). */
  readonly preempted: readonly string[];
  /** How many workloads would be preempted, other tenants' included. */
  readonly preemptedCount: number;
  readonly reason: string | null;
  readonly message: string | null;
}

/** Bounds on what one tenant can make the platform hold or compute (server/config.ts). */
export interface WorkloadLimits {
  /** Pending workloads a tenant may have; a create past it is 429 (`TOKENPOOL_MAX_PENDING_PER_TENANT`). */
  readonly maxPendingPerTenant: number;
  /** Dry runs computed at once in one process; one more is 429 (`TOKENPOOL_MAX_CONCURRENT_DRY_RUNS`). */
  readonly maxConcurrentDryRuns: number;
}

export const DEFAULT_WORKLOAD_LIMITS: WorkloadLimits = { maxPendingPerTenant: 100, maxConcurrentDryRuns: 4 };

/** A pending workload leaves the queue when a cycle places it (every few seconds) or its tenant deletes it. */
const PENDING_RETRY_SECONDS = 10;
/** A dry run takes milliseconds; a second is ample for one of those running to end. */
const DRY_RUN_RETRY_SECONDS = 1;

export const SUPPORTED_KINDS: readonly string[] = ['service'];

function notGranted(max: Priority, asked: Priority): AppError {
  return new AppError('forbidden', `This tenant may use priorities up to ${max}; ${asked} is granted by the operator.`);
}

function unknownModel(name: string): AppError {
  return new AppError('unprocessable', `No model is named "${name}".`);
}

function toPlacement(p: PlacementRow): PlacementView {
  return {
    id: p.id,
    clusterId: p.cluster_id,
    deviceModel: p.device_model,
    profile: p.profile_name,
    replicas: p.replicas,
    devicesPerReplica: p.devices_per_replica,
    tokensPerMin: p.tokens_per_min,
    readyReplicas: p.ready_replicas,
    state: p.state,
    phase: p.phase,
    reason: p.health_reason,
    message: p.health_message,
    desiredReplicas: p.desired_replicas,
    failingSince: p.failing_since?.toISOString() ?? null,
    failedAt: p.failed_at?.toISOString() ?? null,
  };
}

export function toWorkload(w: WorkloadWithModel, placements: readonly PlacementRow[]): Workload {
  const shown = placements.filter((p) => p.workload_id === w.id).map(toPlacement);
  const placed = shown.filter((p) => ACTIVE_PLACEMENT_STATES.includes(p.state as PlacementState)).reduce((s, p) => s + p.tokensPerMin, 0);
  return {
    id: w.id,
    name: w.name,
    tenantId: w.tenant_id,
    kind: w.kind,
    model: w.model_name,
    tokensPerMin: w.tokens_per_min,
    priority: w.priority as Priority,
    regions: w.regions,
    ha: w.ha,
    access: w.access as WorkloadAccess,
    shared: w.shared,
    state: w.state as WorkloadState,
    reason: w.reason,
    message: w.message,
    placedTokensPerMin: placed,
    placements: shown,
    createdAt: w.created_at.toISOString(),
    updatedAt: w.updated_at.toISOString(),
    deletedAt: w.deleted_at?.toISOString() ?? null,
  };
}

/** Token-denominated workloads: create (idempotent), list, get, rescale, delete, dry run. */
export class WorkloadsService {
  constructor(
    private readonly repo: WorkloadsRepository,
    private readonly catalog: CatalogRepository,
    private readonly tenants: TenantsRepository,
    /** For dry runs; cycles follow the `workload.changed` events this service emits. */
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly events: EventBus,
    private readonly limits: WorkloadLimits = DEFAULT_WORKLOAD_LIMITS,
  ) {
    this.dryRuns = createGate({ concurrency: limits.maxConcurrentDryRuns, queue: 0 });
  }

  /** Dry runs in progress in this process: `limits.maxConcurrentDryRuns` at once, none waits. */
  private readonly dryRuns: Gate;

  /** The tenant a request acts for: a tenant itself, or the one an operator names. */
  private async tenantOf(principal: Principal, tenantId: string | undefined): Promise<string> {
    const own = ownTenant(principal);
    if (own !== undefined) {
      if (tenantId !== undefined && tenantId !== own) {
        throw new AppError('invalid', 'Only operators may create workloads for another tenant.', [
          { path: 'tenantId', message: 'must be your own tenant or absent' },
        ]);
      }
      return own;
    }
    if (tenantId === undefined)
      throw new AppError('invalid', 'An operator must say which tenant the workload is for.', [{ path: 'tenantId', message: 'required for operators' }]);
    if (!(await this.tenants.get(tenantId))) throw new AppError('unprocessable', `No tenant has id "${tenantId}".`);
    return tenantId;
  }

  private async tenantAndKind(principal: Principal, input: WorkloadInput): Promise<string> {
    const tenantId = input.shared ? await this.sharedTenant(principal, input) : await this.tenantOf(principal, input.tenantId);
    if (!SUPPORTED_KINDS.includes(input.kind)) {
      throw new AppError('unprocessable', `Workload kind "${input.kind}" is not supported (supported: ${SUPPORTED_KINDS.join(', ')}).`);
    }
    return tenantId;
  }

  /** A shared workload's tenant, the platform's own: only the operator runs them, for no one tenant, through the gateway. */
  private async sharedTenant(principal: Principal, input: WorkloadInput): Promise<string> {
    if (principal.kind !== 'operator') throw new AppError('forbidden', 'Only the operator runs shared workloads.');
    if (input.tenantId !== undefined) {
      throw new AppError('invalid', 'A shared workload serves every tenant: it names none.', [{ path: 'tenantId', message: 'must be absent when shared' }]);
    }
    if (input.access === 'direct') {
      throw new AppError('invalid', 'A shared workload is called through the gateway, which bills each caller.', [
        { path: 'access', message: 'must be gateway when shared' },
      ]);
    }
    return this.tenants.ensureSharedTenant(this.clock.now());
  }

  /**
   * Priority is granted, not self-declared: a tenant's workloads may use priorities up to the
   * `maxPriority` the operator set on the tenant (403 above it, whoever asks: the operator raises
   * the grant first). A create's insert checks the grant in its own statement; a dry run reads it
   * here. The scheduler lowers anything above it too (snapshot-loader.ts).
   */
  private async assertPriorityGranted(tenantId: string, priority: Priority): Promise<void> {
    const max = ((await this.tenants.get(tenantId))?.max_priority ?? 'normal') as Priority;
    if (PRIORITY_RANK[priority] > PRIORITY_RANK[max]) throw notGranted(max, priority);
  }

  async create(principal: Principal, input: WorkloadInput, idempotencyKey: string | undefined): Promise<Workload> {
    const tenantId = await this.tenantAndKind(principal, input);
    const now = this.clock.now();
    const insert = async (tx?: Parameters<WorkloadsRepository['insert']>[2]) => {
      const row = await this.repo.insert(
        {
          id: this.ids.next('wl'),
          tenantId,
          name: input.name,
          kind: input.kind,
          modelName: input.model,
          tokensPerMin: input.tokensPerMin,
          priority: input.priority,
          regions: input.regions ? [...input.regions] : null,
          ha: input.ha,
          access: input.access ?? 'gateway',
          shared: input.shared === true,
          now,
        },
        this.limits.maxPendingPerTenant,
        tx,
      );
      if (row === 'unknown_model') throw unknownModel(input.model);
      if (row === 'over_cap') {
        throw rateLimited(
          `This tenant has ${this.limits.maxPendingPerTenant} pending workloads, its most; delete some or wait until they are placed.`,
          PENDING_RETRY_SECONDS,
        );
      }
      if ('maxPriority' in row) throw notGranted(row.maxPriority, input.priority);
      return toWorkload({ ...row, model_name: input.model, cost_factor: '' }, []);
    };
    if (idempotencyKey === undefined) {
      const w = await insert();
      this.events.emit('workload.changed', { workloadId: w.id, tenantId, change: 'created' });
      return w;
    }
    const hash = createHash('sha256')
      .update(JSON.stringify({ ...input, tenantId, regions: input.regions ?? null }))
      .digest('hex');
    const answer = await this.repo.createIdempotent(tenantId, idempotencyKey, hash, now, async (tx) => ({ status: 202, body: await insert(tx) }));
    if (answer.fresh) {
      this.events.emit('workload.changed', { workloadId: answer.body.id, tenantId, change: 'created' });
      return answer.body;
    }
    if (answer.requestHash !== hash) {
      throw new AppError('unprocessable', 'This Idempotency-Key was used before with a different request.');
    }
    return answer.body as Workload;
  }

  /**
   * What would be placed now, changing nothing. Each dry run computes a whole scheduling round on
   * a fresh snapshot, so at most `maxConcurrentDryRuns` run at once in a process; one more is 429.
   */
  async dryRun(principal: Principal, input: WorkloadInput): Promise<DryRunAnswer> {
    return this.dryRuns.run(
      () => this.computeDryRun(principal, input),
      () => rateLimited('Too many dry runs are being computed right now; try again shortly.', DRY_RUN_RETRY_SECONDS),
    );
  }

  private async computeDryRun(principal: Principal, input: WorkloadInput): Promise<DryRunAnswer> {
    const tenantId = await this.tenantAndKind(principal, input);
    await this.assertPriorityGranted(tenantId, input.priority);
    const model = (await this.catalog.allModels()).find((m) => m.name === input.model);
    if (!model) throw unknownModel(input.model);
    const { decision, victimTenants } = await this.scheduler.dryRun({
      id: 'dry-run',
      tenantId,
      seq: Number.MAX_SAFE_INTEGER,
      modelId: model.id,
      tokensPerMin: input.tokensPerMin,
      priority: input.priority,
      regions: input.regions ?? null,
      ha: input.ha,
    });
    if (decision.kind === 'pending') {
      return { dryRun: true, placements: [], placedTokensPerMin: 0, preempted: [], preemptedCount: 0, reason: decision.reason, message: decision.message };
    }
    const placements = decision.placements.map((p) => ({
      clusterId: p.clusterId,
      deviceModel: p.deviceModel,
      profile: p.profile,
      replicas: p.replicas,
      devicesPerReplica: p.devicesPerReplica,
      tokensPerMin: p.tokensPerMin,
    }));
    return {
      dryRun: true,
      placements,
      placedTokensPerMin: placements.reduce((s, p) => s + p.tokensPerMin, 0),
      // Another tenant's workloads are counted, never named (API.md v2).
      preempted: decision.preempted.filter((id) => owns(principal, victimTenants.get(id) ?? '')),
      preemptedCount: decision.preempted.length,
      reason: null,
      message: null,
    };
  }

  private async visible(principal: Principal, id: string): Promise<WorkloadWithModel> {
    const w = await this.repo.get(id);
    if (!w || !owns(principal, w.tenant_id)) throw new AppError('not_found', 'No workload has this id.');
    return w;
  }

  async get(principal: Principal, id: string): Promise<Workload> {
    const w = await this.visible(principal, id);
    return toWorkload(w, await this.repo.placementsOf([w.id]));
  }

  /**
   * Issue 15: the workload's SLA spells (when it delivered less than it reserves, who was
   * responsible) and the credits its months earned (README "SLA credits").
   */
  async sla(principal: Principal, id: string): Promise<WorkloadSla> {
    const w = await this.visible(principal, id);
    const { spells, credits } = await this.repo.slaRecord(w.id);
    return {
      spells: spells.map((x) => ({
        reason: x.reason,
        placementId: x.placement_id,
        clusterId: x.cluster_id,
        startedAt: x.started_at.toISOString(),
        endedAt: x.ended_at?.toISOString() ?? null,
      })),
      credits: credits.map((c) => ({
        period: c.period,
        subscriptionId: c.subscription_id,
        availabilityPercent: c.availability,
        creditPercent: c.credit_percent,
        amount: roundHalfUpToFen(c.amount),
        invoiceId: c.invoice_id,
      })),
    };
  }

  async list(principal: Principal, filter: { tenantId?: string | undefined; state?: WorkloadState | undefined }, page: PageRequest): Promise<Page<Workload>> {
    const tenantId = scopeTenant(principal, filter.tenantId);
    const rows = await this.repo.list({ ...(tenantId ? { tenantId } : {}), ...(filter.state ? { state: filter.state } : {}) }, page);
    const kept = rows.slice(0, page.limit);
    const placements = await this.repo.placementsOf(kept.map((w) => w.id));
    return toPage(rows, page.limit, (w) => toWorkload(w, placements));
  }

  /** Standard tokens per minute the tenant's placements hold: Σ placement tokensPerMin × costFactor (whole replicas). */
  async heldStdPerMin(tenantId: string): Promise<number> {
    return this.repo.heldStdPerMin(tenantId);
  }

  async rescale(principal: Principal, id: string, tokensPerMin: number): Promise<Workload> {
    const w = await this.visible(principal, id);
    const deleted = () => new AppError('conflict', 'A deleted workload cannot be rescaled.');
    if (w.state === WorkloadState.deleted) throw deleted();
    await this.assertPriorityGranted(w.tenant_id, w.priority as Priority);
    const shrink = (held: readonly HeldPlacement[]) => shrinkPlacements(held, tokensPerMin, w.ha);
    if (!(await this.repo.rescale(id, tokensPerMin, this.clock.now(), shrink))) throw deleted();
    this.events.emit('workload.changed', { workloadId: id, tenantId: w.tenant_id, change: 'rescaled' });
    return this.get(principal, id);
  }

  async remove(principal: Principal, id: string): Promise<Workload> {
    const w = await this.visible(principal, id);
    if (WORKLOAD.canTransition(w.state as WorkloadState, WorkloadState.deleted)) {
      await this.repo.markDeleted(id, this.clock.now());
      this.events.emit('workload.changed', { workloadId: id, tenantId: w.tenant_id, change: 'deleted' });
    }
    return this.get(principal, id);
  }
}

/** A workload's SLA record (`WorkloadsService.sla`). */
export interface WorkloadSla {
  readonly spells: readonly {
    readonly reason: string;
    readonly placementId: string | null;
    readonly clusterId: string | null;
    readonly startedAt: string;
    readonly endedAt: string | null;
  }[];
  readonly credits: readonly {
    readonly period: string;
    readonly subscriptionId: string;
    readonly availabilityPercent: string;
    readonly creditPercent: string;
    readonly amount: string;
    readonly invoiceId: string | null;
  }[];
}
