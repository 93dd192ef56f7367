/**
 * Bounded concurrency, for work that costs the process much memory or CPU: request bodies (16 MiB
 * each once decoded, then parsed), password hashes (128 MiB of scrypt each) and dry runs (a whole
 * scheduling round each). At most `concurrency` run at once; up to `queue` more wait, in order;
 * one more is refused at once, which costs nothing, rather than wait behind a queue that would
 * outlast its client.
 */

/** Frees a slot taken by {@link Gate.enter}; calling it more than once frees it once. */
export type Release = () => void;

export interface Gate {
  /** A slot once one is free, or undefined at once when the queue is full too. */
  enter(): Promise<Release> | undefined;
  /** Runs `work` in a slot, freeing it after; throws `refused()` when no slot can be had. */
  run<T>(work: () => Promise<T>, refused: () => Error): Promise<T>;
  /** Slots taken now. */
  readonly active: number;
  /** Callers waiting for a slot. */
  readonly waiting: number;
}

export interface GateLimits {
  /** Slots, at least 1. */
  readonly concurrency: number;
  /** Callers that may wait for a slot; 0: none waits, every one past `concurrency` is refused. */
  readonly queue: number;
}

export function createGate(limits: GateLimits): Gate {
  let active = 0;
  const waiters: Array<(release: Release) => void> = [];

  const release = (): Release => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = waiters.shift();
      // The slot passes straight to the next in line: `active` is unchanged.
      if (next) next(release());
      else active -= 1;
    };
  };

  const enter = (): Promise<Release> | undefined => {
    if (active < limits.concurrency) {
      active += 1;
      return Promise.resolve(release());
    }
    if (waiters.length >= limits.queue) return undefined;
    return new Promise<Release>((resolve) => waiters.push(resolve));
  };

  return {
    enter,
    async run(work, refused) {
      const entered = enter();
      if (!entered) throw refused();
      const free = await entered;
      try {
        return await work();
      } finally {
        free();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiters.length;
    },
  };
}
