/**
 * What plugins compute about one request shape (model, regions) within one cycle, after
 * kube-scheduler's `framework.CycleState`: PreFilter plugins write it, Filter and Score plugins
 * read it. Plugins never write to the candidates the runtime offers them.
 *
 * One cycle state belongs to one request shape: the runtime makes it when it first meets the shape,
 * runs every PreFilter on it, then seals it. It stays the same for every nomination of that shape
 * in the cycle (which is what lets the runtime cache static filters and scores per shape).
 */

/** A typed key into a {@link CycleState}; compared by identity, its name is for messages. */
export interface StateKey<T> {
  readonly name: string;
  /** Never set: carries the value's type. */
  readonly __value?: T;
}

export function stateKey<T>(name: string): StateKey<T> {
  return Object.freeze({ name });
}

export class CycleState {
  private readonly data = new Map<StateKey<unknown>, unknown>();
  private sealed = false;

  read<T>(key: StateKey<T>): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Throws once sealed: only PreFilter may write, so cached filter and score answers stay true. */
  write<T>(key: StateKey<T>, value: T): void {
    if (this.sealed) throw new Error(`cycle state is read-only after PreFilter (writing ${key.name})`);
    this.data.set(key, value);
  }

  /** Ends PreFilter; the runtime calls it. */
  seal(): void {
    this.sealed = true;
  }
}

/**
 * Devices one replica of the shape's model spans on each flat slot of the working state (the
 * index is the slot's index in `WorkingState.slots`); 0 where the model does not fit. Written at
 * PreFilter by the plugin that owns the rule (memory-fit); the runtime reads it for every
 * candidate that passes the filters. Absent: one device per replica.
 */
export const DEVICES_PER_REPLICA: StateKey<Int32Array> = stateKey<Int32Array>('devices-per-replica');
