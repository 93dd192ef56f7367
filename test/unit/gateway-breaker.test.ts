import { expect } from 'chai';
import { CircuitBreakers } from '../../server/gateway/breaker.js';

const E = 'http://10.0.0.1:8000';

function setup(failureThreshold = 3) {
  let t = 1_000_000;
  const breakers = new CircuitBreakers({ now: () => t, failureThreshold, cooldownMs: 1_000, maxCooldownMs: 3_000 });
  return { breakers, advance: (ms: number) => (t += ms) };
}

const fail = (breakers: CircuitBreakers, times: number) => {
  for (let i = 0; i < times; i++) breakers.enter(E)!.failure();
};

describe('CircuitBreakers', () => {
  it('opens after N consecutive failures; a success in between starts the count again', () => {
    const { breakers } = setup(3);
    fail(breakers, 2);
    breakers.enter(E)!.success();
    fail(breakers, 2);
    expect(breakers.state(E)).to.equal('closed');
    expect(breakers.usable(E)).to.equal(true);
    fail(breakers, 1);
    expect(breakers.state(E)).to.equal('open');
    expect(breakers.usable(E)).to.equal(false);
    expect(breakers.enter(E)).to.equal(undefined);
    expect(breakers.state('http://never.seen:1')).to.equal('closed');
  });

  it('after the cooldown lets exactly one probe through; its success closes the breaker', () => {
    const { breakers, advance } = setup(1);
    fail(breakers, 1);
    advance(999);
    expect(breakers.state(E)).to.equal('open');
    advance(1);
    expect(breakers.state(E)).to.equal('half_open');
    expect(breakers.usable(E)).to.equal(true);
    const probe = breakers.enter(E)!;
    expect(probe.probe).to.equal(true);
    // The probe is under way: nobody else gets through, and the endpoint is not offered.
    expect(breakers.enter(E)).to.equal(undefined);
    expect(breakers.usable(E)).to.equal(false);
    probe.success();
    expect(breakers.state(E)).to.equal('closed');
    const next = breakers.enter(E)!;
    expect(next.probe).to.equal(false);
    expect(breakers.enter(E)).to.not.equal(undefined);
  });

  it('a failed probe re-opens with the cooldown doubled, up to the maximum; a success resets it', () => {
    const { breakers, advance } = setup(1);
    fail(breakers, 1);
    const cooldowns: number[] = [];
    for (let round = 0; round < 4; round++) {
      let waited = 0;
      while (breakers.state(E) === 'open') {
        advance(500);
        waited += 500;
      }
      cooldowns.push(waited);
      breakers.enter(E)!.failure();
    }
    expect(cooldowns).to.deep.equal([1_000, 2_000, 3_000, 3_000]);
    advance(3_000);
    breakers.enter(E)!.success();
    fail(breakers, 1);
    advance(1_000);
    expect(breakers.state(E)).to.equal('half_open');
  });

  it('a probe released without a verdict (the client left) frees the slot for the next request', () => {
    const { breakers, advance } = setup(1);
    fail(breakers, 1);
    advance(1_000);
    const probe = breakers.enter(E)!;
    probe.release();
    expect(breakers.state(E)).to.equal('half_open');
    const second = breakers.enter(E)!;
    expect(second.probe).to.equal(true);
    second.failure();
    expect(breakers.state(E)).to.equal('open');
  });

  it('ignores the outcome of requests that were under way when the breaker changed state', () => {
    const { breakers, advance } = setup(2);
    const early = [breakers.enter(E)!, breakers.enter(E)!, breakers.enter(E)!];
    early[0]!.failure();
    early[1]!.failure();
    expect(breakers.state(E)).to.equal('open');
    // A late success does not close it, a late failure does not prolong it.
    early[2]!.success();
    expect(breakers.state(E)).to.equal('open');
    advance(1_000);
    const probe = breakers.enter(E)!;
    early[2]!.failure();
    expect(breakers.state(E)).to.equal('half_open');
    // Only the first verdict of a pass counts.
    probe.success();
    probe.failure();
    expect(breakers.state(E)).to.equal('closed');
  });

  it('lists every endpoint with its state, and forgets one', () => {
    const { breakers } = setup(1);
    breakers.enter('http://a:1')!.success();
    breakers.enter('http://b:1')!.failure();
    expect([...breakers.states()]).to.deep.equal([
      ['http://a:1', 'closed'],
      ['http://b:1', 'open'],
    ]);
    breakers.forget('http://b:1');
    expect(breakers.state('http://b:1')).to.equal('closed');
  });
});
