/**
 * One scheduling cycle, pure: an immutable snapshot and the pending queue in, one decision per
 * workload out. Written as numbered steps, after Kueue's `scheduler.schedule()`.
 */
import { formatMicro, replicaStdMicro, replicaTokensPerMin, workloadStdMicro } from './capacity.js';
import { defaultPlugins } from './framework/registry.js';
import { FrameworkRuntime } from './framework/runtime.js';
import { droppedMessage } from './framework/sampling.js';
import type { Pick } from './framework/runtime.js';
import type {
  CycleInput,
  CycleOptions,
  CycleResult,
  Decision,
  ModelSnap,
  PendingReason,
  PlacementDecision,
  Snapshot,
  WorkloadSnap,
} from './framework/types.js';
import { tenantShare } from './fair-share.js';
import { Preemptor } from './preemption.js';
import { FairQueue } from './queue.js';
import { admit, buildWorkingState, release, toMicro } from './snapshot.js';
import type { WorkingState } from './snapshot.js';

const PREEMPTED = 'preempted by higher-priority workload';

/**
 * Decides on every pending workload against one snapshot.
 *
 * Promises (API.md "Scheduling rules"):
 * - Order: `high`, then `normal`, then `low`; within a priority the tenant with the lowest fair
 *   share goes next (fair-share.ts), FIFO by `seq` within a tenant. A workload that cannot be
 *   placed does not block the ones after it.
 * - A tenant whose plan is exhausted waits with `plan_exhausted`; one whose held standard tokens
 *   per minute plus what the workload's placements would hold (whole replicas, at least its
 *   `tokensPerMin × costFactor`) would pass `maxStdPerMin` waits with `quota` (exact, in
 *   millionths), so a tenant never holds more than its quota. A tenant missing from the snapshot
 *   has no quota.
 * - A workload is placed all-or-nothing: its placements' `tokensPerMin` sum to at least the
 *   request, using no more replicas from a slot than the request still needs; `ha` placements
 *   span at least two clusters. Devices taken are seen as taken by every later workload of the
 *   cycle, and no slot ever holds more devices than it has healthy.
 * - A `high` workload that does not fit may preempt `normal` and `low` workloads (preemption.ts;
 *   `options.preemption: false` turns this off). Its `place` decision lists them in `preempted`,
 *   and each victim also gets a `pending` decision with reason `capacity` right after it.
 * - Otherwise the workload waits with `no_compatible_device` when no device slot in its regions,
 *   in any cluster state, has a compatible vendor and enough memory, or with `capacity`.
 *
 * The input is never written to; running it again on the same input gives the same decisions,
 * so a dry run is this function on the current snapshot.
 */
export function scheduleCycle(input: CycleInput): CycleResult {
  const { snapshot, options } = input;
  const decisions: Decision[] = [];

  // 1. Snapshot: a working copy of the device counts and tenants' holdings for this cycle.
  const state = buildWorkingState(snapshot);
  const runtime = new FrameworkRuntime(defaultPlugins(options?.weights), state, options?.scorePercentage);
  const preemptor = (options?.preemption ?? true) ? new Preemptor(runtime, state) : null;

  // 2. Heads of the queue: by priority, then fair share, then FIFO; shares move as we place.
  const queue = new FairQueue(input.pending, (tenantId) => tenantShare(snapshot.tenants.get(tenantId), state.tenantHeldMicro.get(tenantId) ?? 0));

  for (let workload = queue.next(); workload !== undefined; workload = queue.next()) {
    // 3. Admission checks that need no devices: plan, model, quota.
    const tenant = snapshot.tenants.get(workload.tenantId);
    if (tenant?.planExhausted) {
      decisions.push(waiting(workload, 'plan_exhausted', "the tenant's hard-capped plan has used up its included tokens for this period"));
      continue;
    }
    const model = snapshot.models.get(workload.modelId);
    if (!model) {
      decisions.push(waiting(workload, 'no_compatible_device', `unknown model ${workload.modelId}`));
      continue;
    }
    const needMicro = workloadStdMicro(workload.tokensPerMin, model.costFactor);
    if (!Number.isSafeInteger(needMicro) || needMicro < 0) {
      decisions.push(waiting(workload, 'capacity', 'the request is too large to place'));
      continue;
    }
    // Whole replicas hold at least the request, so a request past the quota never fits.
    const quotaMicro = tenant && tenant.maxStdPerMin !== null ? toMicro(tenant.maxStdPerMin) : null;
    if (quotaMicro !== null && overQuota(state, workload, needMicro, quotaMicro)) {
      decisions.push(quotaWait(state, workload, needMicro, quotaMicro));
      continue;
    }

    // 4. Nominate: filter and score the candidates, take replicas from the best.
    const shape = runtime.shapeFor(model, workload.regions);
    if (shape.slots.length === 0) {
      const reason = shape.staticReason ?? 'no_compatible_device';
      const why =
        reason === 'no_compatible_device'
          ? `no device in the allowed regions can serve ${model.name}`
          : `no cluster that can serve ${model.name} takes placements now`;
      decisions.push(waiting(workload, reason, `${why} (${shape.staticMessage})`));
      continue;
    }
    // A request smaller than every candidate's replica still holds a whole one: past the quota
    // with the smallest, it is past it with any, and nominating it would be work thrown away —
    // unless it may preempt, when the tenant's own victims can make room (step 6).
    const leastHeld = shape.minReplicaStdMicro;
    const mayPreempt = preemptor !== null && workload.priority === 'high';
    if (quotaMicro !== null && !mayPreempt && leastHeld > needMicro && overQuota(state, workload, leastHeld, quotaMicro)) {
      decisions.push(quotaWait(state, workload, leastHeld, quotaMicro, true));
      continue;
    }
    const nomination = runtime.certainlyShort(shape, needMicro) ? null : runtime.nominate(shape, workload, needMicro);
    if (nomination?.ok) {
      // 5. Admit: commit the devices so later workloads see them taken; quota counts them whole.
      const heldMicro = picksStdMicro(state, nomination.picks);
      if (quotaMicro !== null && overQuota(state, workload, heldMicro, quotaMicro)) {
        decisions.push(quotaWait(state, workload, heldMicro, quotaMicro));
        continue;
      }
      admit(state, workload, heldMicro, nomination.picks);
      decisions.push(placed(state, workload, model, nomination.picks, []));
      continue;
    }

    // 6. Preempt: a high workload may release normal and low ones, if that makes it fit.
    if (mayPreempt) {
      const plan = preemptor.plan(shape, workload, needMicro);
      const heldMicro = plan ? picksStdMicro(state, plan.picks) : 0;
      // Victims may be the tenant's own workloads: what they release counts toward its quota.
      if (plan && quotaMicro !== null && overQuota(state, workload, heldMicro - victimsStdMicro(state, plan.victims, workload.tenantId), quotaMicro)) {
        decisions.push(quotaWait(state, workload, heldMicro, quotaMicro));
        continue;
      }
      if (plan) {
        for (const victim of plan.victims) release(state, victim);
        admit(state, workload, heldMicro, plan.picks);
        decisions.push(placed(state, workload, model, plan.picks, plan.victims));
        for (const victim of plan.victims) {
          decisions.push({ kind: 'pending', workloadId: victim, reason: 'capacity', message: `${PREEMPTED} ${workload.id}` });
        }
        // The victims' tenants hold less now, so they move up in the queue.
        queue.refresh();
        continue;
      }
    }

    // 7. Requeue: it waits; the next workload is tried (best-effort FIFO).
    if (nomination) {
      decisions.push(waiting(workload, nomination.status.reason ?? 'capacity', nomination.status.message));
    } else {
      // Where nodes were reported, the filter that keeps dropping candidates says why (no node with room).
      const why = state.nodes !== null && shape.droppedBy !== '' ? ` (${droppedMessage(shape)})` : '';
      decisions.push(
        waiting(
          workload,
          'capacity',
          `needs ${workload.tokensPerMin} tokens/min of ${model.name}; not enough free compatible devices in the allowed regions${why}`,
        ),
      );
    }
  }
  return { decisions };
}

/**
 * What the scheduler would decide for one workload now, changing nothing (a dry run): the same
 * cycle on the same snapshot with only this workload pending, so other waiting workloads are not
 * put ahead of it. Its `place` decision names any workloads it would preempt.
 */
export function whatIf(snapshot: Snapshot, workload: WorkloadSnap, options?: CycleOptions): Decision {
  const { decisions } = scheduleCycle({ snapshot, pending: [workload], ...(options ? { options } : {}) });
  return decisions.find((d) => d.workloadId === workload.id)!;
}

/** Whether the tenant's holdings plus `addMicro` would pass its quota. */
function overQuota(state: WorkingState, workload: WorkloadSnap, addMicro: number, quotaMicro: number): boolean {
  return (state.tenantHeldMicro.get(workload.tenantId) ?? 0) + addMicro > quotaMicro;
}

/** `atLeast`: `needMicro` is a lower bound of what the workload would hold (no nomination was made). */
function quotaWait(state: WorkingState, workload: WorkloadSnap, needMicro: number, quotaMicro: number, atLeast = false): Decision {
  const held = state.tenantHeldMicro.get(workload.tenantId) ?? 0;
  return waiting(
    workload,
    'quota',
    `needs ${atLeast ? 'at least ' : ''}${formatMicro(needMicro)} std/min (whole replicas); the tenant holds ${formatMicro(held)} of its ${formatMicro(quotaMicro)} std/min quota`,
  );
}

/** Standard millionths per minute that picks hold: whole replicas of their slots' devices. */
function picksStdMicro(state: WorkingState, picks: readonly Pick[]): number {
  let sum = 0;
  for (const p of picks) sum += replicaStdMicro(p.replicas * p.devicesPerReplica, state.slots[p.slot]!.profile.stdTokensPerSec);
  return sum;
}

/** What the victims of `tenantId` hold (they are released before the preemptor is admitted). */
function victimsStdMicro(state: WorkingState, victims: readonly string[], tenantId: string): number {
  let sum = 0;
  for (const v of victims) {
    const first = state.placements.get(v)?.[0];
    if (first && first.tenantId === tenantId) sum += first.stdMicro;
  }
  return sum;
}

function waiting(workload: WorkloadSnap, reason: PendingReason, message: string): Decision {
  return { kind: 'pending', workloadId: workload.id, reason, message };
}

function placed(state: WorkingState, workload: WorkloadSnap, model: ModelSnap, picks: readonly Pick[], preempted: readonly string[]): Decision {
  const placements: PlacementDecision[] = picks.map((p) => {
    const cluster = state.snapshot.clusters[state.slotCluster[p.slot]!]!;
    const slot = state.slots[p.slot]!;
    return {
      clusterId: cluster.id,
      deviceModel: slot.deviceModel,
      profileId: slot.profile.id,
      profile: slot.profile.name,
      resourceName: slot.profile.resourceName,
      replicas: p.replicas,
      devicesPerReplica: p.devicesPerReplica,
      tokensPerMin: replicaTokensPerMin(p.replicas * p.devicesPerReplica, slot.profile.stdTokensPerSec, model.costFactor),
    };
  });
  return { kind: 'place', workloadId: workload.id, placements, preempted };
}
