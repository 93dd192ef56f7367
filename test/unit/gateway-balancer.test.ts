import { expect } from 'chai';
import { Balancer, type Candidate } from '../../server/gateway/balancer.js';
import { CircuitBreakers } from '../../server/gateway/breaker.js';
import { seededRandom as seeded } from './scheduler/builders.js';

const candidate = (endpoint: string, weight: number, own = false): Candidate => ({
  endpoint,
  placementId: `p-${endpoint}`,
  workloadId: own ? 'w-own' : 'w-shared',
  clusterId: 'c1',
  servingKey: 'sk',
  own,
  weight,
});

function setup(seed = 42) {
  const breakers = new CircuitBreakers({ now: () => 0, failureThreshold: 1, cooldownMs: 1_000 });
  return { breakers, balancer: new Balancer({ breakers, random: seeded(seed) }) };
}

/** How often each endpoint comes first in `runs` orders. */
function firstShares(balancer: Balancer, candidates: Candidate[], runs = 20_000): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const first = balancer.order(candidates)[0]!.endpoint;
    counts[first] = (counts[first] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([e, n]) => [e, n / runs]));
}

describe('Balancer', () => {
  it('puts the tenant’s own endpoints before shared ones, and every endpoint once', () => {
    const { balancer } = setup();
    const cs = [candidate('s1', 100), candidate('o1', 1, true), candidate('s2', 100), candidate('o2', 1, true), candidate('s1', 100)];
    for (let i = 0; i < 50; i++) {
      const order = balancer.order(cs).map((c) => c.endpoint);
      expect(order).to.have.length(4);
      expect(order.slice(0, 2)).to.have.members(['o1', 'o2']);
      expect(order.slice(2)).to.have.members(['s1', 's2']);
    }
  });

  it('goes to shared endpoints when no own endpoint is usable, and skips open breakers', () => {
    const { breakers, balancer } = setup();
    breakers.enter('o1')!.failure();
    breakers.enter('s2')!.failure();
    const order = balancer.order([candidate('o1', 100, true), candidate('s1', 1), candidate('s2', 1000)]);
    expect(order.map((c) => c.endpoint)).to.deep.equal(['s1']);
    expect(balancer.order([candidate('o1', 1, true)])).to.deep.equal([]);
  });

  it('picks in proportion to free throughput', () => {
    const { balancer } = setup();
    const shares = firstShares(balancer, [candidate('a', 10), candidate('b', 20), candidate('c', 70)]);
    expect(shares.a).to.be.closeTo(0.1, 0.015);
    expect(shares.b).to.be.closeTo(0.2, 0.015);
    expect(shares.c).to.be.closeTo(0.7, 0.015);
  });

  it('divides the weight by one plus the requests outstanding, and counts each release once', () => {
    const { balancer } = setup();
    const ends = [balancer.begin('a'), balancer.begin('a'), balancer.begin('a')];
    expect(balancer.outstanding('a')).to.equal(3);
    // a: 100 / 4 = 25, b: 100 / 1 = 100.
    const loaded = firstShares(balancer, [candidate('a', 100), candidate('b', 100)]);
    expect(loaded.a).to.be.closeTo(0.2, 0.015);
    ends[0]!();
    ends[0]!();
    expect(balancer.outstanding('a')).to.equal(2);
    ends[1]!();
    ends[2]!();
    expect(balancer.outstanding('a')).to.equal(0);
    const even = firstShares(balancer, [candidate('a', 100), candidate('b', 100)]);
    expect(even.a).to.be.closeTo(0.5, 0.015);
  });

  it('tries endpoints without free throughput last, least loaded first', () => {
    const { balancer } = setup();
    balancer.begin('z1');
    const order = balancer.order([candidate('z1', 0), candidate('z2', 0), candidate('a', 1)]).map((c) => c.endpoint);
    expect(order).to.deep.equal(['a', 'z2', 'z1']);
  });

  it('orders the same way given the same random source', () => {
    const cs = ['a', 'b', 'c', 'd', 'e'].map((e, i) => candidate(e, i + 1));
    const orders = (seed: number) => {
      const { balancer } = setup(seed);
      return Array.from({ length: 20 }, () =>
        balancer
          .order(cs)
          .map((c) => c.endpoint)
          .join(''),
      );
    };
    expect(orders(7)).to.deep.equal(orders(7));
    expect(orders(7)).to.not.deep.equal(orders(8));
  });
});
