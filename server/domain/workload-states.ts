/**
 * The states of workloads and placements (API.md "Workloads") and the moves between them: one
 * table each. Repositories write states only through the constants here, and every change of
 * state they make is declared with {@link Lifecycle.move}, which refuses a move the table does
 * not allow when the module that declares it loads.
 */

export const WorkloadState = Object.freeze({
  /** Waiting to be placed, with a reason once a cycle has considered it. */
  pending: 'pending',
  /** Capacity held, not every placement reported ready yet. */
  placed: 'placed',
  /** Every placement reported all its replicas ready. */
  running: 'running',
  /** Deleted by its tenant or an operator; the row is kept, the state is final. */
  deleted: 'deleted',
} as const);
export type WorkloadState = (typeof WorkloadState)[keyof typeof WorkloadState];

export const PlacementState = Object.freeze({
  /** Holds devices; its replicas are not all ready. */
  placed: 'placed',
  /** Holds devices; all its replicas are ready. */
  running: 'running',
  /** Its cluster stopped reporting; it holds nothing and waits to be released. */
  lost: 'lost',
  /**
   * Its pods could not run (failing, or never ready, past the deadline: placement-health.ts); it
   * holds nothing and waits to be released.
   */
  failed: 'failed',
  /** History: holds nothing, shown nowhere. Final. */
  released: 'released',
} as const);
export type PlacementState = (typeof PlacementState)[keyof typeof PlacementState];

/** A change of state: rows in any of `from` go to `to`. */
export interface Move<S extends string> {
  readonly from: readonly S[];
  readonly to: S;
}

/** The states of one kind of row and the moves allowed between them. */
export class Lifecycle<S extends string> {
  readonly states: readonly S[];

  constructor(
    /** The state a new row starts in. */
    readonly initial: S,
    private readonly table: Readonly<Record<S, readonly S[]>>,
  ) {
    this.states = Object.freeze(Object.keys(table) as S[]);
  }

  /** Whether a row in `from` may go to `to`. Staying in a state is not a move. */
  canTransition(from: S, to: S): boolean {
    return this.table[from]?.includes(to) ?? false;
  }

  /** The states that may go to `to`, in table order. */
  sources(to: S): readonly S[] {
    return this.states.filter((s) => this.canTransition(s, to));
  }

  /**
   * Declares a move, for an UPDATE to guard with `WHERE state IN (from)`: `from` defaults to every
   * state that may go to `to`. Throws if the table forbids any of it.
   */
  move(to: S, from: readonly S[] = this.sources(to)): Move<S> {
    for (const f of from) {
      if (!this.canTransition(f, to)) throw new Error(`state change ${f} → ${to} is not allowed`);
    }
    return Object.freeze({ from: Object.freeze([...from]), to });
  }
}

const { pending, placed, running, deleted } = WorkloadState;

/** Workloads: from each state, the states it may go to. */
export const WORKLOAD = new Lifecycle<WorkloadState>(pending, {
  // A cycle places it whole; or it is deleted.
  pending: [placed, deleted],
  // Every replica reports ready; or it is requeued (preempted, evicted, its cluster lost or
  // deregistered, rescaled past what it holds); or deleted.
  placed: [running, pending, deleted],
  // A replica stops being ready; requeued; deleted.
  running: [placed, pending, deleted],
  deleted: [],
});

/** Placements: from each state, the states it may go to. */
export const PLACEMENT = new Lifecycle<PlacementState>(PlacementState.placed, {
  // Its replicas become all ready or stop being so; its cluster is lost; its pods cannot run
  // (failed); it is released (workload requeued, rescaled, deleted, or its cluster deregistered).
  placed: [PlacementState.running, PlacementState.lost, PlacementState.failed, PlacementState.released],
  running: [PlacementState.placed, PlacementState.lost, PlacementState.failed, PlacementState.released],
  // Released once its workload is placed again, rescaled or deleted.
  lost: [PlacementState.released],
  failed: [PlacementState.released],
  released: [],
});

/** Placements that hold devices (and count against quota and capacity). */
export const ACTIVE_PLACEMENT_STATES: readonly PlacementState[] = Object.freeze([PlacementState.placed, PlacementState.running]);

/** Workloads that hold placements. */
export const HOLDING_WORKLOAD_STATES: readonly WorkloadState[] = Object.freeze([placed, running]);

/**
 * A list of states as SQL text, `('placed', 'running')`, for statements written in SQL. The states
 * are the constants above (plain words), so they need no escaping; a literal list, unlike a bind
 * parameter, lets PostgreSQL use the partial indexes defined on such lists.
 */
export function sqlStates(states: readonly string[]): string {
  for (const s of states) {
    if (!/^[a-z_]+$/.test(s)) throw new RangeError(`not a state: ${s}`);
  }
  return `(${states.map((s) => `'${s}'`).join(', ')})`;
}
