/**
 * What makes a placement's Deployment reachable and keyed, one of each per placement, all named
 * like its Deployment and carrying its labels: the Secret holding its serving key, the ClusterIP
 * Service in front of its pods, and — when the agent has an ingress base URL — the Ingress that
 * routes `<service>.<base host>` to that Service, or instead a Gateway API HTTPRoute
 * (`gateway.networking.k8s.io/v1`) attached to the Gateways the agent is configured with.
 *
 * Routing is by host, not by path: a path prefix needs the controller to rewrite it away, which
 * Ingress cannot say portably (each controller has its own annotation), while a host rule is
 * plain Ingress that every controller serves. The price is a wildcard DNS record (and, for https,
 * a wildcard certificate) for `*.<base host>`.
 *
 * Like the Deployment, each object is a pure function of its inputs, with no `undefined` or `null`.
 */
import type { KubernetesObject, V1Ingress, V1OwnerReference, V1Secret, V1Service } from '@kubernetes/client-node';
import type { DesiredPlacement } from '../platform-client.js';
import { deploymentName, placementLabels, podSelector, SERVING_KEY } from './deployment.js';

/** How the platform reaches the cluster's serving Services from outside. */
export interface IngressConfig {
  /**
   * Origin the cluster's ingress answers on, e.g. `https://gw.cluster-a.example`; a placement's
   * endpoint is `https://<service>.gw.cluster-a.example` (with the base URL's port, if any).
   */
  readonly baseUrl: string;
  /** `spec.ingressClassName`; undefined: the cluster's default class. */
  readonly className?: string | undefined;
  /** A TLS Secret in the workloads namespace for `*.<base host>`; undefined: the controller's default certificate. */
  readonly tlsSecret?: string | undefined;
  /** Annotations for every Ingress (a controller's proxy timeouts for long streams, say), or every HTTPRoute. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /**
   * Route with a Gateway API HTTPRoute attached to these Gateways instead of an Ingress
   * (`className` and `tlsSecret` then do not apply: TLS is the Gateway listener's).
   */
  readonly httpRoute?: { readonly parentRefs: readonly ParentRef[] } | undefined;
}

/** A Gateway an HTTPRoute attaches to (Gateway API `ParentReference`, kind Gateway). */
export interface ParentRef {
  readonly name: string;
  /** The Gateway's namespace; undefined: the route's own (the workloads namespace). */
  readonly namespace?: string | undefined;
  /** One listener of the Gateway, by name. */
  readonly sectionName?: string | undefined;
  readonly port?: number | undefined;
}

/** The Gateway API group and version the agent writes HTTPRoutes in. */
export const HTTP_ROUTE = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute' } as const;

/** An HTTPRoute as the agent applies it. */
export interface HttpRoute extends KubernetesObject {
  readonly spec: {
    readonly parentRefs: readonly Record<string, string | number>[];
    readonly hostnames: readonly string[];
    readonly rules: readonly {
      readonly matches: readonly { readonly path: { readonly type: 'PathPrefix'; readonly value: string } }[];
      readonly backendRefs: readonly { readonly name: string; readonly port: number }[];
    }[];
  };
}

/** The Service port that reaches the engine's named port `http`. */
export const SERVICE_PORT = 80;

/** The placement's Secret: its serving key under `serving-key`. Undefined when the platform sent no key. */
export function secretFor(p: DesiredPlacement, namespace: string): V1Secret | undefined {
  if (!p.servingKey) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: deploymentName(p.id), namespace, labels: placementLabels(p) },
    type: 'Opaque',
    data: { [SERVING_KEY]: Buffer.from(p.servingKey, 'utf8').toString('base64') },
  };
}

/** The placement's ClusterIP Service: port 80 (`http`) to the pods' port `http`. */
export function serviceFor(p: DesiredPlacement, namespace: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: deploymentName(p.id), namespace, labels: placementLabels(p) },
    spec: {
      type: 'ClusterIP',
      selector: podSelector(p),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** The host a placement answers on under the base URL: `<service>.<base host>`. */
export function ingressHost(p: DesiredPlacement, ingress: IngressConfig): string {
  return `${deploymentName(p.id)}.${new URL(ingress.baseUrl).hostname}`;
}

/** The placement's Ingress: its host to its Service, for every path. */
export function ingressFor(p: DesiredPlacement, namespace: string, ingress: IngressConfig): V1Ingress {
  const host = ingressHost(p, ingress);
  const annotations = ingress.annotations && Object.keys(ingress.annotations).length > 0 ? { annotations: { ...ingress.annotations } } : {};
  const tls = ingress.tlsSecret && new URL(ingress.baseUrl).protocol === 'https:' ? { tls: [{ hosts: [host], secretName: ingress.tlsSecret }] } : {};
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: deploymentName(p.id), namespace, labels: placementLabels(p), ...annotations },
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...tls,
      rules: [
        {
          host,
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: deploymentName(p.id), port: { name: 'http' } } } }] },
        },
      ],
    },
  };
}

/** The placement's HTTPRoute: its host to its Service, for every path, on the configured Gateways. */
export function httpRouteFor(
  p: DesiredPlacement,
  namespace: string,
  ingress: IngressConfig & { readonly httpRoute: { readonly parentRefs: readonly ParentRef[] } },
): HttpRoute {
  const annotations = ingress.annotations && Object.keys(ingress.annotations).length > 0 ? { annotations: { ...ingress.annotations } } : {};
  return {
    apiVersion: `${HTTP_ROUTE.group}/${HTTP_ROUTE.version}`,
    kind: HTTP_ROUTE.kind,
    metadata: { name: deploymentName(p.id), namespace, labels: placementLabels(p), ...annotations },
    spec: {
      parentRefs: ingress.httpRoute.parentRefs.map((r) => ({
        group: HTTP_ROUTE.group,
        kind: 'Gateway',
        name: r.name,
        ...(r.namespace ? { namespace: r.namespace } : {}),
        ...(r.sectionName ? { sectionName: r.sectionName } : {}),
        ...(r.port ? { port: r.port } : {}),
      })),
      hostnames: [ingressHost(p, ingress)],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: deploymentName(p.id), port: SERVICE_PORT }] }],
    },
  };
}

/**
 * The endpoint the platform's gateway calls for the Deployment named `name` (the Service's name):
 * the base URL's scheme and port with `<name>.` before its host, e.g. `https://tp-pl-1.gw.example`.
 */
export function endpointFor(name: string, ingress: IngressConfig): string {
  const base = new URL(ingress.baseUrl);
  return `${base.protocol}//${name}.${base.host}`;
}

/** An owner reference to the placement's Deployment: the API server's garbage collector removes the object with it. */
export function ownedByDeployment(name: string, uid: string): V1OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true, blockOwnerDeletion: false };
}
