/**
 * Placement health as the platform judges it (API.md v2 "Placement health"): what an agent may
 * report of a placement's pods, and when the platform gives up on a placement whose pods cannot
 * run. Pure: times come in as arguments.
 */

/** What the agent says of a placement's pods. */
export const PLACEMENT_PHASES = ['pending', 'starting', 'running', 'failing'] as const;
export type PlacementPhase = (typeof PLACEMENT_PHASES)[number];

/** Why a failing placement's pods cannot run. */
export const PLACEMENT_FAILURE_REASONS = [
  'Unschedulable',
  'ImagePullBackOff',
  'ErrImagePull',
  'CrashLoopBackOff',
  'OOMKilled',
  'WeightsUnavailable',
  'Other',
] as const;
export type PlacementFailureReason = (typeof PLACEMENT_FAILURE_REASONS)[number];

/** The longest `message` a report may carry. */
export const MAX_HEALTH_MESSAGE = 1024;

/** The platform's deadlines for one device per replica; {@link deadlinesFor} scales them. */
export interface HealthDeadlines {
  /** How long a placement may keep reporting `failing` before it is failed, in ms. */
  readonly failAfterMs: number;
  /** How long a placement whose agent reports phases may go without ever being all ready, in ms. */
  readonly startupMs: number;
}

/**
 * Default deadlines: 5 minutes failing (the kubelet's back-off has reached its 5-minute ceiling by
 * then, so a failure that would clear on its own has had its chance), 30 minutes to start (a
 * replica's first start downloads and loads its weights).
 */
export const DEFAULT_HEALTH_DEADLINES: HealthDeadlines = Object.freeze({ failAfterMs: 300_000, startupMs: 1_800_000 });

/**
 * The deadlines for a placement whose replicas span `devicesPerReplica` devices: the base times
 * `1 + log2(devicesPerReplica)` — 1× for one device, 2× for two, 3× for four, 4× for eight, 7× for
 * 64. Larger models load more weights, start slower and take longer to crash (a crash often comes
 * only after loading), so they get longer; the factor grows slowly, so a large placement that
 * cannot run still gives its devices back within the hour by default.
 */
export function deadlinesFor(devicesPerReplica: number, base: HealthDeadlines): HealthDeadlines {
  const factor = 1 + Math.log2(Math.max(1, devicesPerReplica));
  return { failAfterMs: base.failAfterMs * factor, startupMs: base.startupMs * factor };
}

/** What the platform knows of an active placement's health. */
export interface PlacementHealth {
  readonly devicesPerReplica: number;
  /** The phase its agent last reported; null: its agent reports none (judged by the cluster TTL only). */
  readonly phase: string | null;
  readonly failingSince: Date | null;
  /** When all its replicas were first ready; null: never yet. */
  readonly readyAt: Date | null;
  readonly createdAt: Date;
}

/**
 * Whether the placement has had its chance: `failing` for longer than its fail deadline, or, with
 * an agent that reports phases, never once all ready within its startup deadline since it was made.
 * Answers which deadline passed, or null.
 */
export function overdue(p: PlacementHealth, now: Date, base: HealthDeadlines): 'failing' | 'startup' | null {
  if (p.phase === null) return null;
  const d = deadlinesFor(p.devicesPerReplica, base);
  if (p.phase === 'failing' && p.failingSince && now.getTime() - p.failingSince.getTime() >= d.failAfterMs) return 'failing';
  if (p.readyAt === null && now.getTime() - p.createdAt.getTime() >= d.startupMs) return 'startup';
  return null;
}
