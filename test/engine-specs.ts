/** An engine as the platform's catalog sends it in a heartbeat, for the agent's rendering tests. */
import type { EngineSpec } from '../adapters/platform-client.js';

/** vLLM's CUDA image for NVIDIA; the key from VLLM_API_KEY. */
export const VLLM_CUDA: EngineSpec = {
  id: 'vllm-cuda',
  image: 'vllm/vllm-openai:v0.8.5',
  args: ['--model', '{model}', '--served-model-name', '{servedName}', '--tensor-parallel-size', '{tensorParallel}', '--port', '{port}'],
  env: { VLLM_WORKER_MULTIPROC_METHOD: 'spawn' },
  apiKeyEnv: 'VLLM_API_KEY',
  port: 8000,
  shmSize: '16Gi',
  cpuPerDevice: '4',
  memoryPerDevice: '32Gi',
  healthPath: '/health',
  metricsPath: '/metrics',
  metricsDialect: 'vllm',
  startupSeconds: 1800,
  runAsNonRoot: false,
};
