import { expect } from 'chai';
import { describeOnDatabases, type Answer, type TestPlatform } from './harness.js';

/** API.md "Catalog", verbatim. */
const H100_EXAMPLE = {
  name: 'NVIDIA-H100-80GB',
  vendor: 'nvidia',
  memoryGiB: 80,
  tdpWatts: 700,
  stdTokensPerSec: 3000,
  resourceName: 'nvidia.com/gpu',
  aliases: ['NVIDIA-H100-80GB-HBM3'],
};
const QWEN72_EXAMPLE = {
  name: 'qwen2.5-72b-instruct',
  minMemoryGiB: 160,
  costFactor: 10,
  inputFactor: 0.25,
  vendors: ['nvidia', 'huawei'],
};
const VENDORS = ['nvidia', 'huawei', 'cambricon', 'hygon', 'kunlunxin', 'metax', 'iluvatar', 'mthreads'];

/** A valid new profile; `over` replaces fields. */
function profile(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Acme-X1-64GB',
    vendor: 'acme',
    memoryGiB: 64,
    tdpWatts: 300,
    stdTokensPerSec: 1000,
    resourceName: 'acme.com/npu',
    aliases: ['AX1'],
    ...over,
  };
}

function model(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'acme-13b', minMemoryGiB: 30, costFactor: 2, inputFactor: 0.5, vendors: [], ...over };
}

function paths(res: Answer): string[] {
  return (res.body.errors ?? []).map((e: { path: string }) => e.path);
}

function expectProblem(res: Answer, status: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ status });
}

/** Every item of a list, following nextCursor. */
async function listAll(p: TestPlatform, path: string, token?: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: Answer = await p.request('GET', `${path}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token ? { token } : {});
    expect(res.status).to.equal(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

describeOnDatabases('the catalog', (platform) => {
  let tenantKey: string;
  let agentToken: string;
  let clusterId: string;

  before(async () => {
    const p = platform();
    const tenant = await p.request('POST', '/api/v1/tenants', { body: { name: 'Catalog Reader', kind: 'enterprise' } });
    expect(tenant.status).to.equal(201);
    tenantKey = tenant.body.apiKey;
    const cluster = await p.request('POST', '/api/v1/clusters', { body: { name: 'huangpu-1', region: 'huangpu' } });
    expect(cluster.status).to.equal(201);
    agentToken = cluster.body.agentToken;
    clusterId = cluster.body.id;
  });

  describe('the built-in catalog', () => {
    it('seeds at least 17 device profiles covering every vendor', async () => {
      const profiles = await listAll(platform(), '/api/v1/device-profiles');
      expect(profiles.length).to.be.at.least(17);
      expect(new Set(profiles.map((x) => x.vendor))).to.include.members(VENDORS);
      for (const x of profiles) {
        expect(x.builtin).to.equal(true);
        for (const f of ['memoryGiB', 'tdpWatts', 'stdTokensPerSec']) {
          expect(x[f], `${x.name}.${f}`).to.be.a('number').and.to.be.above(0);
        }
      }
      const h100 = profiles.find((x) => x.name === 'NVIDIA-H100-80GB');
      expect(h100).to.deep.include({ ...H100_EXAMPLE, builtin: true });
    });

    it('seeds models, qwen2.5-72b-instruct with the values of API.md', async () => {
      const models = await listAll(platform(), '/api/v1/models');
      expect(models.length).to.be.at.least(3);
      const qwen = models.find((m) => m.name === 'qwen2.5-72b-instruct');
      expect(qwen).to.deep.include({ ...QWEN72_EXAMPLE, builtin: true });
      expect(qwen.id).to.be.a('string');
    });
  });

  describe('conflicts', () => {
    it("refuses API.md's examples while the built-in entries hold their names (409)", async () => {
      const p = platform();
      expectProblem(await p.request('POST', '/api/v1/device-profiles', { body: H100_EXAMPLE }), 409);
      expectProblem(await p.request('POST', '/api/v1/models', { body: QWEN72_EXAMPLE }), 409);
    });

    it('refuses a name or alias that is taken, in any combination, and creates nothing', async () => {
      const p = platform();
      const before = await listAll(p, '/api/v1/device-profiles');
      const cases: Record<string, unknown>[] = [
        profile({ name: 'NVIDIA-A100-80GB' }), // another profile's name
        profile({ name: 'Ascend910B' }), // a built-in alias as the name
        profile({ aliases: ['NVIDIA-A100-80GB'] }), // an alias equal to another profile's name
        profile({ aliases: ['NVIDIA-H100-80GB-HBM3'] }), // a built-in alias
        profile({ aliases: ['AX1-new', 'Ascend910B'] }), // one of several aliases taken
      ];
      for (const body of cases) {
        expectProblem(await p.request('POST', '/api/v1/device-profiles', { body }), 409);
      }
      const after = await listAll(p, '/api/v1/device-profiles');
      expect(after.map((x) => x.id)).to.deep.equal(before.map((x) => x.id));
      // The refused requests reserved none of their names: all of them can be used now.
      const ok = await p.request('POST', '/api/v1/device-profiles', { body: profile({ aliases: ['AX1', 'AX1-new'] }) });
      expect(ok.status).to.equal(201);
      expect((await p.request('DELETE', `/api/v1/device-profiles/${ok.body.id}`)).status).to.equal(204);
    });

    it('refuses a profile whose own name and aliases repeat (400)', async () => {
      const res = await platform().request('POST', '/api/v1/device-profiles', { body: profile({ aliases: ['AX1', 'AX1'] }) });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['aliases.1']);
    });

    it('refuses a model name that is taken (409)', async () => {
      const p = platform();
      const count = (await listAll(p, '/api/v1/models')).length;
      expectProblem(await p.request('POST', '/api/v1/models', { body: model({ name: 'qwen2.5-7b-instruct' }) }), 409);
      expect((await listAll(p, '/api/v1/models')).length).to.equal(count);
    });
  });

  describe('creating', () => {
    it("creates API.md's device profile once the built-in one is removed: 201, fields echo back as JSON numbers", async () => {
      const p = platform();
      const builtin = (await listAll(p, '/api/v1/device-profiles')).find((x) => x.name === 'NVIDIA-H100-80GB');
      expect((await p.request('DELETE', `/api/v1/device-profiles/${builtin.id}`)).status).to.equal(204);
      const res = await p.request('POST', '/api/v1/device-profiles', { body: H100_EXAMPLE });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.body).to.deep.include({ ...H100_EXAMPLE, builtin: false });
      expect(res.body.id).to.be.a('string').and.not.equal(builtin.id);
      expect(res.body.createdAt).to.equal(p.clock.now().toISOString());
      const got = await p.request('GET', `/api/v1/device-profiles/${res.body.id}`);
      expect(got.status).to.equal(200);
      expect(got.body).to.deep.equal(res.body);
    });

    it('creates API.md\'s model once the built-in one is removed: "inputFactor": 0.25 stays 0.25', async () => {
      const p = platform();
      const builtin = (await listAll(p, '/api/v1/models')).find((x) => x.name === 'qwen2.5-72b-instruct');
      expect((await p.request('DELETE', `/api/v1/models/${builtin.id}`)).status).to.equal(204);
      // Sent as the exact JSON text of API.md.
      const raw = '{ "name": "qwen2.5-72b-instruct", "minMemoryGiB": 160, "costFactor": 10, "inputFactor": 0.25,\n  "vendors": ["nvidia", "huawei"] }';
      const res = await p.request('POST', '/api/v1/models', { raw });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.deep.include({ ...QWEN72_EXAMPLE, builtin: false });
      const text = await (await fetch(`${p.baseUrl}/api/v1/models/${res.body.id}`, { headers: { authorization: `Bearer ${tenantKey}` } })).text();
      expect(text).to.contain('"inputFactor":0.25').and.contain('"costFactor":10').and.contain('"minMemoryGiB":160');
    });

    it('reads factors back as the decimal their JSON text shows, up to six places', async () => {
      const p = platform();
      const raw = '{"name":"tiny-0.5b","minMemoryGiB":2.123456,"costFactor":0.1,"inputFactor":0.000001}';
      const res = await p.request('POST', '/api/v1/models', { raw });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.deep.include({ minMemoryGiB: 2.123456, costFactor: 0.1, inputFactor: 0.000001, vendors: [] });
      const text = await (await fetch(`${p.baseUrl}/api/v1/models/${res.body.id}`, { headers: { authorization: `Bearer ${tenantKey}` } })).text();
      expect(text).to.contain('"costFactor":0.1,').and.contain('"minMemoryGiB":2.123456,');
      expect(JSON.parse(text).inputFactor).to.equal(0.000001);

      const dp = await p.request('POST', '/api/v1/device-profiles', {
        body: profile({ name: 'Acme-Z1', aliases: [], memoryGiB: 0.1, stdTokensPerSec: 1234.567891 }),
      });
      expect(dp.status, JSON.stringify(dp.body)).to.equal(201);
      expect(dp.body).to.deep.include({ memoryGiB: 0.1, stdTokensPerSec: 1234.567891, aliases: [] });
      expect((await p.request('DELETE', `/api/v1/device-profiles/${dp.body.id}`)).status).to.equal(204);
    });

    it('refuses more than six decimal places, naming the field', async () => {
      const p = platform();
      let res = await p.request('POST', '/api/v1/models', { raw: '{"name":"m7","minMemoryGiB":2.1234567,"costFactor":1,"inputFactor":0.5}' });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['minMemoryGiB']);
      res = await p.request('POST', '/api/v1/device-profiles', { body: profile({ stdTokensPerSec: 2.1234567 }) });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['stdTokensPerSec']);
      res = await p.request('POST', '/api/v1/models', { body: model({ inputFactor: 0.0000001 }) });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['inputFactor']);
    });

    it('accepts inputFactor 1, the top of its range', async () => {
      const p = platform();
      const res = await p.request('POST', '/api/v1/models', { body: model({ name: 'flat-rate', inputFactor: 1 }) });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.inputFactor).to.equal(1);
    });
  });

  describe('validation', () => {
    const badProfiles: [string, Record<string, unknown>, string][] = [
      ['an unknown field', profile({ colour: 'red' }), 'colour'],
      ['a negative memoryGiB', profile({ memoryGiB: -80 }), 'memoryGiB'],
      ['a zero memoryGiB', profile({ memoryGiB: 0 }), 'memoryGiB'],
      ['a zero stdTokensPerSec', profile({ stdTokensPerSec: 0 }), 'stdTokensPerSec'],
      ['a negative stdTokensPerSec', profile({ stdTokensPerSec: -1 }), 'stdTokensPerSec'],
      ['a zero tdpWatts', profile({ tdpWatts: 0 }), 'tdpWatts'],
      ['a factor that is not a number', profile({ stdTokensPerSec: true }), 'stdTokensPerSec'],
      ['a factor in exponent text', profile({ stdTokensPerSec: '3e3' }), 'stdTokensPerSec'],
      ['an upper-case vendor id', profile({ vendor: 'NVIDIA' }), 'vendor'],
      ['a vendor id with spaces', profile({ vendor: 'moore threads' }), 'vendor'],
      ['a resource name without a domain', profile({ resourceName: 'gpu' }), 'resourceName'],
      ['a resource name without a name', profile({ resourceName: 'nvidia.com/' }), 'resourceName'],
      ['a resource name with spaces', profile({ resourceName: 'nvidia com/gpu' }), 'resourceName'],
      ['an empty name', profile({ name: '' }), 'name'],
      ['an alias that is not a string', profile({ aliases: ['ok', 7] }), 'aliases.1'],
      ['a missing field', (({ vendor: _v, ...rest }) => rest)(profile()), 'vendor'],
    ];
    for (const [what, body, path] of badProfiles) {
      it(`refuses a device profile with ${what} (400, ${path})`, async () => {
        const res = await platform().request('POST', '/api/v1/device-profiles', { body });
        expectProblem(res, 400);
        expect(paths(res)).to.include(path);
      });
    }

    const badModels: [string, Record<string, unknown>, string][] = [
      ['an unknown field', model({ contextLength: 32768 }), 'contextLength'],
      ['a zero costFactor', model({ costFactor: 0 }), 'costFactor'],
      ['a negative costFactor', model({ costFactor: -10 }), 'costFactor'],
      ['a zero minMemoryGiB', model({ minMemoryGiB: 0 }), 'minMemoryGiB'],
      ['a negative inputFactor', model({ inputFactor: -0.25 }), 'inputFactor'],
      ['a zero inputFactor', model({ inputFactor: 0 }), 'inputFactor'],
      ['an inputFactor above 1', model({ inputFactor: 1.5 }), 'inputFactor'],
      ['an inputFactor just above 1', model({ inputFactor: 1.000001 }), 'inputFactor'],
      ['a bad vendor id', model({ vendors: ['nvidia', 'Huawei Ascend'] }), 'vendors.1'],
      ['a name with spaces', model({ name: 'my model' }), 'name'],
    ];
    for (const [what, body, path] of badModels) {
      it(`refuses a model with ${what} (400, ${path})`, async () => {
        const res = await platform().request('POST', '/api/v1/models', { body });
        expectProblem(res, 400);
        expect(paths(res)).to.include(path);
      });
    }

    it('reports every invalid field of a request at once', async () => {
      const res = await platform().request('POST', '/api/v1/device-profiles', { body: profile({ vendor: 'X', memoryGiB: -1, extra: 1 }) });
      expectProblem(res, 400);
      expect(paths(res)).to.have.members(['vendor', 'memoryGiB', 'extra']);
      for (const e of res.body.errors) expect(e.message).to.be.a('string').and.not.equal('');
    });

    it('created nothing from the refused requests', async () => {
      const p = platform();
      const names = (await listAll(p, '/api/v1/device-profiles')).map((x) => x.name);
      expect(names).to.not.include('Acme-X1-64GB');
      const models = (await listAll(p, '/api/v1/models')).map((x) => x.name);
      expect(models).to.not.include.members(['acme-13b', 'm7']);
    });
  });

  describe('who may read and write', () => {
    it('lets tenants and agents read', async () => {
      const p = platform();
      for (const token of [tenantKey, agentToken]) {
        const profiles = await p.request('GET', '/api/v1/device-profiles', { token });
        expect(profiles.status).to.equal(200);
        expect(profiles.body.items.length).to.be.at.least(17);
        const models = await p.request('GET', '/api/v1/models', { token });
        expect(models.status).to.equal(200);
        expect((await p.request('GET', `/api/v1/device-profiles/${profiles.body.items[0].id}`, { token })).status).to.equal(200);
        expect((await p.request('GET', `/api/v1/models/${models.body.items[0].id}`, { token })).status).to.equal(200);
      }
    });

    it('refuses writes by tenants and agents (403) and changes nothing', async () => {
      const p = platform();
      const dp = (await p.request('GET', '/api/v1/device-profiles?limit=1')).body.items[0];
      const m = (await p.request('GET', '/api/v1/models?limit=1')).body.items[0];
      for (const token of [tenantKey, agentToken]) {
        expectProblem(await p.request('POST', '/api/v1/device-profiles', { token, body: profile({ name: 'Sneaky-1', aliases: [] }) }), 403);
        expectProblem(await p.request('PATCH', `/api/v1/device-profiles/${dp.id}`, { token, body: { stdTokensPerSec: 1 } }), 403);
        expectProblem(await p.request('DELETE', `/api/v1/device-profiles/${dp.id}`, { token }), 403);
        expectProblem(await p.request('POST', '/api/v1/models', { token, body: model({ name: 'sneaky' }) }), 403);
        expectProblem(await p.request('PATCH', `/api/v1/models/${m.id}`, { token, body: { costFactor: 1 } }), 403);
        expectProblem(await p.request('DELETE', `/api/v1/models/${m.id}`, { token }), 403);
      }
      expect((await p.request('GET', `/api/v1/device-profiles/${dp.id}`)).body).to.deep.equal(dp);
      expect((await p.request('GET', `/api/v1/models/${m.id}`)).body).to.deep.equal(m);
      const names = (await listAll(p, '/api/v1/models')).map((x) => x.name);
      expect(names).to.not.include('sneaky');
    });

    it('answers 401 without a token or with a bad one', async () => {
      const p = platform();
      for (const token of [null, 'tp_key_not-a-key', 'tp_agent_nope', 'nonsense']) {
        expectProblem(await p.request('GET', '/api/v1/device-profiles', { token }), 401);
        expectProblem(await p.request('GET', '/api/v1/models', { token }), 401);
        expectProblem(await p.request('POST', '/api/v1/models', { token, body: model({ name: 'anon' }) }), 401);
      }
      const res = await fetch(`${p.baseUrl}/api/v1/models`, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
      expect(res.status).to.equal(401);
    });
  });

  describe('editing and removing', () => {
    let acme: any;

    it('edits a profile: fields given replace the old ones, aliases as a whole', async () => {
      const p = platform();
      const created = await p.request('POST', '/api/v1/device-profiles', { body: profile() });
      expect(created.status).to.equal(201);
      p.clock.advance(60_000);
      const res = await p.request('PATCH', `/api/v1/device-profiles/${created.body.id}`, {
        body: { aliases: ['Acme-X1', 'ACME-X1-64G'], stdTokensPerSec: 1234.5 },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({ ...profile(), aliases: ['Acme-X1', 'ACME-X1-64G'], stdTokensPerSec: 1234.5, builtin: false });
      expect(res.body.createdAt).to.equal(created.body.createdAt);
      expect(res.body.updatedAt).to.equal(p.clock.now().toISOString());
      expect((await p.request('GET', `/api/v1/device-profiles/${created.body.id}`)).body).to.deep.equal(res.body);
      acme = res.body;
      // The replaced alias is free again.
      const other = await p.request('POST', '/api/v1/device-profiles', { body: profile({ name: 'Other-AX1', aliases: ['AX1'] }) });
      expect(other.status).to.equal(201);
      expect((await p.request('DELETE', `/api/v1/device-profiles/${other.body.id}`)).status).to.equal(204);
    });

    it("maps a cluster's devices by the edited alias, at the edited throughput", async () => {
      const p = platform();
      const hb = await p.request('POST', '/api/v1/agent/heartbeat', {
        token: agentToken,
        body: {
          inventory: [
            { deviceModel: 'ACME-X1-64G', total: 4, healthy: 3 },
            { deviceModel: 'AX1', total: 2, healthy: 2 },
          ],
        },
      });
      expect(hb.status).to.equal(200);
      let view = (await p.request('GET', `/api/v1/clusters/${clusterId}`)).body;
      expect(view.inventory).to.deep.include({ deviceModel: 'ACME-X1-64G', profile: 'Acme-X1-64GB', vendor: 'acme', total: 4, healthy: 3 });
      expect(view.unprofiledDevices).to.deep.equal(['AX1']);
      expect(view.capacity.totalStdPerMin).to.equal(3 * 1234.5 * 60);

      // A later edit applies at once, without a new heartbeat.
      const res = await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { stdTokensPerSec: 2000, aliases: ['ACME-X1-64G', 'AX1'] } });
      expect(res.status).to.equal(200);
      view = (await p.request('GET', `/api/v1/clusters/${clusterId}`)).body;
      expect(view.unprofiledDevices).to.deep.equal([]);
      expect(view.capacity.totalStdPerMin).to.equal(5 * 2000 * 60);
      const pool = (await p.request('GET', '/api/v1/pool')).body;
      expect(pool.byVendor).to.deep.include({ vendor: 'acme', devices: 5, totalStdPerMin: 600_000, allocatedStdPerMin: 0, freeStdPerMin: 600_000 });
    });

    it('refuses an edit to a name or alias that is taken (409) and keeps the profile as it was', async () => {
      const p = platform();
      const before = (await p.request('GET', `/api/v1/device-profiles/${acme.id}`)).body;
      expectProblem(await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { name: 'NVIDIA-A100-80GB' } }), 409);
      expectProblem(await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { aliases: ['AX1', 'NVIDIA-H100-80GB-HBM3'] } }), 409);
      expect((await p.request('GET', `/api/v1/device-profiles/${acme.id}`)).body).to.deep.equal(before);
      // Its names still map to it.
      const view = (await p.request('GET', `/api/v1/clusters/${clusterId}`)).body;
      expect(view.unprofiledDevices).to.deep.equal([]);
    });

    it('refuses an edit with bad or unknown fields (400)', async () => {
      const p = platform();
      let res = await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { stdTokensPerSec: 0 } });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['stdTokensPerSec']);
      res = await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { builtin: true } });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['builtin']);
      res = await p.request('PATCH', `/api/v1/device-profiles/${acme.id}`, { body: { aliases: null } });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['aliases']);
    });

    it('edits a model', async () => {
      const p = platform();
      const created = await p.request('POST', '/api/v1/models', { body: model() });
      expect(created.status).to.equal(201);
      const res = await p.request('PATCH', `/api/v1/models/${created.body.id}`, { body: { costFactor: 0.1, vendors: ['acme'] } });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ ...model(), costFactor: 0.1, vendors: ['acme'] });
      expectProblem(await p.request('PATCH', `/api/v1/models/${created.body.id}`, { body: { name: 'qwen2.5-7b-instruct' } }), 409);
      expectProblem(await p.request('PATCH', `/api/v1/models/${created.body.id}`, { body: { inputFactor: 2 } }), 400);
      expect((await p.request('GET', `/api/v1/models/${created.body.id}`)).body).to.deep.equal(res.body);
    });

    it('answers 404 for an unknown id', async () => {
      const p = platform();
      expectProblem(await p.request('GET', '/api/v1/device-profiles/dp_missing'), 404);
      expectProblem(await p.request('PATCH', '/api/v1/device-profiles/dp_missing', { body: { tdpWatts: 1 } }), 404);
      expectProblem(await p.request('DELETE', '/api/v1/device-profiles/dp_missing'), 404);
      expectProblem(await p.request('GET', '/api/v1/models/mdl_missing'), 404);
      expectProblem(await p.request('PATCH', '/api/v1/models/mdl_missing', { body: { costFactor: 1 } }), 404);
      expectProblem(await p.request('DELETE', '/api/v1/models/mdl_missing'), 404);
    });

    it('removes a profile (204, then 404) and frees its names', async () => {
      const p = platform();
      const res = await p.request('DELETE', `/api/v1/device-profiles/${acme.id}`);
      expect(res.status).to.equal(204);
      expect(res.body).to.equal('');
      expectProblem(await p.request('GET', `/api/v1/device-profiles/${acme.id}`), 404);
      expectProblem(await p.request('DELETE', `/api/v1/device-profiles/${acme.id}`), 404);
      expect((await listAll(p, '/api/v1/device-profiles')).map((x) => x.id)).to.not.include(acme.id);
      // The cluster's devices are unprofiled now, and count for nothing.
      const view = (await p.request('GET', `/api/v1/clusters/${clusterId}`)).body;
      expect(view.unprofiledDevices).to.have.members(['ACME-X1-64G', 'AX1']);
      expect(view.capacity.totalStdPerMin).to.equal(0);
      const again = await p.request('POST', '/api/v1/device-profiles', { body: profile({ aliases: ['ACME-X1-64G', 'AX1'] }) });
      expect(again.status).to.equal(201);
    });

    it('removes a model (204, then 404)', async () => {
      const p = platform();
      const m = (await listAll(p, '/api/v1/models')).find((x) => x.name === 'acme-13b');
      expect((await p.request('DELETE', `/api/v1/models/${m.id}`)).status).to.equal(204);
      expectProblem(await p.request('GET', `/api/v1/models/${m.id}`), 404);
      expectProblem(await p.request('DELETE', `/api/v1/models/${m.id}`), 404);
    });
  });

  describe('paging', () => {
    before(async () => {
      const p = platform();
      for (let i = 0; i < 4; i++) {
        const res = await p.request('POST', '/api/v1/models', { body: model({ name: `paging-${i}` }) });
        expect(res.status).to.equal(201);
      }
    });

    for (const [path, limit] of [
      ['/api/v1/device-profiles', 5],
      ['/api/v1/device-profiles', 1],
      ['/api/v1/models', 2],
      ['/api/v1/models', 3],
    ] as const) {
      it(`walks ${path} with limit=${limit}, every item exactly once`, async () => {
        const p = platform();
        const all = await p.request('GET', path);
        expect(all.status).to.equal(200);
        expect(all.body.nextCursor).to.equal(null);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: Answer = await p.request('GET', `${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: tenantKey });
          expect(res.status).to.equal(200);
          expect(res.body.items.length).to.be.at.most(limit).and.at.least(1);
          seen.push(...res.body.items.map((x: { id: string }) => x.id));
          cursor = res.body.nextCursor;
          if (cursor !== null) expect(cursor).to.be.a('string').and.not.equal('');
          pages++;
        } while (cursor !== null && pages < 1000);
        expect(new Set(seen).size).to.equal(seen.length);
        expect(seen).to.deep.equal(all.body.items.map((x: { id: string }) => x.id));
        expect(pages).to.equal(Math.ceil(seen.length / limit));
      });
    }

    it('answers a null nextCursor when the page holds the rest exactly', async () => {
      const p = platform();
      const n = (await listAll(p, '/api/v1/models')).length;
      const res = await p.request('GET', `/api/v1/models?limit=${n}`);
      expect(res.body.items).to.have.length(n);
      expect(res.body.nextCursor).to.equal(null);
    });

    const bad: [string, string][] = [
      ['limit=0', 'query.limit'],
      ['limit=1001', 'query.limit'],
      ['limit=-1', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['limit=2.5', 'query.limit'],
      ['cursor=not-a-cursor', 'query.cursor'],
      [`cursor=${Buffer.from('x42').toString('base64url')}`, 'query.cursor'],
    ];
    for (const [query, path] of bad) {
      it(`refuses ${query} (400, ${path})`, async () => {
        const p = platform();
        for (const list of ['/api/v1/device-profiles', '/api/v1/models']) {
          const res = await p.request('GET', `${list}?${query}`);
          expectProblem(res, 400);
          expect(paths(res)).to.deep.equal([path]);
        }
      });
    }

    it('accepts limit=1000', async () => {
      expect((await platform().request('GET', '/api/v1/models?limit=1000')).status).to.equal(200);
    });
  });
});
