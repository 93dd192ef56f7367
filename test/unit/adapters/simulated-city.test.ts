import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_CITY, UNPROFILED_DEMO_DEVICE, startSimulatedCity } from '../../../adapters/simulated/city.js';
import type { HeartbeatRequest } from '../../../adapters/platform-client.js';
import { MemoryStateStore, parseUsageState } from '../../../adapters/usage-state.js';

/** Device names the built-in catalog knows, by vendor (the brief's list). */
const KNOWN: Record<string, readonly string[]> = {
  nvidia: [
    'NVIDIA-H100-80GB-HBM3',
    'NVIDIA-H800-80GB-HBM3',
    'NVIDIA-H20',
    'NVIDIA-A100-SXM4-80GB',
    'NVIDIA-A800-SXM4-80GB',
    'NVIDIA-L40S',
    'NVIDIA-GeForce-RTX-4090',
  ],
  huawei: ['huawei-Ascend910B', 'huawei-Ascend910C', 'huawei-Ascend310P'],
  cambricon: ['MLU370-X8', 'MLU590'],
  hygon: ['K100'],
  kunlunxin: ['P800'],
  metax: ['C500'],
};

describe('demo city', () => {
  const models = DEMO_CITY.flatMap((c) => c.nodes.map((n) => n.deviceModel));
  const known = new Set(Object.values(KNOWN).flat());

  it('has at least 8 uniquely named clusters in lower-case Guangzhou districts', () => {
    expect(DEMO_CITY.length).to.be.at.least(8);
    expect(new Set(DEMO_CITY.map((c) => c.name)).size).to.equal(DEMO_CITY.length);
    for (const c of DEMO_CITY) {
      expect(c.region).to.match(/^[a-z]+$/);
      expect(c.name.startsWith(`${c.region}-`), c.name).to.equal(true);
      expect(c.labels).to.have.keys('operator', 'site');
      expect(c.nodes.length, c.name).to.be.within(2, 16);
      expect(new Set(c.nodes.map((n) => n.name)).size, c.name).to.equal(c.nodes.length);
    }
    expect(new Set(DEMO_CITY.map((c) => c.region)).size).to.be.at.least(6);
  });

  it('mixes every required vendor, and uses only catalog names but one unprofiled device', () => {
    for (const [vendor, names] of Object.entries(KNOWN)) {
      expect(
        models.some((m) => names.includes(m)),
        vendor,
      ).to.equal(true);
    }
    const unknown = DEMO_CITY.flatMap((c) => c.nodes.filter((n) => !known.has(n.deviceModel)).map((n) => ({ c: c.name, n })));
    expect(unknown.map((u) => u.n.deviceModel)).to.deep.equal([UNPROFILED_DEMO_DEVICE]);
    expect(unknown[0]!.n.devices).to.be.below(8);
  });

  it('starts one agent per cluster whose first heartbeat reaches the platform within a second', async () => {
    const seen = new Map<string, HeartbeatRequest>();
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        seen.set(token, JSON.parse(text) as HeartbeatRequest);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ clusterId: token, placements: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const city = startSimulatedCity({
      baseUrl,
      clusters: DEMO_CITY.map((spec) => ({ spec, agentToken: `token-${spec.name}` })),
      intervalMs: 60_000,
    });
    try {
      const started = performance.now();
      while (city.agents.some((a) => a.stats.heartbeatsOk === 0) && performance.now() - started < 1_000) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect([...seen.keys()].sort()).to.deep.equal(DEMO_CITY.map((c) => `token-${c.name}`).sort());
      const baiyun = seen.get('token-baiyun-1')!;
      expect(baiyun.inventory.map((i) => i.deviceModel)).to.include(UNPROFILED_DEMO_DEVICE);
      expect(city.agents.every((a) => a.stats.heartbeatsOk === 1)).to.equal(true);
    } finally {
      await city.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    expect(city.agents.every((a) => !a.running)).to.equal(true);
  });

  it("keeps each usage reporter's state in the store given for its cluster", async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url?.endsWith('/usage') ? { accepted: 0, duplicates: 0, rejected: [] } : { clusterId: 'x', placements: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stores = new Map<string, MemoryStateStore>();
    const city = startSimulatedCity({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      clusters: DEMO_CITY.slice(0, 2).map((spec) => ({ spec, agentToken: `token-${spec.name}` })),
      intervalMs: 60_000,
      usageIntervalMs: 60_000,
      usageStates: (name) => stores.set(name, new MemoryStateStore()).get(name)!,
    });
    try {
      const started = performance.now();
      while ([...stores.values()].some((s) => s.text === undefined) && performance.now() - started < 1_000) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect([...stores].map(([name, s]) => [name, s.text && parseUsageState(s.text).cluster])).to.deep.equal(
        DEMO_CITY.slice(0, 2).map((c) => [c.name, c.name]),
      );
    } finally {
      await city.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
