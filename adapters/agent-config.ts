/**
 * The cluster agent's configuration, from its environment. Every problem is reported at once,
 * each naming its variable, so that a misconfigured agent says what to fix and exits.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import { z } from 'zod';
import type { IngressConfig } from './kubernetes/serving-access.js';
import { EXPORTER_DEFAULTS, type PowerExporter } from './kubernetes/power.js';
import { DOWNLOAD_KINDS, WEIGHT_KINDS, type DownloadKind, type WeightsConfig } from './kubernetes/weights.js';

export interface AgentConfig {
  readonly platformUrl: string;
  readonly agentToken: string;
  /** Path of a kubeconfig file; undefined: the in-cluster ServiceAccount. */
  readonly kubeconfig: string | undefined;
  /** The namespace the agent owns for serving Deployments. */
  readonly namespace: string;
  readonly servingImage: string;
  /** Model name → serving image, overriding every other image for the model. */
  readonly servingImages: Readonly<Record<string, string>>;
  /** Engine id → image, overriding the image the platform's engine catalog names (a private registry). */
  readonly engineImages: Readonly<Record<string, string>>;
  /** Tolerations every serving pod carries. */
  readonly tolerations: readonly V1Toleration[];
  /** Node labels every serving pod requires, besides its device model's. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** How the platform reaches the serving Services (an Ingress or an HTTPRoute per placement); undefined: not at all. */
  readonly ingress: IngressConfig | undefined;
  /** Where weights are mounted from and downloaded to (kubernetes/weights.ts). */
  readonly weights: WeightsConfig;
  /**
   * The cluster accepts no inbound connection: the agent opens a tunnel to the platform
   * (adapters/tunnel-client.ts) and reports `tunnel://<service>.<namespace>.svc:80` endpoints.
   */
  readonly tunnel: boolean;
  readonly servingPort: number;
  /** Port of the agent's own `/healthz` and `/metrics`. */
  readonly port: number;
  readonly heartbeatMs: number;
  readonly usageMs: number;
  /** Where the usage reporter keeps counter baselines and unsent usage across restarts. */
  readonly state: AgentStateConfig;
  /** Power exporters each placement's energy is read from (kubernetes/power.ts); absent or empty: none. */
  readonly powerExporters?: readonly PowerExporter[];
}

/** A ConfigMap (the default: `tokenpool-agent/tokenpool-agent-state`), or a file on a volume. */
export type AgentStateConfig =
  { readonly kind: 'configmap'; readonly namespace: string; readonly name: string } | { readonly kind: 'file'; readonly path: string };

export class AgentConfigError extends Error {}

/** The default serving engine: vLLM's OpenAI-compatible server. */
export const DEFAULT_SERVING_IMAGE = 'vllm/vllm-openai:v0.8.5';

const port = (fallback: number) =>
  z.coerce
    .number({ message: 'must be a port number' })
    .int('must be a port number')
    .min(0, 'must be a port number')
    .max(65_535, 'must be a port number')
    .default(fallback);
const seconds = (fallback: number) =>
  z.coerce.number({ message: 'must be a number of seconds' }).min(1, 'must be at least 1').max(3600, 'must be at most 3600').default(fallback);
// DNS-1123 label, as Kubernetes namespaces are.
const namespace = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name (DNS-1123 label)');

/** A JSON value in a variable, checked by `shape`; empty or absent: `fallback`. */
function json<T>(shape: z.ZodType<T>, fallback: T, what: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T => {
      if (v === undefined || v.trim() === '') return fallback;
      try {
        return shape.parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be ${what}` });
        return z.NEVER;
      }
    });
}

const stringMap = z.record(z.string(), z.string().min(1));
const toleration = z
  .object({
    key: z.string().min(1).optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: z.string().optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must be a Prometheus metric name');
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus label name');
const exporterUrl = z.string().refine((v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s) URL');
/** One exporter; a vendor with defaults (nvidia, huawei) needs only its URLs. */
const powerExporter = z
  .strictObject({
    vendor: z.string().min(1),
    urls: z.array(exporterUrl).min(1).max(10_000),
    powerMetric: metricName.optional(),
    energyMetric: metricName.nullable().optional(),
    energyScale: z.number().positive().optional(),
    podLabel: labelName.optional(),
    namespaceLabel: labelName.nullable().optional(),
  })
  .transform((e, ctx): PowerExporter => {
    const d = EXPORTER_DEFAULTS[e.vendor];
    const powerMetric = e.powerMetric ?? d?.powerMetric;
    if (powerMetric === undefined) {
      ctx.addIssue({ code: 'custom', message: `vendor ${e.vendor} has no default metric names: give powerMetric (and podLabel)` });
      return z.NEVER;
    }
    return {
      vendor: e.vendor,
      urls: e.urls,
      powerMetric,
      energyMetric: e.energyMetric !== undefined ? e.energyMetric : (d?.energyMetric ?? null),
      energyScale: e.energyScale ?? d?.energyScale ?? 1,
      podLabel: e.podLabel ?? d?.podLabel ?? 'pod',
      namespaceLabel: e.namespaceLabel !== undefined ? e.namespaceLabel : (d?.namespaceLabel ?? 'namespace'),
    };
  });

const schema = z.object({
  TOKENPOOL_URL: z.string({ message: 'is required (the platform base URL, e.g. https://tokenpool.example)' }).refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL'),
  TOKENPOOL_AGENT_TOKEN: z
    .string({ message: 'is required (the token the platform showed when the cluster was registered)' })
    .regex(/^tp_agent_\S+$/, 'must be an agent token (it starts with tp_agent_)'),
  KUBECONFIG: z.string().min(1).optional(),
  TOKENPOOL_AGENT_NAMESPACE: namespace.default('tokenpool-workloads'),
  TOKENPOOL_SERVING_IMAGE: z.string().min(1, 'must not be empty').default(DEFAULT_SERVING_IMAGE),
  TOKENPOOL_SERVING_IMAGES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return {};
      try {
        const parsed = z.record(z.string(), z.string().min(1)).parse(JSON.parse(v));
        return parsed;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of model name to image' });
        return z.NEVER;
      }
    }),
  TOKENPOOL_ENGINE_IMAGES: json(stringMap, {}, 'a JSON object of engine id to image'),
  TOKENPOOL_SERVING_TOLERATIONS: json(z.array(toleration), [], 'a JSON array of Kubernetes tolerations ({key, operator, value, effect, tolerationSeconds})'),
  TOKENPOOL_SERVING_NODE_SELECTOR: json(z.record(z.string().min(1), z.string()), {}, 'a JSON object of node label to value'),
  TOKENPOOL_SERVING_BASE_URL: z
    .string()
    .refine((v) => {
      try {
        const u = new URL(v);
        return ['http:', 'https:'].includes(u.protocol) && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username;
      } catch {
        return false;
      }
    }, 'must be an http(s) origin with no path (placements answer on <service>.<its host>)')
    // `<service>.<host>` must stay a DNS name: a 63-character label, a dot, and the host within 253.
    .refine((v) => {
      try {
        const host = new URL(v).hostname;
        return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(host) && !/^[0-9.]+$/.test(host) && host.length <= 253 - 64;
      } catch {
        return true; // the check above reports it
      }
    }, 'must have a DNS host name (not an IP address) of at most 189 characters, under which placements get <service>.<host>')
    .optional(),
  TOKENPOOL_INGRESS_CLASS: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be an IngressClass name')
    .optional(),
  TOKENPOOL_INGRESS_TLS_SECRET: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Secret name')
    .optional(),
  TOKENPOOL_INGRESS_ANNOTATIONS: json(z.record(z.string().min(1), z.string()), {}, 'a JSON object of annotation to value'),
  TOKENPOOL_WEIGHTS_KINDS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const kinds = v.split(',').map((k) => k.trim());
      const bad = kinds.filter((k) => !(WEIGHT_KINDS as readonly string[]).includes(k));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of ${WEIGHT_KINDS.join(', ')} (not ${bad.join(', ')})` });
        return z.NEVER;
      }
      return kinds as (typeof WEIGHT_KINDS)[number][];
    }),
  TOKENPOOL_WEIGHTS_CACHE_PVC: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a PersistentVolumeClaim name')
    .optional(),
  TOKENPOOL_WEIGHTS_CACHE_HOST_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9._\-/]*$/, 'must be an absolute directory path')
    .refine((p) => !p.split('/').includes('..'), 'must not contain ".."')
    .optional(),
  TOKENPOOL_WEIGHTS_HUGGINGFACE_IMAGE: z.string().min(1).optional(),
  TOKENPOOL_WEIGHTS_HUGGINGFACE_COMMAND: json(z.array(z.string()).min(1), undefined, 'a JSON array of strings (the download command)'),
  TOKENPOOL_WEIGHTS_MODELSCOPE_IMAGE: z.string().min(1).optional(),
  TOKENPOOL_WEIGHTS_MODELSCOPE_COMMAND: json(z.array(z.string()).min(1), undefined, 'a JSON array of strings (the download command)'),
  TOKENPOOL_WEIGHTS_S3_IMAGE: z.string().min(1).optional(),
  TOKENPOOL_WEIGHTS_S3_COMMAND: json(z.array(z.string()).min(1), undefined, 'a JSON array of strings (the download command)'),
  TOKENPOOL_SERVING_ROUTE: z.enum(['ingress', 'httproute'], { message: 'must be ingress or httproute' }).default('ingress'),
  TOKENPOOL_GATEWAY_PARENT_REFS: json(
    z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
            namespace: namespace.optional(),
            sectionName: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
              .optional(),
            port: z.number().int().min(1).max(65_535).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(32),
    [],
    'a JSON array of Gateways ({name, namespace, sectionName, port}), at least one',
  ),
  TOKENPOOL_TUNNEL: z.enum(['on', 'off'], { message: 'must be on or off' }).default('off'),
  TOKENPOOL_SERVING_PORT: port(8000),
  TOKENPOOL_AGENT_PORT: port(9090),
  TOKENPOOL_HEARTBEAT_SECONDS: seconds(10),
  TOKENPOOL_USAGE_SECONDS: seconds(10),
  TOKENPOOL_STATE_NAMESPACE: namespace.default('tokenpool-agent'),
  TOKENPOOL_STATE_CONFIGMAP: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a ConfigMap name')
    .default('tokenpool-agent-state'),
  TOKENPOOL_STATE_FILE: z.string().startsWith('/', 'must be an absolute path').optional(),
  TOKENPOOL_POWER_EXPORTERS: json(
    z.array(powerExporter).max(16),
    [],
    'a JSON array of power exporters ({vendor, urls, powerMetric, energyMetric, energyScale, podLabel, namespaceLabel}; nvidia and huawei need only urls)',
  ),
});

export function loadAgentConfig(env: Readonly<Record<string, string | undefined>>): AgentConfig {
  const result = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!result.success) {
    throw new AgentConfigError(result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  }
  const v = result.data;
  if (v.TOKENPOOL_WEIGHTS_CACHE_PVC !== undefined && v.TOKENPOOL_WEIGHTS_CACHE_HOST_PATH !== undefined) {
    throw new AgentConfigError('TOKENPOOL_WEIGHTS_CACHE_PVC and TOKENPOOL_WEIGHTS_CACHE_HOST_PATH are exclusive; set one weights cache');
  }
  if (v.TOKENPOOL_SERVING_ROUTE === 'httproute' && (v.TOKENPOOL_SERVING_BASE_URL === undefined || v.TOKENPOOL_GATEWAY_PARENT_REFS.length === 0)) {
    throw new AgentConfigError(
      'TOKENPOOL_SERVING_ROUTE httproute needs TOKENPOOL_SERVING_BASE_URL (the host placements answer under) and TOKENPOOL_GATEWAY_PARENT_REFS (the Gateways to attach to)',
    );
  }
  if (v.KUBECONFIG === undefined && !env.KUBERNETES_SERVICE_HOST) {
    throw new AgentConfigError('KUBECONFIG is required outside a Kubernetes pod (inside one the ServiceAccount is used)');
  }
  return {
    platformUrl: v.TOKENPOOL_URL,
    agentToken: v.TOKENPOOL_AGENT_TOKEN,
    kubeconfig: v.KUBECONFIG,
    namespace: v.TOKENPOOL_AGENT_NAMESPACE,
    servingImage: v.TOKENPOOL_SERVING_IMAGE,
    servingImages: v.TOKENPOOL_SERVING_IMAGES,
    engineImages: v.TOKENPOOL_ENGINE_IMAGES,
    tolerations: v.TOKENPOOL_SERVING_TOLERATIONS,
    nodeSelector: v.TOKENPOOL_SERVING_NODE_SELECTOR,
    ingress:
      v.TOKENPOOL_SERVING_BASE_URL === undefined
        ? undefined
        : {
            baseUrl: v.TOKENPOOL_SERVING_BASE_URL,
            className: v.TOKENPOOL_INGRESS_CLASS,
            tlsSecret: v.TOKENPOOL_INGRESS_TLS_SECRET,
            annotations: v.TOKENPOOL_INGRESS_ANNOTATIONS,
            ...(v.TOKENPOOL_SERVING_ROUTE === 'httproute' ? { httpRoute: { parentRefs: v.TOKENPOOL_GATEWAY_PARENT_REFS } } : {}),
          },
    weights: {
      ...(v.TOKENPOOL_WEIGHTS_KINDS ? { kinds: v.TOKENPOOL_WEIGHTS_KINDS } : {}),
      cache:
        v.TOKENPOOL_WEIGHTS_CACHE_PVC !== undefined
          ? { claim: v.TOKENPOOL_WEIGHTS_CACHE_PVC }
          : v.TOKENPOOL_WEIGHTS_CACHE_HOST_PATH !== undefined
            ? { hostPath: v.TOKENPOOL_WEIGHTS_CACHE_HOST_PATH }
            : undefined,
      downloaders: Object.fromEntries(
        DOWNLOAD_KINDS.map((kind): [DownloadKind, { image?: string; command?: string[] }] => {
          const key = ({ huggingface: 'HUGGINGFACE', modelscope: 'MODELSCOPE', s3: 'S3' } as const)[kind];
          const image = v[`TOKENPOOL_WEIGHTS_${key}_IMAGE`];
          const command = v[`TOKENPOOL_WEIGHTS_${key}_COMMAND`];
          return [kind, { ...(image ? { image } : {}), ...(command ? { command } : {}) }];
        }),
      ),
    },
    tunnel: v.TOKENPOOL_TUNNEL === 'on',
    servingPort: v.TOKENPOOL_SERVING_PORT,
    port: v.TOKENPOOL_AGENT_PORT,
    heartbeatMs: v.TOKENPOOL_HEARTBEAT_SECONDS * 1000,
    usageMs: v.TOKENPOOL_USAGE_SECONDS * 1000,
    state:
      v.TOKENPOOL_STATE_FILE !== undefined
        ? { kind: 'file', path: v.TOKENPOOL_STATE_FILE }
        : { kind: 'configmap', namespace: v.TOKENPOOL_STATE_NAMESPACE, name: v.TOKENPOOL_STATE_CONFIGMAP },
    powerExporters: v.TOKENPOOL_POWER_EXPORTERS,
  };
}
