/**
 * A desired placement as the Deployment the agent applies with server-side apply: one serving
 * replica per placement replica, each asking for `devicesPerReplica` of the profile's resource
 * (requests and limits) on nodes of the device model.
 *
 * With the placement's `engine` (the platform's engine catalog entry) the pod runs that engine:
 * its image (or this cluster's override), its arguments with the placeholders filled in, its
 * environment, the placement's serving key from the placement's Secret, a memory-backed
 * `/dev/shm`, CPU and memory requests per device, startup, liveness and readiness probes on its
 * health path, a restricted security context, and scrape annotations for its metrics path.
 * Without one, vLLM's OpenAI-compatible server with the agent's defaults, as before engines.
 *
 * With the placement's `source`, its weights are mounted or downloaded (weights.ts) and `{model}`
 * is the directory they are in; `{servedName}` is the placement's `servedName`. Without a source,
 * both are the model's name, as before weights.
 *
 * The object is a pure function of its inputs and carries no status, no `undefined` and no `null`,
 * so that applying it again changes nothing.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1Deployment, V1EnvVar, V1PodSpec, V1Toleration } from '@kubernetes/client-node';
import type { DesiredPlacement, EngineSpec } from '../platform-client.js';
import type { DeviceSelector } from './inventory.js';
import { weightsFor, type WeightsConfig, type WeightsPlan } from './weights.js';

export const MANAGED_BY = 'tokenpool-agent';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  placement: 'tokenpool.io/placement-id',
  workload: 'tokenpool.io/workload-id',
  model: 'tokenpool.io/model',
} as const;

export interface ServingConfig {
  readonly image: string;
  /** Model name → image, overriding every other image for that model's placements. */
  readonly images?: Readonly<Record<string, string>>;
  /** Engine id → image, overriding the engine's own (a private registry's copy, say). */
  readonly engineImages?: Readonly<Record<string, string>>;
  /** The default engine's HTTP port (API, `/health`, `/metrics`), e.g. 8000; an `engine` brings its own. */
  readonly port: number;
  /** Tolerations every serving pod carries (the cluster's taints on accelerator nodes). */
  readonly tolerations?: readonly V1Toleration[];
  /** Node labels every serving pod requires, besides its device model's. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Where weights are mounted from and downloaded to; absent: only pvc and hostPath sources (weights.ts). */
  readonly weights?: WeightsConfig;
}

/** Name of the placement's Secret key holding its serving key. */
export const SERVING_KEY = 'serving-key';
/** The variable the serving key reaches the container as when the engine takes it as an argument. */
const KEY_VAR = 'TOKENPOOL_SERVING_KEY';
/** The variable vLLM reads its API key from (the default engine). */
const VLLM_KEY_VAR = 'VLLM_API_KEY';
/** Pod template annotation: 8 hex digits of the serving key's SHA-256 (the key is random: its hash gives nothing away). */
const KEY_HASH = 'tokenpool.io/serving-key-hash';

const MAX_LABEL = 63;
const HASH_LENGTH = 8;
const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, HASH_LENGTH);
/** Room left for a name or value before `-<hash>`. */
const HEAD = MAX_LABEL - 1 - HASH_LENGTH;

/**
 * The placement's Deployment name, a DNS-1123 label: `tp-` and the id lowercased, every character
 * outside `[a-z0-9-]` replaced by `-` (`pl_01jq…` → `tp-pl-01jq…`). A name longer than 63
 * characters, or one that would end in `-`, is cut to 54 and ends in `-` and 8 hex digits of the
 * id's SHA-256, so long ids that share a beginning stay apart.
 */
export function deploymentName(placementId: string): string {
  const name = `tp-${placementId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
  if (name.length <= MAX_LABEL && !name.endsWith('-')) return name;
  return `${name.slice(0, HEAD).replace(/-+$/, '')}-${shortHash(placementId)}`;
}

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/**
 * A model name as a label value: characters outside `[A-Za-z0-9._-]` become `-`, the ends are
 * trimmed to alphanumerics and the result is cut to 63 characters (`Qwen/Qwen2.5-7B` →
 * `Qwen-Qwen2.5-7B`). Informational only: two names may meet.
 */
export function labelValue(s: string): string {
  const trim = (v: string) => v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  return trim(trim(s.replace(/[^A-Za-z0-9._-]/g, '-')).slice(0, MAX_LABEL));
}

/**
 * An id as a label value the agent selects by: the id itself when it is a valid label value (every
 * platform id is), otherwise {@link labelValue} cut to 54 and `-<hash>`, so that two ids never
 * share a selector.
 */
function idLabelValue(id: string): string {
  if (LABEL_VALUE.test(id)) return id;
  return `${labelValue(id)
    .slice(0, HEAD)
    .replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(id)}`.replace(/^-/, '');
}

function ourLabels(p: DesiredPlacement): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.placement]: idLabelValue(p.id),
    [LABELS.workload]: idLabelValue(p.workloadId),
    [LABELS.model]: labelValue(p.model),
  };
}

/** The placement's own labels, as every object the agent makes for it carries them. */
export function placementLabels(p: DesiredPlacement): Record<string, string> {
  return ourLabels(p);
}

/** The selector of a placement's pods. */
export function podSelector(p: DesiredPlacement): Record<string, string> {
  return { [LABELS.placement]: idLabelValue(p.id) };
}

/** The image a placement runs: by model, else by engine id, else the engine's, else the default. */
function imageOf(p: DesiredPlacement, serving: ServingConfig): string {
  // `Object.hasOwn`: a model named e.g. `constructor` must not pick up Object.prototype's.
  if (serving.images && Object.hasOwn(serving.images, p.model)) return serving.images[p.model]!;
  if (!p.engine) return serving.image;
  if (serving.engineImages && Object.hasOwn(serving.engineImages, p.engine.id)) return serving.engineImages[p.engine.id]!;
  return p.engine.image;
}

function secretEnv(name: string, p: DesiredPlacement): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: deploymentName(p.id), key: SERVING_KEY } } };
}

export function deploymentFor(p: DesiredPlacement, selector: DeviceSelector | undefined, namespace: string, serving: ServingConfig): V1Deployment {
  const nodeSelector = { ...serving.nodeSelector, ...selector?.nodeSelector };
  const port = p.engine?.port ?? serving.port;
  const metricsPath = p.engine?.metricsPath ?? '/metrics';
  const annotations: Record<string, string> =
    p.engine?.metricsDialect === 'none'
      ? { 'prometheus.io/scrape': 'false' }
      : { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': metricsPath };
  if (p.engine) annotations['tokenpool.io/metrics-dialect'] = p.engine.metricsDialect;
  // A new key changes the pod template, so the pods restart and read it (env is read once, at start).
  if (p.servingKey) annotations[KEY_HASH] = shortHash(`serving-key:${p.servingKey}`);
  const image = imageOf(p, serving);
  const weights = weightsFor(p.source, image, serving.weights ?? {});
  const names = { model: weights?.modelPath ?? p.model, servedName: p.servedName ?? p.model };
  const container = withWeights(p.engine ? engineContainer(p, p.engine, image, names) : defaultContainer(p, image, serving.port, names), weights);
  const volumes = [...(p.engine ? [{ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: p.engine.shmSize } }] : []), ...(weights?.volumes ?? [])];
  // An init container running the serving image runs as it does; another image (the AWS CLI's)
  // may need root, so the pod-wide runAsNonRoot is left to the serving container then.
  const initContainers = (weights?.initContainers ?? []).map((c) =>
    c.image === image && p.engine?.runAsNonRoot ? { ...c, securityContext: { ...c.securityContext, runAsNonRoot: true } } : c,
  );
  const podSpec: V1PodSpec = {
    ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    ...(serving.tolerations && serving.tolerations.length > 0 ? { tolerations: serving.tolerations.map((t) => ({ ...t })) } : {}),
    // A Service named like the engine (`vllm`) would otherwise inject VLLM_PORT and friends, which vLLM reads.
    ...(p.engine ? { enableServiceLinks: false } : {}),
    ...(p.engine?.runAsNonRoot && initContainers.every((c) => c.image === image) ? { securityContext: { runAsNonRoot: true } } : {}),
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [container],
    ...(volumes.length > 0 ? { volumes } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(p.id), namespace, labels: ourLabels(p) },
    spec: {
      replicas: p.replicas,
      selector: { matchLabels: podSelector(p) },
      template: { metadata: { labels: ourLabels(p), annotations }, spec: podSpec },
    },
  };
}

/** What `{model}` and `{servedName}` become. */
interface ServedNames {
  readonly model: string;
  readonly servedName: string;
}

/** The serving container with the weights' read-only mounts added. */
function withWeights(c: V1Container, weights: WeightsPlan | undefined): V1Container {
  if (!weights || weights.mounts.length === 0) return c;
  return { ...c, volumeMounts: [...(c.volumeMounts ?? []), ...weights.mounts] };
}

/** vLLM with the agent's defaults: a placement from a platform that sends no engine. */
function defaultContainer(p: DesiredPlacement, image: string, port: number, names: ServedNames): V1Container {
  const devices = () => ({ [p.resourceName]: String(p.devicesPerReplica) });
  return {
    name: 'serving',
    image,
    args: ['--model', names.model, '--served-model-name', names.servedName, '--tensor-parallel-size', String(p.devicesPerReplica), '--port', String(port)],
    ...(p.servingKey ? { env: [secretEnv(VLLM_KEY_VAR, p)] } : {}),
    // `protocol` is a key of the ports list; older API servers reject an apply without it
    // (kubernetes/kubernetes#92332).
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    resources: { limits: devices(), requests: devices() },
    readinessProbe: { httpGet: { path: '/health', port }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
  };
}

const STARTUP_PERIOD_SECONDS = 10;

function engineContainer(p: DesiredPlacement, engine: EngineSpec, image: string, names: ServedNames): V1Container {
  const n = p.devicesPerReplica;
  const fill: Record<string, string> = { model: names.model, servedName: names.servedName, tensorParallel: String(n), port: String(engine.port) };
  const args = engine.args.map((a) => a.replace(/\{(model|servedName|tensorParallel|port)\}/g, (_, k: string) => fill[k]!));
  const env: V1EnvVar[] = Object.keys(engine.env)
    .filter((name) => name !== engine.apiKeyEnv && name !== KEY_VAR)
    .sort()
    .map((name) => ({ name, value: engine.env[name]! }));
  if (p.servingKey) {
    if (engine.apiKeyEnv !== null) env.push(secretEnv(engine.apiKeyEnv, p));
    else {
      // Kubernetes expands $(VAR) in args from the container's env, so the key stays out of the pod spec.
      env.push(secretEnv(KEY_VAR, p));
      args.push('--api-key', `$(${KEY_VAR})`);
    }
  }
  const probe = { httpGet: { path: engine.healthPath, port: 'http' }, periodSeconds: 10, timeoutSeconds: 5 };
  return {
    name: 'serving',
    image,
    args,
    ...(env.length > 0 ? { env } : {}),
    ports: [{ name: 'http', containerPort: engine.port, protocol: 'TCP' }],
    resources: {
      limits: { [p.resourceName]: String(n) },
      requests: { cpu: multiplyQuantity(engine.cpuPerDevice, n), memory: multiplyQuantity(engine.memoryPerDevice, n), [p.resourceName]: String(n) },
    },
    volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
    // Liveness and readiness start only once the startup probe passed: weights load for as long as
    // the engine says, and a slow load is not taken for a hung engine.
    startupProbe: { ...probe, periodSeconds: STARTUP_PERIOD_SECONDS, failureThreshold: Math.max(1, Math.ceil(engine.startupSeconds / STARTUP_PERIOD_SECONDS)) },
    livenessProbe: { ...probe, failureThreshold: 6 },
    readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 3 },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      ...(engine.runAsNonRoot ? { runAsNonRoot: true } : {}),
    },
  };
}

const QUANTITY = /^(\d+)(?:\.(\d+))?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/**
 * A Kubernetes quantity times a whole number, exactly (`3500m` × 2 → `7000m`, `1.5Gi` × 3 →
 * `4.5Gi`, `0.1` × 3 → `0.3`), in the quantity's own suffix. Throws on a form it does not read
 * (exponents, signs), so that a bad catalog entry fails its own placement, not the others.
 */
export function multiplyQuantity(q: string, n: number): string {
  const m = QUANTITY.exec(q);
  if (!m || !Number.isInteger(n) || n < 0) throw new RangeError(`cannot multiply the quantity ${JSON.stringify(q)} by ${n}`);
  const fraction = m[2] ?? '';
  const digits = (BigInt(m[1]! + fraction) * BigInt(n)).toString().padStart(fraction.length + 1, '0');
  const whole = digits.slice(0, digits.length - fraction.length);
  const part = digits.slice(digits.length - fraction.length).replace(/0+$/, '');
  return `${whole}${part ? `.${part}` : ''}${m[3] ?? ''}`;
}

/** The placement id label of a Deployment or Pod the agent manages; undefined for anything else. */
export function placementOf(d: { metadata?: { labels?: Record<string, string> } }): string | undefined {
  const labels = d.metadata?.labels;
  return labels?.[LABELS.managedBy] === MANAGED_BY ? labels[LABELS.placement] : undefined;
}
