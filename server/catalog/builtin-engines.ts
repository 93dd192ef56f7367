/**
 * The built-in engine catalog, seeded once (like the device catalog): starting values that
 * operators edit through `/api/v1/engines`. Each entry's `basis` says where its facts come from.
 *
 * Images are named only where the engine's own published documentation names them (checked
 * December 2026). Where a vendor publishes no image name we could verify, `image` is empty: the
 * engine is not sent to agents until the operator configures an image (PATCH), and a placement on
 * that vendor's devices gets no `engine` in the heartbeat answer (it carries `engineProblem`).
 *
 * Tags are not pinned: the operator sets the tag (or digest) their clusters have pulled and tested.
 * Values marked "our default" (shared memory, CPU and memory per device, start-up time) are the
 * platform's choices, not the vendor's: the vendors document that shared memory is needed, not how
 * much.
 *
 * Argument templates use the placeholders the agent substitutes: {model} {servedName}
 * {tensorParallel} {port}. Kubernetes appends `args` to the image's ENTRYPOINT; an image without
 * one (vllm-ascend, SGLang: theirs start a shell) runs `args` as the command.
 */

import type { EngineValues } from '../repositories/engines.repository.js';

/** A built-in engine: what an operator gives when adding one, and the vendors it is the default for. */
export type BuiltinEngine = EngineValues;

/** What follows the model in vLLM's and SGLang's server arguments (both spell these flags alike). */
const SERVER_ARGS = ['--served-model-name', '{servedName}', '--tensor-parallel-size', '{tensorParallel}', '--host', '0.0.0.0', '--port', '{port}'];

/** vLLM's OpenAI-compatible server, started with `vllm serve` (the image has no such ENTRYPOINT). */
const VLLM_SERVE_ARGS = ['vllm', 'serve', '{model}', ...SERVER_ARGS];

/** Probes and metrics of upstream vLLM's server: /health, Prometheus text on /metrics ("vllm:" names). */
const VLLM_PROBES = { port: 8000, healthPath: '/health', metricsPath: '/metrics', metricsDialect: 'vllm' } as const;

/** Our defaults (see above). */
const RESOURCES = { shmSize: '16Gi', cpuPerDevice: '8', memoryPerDevice: '64Gi', startupSeconds: 1800 } as const;

/** A vendor's own vLLM build whose image name we could not verify: configured by the operator. */
function vendorVllm(vendor: string, label: string): BuiltinEngine {
  return {
    name: `vllm-${vendor}`,
    vendors: [vendor],
    defaultFor: [vendor],
    image: '',
    args: [...VLLM_SERVE_ARGS],
    env: {},
    apiKeyEnv: 'VLLM_API_KEY',
    ...VLLM_PROBES,
    ...RESOURCES,
    runAsNonRoot: false,
    basis:
      `${label}'s build of vLLM. No image name published by ${label} could be verified (December 2026): ` +
      'the image is left empty and must be configured by the operator (PATCH /api/v1/engines/:id) with the image ' +
      `${label} supplies; until then placements on ${label} devices carry no engine. The arguments, API key ` +
      "variable, port, probes and metrics assume the build keeps upstream vLLM's CLI and server " +
      "(`vllm serve`, VLLM_API_KEY, /health, /metrics); check them against the build's documentation. " +
      'Shared memory, CPU, memory and start-up time: our defaults.',
  };
}

export const BUILTIN_ENGINES: readonly BuiltinEngine[] = [
  {
    name: 'vllm',
    vendors: ['nvidia'],
    defaultFor: ['nvidia'],
    image: 'vllm/vllm-openai:latest',
    // The image's ENTRYPOINT is the OpenAI-compatible server; engine arguments follow the image.
    args: ['--model', '{model}', ...SERVER_ARGS],
    env: {},
    apiKeyEnv: 'VLLM_API_KEY',
    ...VLLM_PROBES,
    ...RESOURCES,
    runAsNonRoot: false,
    basis:
      'vLLM documentation, "Using Docker" (docs.vllm.ai deployment/docker): the official image is vllm/vllm-openai on ' +
      'Docker Hub, engine arguments go after the image, it needs shared memory (--ipc=host or --shm-size), and it is ' +
      'designed to run as root. The server reads its API key from --api-key or VLLM_API_KEY, listens on 8000 and ' +
      'serves /health and /metrics. Tag "latest": pin the tested tag per installation. Shared memory, CPU, memory and ' +
      'start-up time: our defaults.',
  },
  {
    name: 'vllm-ascend',
    vendors: ['huawei'],
    defaultFor: ['huawei'],
    image: 'quay.io/ascend/vllm-ascend:latest',
    args: [...VLLM_SERVE_ARGS],
    env: {},
    apiKeyEnv: 'VLLM_API_KEY',
    ...VLLM_PROBES,
    ...RESOURCES,
    runAsNonRoot: false,
    basis:
      'vLLM Ascend documentation, "Quick Start" (docs.vllm.ai/projects/ascend): images are quay.io/ascend/vllm-ascend:<tag> ' +
      '(suffixes -a3 for Atlas A3, -310p for Atlas 300I, -openeuler for openEuler), run with --shm-size, and start a shell: ' +
      "the server is started with `vllm serve`. It is vLLM with the Ascend plugin, so it takes vLLM's arguments, " +
      'VLLM_API_KEY, port 8000, /health and /metrics. Tag "latest": set the release tag matching the cluster\'s CANN ' +
      'and Atlas series (A3 clusters need the -a3 image: set it for them in clusterImages). Shared memory, CPU, memory ' +
      'and start-up time: our defaults.',
  },
  {
    name: 'mindie',
    vendors: ['huawei'],
    defaultFor: [],
    image: '',
    args: [],
    env: {},
    apiKeyEnv: null,
    port: 1025,
    healthPath: '/v1/models',
    metricsPath: '/metrics',
    metricsDialect: 'mindie',
    ...RESOURCES,
    runAsNonRoot: false,
    basis:
      'Huawei MindIE (hiascend.com MindIE documentation, "Image Installation"): the image is obtained from the Ascend image ' +
      'repository after signing in, runs as root, and is meant for development and debugging; for production Huawei ' +
      'asks users to prepare their own image. MindIE Service is configured through its config.json (ServerConfig: ' +
      'ipAddress, port, metrics), not through arguments. So the image is empty and the arguments too: the operator ' +
      'supplies an image whose entrypoint writes config.json and starts the service, and sets port, probe and metrics ' +
      'paths to match it (the values here are placeholders, not MindIE defaults). An alternative to vllm-ascend, ' +
      'default for no vendor.',
  },
  {
    name: 'sglang',
    vendors: ['nvidia'],
    defaultFor: [],
    image: 'lmsysorg/sglang:latest',
    args: ['python3', '-m', 'sglang.launch_server', '--model-path', '{model}', ...SERVER_ARGS, '--enable-metrics'],
    env: {},
    // SGLang takes the key only as --api-key: the agent appends it to the arguments.
    apiKeyEnv: null,
    port: 30000,
    healthPath: '/health',
    metricsPath: '/metrics',
    metricsDialect: 'sglang',
    ...RESOURCES,
    runAsNonRoot: false,
    basis:
      'SGLang documentation ("Server Arguments") and its docker/compose.yaml: image lmsysorg/sglang, server started with ' +
      '`python3 -m sglang.launch_server --model-path … --host 0.0.0.0 --port 30000`, health check /health, metrics ' +
      'on /metrics with --enable-metrics ("sglang:" names), shared memory needed, API key given as --api-key. An ' +
      'alternative to vLLM on NVIDIA, default for no vendor. Tag "latest": pin the tested tag. Shared memory, CPU, ' +
      'memory and start-up time: our defaults.',
  },
  vendorVllm('cambricon', 'Cambricon'),
  vendorVllm('hygon', 'Hygon (DCU)'),
  vendorVllm('kunlunxin', 'Kunlunxin'),
  vendorVllm('metax', 'MetaX'),
  vendorVllm('mthreads', 'Moore Threads'),
  vendorVllm('iluvatar', 'Iluvatar CoreX'),
];
