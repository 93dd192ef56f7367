import { expect } from 'chai';

import { hashToken, IdGenerator, newToken, sameHash, TOKEN_PREFIX } from '../../server/auth/tokens.js';
import { FakeClock } from '../fake-clock.js';

describe('ids and tokens', () => {
  it('ids: prefix, 10 time characters that sort with the clock, 16 random ones', () => {
    const clock = new FakeClock(new Date(1_700_000_000_000));
    const ids = new IdGenerator(clock);
    const a = ids.next('wl');
    clock.advance(1);
    const b = ids.next('wl');
    expect(a).to.match(/^wl_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(a.slice(3, 13) < b.slice(3, 13)).to.equal(true);
    // The time part is the clock's: 1_700_000_000_000 ms in Crockford base32.
    expect(a.slice(3, 13)).to.equal('01hf7yat00');
  });

  it('ids stay unique across many refills of the random pool', () => {
    const gen = new IdGenerator(new FakeClock(new Date(0)));
    const ids = new Set(Array.from({ length: 5000 }, () => gen.next('wl')));
    expect(ids.size).to.equal(5000);
    // Every base32 character turns up in the random part (it is not stuck on a few).
    const seen = new Set([...ids].flatMap((id) => [...id.slice(13)]));
    expect(seen.size).to.equal(32);
  });

  it('tokens: prefix and 43 base64url characters; only their hashes compare', () => {
    const t = newToken(TOKEN_PREFIX.apiKey);
    expect(t).to.match(/^tp_key_[A-Za-z0-9_-]{43}$/);
    expect(sameHash(hashToken(t), hashToken(t))).to.equal(true);
    expect(sameHash(hashToken(t), hashToken(newToken(TOKEN_PREFIX.apiKey)))).to.equal(false);
  });
});
