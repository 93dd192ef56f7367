/**
 * A desired placement as the Deployment the agent applies: one serving replica per placement
 * replica, each asking for `devicesPerReplica` of the profile's resource on nodes of the device
 * model, running the model's serving image (vLLM's OpenAI-compatible server by default) with a
 * readiness probe and Prometheus scrape annotations. Deterministic, so that applying it again
 * changes nothing.
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
  /** The engine's HTTP port (API, `/health`, `/metrics`). */
  readonly port: number;
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/** A DNS-1123 label for the placement's Deployment: `tp-<id>`, unique even when shortened. */
export function deploymentName(placementId: string): string {
  const base = `tp-${placementId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.replace(/-+$/, '');
  // The platform's ids are a prefix, `_` and Crockford base32 (case-insensitive by design), so
  // lowercasing them loses nothing; any other id could meet another once lowercased or replaced,
  // and a hash of the original keeps them apart.
  if (base.length <= 63 && /^[a-z]+_[0-9A-Za-z]+$/.test(placementId)) return base;
  return `${base.slice(0, 54).replace(/-+$/, '')}-${shortHash(placementId)}`;
}

/** A label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric. */
export function labelValue(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (clean.length <= 63 && clean === s) return clean;
  return `${clean.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(s)}`;
}

export function deploymentFor(p: DesiredPlacement, selector: DeviceSelector | undefined, namespace: string, serving: ServingConfig): V1Deployment {
  const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.placement]: labelValue(p.id), [LABELS.workload]: labelValue(p.workloadId), [LABELS.model]: labelValue(p.model) };
  const devices = { [p.resourceName]: String(p.devicesPerReplica) };
  const nodeSelector = selector && Object.keys(selector.nodeSelector).length > 0 ? { nodeSelector: { ...selector.nodeSelector } } : {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(p.id), namespace, labels },
    spec: {
      replicas: p.replicas,
      selector: { matchLabels: { [LABELS.placement]: labels[LABELS.placement] } },
      template: {
        metadata: {
          labels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(serving.port), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          ...nodeSelector,
          containers: [{
            name: 'serving',
            image: serving.images?.[p.model] ?? serving.image,
            args: ['--model', p.model, '--served-model-name', p.model, '--tensor-parallel-size', String(p.devicesPerReplica), '--port', String(serving.port)],
            ports: [{ name: 'http', containerPort: serving.port }],
            resources: { requests: devices, limits: devices },
            readinessProbe: { httpGet: { path: '/health', port: serving.port }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
          }],
        },
      },
    },
  };
}

/** The placement id of a Deployment or Pod the agent manages; undefined for anything else. */
export function placementOf(o: { metadata?: { labels?: Record<string, string> } }): string | undefined {
  const labels = o.metadata?.labels;
  return labels?.[LABELS.managedBy] === MANAGED_BY ? labels[LABELS.placement] : undefined;
}
