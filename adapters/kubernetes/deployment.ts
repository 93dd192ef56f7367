/**
 * A desired placement as the Deployment the agent applies with server-side apply: one serving
 * replica per placement replica, each asking for `devicesPerReplica` of the profile's resource
 * (requests and limits) on nodes of the device model, running the model's serving image (vLLM's
 * OpenAI-compatible server by default) with a readiness probe and Prometheus scrape annotations.
 *
 * The object is a pure function of its inputs and carries no status, no `undefined` and no `null`,
 * so that applying it again changes nothing.
 */
import { createHash } from 'node:crypto';
import type { V1Deployment } from '@kubernetes/client-node';
import type { DesiredPlacement } from '../platform-client.js';
import type { DeviceSelector } from './inventory.js';

export const MANAGED_BY = 'tokenpool-agent';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  placement: 'tokenpool.io/placement-id',
  workload: 'tokenpool.io/workload-id',
  model: 'tokenpool.io/model',
} as const;

export interface ServingConfig {
  readonly image: string;
  /** Model name → image, overriding `image`. */
  readonly images?: Readonly<Record<string, string>>;
  /** The engine's HTTP port (API, `/health`, `/metrics`), e.g. 8000. */
  readonly port: number;
}

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

export function deploymentFor(p: DesiredPlacement, selector: DeviceSelector | undefined, namespace: string, serving: ServingConfig): V1Deployment {
  const devices = () => ({ [p.resourceName]: String(p.devicesPerReplica) });
  const nodeSelector = selector?.nodeSelector ?? {};
  // `Object.hasOwn`: a model named e.g. `constructor` must not pick up Object.prototype's.
  const image = serving.images && Object.hasOwn(serving.images, p.model) ? serving.images[p.model]! : serving.image;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(p.id), namespace, labels: ourLabels(p) },
    spec: {
      replicas: p.replicas,
      selector: { matchLabels: { [LABELS.placement]: idLabelValue(p.id) } },
      template: {
        metadata: {
          labels: ourLabels(p),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(serving.port), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector: { ...nodeSelector } } : {}),
          containers: [
            {
              name: 'serving',
              image,
              args: ['--model', p.model, '--served-model-name', p.model, '--tensor-parallel-size', String(p.devicesPerReplica), '--port', String(serving.port)],
              // `protocol` is a key of the ports list; older API servers reject an apply without it
              // (kubernetes/kubernetes#92332).
              ports: [{ name: 'http', containerPort: serving.port, protocol: 'TCP' }],
              resources: { limits: devices(), requests: devices() },
              readinessProbe: { httpGet: { path: '/health', port: serving.port }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
            },
          ],
        },
      },
    },
  };
}

/** The placement id label of a Deployment or Pod the agent manages; undefined for anything else. */
export function placementOf(d: { metadata?: { labels?: Record<string, string> } }): string | undefined {
  const labels = d.metadata?.labels;
  return labels?.[LABELS.managedBy] === MANAGED_BY ? labels[LABELS.placement] : undefined;
}
