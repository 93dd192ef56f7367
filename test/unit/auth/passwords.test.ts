import { expect } from 'chai';
import { hashingGate, hashPassword, needsRehash, nobodyHash, verifyPassword } from '../../../server/auth/passwords.js';
import { AppError } from '../../../server/errors.js';
import { addressKey } from '../../../server/services/accounts.service.js';

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('password hashing', () => {
  it('runs at most `limit` at once, queues up to `queue`, and refuses beyond with a Retry-After', async () => {
    const gate = hashingGate(2, 3);
    let running = 0;
    let most = 0;
    const release = Array.from({ length: 5 }, () => deferred());
    const work = (i: number) => async () => {
      running += 1;
      most = Math.max(most, running);
      await release[i]!.promise;
      running -= 1;
      return i;
    };
    const accepted = [0, 1, 2, 3, 4].map((i) => gate.run(work(i)));
    const refused = await gate.run(work(0)).catch((err: unknown) => err);
    expect(refused).to.be.instanceOf(AppError).and.include({ kind: 'rate_limited', retryAfterSeconds: 1 });
    for (const r of release) r.resolve();
    expect(await Promise.all(accepted)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(most).to.equal(2);
    // All slots are free again.
    expect(await gate.run(async () => 'again')).to.equal('again');
  });

  it('frees the slot of work that failed', async () => {
    const gate = hashingGate(1, 0);
    await gate.run(() => Promise.reject(new Error('scrypt failed'))).catch(() => undefined);
    expect(await gate.run(async () => 1)).to.equal(1);
  });

  it("hashes at OWASP's parameters, verifies, and asks for a rehash of older ones", async function () {
    this.timeout(20_000);
    const gate = hashingGate();
    const hash = await hashPassword(gate, 'correct horse 1');
    expect(hash).to.match(/^scrypt\$131072\$8\$1\$/);
    expect(needsRehash(hash)).to.equal(false);
    expect(await verifyPassword(gate, 'correct horse 1', hash)).to.equal(true);
    expect(await verifyPassword(gate, 'correct horse 2', hash)).to.equal(false);
    expect(needsRehash('scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw$wsvge7t3Mu0PXVDUav8Rmb_HoEXuyeanBkRg7IJFYh4')).to.equal(true);
    // Parameters this code never writes, and could not afford, match nothing.
    expect(await verifyPassword(gate, 'x', 'scrypt$1073741824$8$1$AAAA$AAAA')).to.equal(false);
    expect(await verifyPassword(gate, 'x', 'bcrypt$whatever')).to.equal(false);
    expect(await verifyPassword(gate, 'x', nobodyHash())).to.equal(false);
  });
});

describe('the throttle key of a client address', () => {
  it('keeps IPv4 (mapped or not) whole and takes IPv6 by its /64', () => {
    expect(addressKey('203.0.113.7')).to.equal('addr:203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).to.equal('addr:203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).to.equal('addr:2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:0:0:9')).to.equal('addr:2001:db8:1:2::/64');
    expect(addressKey('2001:db8::9')).to.equal('addr:2001:db8:0:0::/64');
    expect(addressKey('::1')).to.equal('addr:0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).to.equal('addr:fe80:0:0:0::/64');
  });
});
