/**
 * Revocation on every replica: two instances on one PostgreSQL database; what one revokes, the
 * other stops accepting at once, though it had the credential cached (on a fake clock the cache
 * would never expire by itself).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { connectDatabase } from '../../db/connect.js';
import { createApp, type App } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';
import { until } from '../until.js';

const ADMIN = 'tp_admin_test-operator-token-0123456789';
const config = loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_ADMIN_TOKEN: ADMIN, TOKENPOOL_DEMO: '0' });

async function serve(
  app: App,
): Promise<{ server: Server; call: (method: string, path: string, opts?: { token?: string; cookie?: string; body?: unknown }) => Promise<number> }> {
  const server = createServer(app.handler).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    call: async (method, path, opts = {}) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.cookie) headers.cookie = opts.cookie;
      const res = await fetch(base + path, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

if (DATABASE_KINDS.includes('postgres')) {
  describe('revocation on every replica [postgres]', function () {
    this.timeout(60_000);

    it('stops a revoked key, a removed cluster’s agent token and a disabled user’s session on the other instance at once', async () => {
      const one = await freshDatabase('postgres');
      const two = await connectDatabase({ url: one.url, poolSize: 4 });
      const clock = new FakeClock();
      const a = await createApp({ database: one, config, clock, log: silentLogger });
      const b = await createApp({ database: two, config, clock, log: silentLogger });
      const servers: Server[] = [];
      try {
        // Both listen on their lock connections.
        await a.leader.check();
        await b.leader.check();
        const onA = await serve(a);
        const onB = await serve(b);
        servers.push(onA.server, onB.server);
        const operator = { kind: 'operator', name: 'admin' } as const;
        const tenant = await a.context.services.tenants.create({ name: 'Conghua Forestry', kind: 'government' });
        const spare = await a.context.services.tenants.createKey(operator, tenant.id, { role: 'member' });
        const cluster = await a.context.services.clusters.register({ name: 'conghua-1', region: 'conghua' });
        const heartbeat = { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] };

        // B recognises them, and so caches them.
        expect(await onB.call('GET', '/api/v1/me', { token: spare.key })).to.equal(200);
        expect(await onB.call('POST', '/api/v1/agent/heartbeat', { token: cluster.agentToken, body: heartbeat })).to.equal(200);

        expect(await onA.call('DELETE', `/api/v1/api-keys/${spare.id}`, { token: ADMIN })).to.equal(200);
        expect(await onA.call('DELETE', `/api/v1/clusters/${cluster.id}`, { token: ADMIN })).to.equal(204);
        await until(
          'B to refuse the revoked key',
          () => onB.call('GET', '/api/v1/me', { token: spare.key }),
          (s) => s === 401,
          2000,
          5,
        );
        await until(
          'B to refuse the removed cluster’s agent',
          () => onB.call('POST', '/api/v1/agent/heartbeat', { token: cluster.agentToken, body: heartbeat }),
          (s) => s === 401,
          2000,
          5,
        );
        // What was not revoked still works on B.
        expect(await onB.call('GET', '/api/v1/me', { token: tenant.apiKey })).to.equal(200);

        // A user signed in on B, disabled on A: B's next request on the session is a 401.
        const luo = await a.context.services.accounts.createUser(operator, {
          username: 'luo@conghua',
          password: 'forest ranger 1',
          kind: 'tenant',
          tenantId: tenant.id,
        });
        const signIn = await fetch(`http://127.0.0.1:${(onB.server.address() as AddressInfo).port}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'luo@conghua', password: 'forest ranger 1' }),
        });
        expect(signIn.status).to.equal(201);
        const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
        expect(await onB.call('GET', '/api/v1/me', { cookie })).to.equal(200);
        expect(await onA.call('PATCH', `/api/v1/users/${luo.id}`, { token: ADMIN, body: { disabled: true } })).to.equal(200);
        expect(await onB.call('GET', '/api/v1/me', { cookie })).to.equal(401);
      } finally {
        for (const s of servers) await new Promise((resolve) => s.close(resolve));
        await a.stop();
        await b.stop();
        await two.close();
        await one.close();
      }
    });
  });
}
