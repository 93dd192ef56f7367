import { expect } from 'chai';
import { createAuthenticator, type CredentialStore } from '../../../server/auth/authenticate.js';
import { parseRevoked, shareRevocations } from '../../../server/auth/revocation.js';
import { EventBus } from '../../../server/events.js';
import { silentLogger } from '../../../server/log.js';
import type { CredentialNotifier } from '../../../server/scheduling/notifier.js';

const KEY = 'tp_key_unit-test-key';

/** A store whose key lookups count, and can be held until released. */
function store(): CredentialStore & { reads: number; revoked: boolean; hold: () => () => void } {
  let gate: Promise<void> | undefined;
  const s = {
    reads: 0,
    revoked: false,
    adminTokenHashes: () => [],
    findAgent: async () => undefined,
    async findApiKey() {
      s.reads += 1;
      const active = !s.revoked;
      await gate;
      return active ? { id: 'key_1', tenantId: 'tn_a', role: 'member' as const } : undefined;
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
  return s;
}

/** A notifier that delivers what it is sent to its own listeners, as PostgreSQL would. */
function loopback(): CredentialNotifier & { sent: string[]; deliver: (payload: string) => void; reconnect: () => void } {
  const revoked: ((p: string) => void)[] = [];
  const listening: (() => void)[] = [];
  return {
    sent: [],
    async revoked(payload) {
      this.sent.push(payload);
    },
    onRevoked: (l) => revoked.push(l),
    onListening: (l) => listening.push(l),
    deliver: (payload) => revoked.forEach((l) => l(payload)),
    reconnect: () => listening.forEach((l) => l()),
  };
}

describe('credential revocation', () => {
  it('does not cache a lookup that was in flight when the key was forgotten', async () => {
    const s = store();
    const auth = createAuthenticator(s, () => 0);
    const release = s.hold();
    const inFlight = auth.identify(KEY);
    auth.forget((p) => p.kind === 'tenant' && p.apiKeyId === 'key_1');
    s.revoked = true;
    release();
    expect(await inFlight).to.include({ kind: 'tenant', apiKeyId: 'key_1', admin: false });
    expect(await auth.identify(KEY)).to.equal(undefined);
  });

  it('publishes a local revocation, and forgets what any replica publishes, or everything on a reconnect', async () => {
    const s = store();
    const auth = createAuthenticator(s, () => 0);
    const events = new EventBus(silentLogger);
    const notifier = loopback();
    shareRevocations(events, auth, notifier, silentLogger);
    const cached = async () => {
      const before = s.reads;
      await auth.identify(KEY);
      return s.reads === before;
    };
    await auth.identify(KEY);
    expect(await cached()).to.equal(true);

    events.emit('credential.revoked', { kind: 'api_key', apiKeyId: 'key_1' });
    expect(notifier.sent.map((p) => JSON.parse(p))).to.deep.equal([{ kind: 'api_key', apiKeyId: 'key_1' }]);
    expect(await cached()).to.equal(false);

    notifier.deliver(JSON.stringify({ kind: 'agent', clusterId: 'cl_1' }));
    expect(await cached(), 'another credential revoked: this one stays cached').to.equal(true);
    notifier.deliver(JSON.stringify({ kind: 'api_key', apiKeyId: 'key_1' }));
    expect(await cached()).to.equal(false);
    notifier.deliver('not json');
    expect(await cached(), 'an unreadable payload drops everything').to.equal(false);
    notifier.reconnect();
    expect(await cached(), 'a new listening connection drops everything').to.equal(false);
  });

  it('reads only the two kinds of revoked credential', () => {
    expect(parseRevoked('{"kind":"api_key","apiKeyId":"key_1"}')).to.deep.equal({ kind: 'api_key', apiKeyId: 'key_1' });
    expect(parseRevoked('{"kind":"agent","clusterId":"cl_1"}')).to.deep.equal({ kind: 'agent', clusterId: 'cl_1' });
    for (const bad of ['', 'null', '[]', '{"kind":"api_key"}', '{"kind":"agent","clusterId":1}', '{"kind":"user","userId":"u"}']) {
      expect(parseRevoked(bad), bad).to.equal(undefined);
    }
  });
});
