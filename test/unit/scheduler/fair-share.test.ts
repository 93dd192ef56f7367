import { expect } from 'chai';

import { FAIR_SHARE_UNIT_STD_PER_MIN, tenantShare } from '../../../scheduler/fair-share.js';
import { aTenant } from './builders.js';

describe('tenantShare', () => {
  const M = 1_000_000; // millionths
  const cases: ReadonlyArray<{ name: string; tenant: ReturnType<typeof aTenant> | undefined; heldMicro: number; share: number }> = [
    { name: 'nothing held, nothing used', tenant: aTenant('t'), heldMicro: 0, share: 0 },
    { name: 'held against weight × unit', tenant: aTenant('t'), heldMicro: 500_000 * M, share: 500_000 / FAIR_SHARE_UNIT_STD_PER_MIN },
    { name: 'past use adds to what is held', tenant: aTenant('t').decayed(250_000), heldMicro: 250_000 * M, share: 0.5 },
    { name: 'weight 2 halves it', tenant: aTenant('t').weight(2), heldMicro: 500_000 * M, share: 0.25 },
    { name: 'a quota is the entitlement when set', tenant: aTenant('t').quota(2_000_000), heldMicro: 500_000 * M, share: 0.25 },
    { name: 'a weight multiplies a quota too', tenant: aTenant('t').quota(2_000_000).weight(100), heldMicro: 500_000 * M, share: 0.0025 },
    { name: 'a fractional weight', tenant: aTenant('t').weight(0.5), heldMicro: 500_000 * M, share: 1 },
    { name: 'quota 0: last in line once it holds anything', tenant: aTenant('t').quota(0), heldMicro: 1, share: Infinity },
    { name: 'quota 0 holding nothing', tenant: aTenant('t').quota(0), heldMicro: 0, share: 0 },
    { name: 'an unknown tenant counts as weight 1', tenant: undefined, heldMicro: 100_000 * M, share: 0.1 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.share}`, () => {
      const share = tenantShare(c.tenant?.build(), c.heldMicro);
      if (c.share === Infinity) expect(share).to.equal(Infinity);
      else expect(share).to.be.closeTo(c.share, 1e-12);
    });
  }
});
