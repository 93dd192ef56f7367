/**
 * A cheap abort signal for the request path: an EventEmitter that emits `abort` once, which undici
 * also takes as a request's `signal`. Node's AbortController makes its AbortSignal (an EventTarget)
 * at a cost of its own on every request (10–15 µs on this project's machine, measured in the
 * gateway's profile); this is a plain object.
 */
import { EventEmitter } from 'node:events';

/** What a callee may do with an abort signal: look, and listen once. */
export interface AbortLike {
  readonly aborted: boolean;
  once(event: 'abort', listener: () => void): unknown;
  off(event: 'abort', listener: () => void): unknown;
}

export class Abort extends EventEmitter implements AbortLike {
  aborted = false;

  /** Aborts, telling the listeners once; later calls do nothing. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}
