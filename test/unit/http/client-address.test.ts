import { expect } from 'chai';
import type { IncomingMessage, Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { canonicalAddress, clientAddress, clientOf, NO_TRUSTED_PROXIES, parseTrustedProxies, trustedProxies } from '../../../server/http/client-address.js';
import { createNodeServer } from '../../../server/http/server.js';
import { ConfigError, loadConfig } from '../../../server/config.js';

const trusting = (text: string) => trustedProxies(parseTrustedProxies(text));

describe('the client address behind trusted proxies', () => {
  describe('canonical addresses', () => {
    const cases: ReadonlyArray<readonly [string, string | undefined]> = [
      ['203.0.113.7', '203.0.113.7'],
      ['::ffff:203.0.113.7', '203.0.113.7'],
      ['::ffff:203.0.113.700', undefined],
      ['::FFFF:cb00:7107', '203.0.113.7'],
      ['2001:DB8:0:0::1', '2001:db8::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::1', '::1'],
      ['203.0.113.7:443', undefined],
      ['[2001:db8::1]', undefined],
      ['unknown', undefined],
      ['', undefined],
      ['010.0.0.1', undefined],
    ];
    for (const [given, expected] of cases) {
      it(`${JSON.stringify(given)} → ${String(expected)}`, () => {
        expect(canonicalAddress(given)).to.equal(expected);
      });
    }
  });

  describe('TOKENPOOL_TRUSTED_PROXIES', () => {
    it('takes addresses and CIDR ranges, IPv4 and IPv6, in canonical form; empty is none', () => {
      expect(
        loadConfig({ TOKENPOOL_TRUSTED_PROXIES: ' 10.0.0.0/8, fd00::/8 ,127.0.0.1,,::ffff:192.168.0.0/112, 2001:DB8::1' }).http.trustedProxies,
      ).to.deep.equal(['10.0.0.0/8', 'fd00::/8', '127.0.0.1', '192.168.0.0/16', '2001:db8::1']);
      expect(loadConfig({}).http.trustedProxies).to.deep.equal([]);
      expect(loadConfig({ TOKENPOOL_TRUSTED_PROXIES: '' }).http.trustedProxies).to.deep.equal([]);
    });

    const bad: ReadonlyArray<readonly [string, RegExp]> = [
      ['10.0.0.0/33', /the prefix length of "10\.0\.0\.0\/33" must be a whole number from 0 to 32/],
      ['fd00::/129', /from 0 to 128/],
      ['10.0.0.0/', /"10\.0\.0\.0\/" must be a whole number/],
      ['10.0.0.0/8/8', /"10\.0\.0\.0\/8\/8" is not an IP address or a CIDR range/],
      ['10.0.0.0/-1', /must be a whole number/],
      ['proxy.internal', /"proxy\.internal" is not an IP address or a CIDR range \(e\.g\. 10\.0\.0\.0\/8, fd00::\/8, 127\.0\.0\.1\)/],
      ['127.0.0.1, 10.0.0.256', /"10\.0\.0\.256" is not an IP address/],
      ['fe80::1%eth0', /is not an IP address/],
      ['::ffff:0:0/95', /write the IPv4 range instead/],
    ];
    for (const [value, message] of bad) {
      it(`${value} stops the server naming the variable`, () => {
        expect(() => loadConfig({ TOKENPOOL_TRUSTED_PROXIES: value }))
          .to.throw(ConfigError, /^TOKENPOOL_TRUSTED_PROXIES: /)
          .with.property('message')
          .that.matches(message);
      });
    }

    it('matches addresses in any form against the ranges', () => {
      const t = trusting('10.0.0.0/8,fd00::/8,127.0.0.1');
      for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '127.0.0.1', '::ffff:127.0.0.1', 'fd12:3456::1', 'FD00::']) expect(t.has(a), a).to.equal(true);
      for (const a of ['11.0.0.1', '127.0.0.2', 'fe00::1', '::1', 'garbage', '']) expect(t.has(a), a).to.equal(false);
      expect(NO_TRUSTED_PROXIES.has('127.0.0.1')).to.equal(false);
    });

    it('answers the same once it has seen more addresses than it remembers', () => {
      const t = trusting('10.0.0.0/8');
      for (let i = 0; i < 5000; i++) expect(t.has(`${10 + (i % 2)}.0.${i >> 8}.${i & 255}`)).to.equal(i % 2 === 0);
      expect([t.has('10.0.0.1'), t.has('11.0.0.1')]).to.deep.equal([true, false]);
    });
  });

  describe('clientAddress(peer, X-Forwarded-For, trusted)', () => {
    const t = trusting('10.0.0.0/8,fd00::/8');
    const cases: ReadonlyArray<readonly [string, string | undefined, string | undefined, string | undefined]> = [
      ['an untrusted peer: its forged X-Forwarded-For is ignored', '203.0.113.9', '198.51.100.1', '203.0.113.9'],
      ['an untrusted peer claiming a trusted hop is still itself', '203.0.113.9', '10.0.0.1', '203.0.113.9'],
      ['a trusted proxy: the client it names', '10.0.0.5', '203.0.113.7', '203.0.113.7'],
      ['a trusted proxy without the header: the proxy', '10.0.0.5', undefined, '10.0.0.5'],
      ['through two trusted proxies: the first untrusted hop from the right', '10.0.0.5', '203.0.113.7, 10.2.0.1', '203.0.113.7'],
      ['what the client wrote left of its own address is never read', '10.0.0.5', '198.51.100.1, 10.9.9.9, 203.0.113.7, 10.2.0.1', '203.0.113.7'],
      ['every hop trusted: the furthest', '10.0.0.5', '10.3.0.1, 10.2.0.1', '10.3.0.1'],
      ['IPv6 through an IPv6 proxy', 'fd00::5', '2001:DB8::7, fd00::6', '2001:db8::7'],
      ['IPv4-mapped peer and hops', '::ffff:10.0.0.5', '::ffff:203.0.113.7', '203.0.113.7'],
      ['a mapped trusted hop is skipped', '10.0.0.5', '203.0.113.7, ::ffff:10.2.0.1', '203.0.113.7'],
      ['an untrusted mapped peer is reported as IPv4', '::ffff:203.0.113.9', '10.0.0.1', '203.0.113.9'],
      ['a malformed last hop: the proxy that passed it on', '10.0.0.5', 'not-an-address', '10.0.0.5'],
      ['a port on a hop is malformed', '10.0.0.5', '203.0.113.7:5555', '10.0.0.5'],
      ['malformed behind a trusted hop: that hop', '10.0.0.5', '203.0.113.7, garbage, 10.2.0.1', '10.2.0.1'],
      ['an empty header: the proxy', '10.0.0.5', '', '10.0.0.5'],
      ['an empty entry: the proxy that passed it on', '10.0.0.5', '203.0.113.7,', '10.0.0.5'],
      ['no peer address', undefined, '203.0.113.7', undefined],
    ];
    for (const [title, peer, xff, expected] of cases) {
      it(title, () => {
        expect(clientAddress(peer, xff, t)).to.equal(expected);
      });
    }

    it('trusts nobody by default', () => {
      expect(clientAddress('10.0.0.5', '203.0.113.7', NO_TRUSTED_PROXIES)).to.equal('10.0.0.5');
    });
  });

  describe('clientOf(request)', () => {
    const request = (remoteAddress: string, headers: Record<string, string>, encrypted = false) =>
      ({ socket: { remoteAddress, ...(encrypted ? { encrypted } : {}) }, headers }) as unknown as IncomingMessage;
    const t = trusting('10.0.0.0/8');

    it('believes X-Forwarded-Proto only from a trusted proxy', () => {
      expect(clientOf(request('10.0.0.5', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' }), t)).to.deep.equal({
        address: '203.0.113.7',
        secure: true,
      });
      expect(clientOf(request('203.0.113.9', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.1' }), t)).to.deep.equal({
        address: '203.0.113.9',
        secure: false,
      });
      expect(clientOf(request('10.0.0.5', { 'x-forwarded-proto': 'http' }), t).secure).to.equal(false);
      expect(clientOf(request('203.0.113.9', {}, true), t).secure).to.equal(true);
    });
  });

  describe('the per-client connection cap', () => {
    const servers: Server[] = [];
    after(async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    });

    /** Opens `n` connections at once, sends a request on each, and answers which were answered. */
    async function answered(trusted: string, n: number): Promise<boolean[]> {
      const limits = loadConfig({ TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '1', TOKENPOOL_TRUSTED_PROXIES: trusted }).http;
      const server = createNodeServer((_req, res) => res.end('ok'), limits).listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      const sockets = await Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise<ReturnType<typeof connect>>((resolve) => {
              const s = connect(port, '127.0.0.1', () => resolve(s));
            }),
        ),
      );
      return Promise.all(
        sockets.map(
          (s) =>
            new Promise<boolean>((resolve) => {
              let text = '';
              s.on('data', (c: Buffer) => {
                text += c.toString();
                if (text.includes('ok')) {
                  resolve(true);
                  s.destroy();
                }
              });
              s.on('error', () => resolve(false));
              s.on('close', () => resolve(text.includes('ok')));
              s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
            }),
        ),
      );
    }

    it('counts an untrusted address, and exempts connections from a trusted proxy', async () => {
      const untrusted = await answered('10.0.0.0/8', 3);
      expect(untrusted.filter(Boolean)).to.have.length(1);
      expect(await answered('127.0.0.1', 3)).to.deep.equal([true, true, true]);
    });
  });
});
