import { expect } from 'chai';

import type { Principal } from '../../server/auth/authenticate.js';
import { AppError } from '../../server/errors.js';
import type { Logger } from '../../server/log.js';
import type { RequestLogEntry, RequestLogFilter, RequestsRepository } from '../../server/repositories/requests.repository.js';
import { RequestLogService } from '../../server/services/requests.service.js';
import { FakeClock } from '../fake-clock.js';

/** A repository that keeps what it is given, fails a batch of more than one when told to, and refuses entries marked bad. */
class MemoryRepo {
  written: RequestLogEntry[] = [];
  statements = 0;
  failBatches = false;
  filters: RequestLogFilter[] = [];
  insertMany = async (entries: readonly RequestLogEntry[]): Promise<number> => {
    this.statements++;
    if (this.failBatches && entries.length > 1) throw new Error('connection lost');
    if (entries.some((e) => e.model === 'bad')) throw new Error('value out of range');
    this.written.push(...entries);
    return entries.length;
  };
  list = async (filter: RequestLogFilter): Promise<never[]> => {
    this.filters.push(filter);
    return [];
  };
}

function harness() {
  const repo = new MemoryRepo();
  let failures = 0;
  const lines: string[] = [];
  const log: Logger = { info: () => {}, warn: () => {}, error: (msg, fields) => lines.push(JSON.stringify({ msg, ...fields })) };
  const service = new RequestLogService(
    repo as unknown as RequestsRepository,
    new FakeClock('2026-10-20T02:00:00Z'),
    log,
    { writeFailed: (n) => (failures += n) },
    90,
  );
  return { repo, service, lines, failures: () => failures };
}

function entry(requestId: string, over: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    requestId,
    startedAt: new Date('2026-10-20T01:59:59Z'),
    tenantId: 'ten_a',
    apiKeyId: 'key_a',
    userId: null,
    model: 'qwen2.5-7b-instruct',
    workloadId: 'wl_1',
    placementId: 'pl_1',
    clusterId: 'cl_1',
    endpoint: 'chat.completions',
    status: 200,
    errorCode: null,
    promptTokens: 10,
    completionTokens: 20,
    ttftMs: 12.6,
    durationMs: 99.4,
    streamed: true,
    attempts: 1,
    ...over,
  };
}

/** Lets queued promise callbacks run; no timer fires (the linger is 100 ms). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('request log service', () => {
  it('writes what was recorded within a linger in one insert, durations in whole milliseconds', async () => {
    const h = harness();
    h.service.record(entry('r1'));
    h.service.record(entry('r2', { ttftMs: null, durationMs: Number.NaN }));
    h.service.record(entry('r3', { durationMs: 1e12 }));
    await turn();
    expect(h.repo.statements).to.equal(0);
    await h.service.settled();
    expect(h.repo.statements).to.equal(1);
    expect(h.repo.written.map((e) => [e.requestId, e.ttftMs, e.durationMs])).to.deep.equal([
      ['r1', 13, 99],
      ['r2', null, 0],
      ['r3', 13, 2_147_483_647],
    ]);
  });

  it('writes a full batch of 1000 without waiting for the linger', async () => {
    const h = harness();
    for (let i = 0; i < 1001; i++) h.service.record(entry(`r${i}`));
    await turn();
    expect(h.repo.statements).to.equal(1);
    expect(h.repo.written).to.have.length(1000);
    await h.service.settled();
    expect(h.repo.written).to.have.length(1001);
  });

  it('when a batch fails, tries each entry alone: one bad entry loses only itself, logged and counted', async () => {
    const h = harness();
    h.repo.failBatches = true;
    h.service.record(entry('r1'));
    h.service.record(entry('r2', { model: 'bad' }));
    h.service.record(entry('r3'));
    await h.service.settled();
    expect(h.repo.written.map((e) => e.requestId)).to.deep.equal(['r1', 'r3']);
    expect(h.failures()).to.equal(1);
    expect(h.lines).to.have.length(1);
    expect(h.lines[0]).to.contain('request log entry not written');
  });

  it('lets the operator read all or one tenant; a tenant admin its tenant; a member its key or its user; no agent', async () => {
    const h = harness();
    const page = { limit: 10, after: 0 };
    const cases: readonly [Principal, RequestLogFilter, RequestLogFilter | 'forbidden' | 'empty'][] = [
      [{ kind: 'operator', name: 'admin' }, {}, {}],
      [
        { kind: 'operator', name: 'admin' },
        { tenantId: 'ten_b', status: 429 },
        { tenantId: 'ten_b', status: 429 },
      ],
      [{ kind: 'tenant', tenantId: 'ten_a', apiKeyId: 'key_a', admin: true }, { tenantId: 'ten_b' }, { tenantId: 'ten_a' }],
      [{ kind: 'tenant', tenantId: 'ten_a', apiKeyId: 'key_a', admin: true }, { apiKeyId: 'key_m' }, { tenantId: 'ten_a', apiKeyId: 'key_m' }],
      [
        { kind: 'tenant', tenantId: 'ten_a', apiKeyId: 'key_m' },
        { tenantId: 'ten_b', model: 'm' },
        { tenantId: 'ten_a', apiKeyId: 'key_m', model: 'm' },
      ],
      [{ kind: 'tenant', tenantId: 'ten_a', apiKeyId: 'key_m' }, { apiKeyId: 'key_a' }, 'empty'],
      [{ kind: 'tenant', tenantId: 'ten_a', userId: 'usr_1' }, {}, { tenantId: 'ten_a', userId: 'usr_1' }],
      [{ kind: 'tenant', tenantId: 'ten_a', userId: 'usr_1' }, { apiKeyId: 'key_a' }, 'empty'],
      [{ kind: 'tenant', tenantId: 'ten_a' }, {}, 'forbidden'],
      [{ kind: 'agent', clusterId: 'cl_1' }, {}, 'forbidden'],
      [{ kind: 'public' }, {}, 'forbidden'],
    ];
    for (const [principal, query, expected] of cases) {
      h.repo.filters = [];
      const label = JSON.stringify([principal, query]);
      if (expected === 'forbidden') {
        const err = await h.service.list(principal, query, page).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, label).to.be.instanceOf(AppError);
        expect((err as AppError).kind, label).to.equal('forbidden');
      } else if (expected === 'empty') {
        expect(await h.service.list(principal, query, page), label).to.deep.equal({ items: [], nextCursor: null });
        expect(h.repo.filters, label).to.deep.equal([]);
      } else {
        await h.service.list(principal, query, page);
        expect(h.repo.filters, label).to.deep.equal([expected]);
      }
    }
  });
});
