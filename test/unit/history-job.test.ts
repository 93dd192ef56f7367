import { expect } from 'chai';
import { getTasks } from 'node-cron';

import { HISTORY_SAMPLE_SCHEDULE, HistorySampleJob } from '../../server/jobs/history.js';
import { silentLogger } from '../../server/log.js';
import type { LeaderElector } from '../../server/scheduling/leader.js';

/** A leader elector whose answer the test sets, and which tells its listeners when it changes. */
function elector(leads: boolean): LeaderElector & { set(leads: boolean): void } {
  const listeners: ((leader: boolean) => void)[] = [];
  let now = leads;
  return {
    isLeader: () => now,
    check: async () => {},
    start: () => {},
    stop: async () => {},
    onChange: (l) => void listeners.push(l),
    set(leads) {
      now = leads;
      for (const l of listeners) l(leads);
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise(setImmediate);
};

describe('history sample job', () => {
  it('samples on taking the lead and every minute five seconds in, never on a replica that does not lead', async () => {
    let samples = 0;
    const history = { sample: async () => void samples++ };
    const leader = elector(false);
    const job = new HistorySampleJob(history as never, leader, silentLogger);
    const before = new Set(getTasks().keys());
    job.start();
    await settle();
    expect(samples, 'not leading').to.equal(0);

    leader.set(true);
    await settle();
    expect(samples, 'took the lead').to.equal(1);

    const added = [...getTasks().values()].filter((t) => !before.has(t.id));
    expect(added).to.have.length(1);
    expect(added[0]!.getPattern()).to.equal(HISTORY_SAMPLE_SCHEDULE);
    const runs = added[0]!.getNextRuns(3);
    expect(runs.map((d) => d.getSeconds())).to.deep.equal([5, 5, 5]);
    expect(runs[1]!.getTime() - runs[0]!.getTime()).to.equal(60_000);

    await added[0]!.execute();
    await settle();
    expect(samples, "the schedule's run").to.equal(2);
    leader.set(false);
    await job.run();
    expect(samples, 'lost the lead').to.equal(2);
    await job.stop();
    expect(getTasks().has(added[0]!.id)).to.equal(false);
  });
});
