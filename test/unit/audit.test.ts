import { expect } from 'chai';

import type { RequestOutcome } from '../../server/http/pipeline.js';
import type { Logger } from '../../server/log.js';
import type { AuditEntry, AuditRepository } from '../../server/repositories/audit.repository.js';
import { AuditService, changesText, MAX_CHANGES_CHARS, redact, REDACTED, type RefusalReason } from '../../server/services/audit.service.js';
import { FakeClock } from '../fake-clock.js';

/** A repository that keeps what it is given, or fails when told to. */
class MemoryRepo {
  written: AuditEntry[] = [];
  statements = 0;
  fail = false;
  insert = async (entries: readonly AuditEntry[]): Promise<void> => {
    this.statements++;
    if (this.fail) throw new Error('connection lost');
    this.written.push(...entries);
  };
}

function harness() {
  const repo = new MemoryRepo();
  const refused: RefusalReason[] = [];
  let writeFailures = 0;
  const lines: string[] = [];
  const log: Logger = {
    info: () => {},
    warn: (msg, fields) => lines.push(JSON.stringify({ msg, ...fields })),
    error: (msg, fields) => lines.push(JSON.stringify({ msg, ...fields })),
  };
  const service = new AuditService(
    repo as unknown as AuditRepository,
    new FakeClock('2026-10-20T02:00:00Z'),
    log,
    { refused: (r) => refused.push(r), writeFailed: (n) => (writeFailures += n) },
    365,
  );
  return { repo, refused, lines, service, failures: () => writeFailures };
}

function outcome(o: Partial<RequestOutcome>): RequestOutcome {
  return {
    method: 'POST',
    route: '/api/v1/tenants',
    params: {},
    principal: { kind: 'operator', name: 'admin' },
    body: undefined,
    status: 201,
    reply: undefined,
    address: '10.0.0.7',
    requestId: 'req-1',
    ...o,
  };
}

describe('audit: redaction', () => {
  it('replaces passwords, tokens, secrets and keys, keeps ids and the rest', () => {
    expect(
      redact({
        username: 'ops',
        password: 'hunter22',
        newPassword: 'x',
        token: 'tp_admin_x',
        agentToken: 'tp_agent_x',
        apiKey: 'tp_key_x',
        key: 'k',
        clientSecret: 's',
        apiKeyId: 'key_1',
        tokensPerMin: 1000,
        nested: [{ password: 'p', name: 'n' }],
      }),
    ).to.deep.equal({
      username: 'ops',
      password: REDACTED,
      newPassword: REDACTED,
      token: REDACTED,
      agentToken: REDACTED,
      apiKey: REDACTED,
      key: REDACTED,
      clientSecret: REDACTED,
      apiKeyId: 'key_1',
      tokensPerMin: 1000,
      nested: [{ password: REDACTED, name: 'n' }],
    });
  });

  it('makes strings storable in jsonb: no NUL, no lone surrogate', () => {
    expect(redact({ name: 'a\u0000b\ud800c\udc00d😀' })).to.deep.equal({ name: 'a\ufffdb\ufffdc\ufffdd😀' });
  });

  it('keeps no body, or says how large one was past the limit', () => {
    expect(changesText(undefined)).to.equal(null);
    expect(JSON.parse(changesText({ a: 'x'.repeat(MAX_CHANGES_CHARS) })!)).to.have.property('omitted');
  });
});

describe('audit: what is recorded', () => {
  it("records operators' and tenants' successful changes in one statement, and nothing else", async () => {
    const h = harness();
    h.service.observe(outcome({ body: { name: 'Nansha', kind: 'government' }, reply: { id: 'ten_1', apiKey: 'tp_key_secret' } }));
    h.service.observe(
      outcome({
        method: 'PATCH',
        route: '/api/v1/workloads/:id',
        params: { id: 'wl_1' },
        principal: { kind: 'tenant', tenantId: 'ten_1', apiKeyId: 'key_1' },
        status: 200,
      }),
    );
    h.service.observe(outcome({ method: 'GET' }));
    h.service.observe(outcome({ route: '/api/v1/agent/heartbeat', principal: { kind: 'agent', clusterId: 'cl_1' }, status: 200 }));
    h.service.observe(outcome({ route: '/api/v1/session', principal: { kind: 'public' } }));
    h.service.observe(outcome({ status: 409 }));
    await h.service.settled();
    expect(h.repo.statements).to.equal(1);
    expect(h.repo.written).to.deep.equal([
      {
        at: new Date('2026-10-20T02:00:00Z'),
        actorKind: 'operator',
        actorName: 'admin',
        actorUserId: null,
        actorKeyId: null,
        tenantId: null,
        method: 'POST',
        route: '/api/v1/tenants',
        resourceId: null,
        createdId: 'ten_1',
        status: 201,
        changes: '{"name":"Nansha","kind":"government"}',
        address: '10.0.0.7',
        requestId: 'req-1',
      },
      {
        at: new Date('2026-10-20T02:00:00Z'),
        actorKind: 'tenant',
        actorName: null,
        actorUserId: null,
        actorKeyId: 'key_1',
        tenantId: 'ten_1',
        method: 'PATCH',
        route: '/api/v1/workloads/:id',
        resourceId: 'wl_1',
        createdId: null,
        status: 200,
        changes: null,
        address: '10.0.0.7',
        requestId: 'req-1',
      },
    ]);
  });

  it('records a sign-in as the one who signed in, without the password or the CSRF token', async () => {
    const h = harness();
    const reply = { kind: 'tenant', name: 'ops', tenantId: 'ten_1', admin: true, csrfToken: 'csrf-secret', expiresAt: '2026-10-20T10:00:00Z' };
    h.service.observe(outcome({ route: '/api/v1/session', principal: { kind: 'public' }, body: { username: 'ops', password: 'hunter22' }, reply }));
    h.service.observe(outcome({ method: 'DELETE', route: '/api/v1/session', principal: { kind: 'public' }, status: 204 }));
    await h.service.settled();
    expect(h.repo.written).to.have.length(1);
    expect(h.repo.written[0]).to.deep.include({
      actorKind: 'tenant',
      actorName: 'ops',
      tenantId: 'ten_1',
      createdId: null,
      changes: '{"username":"ops","password":"[redacted]"}',
    });
    expect(JSON.stringify(h.repo.written)).to.not.include('csrf-secret');
  });

  it('a failed write is logged and counted, never thrown', async () => {
    const h = harness();
    h.repo.fail = true;
    expect(() => h.service.observe(outcome({}))).to.not.throw();
    await h.service.settled();
    expect(h.failures()).to.equal(1);
    expect(h.lines.join('\n')).to.include('audit entry not written');
  });

  it('counts refusals by reason and logs them without the body', () => {
    const h = harness();
    const body = { username: 'ops', password: 'hunter22-secret' };
    h.service.observe(outcome({ route: '/api/v1/session', principal: undefined, body, status: 401 }));
    h.service.observe(outcome({ route: '/api/v1/session', principal: undefined, body, status: 429 }));
    h.service.observe(outcome({ method: 'GET', principal: undefined, status: 401 }));
    h.service.observe(outcome({ method: 'DELETE', status: 403 }));
    // A 429 before the body was read is the request-rate check's; one after it (the pending cap) is not a refusal.
    h.service.observe(outcome({ method: 'GET', route: '/api/v1/workloads', status: 429 }));
    h.service.observe(outcome({ method: 'POST', route: '/api/v1/workloads', body: { name: 'w' }, status: 429 }));
    expect(h.refused).to.deep.equal(['sign_in_failed', 'sign_in_throttled', 'unauthenticated', 'forbidden', 'rate_limited']);
    expect(h.lines).to.have.length(5);
    expect(h.lines.join('\n')).to.not.include('hunter22');
    expect(h.lines.join('\n')).to.include('10.0.0.7');
  });
});
