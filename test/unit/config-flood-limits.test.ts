import { expect } from 'chai';

import { ConfigError, loadConfig } from '../../server/config.js';

describe('loadConfig: flood limits', () => {
  it('defaults the pending cap to 100 and concurrent dry runs to 4', () => {
    expect(loadConfig({})).to.deep.include({ maxPendingPerTenant: 100, maxConcurrentDryRuns: 4 });
  });

  it('reads TOKENPOOL_MAX_PENDING_PER_TENANT and TOKENPOOL_MAX_CONCURRENT_DRY_RUNS', () => {
    const c = loadConfig({ TOKENPOOL_MAX_PENDING_PER_TENANT: '2500', TOKENPOOL_MAX_CONCURRENT_DRY_RUNS: '1' });
    expect(c).to.deep.include({ maxPendingPerTenant: 2500, maxConcurrentDryRuns: 1 });
  });

  for (const [variable, value] of [
    ['TOKENPOOL_MAX_PENDING_PER_TENANT', '0'],
    ['TOKENPOOL_MAX_PENDING_PER_TENANT', '100001'],
    ['TOKENPOOL_MAX_PENDING_PER_TENANT', 'many'],
    ['TOKENPOOL_MAX_CONCURRENT_DRY_RUNS', '0'],
    ['TOKENPOOL_MAX_CONCURRENT_DRY_RUNS', '1001'],
  ] as const) {
    it(`refuses ${variable}=${value}, naming the variable`, () => {
      expect(() => loadConfig({ [variable]: value }))
        .to.throw(ConfigError)
        .with.property('variable', variable);
    });
  }
});
