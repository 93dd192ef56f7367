/**
 * A background job on a node-cron schedule that runs only on the scheduling leader, never twice
 * at once (node-cron's noOverlap, and a run asked for while one is going joins it). A failed run
 * is logged, never thrown; the next one comes at its time.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import type { LeaderElector } from '../scheduling/leader.js';

export interface LeaderJobOptions {
  /** Names the task in node-cron and in the log. */
  readonly name: string;
  /** A node-cron expression (an optional seconds field first). */
  readonly schedule: string;
  /** The zone the schedule's wall-clock times are in; default the process's. */
  readonly timezone?: string;
  readonly leader: LeaderElector;
  readonly log: Logger;
  /** One run; it may throw. */
  readonly work: () => Promise<void>;
}

export class LeaderJob {
  private task: ScheduledTask | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LeaderJobOptions) {}

  /** One run now if this replica leads; joins the run in flight if there is one. */
  run(): Promise<void> {
    if (!this.opts.leader.isLeader()) return Promise.resolve();
    this.running ??= this.opts
      .work()
      .catch((err: unknown) => this.opts.log.error(`${this.opts.name} failed`, { error: String(err instanceof Error ? err.stack : err) }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Runs on the schedule from now on. */
  start(): void {
    if (this.task) return;
    this.task = cron.schedule(this.opts.schedule, () => this.run(), {
      name: this.opts.name,
      noOverlap: true,
      unref: true,
      ...(this.opts.timezone ? { timezone: this.opts.timezone } : {}),
    });
  }

  /** No more runs; waits for one in flight. */
  async stop(): Promise<void> {
    const task = this.task;
    this.task = undefined;
    await task?.destroy();
    await this.running;
  }
}
