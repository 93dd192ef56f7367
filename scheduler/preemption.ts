/**
 * Preemption (after kube-scheduler's DefaultPreemption): when a workload does not fit, find the
 * fewest, least important placed workloads whose release lets it fit, by simulation on a copy of
 * the device counts. Only candidates where preemption might help are considered: those a filter
 * rejects as `UnschedulableAndUnresolvable` are skipped, and nothing is evicted there. The
 * working state is only read; the caller releases the victims.
 */
import type { FrameworkRuntime, Pick, Shape } from './framework/runtime.js';
import type { WorkloadSnap } from './framework/types.js';
import { forkDevices, PRIORITY_RANK } from './snapshot.js';
import type { WorkingState } from './snapshot.js';

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
  /** Flat slot indices of its placements (-1: a slot not in the snapshot). */
  readonly slots: readonly number[];
}

interface ShapeVictims {
  readonly list: readonly Victim[];
  /** Entries before it are all released already. */
  start: number;
}

/**
 * Plans preemptions for one cycle. Victims are whole workloads of strictly lower priority that
 * hold devices on a slot the preemptor could use; they are tried lowest priority first, newest
 * (`seq`) first, until the preemptor fits; then, most important first, each is spared again if
 * the preemptor still fits without releasing it. So no victim is evicted whose release is not
 * needed for the final placement.
 */
export class Preemptor {
  /** Every workload holding devices that a `high` one may preempt, in eviction order. */
  private all: Victim[] | null = null;
  private readonly byShape = new Map<string, ShapeVictims>();
  private builtAt = -1;
  /** Per plan, by position in the shape: whether preemption might help there (valid where `helpStamp` is the plan's). */
  private readonly helpStamp: Int32Array;
  private readonly helpful: Uint8Array;
  private planStamp = 0;
  /** Whether the current plan met a candidate where preemption cannot help. */
  private skipped = false;

  constructor(
    private readonly runtime: FrameworkRuntime,
    private readonly state: WorkingState,
  ) {
    this.helpStamp = new Int32Array(state.slots.length);
    this.helpful = new Uint8Array(state.slots.length);
  }

  /**
   * A plan that makes `workload` (which did not fit as things are) fit, or null when releasing
   * every lower-priority workload on its candidate slots would still not be enough.
   */
  plan(shape: Shape, workload: WorkloadSnap, needMicro: number): PreemptionPlan | null {
    const { runtime, state } = this;
    if (runtime.preemptionBound(shape) < needMicro) return null;
    const rank = PRIORITY_RANK[workload.priority];
    const victims = this.victimsFor(shape);
    const positions = runtime.positionsOf(shape);
    const fork = forkDevices(state);
    this.planStamp++;
    this.skipped = false;
    // Non-ha requests fit exactly when the free replicas carry them (the greedy always completes
    // then), so only ha requests need a full nomination to judge a candidate set.
    const fits = (bound: number) => bound >= needMicro && (!workload.ha || runtime.nominate(shape, workload, needMicro, fork).ok);

    // What the free devices carry now, on the candidates where preemption might help.
    let bound = 0;
    const { healthy, held } = state;
    for (let pos = 0; pos < shape.slots.length; pos++) {
      const slot = shape.slots[pos]!;
      const free = healthy[slot]! - held[slot]!;
      const n = shape.devicesPerReplica[pos]!;
      if (free >= n && this.helps(shape, pos)) bound += Math.floor(free / n) * shape.replicaStdMicro[pos]!;
    }
    const chosen: Victim[] = [];
    let fit = false;
    let everyVictim = true;
    for (let i = victims.start; i < victims.list.length; i++) {
      const v = victims.list[i]!;
      if (!state.placements.has(v.id)) {
        if (i === victims.start) victims.start++;
        continue;
      }
      if (v.rank >= rank) {
        everyVictim = false; // eviction order puts every lower priority first
        break;
      }
      // Evicting a workload only from where preemption cannot help frees nothing usable.
      if (!this.holdsHelpful(shape, positions, v)) continue;
      chosen.push(v);
      bound += this.move(fork, shape, positions, v.id, -1);
      if (fits(bound)) {
        fit = true;
        break;
      }
    }
    if (!fit) {
      // With every normal and low workload on the shape's slots released, this is exactly what
      // preemptionBound estimates; keep the tighter figure so later attempts stop sooner.
      if (everyVictim && !this.skipped && !workload.ha && bound < shape.preemptBoundMicro) shape.preemptBoundMicro = bound;
      return null;
    }

    for (let j = chosen.length - 1; j >= 0; j--) {
      const id = chosen[j]!.id;
      const back = this.move(fork, shape, positions, id, +1);
      if (fits(bound + back)) {
        bound += back;
        chosen.splice(j, 1);
      } else {
        this.move(fork, shape, positions, id, -1);
      }
    }
    const final = runtime.nominate(shape, workload, needMicro, fork);
    if (!final.ok) return null;
    return { victims: chosen.map((v) => v.id), picks: final.picks };
  }

  /**
   * The workloads holding devices on the shape's slots, in eviction order. Built once per shape:
   * the cycle admits every `high` workload before any other, so while preemption runs the
   * preemptible set only shrinks (released entries are skipped); an admission of a `normal` or
   * `low` workload rebuilds the lists.
   */
  private victimsFor(shape: Shape): ShapeVictims {
    const { state } = this;
    if (this.builtAt !== state.preemptibleEpoch) {
      this.builtAt = state.preemptibleEpoch;
      this.byShape.clear();
      this.all = null;
    }
    let found = this.byShape.get(shape.key);
    if (found) return found;
    if (!this.all) {
      this.all = [];
      for (const [id, placements] of state.placements) {
        const first = placements[0];
        if (first && first.priority !== 'high') {
          this.all.push({ id, rank: PRIORITY_RANK[first.priority], seq: first.seq, slots: placements.map((p) => p.slot) });
        }
      }
      this.all.sort((a, b) => a.rank - b.rank || b.seq - a.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    const positions = this.runtime.positionsOf(shape);
    const list = this.all.filter((v) => holdsAny(v, positions));
    found = { list, start: 0 };
    this.byShape.set(shape.key, found);
    return found;
  }

  /**
   * Whether evicting workloads could let the shape's candidate at `pos` take the request (no
   * filter rejects it as `UnschedulableAndUnresolvable`); asked once per candidate per plan.
   */
  private helps(shape: Shape, pos: number): boolean {
    if (this.helpStamp[pos] !== this.planStamp) {
      this.helpStamp[pos] = this.planStamp;
      this.helpful[pos] = this.runtime.preemptionMightHelp(shape, pos) ? 1 : 0;
      if (this.helpful[pos] === 0) this.skipped = true;
    }
    return this.helpful[pos] === 1;
  }

  private holdsHelpful(shape: Shape, positions: Int32Array, v: Victim): boolean {
    for (const slot of v.slots) {
      const pos = slot >= 0 ? positions[slot]! : -1;
      if (pos >= 0 && this.helps(shape, pos)) return true;
    }
    return false;
  }

  /**
   * Releases (`sign = -1`: held drops) or restores (`+1`) a workload's devices in the what-if copy and answers
   * how much that changes what the shape's free devices carry (standard millionths per minute), on
   * the candidates where preemption might help.
   */
  private move(fork: WorkingState, shape: Shape, positions: Int32Array, id: string, sign: 1 | -1): number {
    let delta = 0;
    for (const p of this.state.placements.get(id) ?? []) {
      if (p.slot < 0) continue;
      const pos = positions[p.slot]!;
      const before = fork.healthy[p.slot]! - fork.held[p.slot]!;
      fork.held[p.slot] = fork.held[p.slot]! + sign * p.devices;
      if (pos < 0 || !this.helps(shape, pos)) continue;
      const n = shape.devicesPerReplica[pos]!;
      const after = before - sign * p.devices;
      delta += (replicas(after, n) - replicas(before, n)) * shape.replicaStdMicro[pos]!;
    }
    return delta;
  }
}

function holdsAny(v: Victim, positions: Int32Array): boolean {
  for (const slot of v.slots) if (slot >= 0 && positions[slot]! >= 0) return true;
  return false;
}

function replicas(free: number, n: number): number {
  return free >= n ? Math.floor(free / n) : 0;
}
