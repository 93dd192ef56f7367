/**
 * The client's address behind a reverse proxy, over HTTP: with TOKENPOOL_TRUSTED_PROXIES naming the
 * proxy (here the tests' own loopback address), the sign-in throttle and the audit log see the real
 * clients the proxy names in X-Forwarded-For, and X-Forwarded-Proto is believed; without it, a
 * forged X-Forwarded-For or X-Forwarded-Proto changes nothing.
 */
import { expect } from 'chai';
import { ADDRESS_BACK_OFF } from '../../server/services/accounts.service.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

async function failures(p: TestPlatform, key: string): Promise<number | undefined> {
  const row = await p.database.db.selectFrom('sign_in_failures').select('failures').where('key', '=', key).executeTakeFirst();
  return row?.failures;
}

/** A failed sign-in with a guessed token (a new one each time, so that no token's own count throttles). */
let guesses = 0;
function guess(p: TestPlatform, headers: Record<string, string>) {
  return p.request('POST', '/api/v1/session', { token: null, body: { token: `tp_admin_guess-${guesses++}` }, headers });
}

/** The audit entry of the tenant created with `name`. */
async function auditOfTenant(p: TestPlatform, headers: Record<string, string>, name: string): Promise<{ address: string | null }> {
  const created = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' }, headers });
  expect(created.status).to.equal(201);
  const entries = (await p.request('GET', '/api/v1/audit?route=/api/v1/tenants')).body.items as { createdId: string; address: string | null }[];
  return entries.find((e) => e.createdId === created.body.id)!;
}

describeOnDatabases(
  'behind a trusted proxy',
  (platform) => {
    const alice = { 'x-forwarded-for': '203.0.113.1' };
    // Through a second trusted hop, and the client's own forged entry to the left of it.
    const bob = { 'x-forwarded-for': '10.1.1.1, 203.0.113.2, 127.0.0.1' };

    it('throttles sign-ins per real client: two clients behind the same proxy are counted apart', async () => {
      const p = platform();
      for (let i = 0; i < ADDRESS_BACK_OFF.free; i++) expect((await guess(p, alice)).status).to.equal(401);
      expect(await failures(p, 'addr:203.0.113.1')).to.equal(ADDRESS_BACK_OFF.free);
      expect(await failures(p, 'addr:127.0.0.1')).to.equal(undefined);
      const blocked = await guess(p, alice);
      expect(blocked.status).to.equal(429);
      expect(Number(blocked.headers.get('retry-after'))).to.be.at.least(1);
      // Bob shares the proxy with Alice, not her count.
      expect((await guess(p, bob)).status).to.equal(401);
      expect(await failures(p, 'addr:203.0.113.2')).to.equal(1);
      const signedIn = await p.request('POST', '/api/v1/session', {
        token: null,
        body: { token: 'tp_admin_test-operator-token-0123456789' },
        headers: { ...bob, 'x-forwarded-proto': 'https' },
      });
      expect(signedIn.status).to.equal(201);
      // The proxy said the client came over TLS: the cookie is Secure, and HSTS is asked for.
      expect(signedIn.headers.get('set-cookie')).to.match(/; Secure;/);
      expect(signedIn.headers.get('strict-transport-security')).to.equal('max-age=31536000; includeSubDomains');
    });

    it('records the real client in the audit log', async () => {
      const p = platform();
      expect((await auditOfTenant(p, alice, 'Huadu Library')).address).to.equal('203.0.113.1');
      expect((await auditOfTenant(p, bob, 'Huadu Archive')).address).to.equal('203.0.113.2');
      // IPv6 clients too; a request without the header is the proxy's own.
      expect((await auditOfTenant(p, { 'x-forwarded-for': '2001:DB8::7' }, 'Huadu Museum')).address).to.equal('2001:db8::7');
      expect((await auditOfTenant(p, {}, 'Huadu Theatre')).address).to.equal('127.0.0.1');
      // What the proxy passed on that is no address ends the walk at the proxy.
      expect((await auditOfTenant(p, { 'x-forwarded-for': 'unknown' }, 'Huadu Zoo')).address).to.equal('127.0.0.1');
    });
  },
  { TOKENPOOL_TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8' },
);

describeOnDatabases('without a trusted proxy', (platform) => {
  it('a forged X-Forwarded-For or X-Forwarded-Proto changes nothing: the socket address is the client', async () => {
    const p = platform();
    for (let i = 0; i < ADDRESS_BACK_OFF.free; i++) {
      expect((await guess(p, { 'x-forwarded-for': `203.0.113.${i + 1}` })).status).to.equal(401);
    }
    expect(await failures(p, 'addr:127.0.0.1')).to.equal(ADDRESS_BACK_OFF.free);
    expect(await failures(p, 'addr:203.0.113.1')).to.equal(undefined);
    // A new forged address every time does not escape the throttle.
    expect((await guess(p, { 'x-forwarded-for': '198.51.100.99' })).status).to.equal(429);

    const forged = { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' };
    expect((await auditOfTenant(p, forged, 'Conghua Hospital')).address).to.equal('127.0.0.1');
    const claimed = await p.request('GET', '/api/v1/tenants', { headers: forged });
    expect(claimed.headers.get('strict-transport-security')).to.equal(null);
  });
});
