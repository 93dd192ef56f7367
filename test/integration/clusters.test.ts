import { expect } from 'chai';
import { describeOnDatabases } from './harness.js';

const H100 = 3000 * 60; // standard tokens per minute of one NVIDIA-H100-80GB

describeOnDatabases('clusters, agents and the pool', (platform) => {
  let cluster: { id: string; agentToken: string };

  it('registers a cluster as pending and shows the agent token once', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha', labels: { site: 'Nansha AI Computing Center' } } });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ name: 'nansha-1', region: 'nansha', state: 'pending', cordoned: false });
    expect(res.body.agentToken).to.match(/^tp_agent_[A-Za-z0-9_-]{43}$/);
    cluster = res.body;
    const got = await p.request('GET', `/api/v1/clusters/${cluster.id}`);
    expect(got.status).to.equal(200);
    expect(got.body).to.not.have.property('agentToken');
    expect(got.body).to.deep.include({ state: 'pending', lastHeartbeatAt: null, inventory: [], unprofiledDevices: [] });
    expect(got.body.capacity).to.deep.equal({ totalStdPerMin: 0, allocatedStdPerMin: 0, freeStdPerMin: 0 });
  });

  it('refuses a second cluster with the same name (409) and bad input (400) without creating anything', async () => {
    const p = platform();
    expect((await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).status).to.equal(409);
    const bad = await p.request('POST', '/api/v1/clusters', { body: { name: 'Bad Name', region: 'nansha', colour: 'red' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).to.have.members(['name', 'colour']);
    const list = await p.request('GET', '/api/v1/clusters');
    expect(list.body.items).to.have.length(1);
  });

  it('takes a heartbeat with aliases and unprofiled devices, and the views follow the formulas', async () => {
    const p = platform();
    const hb = await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: {
        inventory: [
          { deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 7 },
          { deviceModel: 'Enflame-S60', total: 4, healthy: 4 },
        ],
        placements: [],
      },
    });
    expect(hb.status).to.equal(200);
    expect(hb.body).to.deep.equal({ clusterId: cluster.id, placements: [] });

    const view = (await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(view.state).to.equal('ready');
    expect(view.lastHeartbeatAt).to.equal(p.clock.now().toISOString());
    expect(view.inventory).to.deep.include({ deviceModel: 'NVIDIA-H100-80GB-HBM3', profile: 'NVIDIA-H100-80GB', vendor: 'nvidia', total: 8, healthy: 7 });
    expect(view.inventory).to.deep.include({ deviceModel: 'Enflame-S60', profile: null, vendor: null, total: 4, healthy: 4 });
    expect(view.unprofiledDevices).to.deep.equal(['Enflame-S60']);
    expect(view.capacity).to.deep.equal({ totalStdPerMin: 7 * H100, allocatedStdPerMin: 0, freeStdPerMin: 7 * H100 });

    const pool = (await p.request('GET', '/api/v1/pool')).body;
    expect(pool).to.deep.include({ totalStdPerMin: 7 * H100, allocatedStdPerMin: 0, freeStdPerMin: 7 * H100 });
    expect(pool.clusters).to.deep.include({ ready: 1, notReady: 0, cordoned: 0 });
    expect(pool.byVendor).to.deep.equal([{ vendor: 'nvidia', devices: 7, totalStdPerMin: 7 * H100, allocatedStdPerMin: 0, freeStdPerMin: 7 * H100 }]);
    expect(pool.byCluster).to.deep.equal([
      { clusterId: cluster.id, name: 'nansha-1', region: 'nansha', state: 'ready', totalStdPerMin: 7 * H100, allocatedStdPerMin: 0, freeStdPerMin: 7 * H100 },
    ]);
  });

  it('replaces the inventory on every heartbeat', async () => {
    const p = platform();
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }], placements: [] },
    });
    const view = (await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(view.inventory).to.have.length(1);
    expect(view.unprofiledDevices).to.deep.equal([]);
    expect(view.capacity.totalStdPerMin).to.equal(8 * H100);
  });

  it('rejects a malformed heartbeat as a whole and keeps the previous inventory', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: {
        inventory: [
          { deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 9 },
          { deviceModel: 'NVIDIA-H100-80GB', total: -1, healthy: 0 },
        ],
      },
    });
    expect(res.status).to.equal(400);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).to.include.members(['inventory.0.healthy', 'inventory.1.total']);
    const view = (await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(view.capacity.totalStdPerMin).to.equal(8 * H100);
  });

  it('lets only agents heartbeat, and an agent token reads no operator views', async () => {
    const p = platform();
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { body: { inventory: [] } })).status).to.equal(403);
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: 'tp_agent_nope', body: { inventory: [] } })).status).to.equal(401);
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: null, body: { inventory: [] } })).status).to.equal(401);
    expect((await p.request('GET', '/api/v1/pool', { token: cluster.agentToken })).status).to.equal(403);
    expect((await p.request('GET', '/api/v1/clusters', { token: cluster.agentToken })).status).to.equal(403);
  });

  it('cordons: the cluster keeps counting in the total but offers no free capacity', async () => {
    const p = platform();
    const res = await p.request('POST', `/api/v1/clusters/${cluster.id}/cordon`);
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ state: 'cordoned', cordoned: true });
    expect(res.body.capacity).to.deep.equal({ totalStdPerMin: 8 * H100, allocatedStdPerMin: 0, freeStdPerMin: 0 });
    const pool = (await p.request('GET', '/api/v1/pool')).body;
    expect(pool).to.deep.include({ totalStdPerMin: 8 * H100, freeStdPerMin: 0 });
    expect(pool.clusters).to.deep.include({ ready: 0, cordoned: 1 });
    const back = await p.request('POST', `/api/v1/clusters/${cluster.id}/uncordon`);
    expect(back.body).to.include({ state: 'ready', cordoned: false });
    expect(back.body.capacity.freeStdPerMin).to.equal(8 * H100);
  });

  it('turns not_ready after the TTL without heartbeats (winning over a cordon), and ready again on the next one', async () => {
    const p = platform();
    await p.request('POST', `/api/v1/clusters/${cluster.id}/cordon`);
    p.clock.advance(30_000);
    expect((await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body.state).to.equal('cordoned');
    expect(await p.app.sweeper.sweep()).to.deep.equal([]);
    p.clock.advance(1);
    const stale = (await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(stale).to.include({ state: 'not_ready', cordoned: true });
    expect(stale.capacity.freeStdPerMin).to.equal(0);
    expect(await p.app.sweeper.sweep()).to.deep.equal([cluster.id]);
    expect(await p.app.sweeper.sweep()).to.deep.equal([]);
    const pool = (await p.request('GET', '/api/v1/pool')).body;
    expect(pool).to.deep.include({ totalStdPerMin: 0, freeStdPerMin: 0 });
    expect(pool.clusters).to.deep.include({ ready: 0, notReady: 1, cordoned: 0 });
    expect(pool.byCluster[0]).to.include({ state: 'not_ready', freeStdPerMin: 0 });

    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    expect((await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body.state).to.equal('cordoned');
    await p.request('POST', `/api/v1/clusters/${cluster.id}/uncordon`);
    expect((await p.request('GET', `/api/v1/clusters/${cluster.id}`)).body.state).to.equal('ready');
  });

  it('rotates the agent token: the old one stops working', async () => {
    const p = platform();
    const res = await p.request('POST', `/api/v1/clusters/${cluster.id}/agent-token`);
    expect(res.status).to.equal(200);
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: cluster.agentToken, body: { inventory: [] } })).status).to.equal(401);
    expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: res.body.agentToken, body: { inventory: [] } })).status).to.equal(200);
    cluster = { id: cluster.id, agentToken: res.body.agentToken };
  });

  it('answers 404 for an unknown cluster', async () => {
    const p = platform();
    expect((await p.request('GET', '/api/v1/clusters/cl_missing')).status).to.equal(404);
    expect((await p.request('POST', '/api/v1/clusters/cl_missing/cordon')).status).to.equal(404);
  });
});
