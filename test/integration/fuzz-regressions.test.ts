/**
 * What the schemathesis run of `.ci/fuzz.sh` found, one test each, so that it cannot come back
 * even where the fuzzer's seed would not find it again.
 */
import { expect } from 'chai';
import { describeOnDatabases, type Answer } from './harness.js';

const PASSWORD = 'correct horse battery staple';

function expectProblem(res: Answer, status: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ status });
}

/** The statuses the OpenAPI document gives for one operation. */
function documentedStatuses(answer: Answer, method: string, path: string): string[] {
  return Object.keys(answer.body.paths[path][method].responses);
}

describeOnDatabases('what the API fuzzer found', (platform) => {
  let tenant: { id: string; apiKey: string };
  let planId: string;

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-20T02:00:00Z');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huangpu Libraries', kind: 'government' } })).body;
    planId = (await p.request('POST', '/api/v1/plans', { body: { name: 'fuzz-metered', type: 'unit', pricePerMillionStd: '1.50' } })).body.id;
  });

  // PGlite read a stored year below 100 back as 19xx/20xx or as an invalid date: the subscription
  // list, the tenant's budget, the billing close and the leader's budget check (for every tenant)
  // then answered or logged 500s. A year past 9999 was written back as "+010000-…".
  it('refuses a subscription start before 1970 or after 9999 with a 400 naming startsAt, and stays readable', async () => {
    const p = platform();
    for (const startsAt of ['0020-02-29T00:00:00Z', '0099-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '9999-12-31T23:00:00-05:00']) {
      const res = await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId, startsAt } });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['startsAt']);
    }
    const ok = await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId, startsAt: '2026-10-01T00:00:00+08:00' } });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    expect(ok.body.startsAt).to.equal('2026-09-30T16:00:00.000Z');
    const list = await p.request('GET', `/api/v1/tenants/${tenant.id}/subscriptions`, { token: tenant.apiKey });
    expect(list.status).to.equal(200);
    expect(list.body.items.map((s: { startsAt: string }) => s.startsAt)).to.deep.equal(['2026-09-30T16:00:00.000Z']);
    const budget = await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { body: { monthlyCny: '100.00' } });
    expect(budget.status, JSON.stringify(budget.body)).to.equal(200);
  });

  // The delete ran into the workloads' foreign key and answered 500; the route documents 409.
  it('answers 409 to deleting a model that workloads use, and still deletes an unused one', async () => {
    const p = platform();
    const used = (await p.request('POST', '/api/v1/models', { body: { name: 'fuzz-used-7b', minMemoryGiB: 16, costFactor: 1, inputFactor: 0.5 } })).body;
    const unused = (await p.request('POST', '/api/v1/models', { body: { name: 'fuzz-unused-7b', minMemoryGiB: 16, costFactor: 1, inputFactor: 0.5 } })).body;
    const workload = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'reader', model: used.name, tokensPerMin: 1000 } });
    expect(workload.status, JSON.stringify(workload.body)).to.equal(202);

    expectProblem(await p.request('DELETE', `/api/v1/models/${used.id}`), 409);
    expect((await p.request('GET', `/api/v1/models/${used.id}`)).status).to.equal(200);
    // Still 409 once the workload is deleted: its usage and invoices name the model.
    expect((await p.request('DELETE', `/api/v1/workloads/${workload.body.id}`, { token: tenant.apiKey })).status).to.equal(202);
    expectProblem(await p.request('DELETE', `/api/v1/models/${used.id}`), 409);

    expect((await p.request('DELETE', `/api/v1/models/${unused.id}`)).status).to.equal(204);
    expect((await p.request('GET', `/api/v1/models/${unused.id}`)).status).to.equal(404);
  });

  // The answer was right, the document did not list it: schemathesis's status_code_conformance.
  it('documents the 422 that creating a user for an unknown tenant answers', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/users', { body: { username: 'nobody', password: PASSWORD, kind: 'tenant', tenantId: 'tn_nope' } });
    expectProblem(res, 422);
    const doc = await p.request('GET', '/api/v1/openapi.json', { token: null });
    expect(documentedStatuses(doc, 'post', '/api/v1/users')).to.include('422');
  });
});
