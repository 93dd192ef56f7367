/**
 * How many request bodies one process reads and parses at once. A body may hold 16 MiB once
 * decoded, and parsing it holds the CPU: without a bound, a few hundred clients sending large
 * bodies together would exhaust the memory of the process. Past the bound requests wait, in a
 * queue of bounded length; past the queue they are refused (the pipeline answers 503 with
 * `Retry-After`), which costs the server nothing.
 */

/** Frees a slot taken by {@link BodyGate.enter}; calling it more than once frees it once. */
export type Release = () => void;

export interface BodyGate {
  /** A slot once one is free, or undefined at once when the queue is full too. */
  enter(): Promise<Release> | undefined;
  /** Bodies being read or parsed now. */
  readonly active: number;
  /** Requests waiting for a slot. */
  readonly waiting: number;
}

export interface BodyGateLimits {
  /** Bodies read and parsed at once, at least 1. */
  readonly concurrency: number;
  /** Requests that may wait for a slot; 0: none waits, every one past `concurrency` is refused. */
  readonly queue: number;
}

export function createBodyGate(limits: BodyGateLimits): BodyGate {
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

  return {
    enter() {
      if (active < limits.concurrency) {
        active += 1;
        return Promise.resolve(release());
      }
      if (waiters.length >= limits.queue) return undefined;
      return new Promise<Release>((resolve) => waiters.push(resolve));
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiters.length;
    },
  };
}
