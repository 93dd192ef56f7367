/**
 * The answer of a filter plugin, after kube-scheduler's `framework.Status`: failures are values,
 * never exceptions.
 */
import type { PendingReason } from './types.js';

/**
 * - `Success`: the candidate passes.
 * - `Unschedulable`: it does not pass now, but could once devices are freed: preemption may
 *   evict lower-priority workloads there.
 * - `UnschedulableAndUnresolvable`: it will not pass in this cycle whatever is evicted
 *   (wrong region, vendor, memory, cluster not taking placements): preemption skips the candidate
 *   and evicts nothing there, as kube-scheduler's DefaultPreemption does.
 * - `Error`: the plugin could not judge (inconsistent data); the candidate is rejected, and
 *   preemption skips it too.
 */
export type StatusCode = 'Success' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Error';

export interface Status {
  readonly code: StatusCode;
  /** Why the workload would wait if this rejection is what stops it; null on Success. */
  readonly reason: PendingReason | null;
  /** Human-readable detail; empty on Success. */
  readonly message: string;
}

/** The one Success value (plugins return it rather than allocating). */
export const SUCCESS: Status = Object.freeze({ code: 'Success', reason: null, message: '' });

export function unschedulable(reason: PendingReason, message: string): Status {
  return Object.freeze({ code: 'Unschedulable', reason, message });
}

export function unresolvable(reason: PendingReason, message: string): Status {
  return Object.freeze({ code: 'UnschedulableAndUnresolvable', reason, message });
}

export function errorStatus(reason: PendingReason, message: string): Status {
  return Object.freeze({ code: 'Error', reason, message });
}

export function isSuccess(status: Status): boolean {
  return status.code === 'Success';
}

/**
 * How lasting a pending reason is, for choosing the one to report: a workload that fits nowhere
 * reports the least lasting obstacle of its closest candidate (capacity frees up; an incompatible
 * device never will).
 */
export const REASON_RANK: Readonly<Record<PendingReason, number>> = Object.freeze({
  capacity: 0,
  quota: 1,
  plan_exhausted: 2,
  no_compatible_device: 3,
});

/** The highest rank in {@link REASON_RANK}: nothing worse can be learnt about a candidate. */
export const WORST_REASON_RANK = 3;
