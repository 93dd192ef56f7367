import { expect } from 'chai';
import { availableParallelism } from 'node:os';

import { DEFAULT_WEIGHTS } from '../../scheduler/framework/registry.js';
import { ConfigError, loadConfig, type Config } from '../../server/config.js';

type Env = Record<string, string | undefined>;

const PG = 'postgres://tokenpool:secret@db.internal:5432/tokenpool';

describe('loadConfig', () => {
  it('defaults every variable as API.md says', () => {
    expect(loadConfig({})).to.deep.include({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.tokenpool',
      adminToken: undefined,
      demo: true,
      clusterTtlSeconds: 30,
      timezone: 'Asia/Shanghai',
      workers: 1,
      schedulerWeights: { energy: 1, consolidation: 2, bestFit: 1 },
      schedulerScorePercentage: 0,
      auditRetentionDays: 365,
      requestLogRetentionDays: 90,
      http: {
        headersTimeoutMs: 20_000,
        requestTimeoutMs: 120_000,
        keepAliveTimeoutMs: 75_000,
        maxConnectionsPerClient: 256,
        bodyConcurrency: 16,
        bodyQueue: 1024,
        trustedProxies: [],
      },
    } satisfies Partial<Config>);
  });

  it("the scheduler's defaults are the runtime's own", () => {
    expect(loadConfig({}).schedulerWeights).to.deep.equal(DEFAULT_WEIGHTS);
  });

  it('reads only its own variables and ignores the rest of the environment', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'production' })).to.deep.equal(loadConfig({}));
  });

  describe('accepted values', () => {
    const cases: ReadonlyArray<readonly [string, Env, Partial<Config>]> = [
      ['PORT', { PORT: '9090' }, { port: 9090 }],
      ['PORT=0 (any free port)', { PORT: '0' }, { port: 0 }],
      ['PORT=65535', { PORT: '65535' }, { port: 65535 }],
      ['HOST', { HOST: '0.0.0.0' }, { host: '0.0.0.0' }],
      ['an IPv6 HOST', { HOST: '::1' }, { host: '::1' }],
      ['a postgres:// URL turns the demo off', { DATABASE_URL: PG }, { databaseUrl: PG, demo: false }],
      ['a postgresql:// URL turns the demo off', { DATABASE_URL: 'postgresql://localhost/tp' }, { databaseUrl: 'postgresql://localhost/tp', demo: false }],
      ['pglite://memory turns the demo off', { DATABASE_URL: 'pglite://memory' }, { databaseUrl: 'pglite://memory', demo: false }],
      ['TOKENPOOL_DEMO=1 forces the demo on PostgreSQL', { DATABASE_URL: PG, TOKENPOOL_DEMO: '1' }, { demo: true }],
      ['TOKENPOOL_DEMO=1 forces the demo on pglite://memory', { DATABASE_URL: 'pglite://memory', TOKENPOOL_DEMO: '1' }, { demo: true }],
      ['TOKENPOOL_DEMO=0 turns the demo off on the embedded database', { TOKENPOOL_DEMO: '0' }, { databaseUrl: undefined, demo: false }],
      ['TOKENPOOL_DATA_DIR', { TOKENPOOL_DATA_DIR: '/var/lib/tokenpool' }, { dataDir: '/var/lib/tokenpool' }],
      ['TOKENPOOL_ADMIN_TOKEN of 16 characters', { TOKENPOOL_ADMIN_TOKEN: 'x'.repeat(16) }, { adminToken: 'x'.repeat(16) }],
      ['TOKENPOOL_CLUSTER_TTL_SECONDS', { TOKENPOOL_CLUSTER_TTL_SECONDS: '5' }, { clusterTtlSeconds: 5 }],
      ['placement health defaults', {}, { placementHealth: { failAfterSeconds: 300, startupSeconds: 1800, avoidSeconds: 1800 } }],
      [
        'placement health settings; avoiding failed clusters may be off',
        { TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS: '60', TOKENPOOL_PLACEMENT_STARTUP_SECONDS: '7200', TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS: '0' },
        { placementHealth: { failAfterSeconds: 60, startupSeconds: 7200, avoidSeconds: 0 } },
      ],
      ['TOKENPOOL_TIMEZONE', { TOKENPOOL_TIMEZONE: 'Europe/Berlin' }, { timezone: 'Europe/Berlin' }],
      ['TOKENPOOL_TIMEZONE=UTC', { TOKENPOOL_TIMEZONE: 'UTC' }, { timezone: 'UTC' }],
      ['TOKENPOOL_WORKERS on PostgreSQL', { DATABASE_URL: PG, TOKENPOOL_WORKERS: '4' }, { workers: 4 }],
      ['TOKENPOOL_WORKERS=auto: one per CPU', { DATABASE_URL: PG, TOKENPOOL_WORKERS: 'auto' }, { workers: availableParallelism() }],
      ['TOKENPOOL_WORKERS=1 on the embedded database', { TOKENPOOL_WORKERS: '1' }, { workers: 1 }],
      [
        'TOKENPOOL_SCHEDULER_WEIGHTS: every scorer',
        { TOKENPOOL_SCHEDULER_WEIGHTS: 'best-fit=2,energy=1,consolidation=3' },
        { schedulerWeights: { energy: 1, consolidation: 3, bestFit: 2 } },
      ],
      [
        'TOKENPOOL_SCHEDULER_WEIGHTS: one scorer, the rest default',
        { TOKENPOOL_SCHEDULER_WEIGHTS: 'energy=0' },
        { schedulerWeights: { energy: 0, consolidation: 2, bestFit: 1 } },
      ],
      [
        'TOKENPOOL_SCHEDULER_WEIGHTS: decimals, spaces and a trailing comma',
        { TOKENPOOL_SCHEDULER_WEIGHTS: ' best-fit = 0.5 , consolidation=1000,' },
        { schedulerWeights: { energy: 1, consolidation: 1000, bestFit: 0.5 } },
      ],
      ['TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE', { TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '10' }, { schedulerScorePercentage: 10 }],
      ['TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE=100 scores every candidate', { TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '100' }, { schedulerScorePercentage: 100 }],
      ['TOKENPOOL_AUDIT_RETENTION_DAYS=180 (the least)', { TOKENPOOL_AUDIT_RETENTION_DAYS: '180' }, { auditRetentionDays: 180 }],
      ['TOKENPOOL_AUDIT_RETENTION_DAYS=3650', { TOKENPOOL_AUDIT_RETENTION_DAYS: '3650' }, { auditRetentionDays: 3650 }],
      ['TOKENPOOL_REQUEST_LOG_RETENTION_DAYS=1 (the least)', { TOKENPOOL_REQUEST_LOG_RETENTION_DAYS: '1' }, { requestLogRetentionDays: 1 }],
      ['the engine counts kept 91 days by default', {}, { engineCountsRetentionDays: 91 }],
      ['TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS=400', { TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS: '400' }, { engineCountsRetentionDays: 400 }],
      ['TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT=64', { TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT: '64' }, { gatewayConnectionsPerEndpoint: 64 }],
      [
        'the limits in memory by default, a gateway process on 8081',
        {},
        { redis: { url: undefined, timeoutMs: 200, prefix: 'tokenpool:' }, gatewayPort: 8081 },
      ],
      [
        'REDIS_URL, TOKENPOOL_REDIS_TIMEOUT_MS, TOKENPOOL_REDIS_PREFIX and TOKENPOOL_GATEWAY_PORT',
        {
          REDIS_URL: 'rediss://default:pw@redis.internal:6380',
          TOKENPOOL_REDIS_TIMEOUT_MS: '50',
          TOKENPOOL_REDIS_PREFIX: 'city-a:',
          TOKENPOOL_GATEWAY_PORT: '9090',
        },
        { redis: { url: 'rediss://default:pw@redis.internal:6380', timeoutMs: 50, prefix: 'city-a:' }, gatewayPort: 9090 },
      ],
      ['the metering tolerance by default', {}, { meteringTolerance: { fraction: 0.05, minTokens: 10_000 } }],
      [
        'TOKENPOOL_METERING_TOLERANCE and TOKENPOOL_METERING_MIN_TOKENS',
        { TOKENPOOL_METERING_TOLERANCE: '0.2', TOKENPOOL_METERING_MIN_TOKENS: '0' },
        { meteringTolerance: { fraction: 0.2, minTokens: 0 } },
      ],
      ['the request rates by default', {}, { requestRates: { tenantRpm: 6000, keyRpm: 3000, agentRpm: 6000 } }],
      [
        'the request rates, 0 turning one off',
        { TOKENPOOL_TENANT_RPM: '0', TOKENPOOL_KEY_RPM: '60', TOKENPOOL_AGENT_RPM: '1000000' },
        { requestRates: { tenantRpm: 0, keyRpm: 60, agentRpm: 1_000_000 } },
      ],
      [
        'the HTTP limits',
        {
          TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '5',
          TOKENPOOL_REQUEST_TIMEOUT_SECONDS: '5',
          TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS: '1',
          TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '0',
          TOKENPOOL_BODY_CONCURRENCY: '1',
          TOKENPOOL_BODY_QUEUE: '0',
        },
        {
          http: {
            headersTimeoutMs: 5000,
            requestTimeoutMs: 5000,
            keepAliveTimeoutMs: 1000,
            maxConnectionsPerClient: 0,
            bodyConcurrency: 1,
            bodyQueue: 0,
            trustedProxies: [],
          },
        },
      ],
      [
        'empty strings count as unset',
        {
          PORT: '',
          HOST: '',
          DATABASE_URL: '',
          TOKENPOOL_DEMO: '',
          TOKENPOOL_TIMEZONE: '',
          TOKENPOOL_SCHEDULER_WEIGHTS: '',
          TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '',
        },
        {
          port: 8080,
          host: '127.0.0.1',
          databaseUrl: undefined,
          demo: true,
          timezone: 'Asia/Shanghai',
          schedulerWeights: DEFAULT_WEIGHTS,
          schedulerScorePercentage: 0,
        },
      ],
    ];
    for (const [title, env, expected] of cases) {
      it(title, () => {
        expect(loadConfig(env)).to.deep.include(expected);
      });
    }
  });

  describe('a bad value is a ConfigError naming the variable', () => {
    const cases: ReadonlyArray<readonly [string, Env]> = [
      ['PORT', { PORT: 'abc' }],
      ['PORT', { PORT: '70000' }],
      ['PORT', { PORT: '65536' }],
      ['PORT', { PORT: '-1' }],
      ['PORT', { PORT: '80.5' }],
      ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
      ['DATABASE_URL', { PORT: '9090', DATABASE_URL: 'mysql://x' }],
      ['DATABASE_URL', { DATABASE_URL: 'pglite://disk' }],
      ['DATABASE_URL', { DATABASE_URL: 'postgres://' }],
      ['TOKENPOOL_DEMO', { TOKENPOOL_DEMO: 'yes' }],
      ['TOKENPOOL_DEMO', { TOKENPOOL_DEMO: 'true' }],
      ['TOKENPOOL_CLUSTER_TTL_SECONDS', { TOKENPOOL_CLUSTER_TTL_SECONDS: '0' }],
      ['TOKENPOOL_CLUSTER_TTL_SECONDS', { TOKENPOOL_CLUSTER_TTL_SECONDS: '30s' }],
      ['TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS', { TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS: '0' }],
      ['TOKENPOOL_PLACEMENT_STARTUP_SECONDS', { TOKENPOOL_PLACEMENT_STARTUP_SECONDS: '5m' }],
      ['TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS', { TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS: '-1' }],
      ['TOKENPOOL_TIMEZONE', { TOKENPOOL_TIMEZONE: 'Mars/Olympus' }],
      ['TOKENPOOL_TIMEZONE', { TOKENPOOL_TIMEZONE: 'Nowhere' }],
      ['TOKENPOOL_ADMIN_TOKEN', { TOKENPOOL_ADMIN_TOKEN: 'short' }],
      ['TOKENPOOL_ADMIN_TOKEN', { TOKENPOOL_ADMIN_TOKEN: 'x'.repeat(15) }],
      ['TOKENPOOL_WORKERS', { DATABASE_URL: PG, TOKENPOOL_WORKERS: '0' }],
      ['TOKENPOOL_WORKERS', { DATABASE_URL: PG, TOKENPOOL_WORKERS: 'many' }],
      ['TOKENPOOL_WORKERS', { DATABASE_URL: PG, TOKENPOOL_WORKERS: '65' }],
      ['TOKENPOOL_WORKERS', { TOKENPOOL_WORKERS: '2' }],
      ['TOKENPOOL_WORKERS', { DATABASE_URL: 'pglite://memory', TOKENPOOL_WORKERS: '2' }],
      ['TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE', { TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '101' }],
      ['TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE', { TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '12.5' }],
      ['TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE', { TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: '-1' }],
      ['TOKENPOOL_AUDIT_RETENTION_DAYS', { TOKENPOOL_AUDIT_RETENTION_DAYS: '179' }],
      ['TOKENPOOL_AUDIT_RETENTION_DAYS', { TOKENPOOL_AUDIT_RETENTION_DAYS: '1y' }],
      ['TOKENPOOL_REQUEST_LOG_RETENTION_DAYS', { TOKENPOOL_REQUEST_LOG_RETENTION_DAYS: '0' }],
      // Shorter than the 90 days an agent may report back: a forgotten id could be counted twice.
      ['TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS', { TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS: '90' }],
      ['TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT', { TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT: '0' }],
      ['REDIS_URL', { REDIS_URL: 'http://redis.internal:6379' }],
      ['TOKENPOOL_REDIS_TIMEOUT_MS', { TOKENPOOL_REDIS_TIMEOUT_MS: '0' }],
      ['TOKENPOOL_GATEWAY_PORT', { TOKENPOOL_GATEWAY_PORT: '65536' }],
      ['TOKENPOOL_METERING_TOLERANCE', { TOKENPOOL_METERING_TOLERANCE: '5%' }],
      ['TOKENPOOL_METERING_TOLERANCE', { TOKENPOOL_METERING_TOLERANCE: '1.5' }],
      ['TOKENPOOL_METERING_MIN_TOKENS', { TOKENPOOL_METERING_MIN_TOKENS: '-1' }],
      ['TOKENPOOL_TENANT_RPM', { TOKENPOOL_TENANT_RPM: '-1' }],
      ['TOKENPOOL_KEY_RPM', { TOKENPOOL_KEY_RPM: '1.5' }],
      ['TOKENPOOL_AGENT_RPM', { TOKENPOOL_AGENT_RPM: '1000001' }],
      ['TOKENPOOL_HEADERS_TIMEOUT_SECONDS', { TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '0' }],
      ['TOKENPOOL_REQUEST_TIMEOUT_SECONDS', { TOKENPOOL_REQUEST_TIMEOUT_SECONDS: '3601' }],
      ['TOKENPOOL_REQUEST_TIMEOUT_SECONDS', { TOKENPOOL_HEADERS_TIMEOUT_SECONDS: '30', TOKENPOOL_REQUEST_TIMEOUT_SECONDS: '10' }],
      ['TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS', { TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS: '0' }],
      ['TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT', { TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '-1' }],
      ['TOKENPOOL_BODY_CONCURRENCY', { TOKENPOOL_BODY_CONCURRENCY: '0' }],
      ['TOKENPOOL_BODY_QUEUE', { TOKENPOOL_BODY_QUEUE: 'many' }],
    ];
    for (const [variable, env] of cases) {
      const shown = Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      it(`${shown} → ${variable}`, () => {
        let thrown: unknown;
        try {
          loadConfig(env);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(ConfigError);
        const error = thrown as ConfigError;
        expect(error.variable).to.equal(variable);
        expect(error.message).to.match(new RegExp(`^${variable}: .+`));
      });
    }
  });

  describe('TOKENPOOL_SCHEDULER_WEIGHTS: a bad value says what is wrong', () => {
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      ['energy', /"energy" is not scorer=weight \(e\.g\. best-fit=2,energy=1\)/],
      ['energy:2', /"energy:2" is not scorer=weight/],
      ['best_fit=2', /unknown scorer "best_fit"; the scorers are best-fit, consolidation, energy$/],
      ['toString=1', /unknown scorer "toString"/],
      ['energy=1,energy=2', /energy is given twice/],
      ['energy=-1', /the weight of energy must be a number from 0 to 1000, not "-1"/],
      ['energy=1001', /the weight of energy must be a number from 0 to 1000, not "1001"/],
      ['energy=', /the weight of energy must be a number from 0 to 1000, not ""/],
      ['energy=NaN', /not "NaN"/],
      ['energy=1e3', /not "1e3"/],
    ];
    for (const [value, message] of cases) {
      it(`${value} → ${message.source}`, () => {
        expect(() => loadConfig({ TOKENPOOL_SCHEDULER_WEIGHTS: value }))
          .to.throw(ConfigError, /^TOKENPOOL_SCHEDULER_WEIGHTS: /)
          .with.property('message')
          .that.matches(message);
      });
    }
  });
});
