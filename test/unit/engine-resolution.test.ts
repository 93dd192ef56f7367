import { expect } from 'chai';
import { resolution } from '../../server/services/engines.service.js';

type Resolved = Parameters<typeof resolution>[0];

const engine = (image: string): NonNullable<Resolved['engine']> => ({
  id: 'eng_1',
  name: 'vllm',
  vendors: ['nvidia'],
  image,
  args: ['--model', '{model}'],
  env: {},
  api_key_env: 'VLLM_API_KEY',
  port: 8000,
  shm_size: '16Gi',
  cpu_per_device: '8',
  memory_per_device: '64Gi',
  health_path: '/health',
  metrics_path: '/metrics',
  metrics_dialect: 'vllm',
  startup_seconds: 1800,
  run_as_non_root: false,
  builtin: true,
  basis: '',
  created_at: new Date(0),
  updated_at: new Date(0),
});

describe("a placement's engine, or why it has none", () => {
  const cases: Array<[string, Resolved, RegExp | 'engine']> = [
    ['the engine, when it has an image', { vendor: 'nvidia', named: null, engine: engine('vllm/vllm-openai:v0.11.0') }, 'engine'],
    ['no vendor: the profile is gone', { vendor: null, named: null, engine: null }, /device profile no longer exists/],
    ['no default for the vendor', { vendor: 'enflame', named: null, engine: null }, /No engine is the default for vendor "enflame"/],
    ['the named engine is gone', { vendor: 'nvidia', named: 'eng_gone', engine: null }, /names engine eng_gone .* no longer exists/],
    ['no image configured', { vendor: 'nvidia', named: null, engine: engine('') }, /no image configured .* PATCH \/api\/v1\/engines\/eng_1/],
  ];
  for (const [what, row, expected] of cases) {
    it(what, () => {
      const r = resolution(row);
      if (expected === 'engine') {
        expect(r).to.have.property('engine');
        expect('engine' in r && r.engine).to.deep.include({
          id: 'eng_1',
          image: 'vllm/vllm-openai:v0.11.0',
          apiKeyEnv: 'VLLM_API_KEY',
          shmSize: '16Gi',
          metricsDialect: 'vllm',
        });
        expect(Object.keys('engine' in r ? r.engine : {})).to.have.members([
          'id',
          'image',
          'args',
          'env',
          'apiKeyEnv',
          'port',
          'shmSize',
          'cpuPerDevice',
          'memoryPerDevice',
          'healthPath',
          'metricsPath',
          'metricsDialect',
          'startupSeconds',
          'runAsNonRoot',
        ]);
      } else {
        expect('problem' in r && r.problem).to.match(expected);
      }
    });
  }
});
