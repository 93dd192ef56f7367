import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeterJournal, parseSegment, SEGMENT_EVENTS, SEGMENT_MS } from '../../server/gateway/meter-journal.js';
import { Metering } from '../../server/gateway/metering.js';
import { silentLogger } from '../../server/log.js';
import type { MeteredCall } from '../../server/services/usage.service.js';

const call = (n: number): MeteredCall => ({
  requestId: `req_${n}`,
  tenantId: 'tn_1',
  apiKeyId: 'key_1',
  workloadId: 'wl_1',
  placementId: 'pl_1',
  clusterId: 'cl_1',
  inputTokens: 10 + n,
  outputTokens: 5,
  occurredAt: new Date(Date.UTC(2026, 11, 7, 10, 0, n)),
  model: { modelId: 'md_1', costFactor: '1', inputFactor: '0.5' },
});

/** A pid no process has now (pids are below 2^22 on Linux). */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid++) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
}

describe('metering journal (server/gateway/meter-journal.ts)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tp-journal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const files = () => readdirSync(dir).sort();

  it('writes each event as a line before append returns, and reads it back whole', () => {
    const journal = new MeterJournal(dir);
    journal.append([call(1)]);
    journal.append([call(2)]);
    const [name] = files();
    const { calls, unreadable } = parseSegment(readFileSync(join(dir, name!), 'utf8'));
    expect(unreadable).to.equal(0);
    expect(calls).to.deep.equal([call(1), call(2)]);
    journal.close();
  });

  it('deletes a segment once all its events are committed and a newer one is written', () => {
    let now = 0;
    const journal = new MeterJournal(dir, () => now);
    const a = journal.append([call(1)]);
    const b = journal.append([call(2)]);
    now = SEGMENT_MS;
    const c = journal.append([call(3)]);
    expect(files()).to.have.length(2);
    journal.committed(a);
    expect(files()).to.have.length(2);
    journal.committed(b);
    expect(files()).to.have.length(1);
    expect(journal.uncommitted).to.equal(1);
    journal.committed(c);
    journal.close();
    expect(files()).to.deep.equal([]);
  });

  it('starts a new segment after SEGMENT_EVENTS events', () => {
    const journal = new MeterJournal(dir, () => 0);
    for (let i = 0; i <= SEGMENT_EVENTS; i++) journal.append([call(i)]);
    expect(files()).to.have.length(2);
    journal.close();
    expect(files()).to.have.length(2); // nothing was committed: both stay, for the next process
  });

  it('keeps uncommitted events on close, as orphans for the next journal on the directory', () => {
    const first = new MeterJournal(dir);
    first.append([call(1)]);
    const second = new MeterJournal(dir);
    expect(second.orphans(), 'a live journal of this process is not an orphan').to.deep.equal([]);
    first.close();
    const orphans = second.orphans();
    expect(orphans).to.have.length(1);
    expect(MeterJournal.read(orphans[0]!).calls).to.deep.equal([call(1)]);
    second.close();
  });

  it('takes the segments of a process that is gone, not those of a running one or another host', () => {
    const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const dead = `meter-${host}-${deadPid()}-abcdef012345-000000.jsonl`;
    const alive = `meter-${host}-${process.ppid}-abcdef012345-000000.jsonl`;
    const elsewhere = `meter-other-host-${deadPid()}-abcdef012345-000000.jsonl`;
    for (const name of [dead, alive, elsewhere, 'notes.txt']) writeFileSync(join(dir, name), '');
    const journal = new MeterJournal(dir);
    expect(journal.orphans()).to.deep.equal([join(dir, dead)]);
    journal.close();
  });

  it('skips a line cut short by a crash in the middle of a write', () => {
    const text = `${JSON.stringify({ ...call(1), occurredAt: call(1).occurredAt.getTime() })}\n{"requestId":"req_2","ten`;
    const { calls, unreadable } = parseSegment(text);
    expect(calls).to.deep.equal([call(1)]);
    expect(unreadable).to.equal(1);
  });
});

describe('metering with a journal (server/gateway/metering.ts)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tp-metering-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets the answer end before the commit, and commits the events of a batch that failed when it is tried again', async () => {
    const committed: string[] = [];
    let failures = 2;
    const metering = new Metering({
      journal: new MeterJournal(dir),
      log: silentLogger,
      retryMs: 10,
      meter: async (calls) => {
        if (failures-- > 0) throw new Error('database unreachable');
        committed.push(...calls.map((c) => c.requestId));
      },
    });
    await metering.served(call(1));
    expect(committed, 'answered before its commit').to.deep.equal([]);
    await metering.stop(5_000);
    expect(committed).to.deep.equal(['req_1']);
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('meters again, once, the events a process journaled and never committed', async () => {
    const down = new Metering({
      journal: new MeterJournal(dir),
      log: silentLogger,
      retryMs: 10,
      meter: () => Promise.reject(new Error('database unreachable')),
    });
    for (let i = 1; i <= 3; i++) await down.served(call(i));
    await down.stop(50);
    // A process killed in the middle of a write leaves a line cut short; its answer never ended.
    const [segment] = readdirSync(dir);
    appendFileSync(join(dir, segment!), '{"requestId":"req_4","te');
    // Closed with events it could not commit, its segment is an orphan, as a dead process's is.
    const stored = new Map<string, MeteredCall>();
    const next = new Metering({
      journal: new MeterJournal(dir),
      log: silentLogger,
      meter: async (calls) => {
        for (const c of calls) if (!stored.has(c.requestId)) stored.set(c.requestId, c);
      },
    });
    expect(await next.sweep()).to.equal(3);
    expect([...stored.values()]).to.deep.equal([call(1), call(2), call(3)]);
    expect(await next.sweep(), 'a segment is metered once, then deleted').to.equal(0);
    await next.stop();
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('without a journal, ends the answer only once its event is committed', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    const metering = new Metering({ log: silentLogger, meter: () => gate });
    let ended = false;
    const served = metering.served(call(1)).then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(ended).to.equal(false);
    release!();
    await served;
    expect(ended).to.equal(true);
  });
});
