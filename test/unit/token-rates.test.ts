import { expect } from 'chai';
import { TokenRates } from '../../server/limits/token-rates.js';

describe('gateway token rates (tpm by reservation)', () => {
  let t = 0;
  const rates = () => new TokenRates(() => t);
  const key = { key: 'key:k1', perMinute: 1000, name: "the key's tpm" };
  const tenant = { key: 'tenant:t1', perMinute: 1500, name: "the tenant's tpm" };

  beforeEach(() => (t = 0));

  it('reserves estimates until a minute is full, then refuses with the wait until there is room', () => {
    const r = rates();
    expect(r.reserve([key], 600).ok).to.equal(true);
    expect(r.reserve([key], 400).ok).to.equal(true);
    const refused = r.reserve([key], 300);
    expect(refused).to.deep.include({ ok: false, name: "the key's tpm", perMinute: 1000 });
    // 1,000 in the bucket, 300 more needed: 300 of 1,000 a minute drain in 18 s.
    expect(refused.ok === false && refused.retryAfterSeconds).to.equal(18);
    t = 18_000;
    expect(r.reserve([key], 300).ok).to.equal(true);
  });

  it('settles a reservation to what was counted, so an overestimate frees room and an underestimate takes it', () => {
    const r = rates();
    const a = r.reserve([key], 900);
    if (!a.ok) throw new Error('refused');
    expect(r.reserve([key], 200).ok).to.equal(false);
    a.settle(100);
    expect(r.reserve([key], 800).ok).to.equal(true);
    const b = rates();
    const c = b.reserve([key], 10);
    if (!c.ok) throw new Error('refused');
    c.settle(990);
    expect(b.reserve([key], 20).ok).to.equal(false);
    c.settle(0); // settles once only
    expect(b.reserve([key], 20).ok).to.equal(false);
  });

  it('fills no bucket when the clock steps back', () => {
    const r = rates();
    t = 600_000;
    expect(r.reserve([key], 500).ok).to.equal(true);
    t = 0;
    expect(r.reserve([key], 500).ok).to.equal(true);
    expect(r.reserve([key], 1).ok).to.equal(false);
  });

  it('counts a call against every limit or none', () => {
    const r = rates();
    expect(r.reserve([key, tenant], 1000).ok).to.equal(true);
    // The key is full: the tenant's bucket is not charged for the refused call.
    expect(r.reserve([key, tenant], 400).ok).to.equal(false);
    const other = { key: 'key:k2', perMinute: 1000, name: "the key's tpm" };
    expect(r.reserve([other, tenant], 500).ok).to.equal(true);
    expect(r.reserve([other, tenant], 100)).to.deep.include({ ok: false, name: "the tenant's tpm" });
  });

  it('lets a call larger than a whole minute through an empty bucket only', () => {
    const r = rates();
    expect(r.reserve([key], 5000).ok).to.equal(true);
    expect(r.reserve([key], 1).ok).to.equal(false);
    t = 5 * 60_000;
    expect(r.reserve([key], 1).ok).to.equal(true);
  });

  it('keeps memory bounded: drained buckets and the least recently used past the bound are dropped', () => {
    const r = new TokenRates(() => t, 10);
    for (let i = 0; i < 100; i++) r.reserve([{ key: `key:${i}`, perMinute: 100, name: 'x' }], 50);
    expect(r.size).to.be.at.most(10);
    t = 60_000;
    r.reserve([{ key: 'key:new', perMinute: 100, name: 'x' }], 50);
    expect(r.size).to.equal(1);
  });
});
