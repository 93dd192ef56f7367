/**
 * The scheduling loop: event-driven (workload created, changed or deleted; inventory or cluster
 * state changed) with a periodic tick. Each cycle reads a snapshot, runs the pure core
 * (scheduler/schedule.ts) and commits all of its decisions in one transaction, so a crash
 * between or during cycles loses no placement and double-books no device. Only the leader runs
 * cycles.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CycleOptions, Decision, WorkloadSnap } from '../../scheduler/framework/types.js';
import { evictOvercommitted } from '../../scheduler/evict.js';
import { scheduleCycle, whatIf } from '../../scheduler/schedule.js';
import type { IdGenerator } from '../auth/tokens.js';
import { DEFAULT_HEALTH_DEADLINES, overdue, type HealthDeadlines } from '../domain/placement-health.js';
import type { Clock } from '../clock.js';
import type { ClusterChange, EventBus } from '../events.js';
import type { Logger } from '../log.js';
import {
  pendingWindow,
  type ActivePlacement,
  type CycleCommit,
  type NewPlacement,
  type PendingWorkload,
  type PlacementFailure,
} from '../repositories/workloads.repository.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import type { LeaderElector } from './leader.js';
import type { LeaderNotifier } from './notifier.js';
import { ActivePlacements } from './active-placements.js';
import { loadSnapshot, workloadSnap, type SnapshotSources } from './snapshot-loader.js';

export interface SchedulerOptions extends SnapshotSources {
  readonly tenantsRepo: TenantsRepository;
  readonly clock: Clock;
  readonly log: Logger;
  readonly leader: LeaderElector;
  readonly registry: Registry;
  readonly ids: IdGenerator;
  /** The events that ask for a cycle (see CYCLE_EVENTS). */
  readonly events: EventBus;
  /** Wakes the leading replica when this one does not lead (PostgreSQL NOTIFY); none on a single process. */
  readonly notifier?: LeaderNotifier;
  /** Periodic tick; default 2 s. */
  readonly tickMs?: number;
  /**
   * Least time between the starts of two cycles, default 100 ms: under a stream of events a
   * cycle takes everything that arrived since the last one instead of re-reading the pool for
   * every workload.
   */
  readonly minIntervalMs?: number;
  /** How often fair-share usage is written back; default 10 s. */
  readonly fairShareSaveMs?: number;
  /**
   * Pending workloads a cycle reads of one tenant, default {@link PENDING_PER_TENANT}:
   * past it, a tenant's backlog is neither loaded nor decided on (see WorkloadsRepository.pending).
   */
  readonly pendingPerTenant?: number;
  /** Score weights and sample size of every cycle and dry run (from the configuration); default the core's. */
  readonly cycleOptions?: CycleOptions;
  /** Placement health deadlines (placement-health.ts); default {@link DEFAULT_HEALTH_DEADLINES}. */
  readonly healthDeadlines?: HealthDeadlines;
  /** Least clock time between two looks for placements past their health deadlines; default 5 s. */
  readonly healthSweepMs?: number;
}

export interface CycleSummary {
  readonly placed: number;
  readonly pending: number;
  readonly preempted: number;
  readonly lost: number;
  /** Placements failed for their health (their workloads requeued). */
  readonly failed: number;
  readonly evicted: number;
}

/**
 * Cluster changes after which a cycle may decide differently. A cordon is not one: the cluster
 * keeps its placements and only takes no new ones, which the next cycle sees whenever it runs.
 */
const CYCLE_CLUSTER_CHANGES: ReadonlySet<ClusterChange> = new Set<ClusterChange>(['ready', 'not_ready', 'uncordoned', 'removed']);

/** A dry run's decision, with the tenant of each workload it would preempt (by workload id). */
export interface DryRunDecision {
  readonly decision: Decision;
  readonly victimTenants: ReadonlyMap<string, string>;
}

/**
 * Pending workloads of one tenant that a cycle considers: twice the default cap on
 * a tenant's pending workloads, so that the window only ever rotates for a backlog the cap does
 * not bound (workloads requeued by preemption, lost clusters or rescales; a cap raised past it).
 */
export const PENDING_PER_TENANT = 200;

const PREEMPTED_MESSAGE = 'preempted by a higher-priority workload; waiting for capacity';
const EVICTED_MESSAGE = 'its cluster reported fewer healthy devices; waiting to be placed again';

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleSummary | undefined> | undefined;
  private again = false;
  private stopped = true;
  private lastFairShareSave = 0;
  private lastCycleStart = 0;
  private lastCycleMs = 0;
  /** Per tenant with more pending workloads than a cycle reads: the last one the previous cycle read. */
  private pendingAfter: ReadonlyMap<string, number> = new Map();
  private readonly cycleSeconds: Histogram;
  private readonly results: Counter<'result'>;
  private readonly fullReads: Counter;
  private readonly failedPlacements: Counter<'reason'>;
  private lastHealthSweep = -Infinity;
  /** The active placements, kept between cycles while this replica leads. */
  private readonly active: ActivePlacements;

  constructor(private readonly opts: SchedulerOptions) {
    this.cycleSeconds = new Histogram({
      name: 'tokenpool_scheduler_cycle_duration_seconds',
      help: 'Duration of one scheduling cycle (read snapshot, decide, commit)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [opts.registry],
    });
    this.results = new Counter({
      name: 'tokenpool_scheduler_placements_total',
      help: 'Scheduling decisions by result (placed, pending reasons, preempted, lost, failed, evicted)',
      labelNames: ['result'] as const,
      registers: [opts.registry],
    });
    this.fullReads = new Counter({
      name: 'tokenpool_scheduler_placement_reads_total',
      help: 'Cycles that read every active placement from the database rather than using the copy kept between cycles',
      registers: [opts.registry],
    });
    this.failedPlacements = new Counter({
      name: 'tokenpool_placements_failed_total',
      help: 'Placements failed because their pods could not run past the health deadline, by reason (the last one their agent reported; startup: never ready)',
      labelNames: ['reason'] as const,
      registers: [opts.registry],
    });
    this.active = new ActivePlacements(opts.workloads);
    const workloads = opts.workloads;
    new Gauge({
      name: 'tokenpool_scheduler_pending_workloads',
      aggregator: 'first',
      help: 'Pending workloads by reason (none: not yet considered)',
      labelNames: ['reason'] as const,
      registers: [opts.registry],
      async collect() {
        this.reset();
        for (const r of await workloads.pendingByReason()) this.set({ reason: r.reason ?? 'none' }, r.n);
      },
    });
    // Through `this.trigger`, looked up at each event, so a test may count the asks.
    opts.events.on('workload.changed', () => this.trigger());
    opts.events.on('inventory.changed', () => this.trigger());
    opts.events.on('cluster.changed', (e) => {
      if (CYCLE_CLUSTER_CHANGES.has(e.change)) this.trigger();
    });
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.soon(), this.opts.tickMs ?? 2000);
    this.timer.unref();
    this.opts.leader.onChange((leader) => {
      // Another replica may have placed workloads while this one did not lead.
      this.active.forget();
      if (leader) this.soon();
    });
    this.opts.notifier?.onWake(() => {
      if (this.opts.leader.isLeader()) this.soon();
    });
    this.soon();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * Something happened that a cycle should see (the scheduler's own subscription to workload,
   * inventory and cluster events calls this): a cycle soon here if this replica leads, else the
   * leader is asked.
   */
  trigger(): void {
    if (!this.opts.leader.isLeader()) {
      this.opts.notifier?.wake();
      return;
    }
    this.soon();
  }

  /** Asks for a cycle soon; calls while one runs coalesce into one more. */
  private soon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // Pace cycles: starts at least minIntervalMs apart, and idle for at least as long as the last
    // cycle took, so that under load the loop uses at most about half of the process and the
    // requests that feed it the rest.
    const lastEnd = this.lastCycleStart + this.lastCycleMs;
    const next = Math.max(this.lastCycleStart + (this.opts.minIntervalMs ?? 100), lastEnd + this.lastCycleMs);
    const wait = Math.max(0, next - performance.now());
    this.running = new Promise<void>((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)))
      .then(() => {
        this.lastCycleStart = performance.now();
        return this.runCycle().finally(() => (this.lastCycleMs = performance.now() - this.lastCycleStart));
      })
      .catch((err: unknown) => {
        this.active.forget();
        this.opts.log.error('scheduling cycle failed', { error: String(err instanceof Error ? err.stack : err) });
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.soon();
        }
      });
  }

  /** Waits until no cycle runs or is asked for (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * One cycle, if this replica leads: (0) placements past their health deadline are failed and
   * their workloads requeued; (1) placements on clusters past the TTL are lost and their
   * workloads requeued; (2) placements that no longer fit shrunk inventories are evicted;
   * (3) the pure core decides on every pending workload; (4) all decisions commit at once.
   */
  async runCycle(): Promise<CycleSummary | undefined> {
    if (!this.opts.leader.isLeader()) return undefined;
    const end = this.cycleSeconds.startTimer();
    const { workloads, clock } = this.opts;
    const now = clock.now();
    const reads = this.active.fullReads;
    const load = () => loadSnapshot(this.opts, now, () => this.active.current());

    const failed = await this.failOverdue(now);
    let state = await load();
    let lost = 0;
    if (state.lostClusterIds.length > 0) {
      lost = (await workloads.markLost(state.lostClusterIds, now)).length;
      this.results.inc({ result: 'lost' }, lost);
      state = await load();
    }
    const evicted = evictOvercommitted(state.snapshot).evicted;
    if (evicted.length > 0) {
      const requeued = evicted.map((workloadId) => ({ workloadId, reason: 'capacity', message: EVICTED_MESSAGE }));
      const { epoch } = await workloads.commitCycle({ placed: [], pending: [], requeued }, now);
      this.active.committed(epoch, [], new Set(evicted));
      this.results.inc({ result: 'evicted' }, evicted.length);
      state = await load();
    }

    const perTenant = this.opts.pendingPerTenant ?? PENDING_PER_TENANT;
    const rows = await workloads.pending({ perTenant, after: this.pendingAfter });
    this.pendingAfter = nextPendingCursors(rows, perTenant);
    const versions = new Map(rows.map((w) => [w.id, w.version]));
    const result = scheduleCycle({ snapshot: state.snapshot, pending: rows.map((w) => workloadSnap(w, state.priorityOf)), options: this.opts.cycleOptions });
    const commit = this.toCommit(result.decisions, versions);
    const { placed, epoch } = await workloads.commitCycle(commit, now);
    this.active.committed(epoch, activeRows(commit, new Set(placed), rows), new Set(commit.requeued.map((r) => r.workloadId)));
    this.fullReads.inc(this.active.fullReads - reads);
    await this.saveFairShare(state.snapshot, now);

    this.results.inc({ result: 'placed' }, placed.length);
    this.results.inc({ result: 'preempted' }, commit.requeued.length);
    // Counted by reason, then added once per reason: a queue of 100,000 costs five calls, not 100,000.
    const byReason = new Map<string, number>();
    for (const p of commit.pending) byReason.set(p.reason, (byReason.get(p.reason) ?? 0) + 1);
    for (const [result, n] of byReason) this.results.inc({ result }, n);
    end();
    return { placed: placed.length, pending: commit.pending.length, preempted: commit.requeued.length, lost, failed, evicted: evicted.length };
  }

  /**
   * Fails the placements past their health deadline (at most once per `healthSweepMs` of clock
   * time): their workloads go back to pending, to be placed again whole, as a lost cluster's
   * are. Answers how many placements failed.
   */
  private async failOverdue(now: Date): Promise<number> {
    if (now.getTime() - this.lastHealthSweep < (this.opts.healthSweepMs ?? 5000)) return 0;
    this.lastHealthSweep = now.getTime();
    const base = this.opts.healthDeadlines ?? DEFAULT_HEALTH_DEADLINES;
    const failures: PlacementFailure[] = [];
    const reasons = new Map<string, string>();
    for (const p of await this.opts.workloads.unhealthy()) {
      const deadline = overdue(
        { devicesPerReplica: p.devices_per_replica, phase: p.phase, failingSince: p.failing_since, readyAt: p.ready_at, createdAt: p.created_at },
        now,
        base,
      );
      if (!deadline) continue;
      const reason = deadline === 'failing' ? (p.health_reason ?? 'Other') : 'startup';
      reasons.set(p.id, reason);
      const said = p.health_message ? ` (${p.health_message.slice(0, 200)})` : '';
      const why =
        deadline === 'failing'
          ? `its placement on cluster ${p.cluster_id} could not run: ${p.health_reason ?? 'failing'}${said}; waiting to be placed again`
          : `its placement on cluster ${p.cluster_id} never became ready within its startup deadline; waiting to be placed again`;
      failures.push({ id: p.id, workloadId: p.workload_id, deadline, failingSince: p.failing_since, why });
    }
    if (failures.length === 0) return 0;
    const ids = await this.opts.workloads.markFailed(failures, now);
    for (const id of ids) this.failedPlacements.inc({ reason: reasons.get(id)! });
    if (ids.length > 0) {
      this.results.inc({ result: 'failed' }, ids.length);
      this.opts.log.warn('placements failed: their pods could not run past the deadline', { placementIds: ids });
    }
    return ids.length;
  }

  /** The active placements this replica keeps between cycles, if it keeps a copy now. */
  keptPlacements(): readonly ActivePlacement[] | undefined {
    return this.active.kept;
  }

  /**
   * What the core would decide for one new workload now, on a copy; nothing is written. Answers
   * the tenant of every workload it would preempt too, so callers can hide other tenants' ids.
   */
  async dryRun(workload: WorkloadSnap): Promise<DryRunDecision> {
    const state = await loadSnapshot(this.opts, this.opts.clock.now());
    const decision = whatIf(state.snapshot, workload, this.opts.cycleOptions);
    const victimTenants = new Map<string, string>();
    if (decision.kind === 'place' && decision.preempted.length > 0) {
      const victims = new Set(decision.preempted);
      for (const p of state.snapshot.placements) if (victims.has(p.workloadId)) victimTenants.set(p.workloadId, p.tenantId);
    }
    return { decision, victimTenants };
  }

  private toCommit(decisions: readonly Decision[], versions: ReadonlyMap<string, number>): CycleCommit {
    const placed: { workloadId: string; version: number; placements: NewPlacement[] }[] = [];
    const pending: { workloadId: string; version: number; reason: string; message: string }[] = [];
    const requeued = new Map<string, { workloadId: string; reason: string; message: string }>();
    for (const d of decisions) {
      if (d.kind === 'place') {
        for (const victim of d.preempted) requeued.set(victim, { workloadId: victim, reason: 'capacity', message: PREEMPTED_MESSAGE });
        placed.push({
          workloadId: d.workloadId,
          version: versions.get(d.workloadId) ?? -1,
          placements: d.placements.map((p) => ({
            id: this.opts.ids.next('pl'),
            clusterId: p.clusterId,
            deviceModel: p.deviceModel,
            profileId: p.profileId,
            profileName: p.profile,
            resourceName: p.resourceName,
            replicas: p.replicas,
            devicesPerReplica: p.devicesPerReplica,
            tokensPerMin: p.tokensPerMin,
          })),
        });
      } else if (versions.has(d.workloadId)) {
        pending.push({ workloadId: d.workloadId, version: versions.get(d.workloadId)!, reason: d.reason, message: d.message });
      }
    }
    return { placed, pending, requeued: [...requeued.values()] };
  }

  private async saveFairShare(snapshot: { tenants: ReadonlyMap<string, { id: string; decayedStdPerMin: number }> }, now: Date): Promise<void> {
    if (now.getTime() - this.lastFairShareSave < (this.opts.fairShareSaveMs ?? 10_000)) return;
    this.lastFairShareSave = now.getTime();
    await this.opts.tenantsRepo.saveFairShare(
      [...snapshot.tenants.values()].map((t) => ({ id: t.id, stdPerMin: t.decayedStdPerMin })),
      now,
    );
  }
}

/**
 * Where each tenant's next window continues: after the last workload this one read, when the
 * window was full (there may be more); from right after the head again otherwise.
 */
export function nextPendingCursors(rows: readonly PendingWorkload[], perTenant: number): Map<string, number> {
  const { head, tail } = pendingWindow(perTenant);
  const count = new Map<string, number>();
  const last = new Map<string, number>();
  for (const w of rows) {
    count.set(w.tenant_id, (count.get(w.tenant_id) ?? 0) + 1);
    last.set(w.tenant_id, Math.max(last.get(w.tenant_id) ?? 0, w.seq));
  }
  const next = new Map<string, number>();
  for (const [tenantId, n] of count) if (n >= head + tail) next.set(tenantId, last.get(tenantId)!);
  return next;
}

/** The rows the committed placements add to the active placements. */
function activeRows(commit: CycleCommit, placed: ReadonlySet<string>, pending: readonly PendingWorkload[]): ActivePlacement[] {
  const byId = new Map(pending.map((w) => [w.id, w]));
  const out: ActivePlacement[] = [];
  for (const d of commit.placed) {
    const w = byId.get(d.workloadId);
    if (!placed.has(d.workloadId) || !w) continue;
    for (const p of d.placements) {
      out.push({
        id: p.id,
        workload_id: w.id,
        tenant_id: w.tenant_id,
        priority: w.priority,
        workload_seq: w.seq,
        cluster_id: p.clusterId,
        device_model: p.deviceModel,
        replicas: p.replicas,
        devices_per_replica: p.devicesPerReplica,
        tokens_per_min: p.tokensPerMin,
        workload_tokens_per_min: w.tokens_per_min,
        cost_factor: w.cost_factor,
      });
    }
  }
  return out;
}
