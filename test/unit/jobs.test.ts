import { expect } from 'chai';
import { getTasks } from 'node-cron';

import { BUDGET_CHECK_SCHEDULE, budgetCheckJob } from '../../server/jobs/budget-check.js';
import { silentLogger, type Logger } from '../../server/log.js';
import type { LeaderElector } from '../../server/scheduling/leader.js';

/** A leader elector whose answer the test sets. */
function elector(leads: boolean): LeaderElector & { leads: boolean } {
  const e = { leads, isLeader: () => e.leads, check: async () => {}, start: () => {}, stop: async () => {}, onChange: () => {} };
  return e;
}

/** A budget evaluation the test holds open until it says so. */
class HeldBudgets {
  evaluations = 0;
  fail: Error | undefined;
  private release: (() => void) | undefined;

  readonly evaluate = (): Promise<number> => {
    this.evaluations++;
    const fail = this.fail;
    return new Promise((resolve, reject) => (this.release = () => (fail ? reject(fail) : resolve(0))));
  };

  finish(): void {
    this.release?.();
    this.release = undefined;
  }
}

describe('budget check job', () => {
  it('checks the budgets on the leader and does nothing on another replica', async () => {
    const budgets = new HeldBudgets();
    const leader = elector(false);
    const job = budgetCheckJob(budgets, leader, silentLogger);
    await job.run();
    expect(budgets.evaluations, 'not leading').to.equal(0);

    leader.leads = true;
    const run = job.run();
    budgets.finish();
    await run;
    expect(budgets.evaluations).to.equal(1);
  });

  it('never runs twice at once: a run asked for meanwhile joins the one going', async () => {
    const budgets = new HeldBudgets();
    const job = budgetCheckJob(budgets, elector(true), silentLogger);
    const first = job.run();
    const second = job.run();
    expect(budgets.evaluations).to.equal(1);
    budgets.finish();
    await Promise.all([first, second]);
    const third = job.run();
    expect(budgets.evaluations, 'a later run checks again').to.equal(2);
    budgets.finish();
    await third;
  });

  it('logs a failed check without throwing, and the next run checks again', async () => {
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (msg) => void errors.push(msg) };
    const budgets = new HeldBudgets();
    const job = budgetCheckJob(budgets, elector(true), log);
    budgets.fail = new Error('database gone');
    const failing = job.run();
    budgets.finish();
    await failing;
    expect(errors).to.deep.equal(['budget check failed']);

    budgets.fail = undefined;
    const next = job.run();
    budgets.finish();
    await next;
    expect(budgets.evaluations).to.equal(2);
    expect(errors).to.have.length(1);
  });

  it('runs every 30 s once started, and stop removes the schedule after the run in flight', async () => {
    const budgets = new HeldBudgets();
    const job = budgetCheckJob(budgets, elector(true), silentLogger);
    const before = new Set(getTasks().keys());
    job.start();
    job.start();
    const added = [...getTasks().values()].filter((t) => !before.has(t.id));
    expect(added, 'one schedule, however often started').to.have.length(1);
    const task = added[0]!;
    expect(task.getPattern()).to.equal(BUDGET_CHECK_SCHEDULE);
    const [a, b, c] = task.getNextRuns(3).map((d) => d.getTime());
    expect([b! - a!, c! - b!]).to.deep.equal([30_000, 30_000]);

    // The schedule's own call, made now: a check, which stop waits for.
    const running = task.execute();
    for (let i = 0; i < 10; i++) await new Promise(setImmediate);
    expect(budgets.evaluations).to.equal(1);
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    for (let i = 0; i < 10; i++) await new Promise(setImmediate);
    expect(stopped, 'stopped with a check in flight').to.equal(false);
    budgets.finish();
    await Promise.all([running, stopping]);
    expect(getTasks().has(task.id), 'the schedule is gone').to.equal(false);
  });
});
