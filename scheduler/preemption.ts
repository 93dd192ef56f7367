/**
 * Preemption (after kube-scheduler's DefaultPreemption): when a workload does not fit, find the
 * fewest, least important placed workloads whose release lets it fit, by simulation on a copy of
 * the device counts. Pure: the working state is only read.
 */
import type { FrameworkRuntime, Pick, Shape } from './framework/runtime.js';
import type { WorkloadSnap } from './framework/types.js';
import { forkDevices, PRIORITY_RANK } from './snapshot.js';
import type { WorkingPlacement, WorkingState } from './snapshot.js';

export interface PreemptionPlan {
  /** Workloads to release, in eviction order. */
  readonly victims: readonly string[];
  /** Where the preemptor goes once they are released. */
  readonly picks: readonly Pick[];
}

interface Victim {
  readonly id: string;
  readonly rank: number;
  readonly seq: number;
  readonly placements: readonly WorkingPlacement[];
}

/**
 * Plans a preemption for `workload` (which did not fit as things are), or answers null when
 * releasing every lower-priority workload on its candidate slots would still not make it fit.
 *
 * Victims are whole workloads of strictly lower priority holding devices on a slot the workload
 * could use. They are tried lowest priority first, newest (`seq`) first, until the workload fits;
 * then, most important first, each is spared again if the workload still fits without releasing
 * it. So no victim is evicted whose release is not needed for the final placement.
 */
export function planPreemption(
  runtime: FrameworkRuntime,
  state: WorkingState,
  shape: Shape,
  workload: WorkloadSnap,
  needMicro: number,
): PreemptionPlan | null {
  if (runtime.preemptionBound(shape) < needMicro) return null;
  const rank = PRIORITY_RANK[workload.priority];

  const victims: Victim[] = [];
  const seen = new Set<string>();
  for (const slot of shape.slots) {
    // Only normal and low placements are ever victims, and `preemptible` counts exactly those.
    if (state.preemptible[slot]! <= 0) continue;
    for (const id of state.slotWorkloads[slot] ?? []) {
      if (seen.has(id)) continue;
      seen.add(id);
      const placements = state.placements.get(id);
      const first = placements?.[0];
      if (!placements || !first || PRIORITY_RANK[first.priority] >= rank) continue;
      victims.push({ id, rank: PRIORITY_RANK[first.priority], seq: first.seq, placements });
    }
  }
  if (victims.length === 0) return null;
  victims.sort((a, b) => a.rank - b.rank || b.seq - a.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const fork = forkDevices(state);
  const chosen: Victim[] = [];
  let fits = false;
  for (const v of victims) {
    move(fork, v, -1);
    chosen.push(v);
    // The cheap bound first: a full nomination only once the freed devices could be enough.
    if (runtime.freeBound(shape, fork) < needMicro) continue;
    if (runtime.nominate(shape, workload, needMicro, fork).ok) {
      fits = true;
      break;
    }
  }
  if (!fits) return null;

  for (let i = chosen.length - 1; i >= 0; i--) {
    const v = chosen[i]!;
    move(fork, v, +1);
    if (runtime.freeBound(shape, fork) >= needMicro && runtime.nominate(shape, workload, needMicro, fork).ok) {
      chosen.splice(i, 1);
    } else {
      move(fork, v, -1);
    }
  }
  const final = runtime.nominate(shape, workload, needMicro, fork);
  if (!final.ok) return null;
  return { victims: chosen.map((v) => v.id), picks: final.picks };
}

/** Adds (`+1`) or removes (`-1`) a victim's devices in a what-if copy. */
function move(fork: WorkingState, v: Victim, sign: 1 | -1): void {
  for (const p of v.placements) {
    if (p.slot >= 0) fork.held[p.slot] = fork.held[p.slot]! + sign * p.devices;
  }
}
