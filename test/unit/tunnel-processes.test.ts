import { expect } from 'chai';
import { LiveProcesses, MAX_PROCESSES, newProcessId } from '../../server/tunnel/processes.js';
import { silentLogger } from '../../server/log.js';

describe('tunnel: the live platform processes a 101 names', () => {
  it('is this process alone without a database to ask (PGlite)', async () => {
    const live = new LiveProcesses({ self: 'aaaaaaaaaaaa', now: () => 0, log: silentLogger });
    expect(await live.list()).to.deep.equal(['aaaaaaaaaaaa']);
  });

  it('puts this process first, asks the database at most once per cacheMs, and keeps the last list when it cannot ask', async () => {
    let now = 0;
    let asked = 0;
    let answer: () => Promise<string[]> = async () => ['b', 'c', 'self'];
    const live = new LiveProcesses({
      self: 'self',
      list: () => {
        asked += 1;
        return answer();
      },
      now: () => now,
      cacheMs: 3000,
      log: silentLogger,
    });
    const [one, two] = await Promise.all([live.list(), live.list()]);
    expect(one).to.deep.equal(['self', 'b', 'c']);
    expect(two).to.deep.equal(one);
    expect(asked).to.equal(1);
    now = 2999;
    await live.list();
    expect(asked).to.equal(1);
    now = 3000;
    answer = async () => ['b'];
    expect(await live.list()).to.deep.equal(['self', 'b']);
    expect(asked).to.equal(2);
    now = 6000;
    answer = () => Promise.reject(new Error('connection refused'));
    expect(await live.list()).to.deep.equal(['self', 'b']);
  });

  it(`names at most ${MAX_PROCESSES}, this one always among them`, async () => {
    const many = Array.from({ length: 100 }, (_, i) => `p${String(i).padStart(3, '0')}`);
    const live = new LiveProcesses({ self: 'zzz', list: async (limit) => many.slice(0, limit), now: () => 0, log: silentLogger });
    const listed = await live.list();
    expect(listed).to.have.length(MAX_PROCESSES);
    expect(listed[0]).to.equal('zzz');
  });

  it('makes ids of 12 hex digits that fit application_name and a header list', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newProcessId()));
    expect(ids.size).to.equal(100);
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{12}$/);
  });
});
