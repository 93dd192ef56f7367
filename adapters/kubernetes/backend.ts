/**
 * A member cluster through the Kubernetes API, as the agent loop drives it (`ClusterBackend`) and
 * as the usage reporter reads it (`CounterSource`).
 *
 * Three informers keep what the agent needs in memory: Nodes (inventory), and the Deployments and
 * Pods carrying the agent's label in the namespace it owns (what runs, and whom to scrape). An
 * informer that fails is started again after a pause; a watch that ends with 410 Gone re-lists
 * (the client library does that itself).
 *
 * Placements become Deployments applied with server-side apply under the field manager
 * `tokenpool-agent`; a Deployment with the agent's label whose placement is no longer desired is
 * deleted. An unchanged Deployment is not sent again on every heartbeat, only when what the agent
 * would apply changed, its replica count drifted, or a minute has passed.
 *
 * Beside each Deployment, and applied with it, the placement's Secret (its serving key), Service
 * and, with an ingress base URL, Ingress or Gateway API HTTPRoute (serving-access.ts), each owned by the Deployment so that
 * the garbage collector removes them with it; the agent also deletes them itself, first, when it
 * deletes the Deployment. The agent may write Secrets but not read them (deploy/agent/rbac.yaml).
 */
import { createHash } from 'node:crypto';
import {
  ApisApi,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1OwnerReference,
  type V1Deployment,
  type V1Ingress,
  type V1Secret,
  type V1Service,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { AgentLog, ClusterBackend } from '../agent.js';
import type { DesiredPlacement, InventoryReport, NodesReport, RunningPlacement, WeightSourcesReport } from '../platform-client.js';
import type { CounterSample, CounterSource } from '../usage-reporter.js';
import { deploymentFor, deploymentName, LABELS, MANAGED_BY, placementOf, type ServingConfig } from './deployment.js';
import {
  endpointFor,
  HTTP_ROUTE,
  httpRouteFor,
  ingressFor,
  ownedByDeployment,
  secretFor,
  SERVICE_PORT,
  serviceFor,
  type HttpRoute,
  type IngressConfig,
} from './serving-access.js';
import { inventoryFromNodes, nodeDevices, type DeviceProfileInfo, type DeviceSelector } from './inventory.js';
import {
  leadersOnly,
  leaderWorkerSetFor,
  LWS_GROUP,
  LWS_PLURAL,
  LWS_VERSION,
  ownedByLeaderWorkerSet,
  spanOf,
  type LeaderWorkerSet,
} from './leader-worker-set.js';
import { placementHealth } from './placement-health.js';
import { parseTokenCounters } from './prometheus-text.js';
import { EnergyMeter, scrapePower, type PlacementPower, type PowerExporter } from './power.js';
import { offeredKinds } from './weights.js';

export const FIELD_MANAGER = 'tokenpool-agent';
const APPLIED_HASH = 'tokenpool.io/applied-hash';
const SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

export interface KubernetesBackendOptions {
  readonly kubeConfig: KubeConfig;
  /** The namespace the agent owns for serving Deployments. */
  readonly namespace: string;
  readonly serving: ServingConfig;
  /** Where the platform reaches the placements' Services; undefined: no Ingress, no endpoints reported. */
  readonly ingress?: IngressConfig | undefined;
  /** The platform reaches the Services through the agent's tunnel: endpoints are `tunnel://<service>.<namespace>.svc:80`. */
  readonly tunnel?: boolean;
  /** The platform's device profiles (resource names and device names to count). */
  readonly profiles: () => Promise<readonly DeviceProfileInfo[]>;
  readonly log?: AgentLog;
  /** Reads a pod's metrics page; default: HTTP GET with a 5 s deadline. */
  readonly fetchMetrics?: (url: string) => Promise<string>;
  /** Power exporters to read each placement's energy from (power.ts); none: no energy reported. */
  readonly powerExporters?: readonly PowerExporter[];
  /** Reads an exporter's page; default: HTTP GET with a 5 s deadline. */
  readonly fetchPower?: (url: string) => Promise<string>;
  /** Pause before an informer that failed is started again, in ms. Default 5,000. */
  readonly restartDelayMs?: number;
  /** Every Deployment is applied again at least this often, in ms. Default 60,000. */
  readonly reapplyMs?: number;
  /** The PVCs of the workloads namespace are listed again at most this often, in ms. Default 60,000. */
  readonly claimsMs?: number;
  readonly now?: () => number;
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class KubernetesBackend implements ClusterBackend, CounterSource {
  readonly #opts: KubernetesBackendOptions;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #net: NetworkingV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #log: AgentLog;
  readonly #now: () => number;
  readonly #nodes: Watched<V1Node>;
  readonly #deployments: Watched<V1Deployment>;
  readonly #pods: Watched<V1Pod>;
  /** Every pod of the cluster, for the devices each node's pods request (node-level fit). */
  readonly #allPods: Watched<V1Pod>;
  readonly #apis: ApisApi;
  /** Whether the API server serves LeaderWorkerSets, and when that was last asked (discovery). */
  #lws: { readonly served: boolean; readonly at: number } | undefined;
  /** The largest node's devices per device model, from the last node report. */
  #largest: ReadonlyMap<string, number> = new Map();
  /** LeaderWorkerSets applied: what (hash) and when, so an unchanged one is not sent every heartbeat. */
  #lwsApplied = new Map<string, { readonly hash: string; readonly at: number }>();
  readonly #restarts = new Set<NodeJS.Timeout>();
  #selectors: ReadonlyMap<string, DeviceSelector> = new Map();
  #profiles: readonly DeviceProfileInfo[] | undefined;
  #lastApplied = new Map<string, number>();
  #claims: { readonly at: number; readonly names: readonly string[] } | undefined;
  #stopped = true;
  readonly #meter = new EnergyMeter();
  #powerFailures = 0;

  constructor(opts: KubernetesBackendOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? (() => {});
    this.#now = opts.now ?? Date.now;
    const core = (this.#core = opts.kubeConfig.makeApiClient(CoreV1Api));
    this.#apps = opts.kubeConfig.makeApiClient(AppsV1Api);
    this.#net = opts.kubeConfig.makeApiClient(NetworkingV1Api);
    this.#apis = opts.kubeConfig.makeApiClient(ApisApi);
    this.#custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#allPods = makeInformer(opts.kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
    const ns = opts.namespace;
    this.#nodes = makeInformer(opts.kubeConfig, '/api/v1/nodes', () => core.listNode());
    this.#deployments = makeInformer(
      opts.kubeConfig,
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      () => this.#apps.listNamespacedDeployment({ namespace: ns, labelSelector: SELECTOR }),
      SELECTOR,
    );
    this.#pods = makeInformer(
      opts.kubeConfig,
      `/api/v1/namespaces/${ns}/pods`,
      () => core.listNamespacedPod({ namespace: ns, labelSelector: SELECTOR }),
      SELECTOR,
    );
  }

  /**
   * Reads one of each thing the agent watches, and dry-run applies one of each thing it makes
   * beside a Deployment, so that a wrong server, credential or missing permission is reported at
   * start rather than as informers or applies failing forever.
   */
  async verify(): Promise<void> {
    const ns = this.#opts.namespace;
    const steps: [string, () => Promise<unknown>][] = [
      ['list Nodes', () => this.#core.listNode({ limit: 1 })],
      [`list Deployments in namespace ${ns}`, () => this.#apps.listNamespacedDeployment({ namespace: ns, limit: 1 })],
      [`list Pods in namespace ${ns}`, () => this.#core.listNamespacedPod({ namespace: ns, limit: 1 })],
      [`list PersistentVolumeClaims in namespace ${ns}`, () => this.#core.listNamespacedPersistentVolumeClaim({ namespace: ns, limit: 1 })],
      ['list Pods in all namespaces (devices requested per node)', () => this.#core.listPodForAllNamespaces({ limit: 1 })],
      ...this.#accessChecks(),
    ];
    for (const [what, call] of steps) {
      try {
        await call();
      } catch (err) {
        throw new Error(`cannot ${what}: ${errorText(err)}`, { cause: err });
      }
    }
  }

  /** Dry-run applies of a placement's Secret, Service and Ingress: the permissions to make them. */
  #accessChecks(): [string, () => Promise<unknown>][] {
    const namespace = this.#opts.namespace;
    const name = 'tokenpool-agent-verify';
    const dry = { name, namespace, fieldManager: FIELD_MANAGER, force: true, dryRun: 'All' };
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    const metadata = { name, namespace };
    const port = { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' };
    const checks: [string, () => Promise<unknown>][] = [
      [
        `apply Secrets in namespace ${namespace}`,
        () => this.#core.patchNamespacedSecret({ ...dry, body: { apiVersion: 'v1', kind: 'Secret', metadata } }, ssa),
      ],
      [
        `apply Services in namespace ${namespace}`,
        () => this.#core.patchNamespacedService({ ...dry, body: { apiVersion: 'v1', kind: 'Service', metadata, spec: { ports: [port] } } }, ssa),
      ],
    ];
    if (this.#opts.ingress?.httpRoute) {
      const body = {
        apiVersion: `${HTTP_ROUTE.group}/${HTTP_ROUTE.version}`,
        kind: HTTP_ROUTE.kind,
        metadata,
        spec: { rules: [{ backendRefs: [{ name, port: 80 }] }] },
      };
      checks.push([
        `apply HTTPRoutes (${HTTP_ROUTE.group}/${HTTP_ROUTE.version}; are the Gateway API CRDs installed?) in namespace ${namespace}`,
        () => this.#custom.patchNamespacedCustomObject({ ...dry, ...HTTP_ROUTE_PATH, body }, ssa),
      ]);
    } else if (this.#opts.ingress) {
      const body = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec: { defaultBackend: { service: { name, port: { name: 'http' } } } } };
      checks.push([`apply Ingresses in namespace ${namespace}`, () => this.#net.patchNamespacedIngress({ ...dry, body }, ssa)]);
    }
    return checks;
  }

  /** Starts the informers; resolves once each has listed what exists. */
  async start(): Promise<void> {
    this.#stopped = false;
    const watched: [string, Watched<KubernetesObject>][] = [
      ['nodes', this.#nodes],
      ['deployments', this.#deployments],
      ['pods', this.#pods],
      ['all pods', this.#allPods],
    ];
    for (const [what, informer] of watched) {
      informer.on('error', (err: unknown) => {
        if (this.#stopped) return;
        this.#log('informer failed; starting it again', { informer: what, error: errorText(err), delayMs: this.#restartDelay() });
        const t = setTimeout(() => {
          this.#restarts.delete(t);
          if (!this.#stopped)
            informer.start().catch(() => {
              /* its error handler runs again */
            });
        }, this.#restartDelay());
        this.#restarts.add(t);
      });
    }
    await Promise.all(watched.map(([, informer]) => informer.start()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#restarts) clearTimeout(t);
    this.#restarts.clear();
    await Promise.all([this.#nodes.stop(), this.#deployments.stop(), this.#pods.stop(), this.#allPods.stop()]);
  }

  #restartDelay(): number {
    return this.#opts.restartDelayMs ?? 5_000;
  }

  async inventory(): Promise<InventoryReport[]> {
    // The profiles are read once; until they could be, no inventory (the heartbeat fails and is retried).
    this.#profiles ??= await this.#opts.profiles();
    const { inventory, selectors } = inventoryFromNodes(this.#nodes.list(), this.#profiles);
    this.#selectors = selectors;
    return inventory;
  }

  /**
   * The weight source kinds this agent offers (weights.ts `offeredKinds`), and the PVCs of the
   * workloads namespace, listed at most once a minute (a list, not a watch: the RBAC grows by
   * `list` only). Undefined while the claims cannot be listed: the platform keeps the last report.
   */
  async weightSources(): Promise<WeightSourcesReport | undefined> {
    const kinds = offeredKinds(this.#opts.serving.weights ?? {});
    const now = this.#now();
    if (!this.#claims || now - this.#claims.at >= (this.#opts.claimsMs ?? 60_000)) {
      try {
        const names: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await this.#core.listNamespacedPersistentVolumeClaim({
            namespace: this.#opts.namespace,
            limit: 500,
            ...(cursor ? { _continue: cursor } : {}),
          });
          for (const c of page.items) if (c.metadata?.name && !c.metadata.deletionTimestamp) names.push(c.metadata.name);
          cursor = page.metadata?._continue || undefined;
        } while (cursor);
        this.#claims = { at: now, names: names.sort() };
      } catch (err) {
        this.#log('listing the PersistentVolumeClaims failed; weight sources not reported', { error: errorText(err) });
        return undefined;
      }
    }
    return { kinds, claims: this.#claims.names };
  }

  /**
   * Free devices per node (inventory.ts `nodeDevices`) and whether the API server serves
   * LeaderWorkerSets (API discovery, asked again at most once a minute).
   */
  async nodeReport(): Promise<NodesReport> {
    this.#profiles ??= await this.#opts.profiles();
    const nodes = nodeDevices(this.#nodes.list(), this.#allPods.list(), this.#profiles);
    const largest = new Map<string, number>();
    for (const n of nodes) if (n.total > (largest.get(n.deviceModel) ?? 0)) largest.set(n.deviceModel, n.total);
    this.#largest = largest;
    return { nodes, capabilities: { leaderWorkerSet: await this.#servesLeaderWorkerSet() } };
  }

  async #servesLeaderWorkerSet(): Promise<boolean> {
    if (this.#lws && this.#now() - this.#lws.at < 60_000) return this.#lws.served;
    try {
      const groups = await this.#apis.getAPIVersions();
      const served = groups.groups.some((g) => g.name === LWS_GROUP && g.versions.some((v) => v.version === LWS_VERSION));
      this.#lws = { served, at: this.#now() };
    } catch (err) {
      // Unknown: keep the last answer (false at first) and ask again next time.
      this.#log('API discovery failed', { error: errorText(err) });
    }
    return this.#lws?.served ?? false;
  }

  /** How a placement's replica spans nodes, when it is larger than any node and the cluster serves LeaderWorkerSets. */
  #spanOf(p: DesiredPlacement): ReturnType<typeof spanOf> {
    if (!this.#lws?.served) return undefined;
    const largest = this.#largest.get(p.deviceModel);
    return largest === undefined ? undefined : spanOf(p.devicesPerReplica, largest);
  }

  /** The LeaderWorkerSets the agent manages (none asked for when the cluster serves none). */
  async #leaderWorkerSets(): Promise<LeaderWorkerSet[]> {
    if (!this.#lws?.served) return [];
    const list = (await this.#custom.listNamespacedCustomObject({
      group: LWS_GROUP,
      version: LWS_VERSION,
      namespace: this.#opts.namespace,
      plural: LWS_PLURAL,
      labelSelector: SELECTOR,
    })) as { items?: LeaderWorkerSet[] };
    return list.items ?? [];
  }

  async running(): Promise<RunningPlacement[]> {
    const out: RunningPlacement[] = [];
    for (const set of await this.#leaderWorkerSets()) {
      const id = placementOf(set);
      if (!id || set.metadata?.deletionTimestamp) continue;
      const readyReplicas = set.status?.readyReplicas ?? 0;
      const ingress = this.#opts.ingress;
      out.push({ id, readyReplicas, ...(ingress ? { endpoints: readyReplicas > 0 ? [endpointFor(set.metadata!.name!, ingress)] : [] } : {}) });
    }
    const podsOf = this.#podsByPlacement();
    const power = await this.#power(podsOf);
    for (const d of this.#deployments.list(this.#opts.namespace)) {
      const id = placementOf(d);
      if (id && !d.metadata?.deletionTimestamp) {
        const readyReplicas = d.status?.readyReplicas ?? 0;
        const ingress = this.#opts.ingress;
        const name = d.metadata!.name!;
        const endpoint = this.#opts.tunnel ? `tunnel://${this.#serviceAuthority(name)}` : ingress ? endpointFor(name, ingress) : undefined;
        out.push({
          id,
          readyReplicas,
          ...(endpoint ? { endpoints: readyReplicas > 0 ? [endpoint] : [] } : {}),
          ...placementHealth(d, podsOf.get(id) ?? []),
          ...power.get(id),
        });
      }
    }
    return out;
  }

  /** Power exporter pages that could not be read, since the agent started. */
  get powerScrapeFailures(): number {
    return this.#powerFailures;
  }

  /** Each placement's energy and power, from one scrape of the power exporters (none configured: none). */
  async #power(podsOf: ReadonlyMap<string, readonly V1Pod[]>): Promise<ReadonlyMap<string, PlacementPower>> {
    const exporters = this.#opts.powerExporters ?? [];
    if (exporters.length === 0) return new Map();
    const pods = new Map<string, string>();
    for (const [id, list] of podsOf) for (const pod of list) if (pod.metadata?.name) pods.set(pod.metadata.name, id);
    const live = new Set<string>();
    for (const d of this.#deployments.list(this.#opts.namespace)) {
      const id = placementOf(d);
      if (id) live.add(id);
    }
    return scrapePower({
      exporters,
      fetchText: this.#opts.fetchPower ?? httpGet,
      namespace: this.#opts.namespace,
      pods,
      live,
      meter: this.#meter,
      nowMs: this.#now,
      onError: (url, err) => {
        this.#powerFailures += 1;
        this.#log('reading a power exporter failed', { url, error: errorText(err) });
      },
    });
  }

  /** A placement Service's in-cluster address, `<name>.<namespace>.svc:80`. */
  #serviceAuthority(name: string): string {
    return `${name}.${this.#opts.namespace}.svc:${SERVICE_PORT}`;
  }

  /**
   * Whether the tunnel may forward a call to `authority`: the Service of one of the agent's
   * placements, at the address it reports, and nothing else in the cluster.
   */
  tunnelAllows(authority: string): boolean {
    const suffix = `.${this.#opts.namespace}.svc:${SERVICE_PORT}`;
    if (!authority.endsWith(suffix)) return false;
    const d = this.#deployments.get(authority.slice(0, -suffix.length), this.#opts.namespace);
    return d !== undefined && placementOf(d) !== undefined && !d.metadata?.deletionTimestamp;
  }

  /** The pods the agent manages, by their placement label. */
  #podsByPlacement(): Map<string, V1Pod[]> {
    const by = new Map<string, V1Pod[]>();
    for (const pod of this.#pods.list(this.#opts.namespace)) {
      const id = placementOf(pod);
      if (!id) continue;
      const list = by.get(id);
      if (list) list.push(pod);
      else by.set(id, [pod]);
    }
    return by;
  }

  async reconcile(desired: readonly DesiredPlacement[]): Promise<void> {
    const ns = this.#opts.namespace;
    const spans = new Map(desired.map((p) => [p.id, this.#spanOf(p)] as const));
    const wanted = new Set(desired.filter((p) => !spans.get(p.id)).map((p) => deploymentName(p.id)));
    const failures: unknown[] = [];
    const wantedSets = new Set<string>();
    for (const p of desired) {
      const span = spans.get(p.id);
      if (!span) continue;
      wantedSets.add(deploymentName(p.id));
      try {
        await this.#applyLeaderWorkerSet(p, span);
      } catch (err) {
        failures.push(err);
        this.#log('applying a placement failed', { placement: p.id, error: errorText(err) });
      }
    }
    try {
      for (const set of await this.#leaderWorkerSets()) {
        const name = set.metadata?.name;
        if (!name || !placementOf(set) || wantedSets.has(name) || set.metadata?.deletionTimestamp) continue;
        await this.#deleteAccess(name);
        await ignoreNotFound(
          this.#custom.deleteNamespacedCustomObject({
            group: LWS_GROUP,
            version: LWS_VERSION,
            namespace: ns,
            plural: LWS_PLURAL,
            name,
            propagationPolicy: 'Background',
          }),
        );
        this.#lwsApplied.delete(name);
      }
    } catch (err) {
      failures.push(err);
      this.#log('deleting a placement failed', { error: errorText(err) });
    }
    for (const p of desired) {
      if (spans.get(p.id)) continue;
      try {
        const body = deploymentFor(p, this.#selectors.get(p.deviceModel), ns, this.#opts.serving);
        const access = this.#accessFor(p);
        // The hash covers the companions too, so a new key or ingress setting is applied at once.
        const hash = createHash('sha256')
          .update(JSON.stringify([body, access]))
          .digest('hex')
          .slice(0, 32);
        body.metadata = { ...body.metadata, annotations: { ...body.metadata?.annotations, [APPLIED_HASH]: hash } };
        const name = body.metadata.name!;
        const current = this.#deployments.get(name, ns);
        const fresh = this.#now() - (this.#lastApplied.get(name) ?? -Infinity) < (this.#opts.reapplyMs ?? 60_000);
        if (current && fresh && current.metadata?.annotations?.[APPLIED_HASH] === hash && current.spec?.replicas === p.replicas) continue;
        // Until the companions are applied too, the next heartbeat applies everything again.
        this.#lastApplied.delete(name);
        const applied = await this.#apps.patchNamespacedDeployment(
          { name, namespace: ns, body, fieldManager: FIELD_MANAGER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        );
        await this.#applyAccess(name, access, ownedByDeployment(name, applied.metadata!.uid!));
        this.#lastApplied.set(name, this.#now());
      } catch (err) {
        failures.push(err);
        this.#log('applying a placement failed', { placement: p.id, error: errorText(err) });
      }
    }
    for (const d of this.#deployments.list(ns)) {
      const name = d.metadata?.name;
      if (!name || !placementOf(d) || wanted.has(name) || d.metadata?.deletionTimestamp) continue;
      try {
        // A placement that became a LeaderWorkerSet keeps its Secret, Service and Ingress (now owned by that).
        if (!wantedSets.has(name)) await this.#deleteAccess(name);
        await this.#apps.deleteNamespacedDeployment({ name, namespace: ns, propagationPolicy: 'Background' });
        this.#lastApplied.delete(name);
      } catch (err) {
        if ((err as { code?: number }).code === 404) continue;
        failures.push(err);
        this.#log('deleting a placement failed', { deployment: name, error: errorText(err) });
      }
    }
    if (failures.length > 0) throw new Error(`${failures.length} change(s) to the cluster failed; first: ${errorText(failures[0])}`);
  }

  /** Applies a spanning placement's LeaderWorkerSet and its Secret, Service and Ingress, when changed or due. */
  async #applyLeaderWorkerSet(p: DesiredPlacement, span: NonNullable<ReturnType<typeof spanOf>>): Promise<void> {
    const namespace = this.#opts.namespace;
    const body = leaderWorkerSetFor(p, span, this.#selectors.get(p.deviceModel), namespace, this.#opts.serving);
    const companions = this.#accessFor(p);
    const access = { ...companions, service: leadersOnly(companions.service) };
    const hash = createHash('sha256')
      .update(JSON.stringify([body, access]))
      .digest('hex')
      .slice(0, 32);
    const name = body.metadata!.name!;
    const last = this.#lwsApplied.get(name);
    if (last && last.hash === hash && this.#now() - last.at < (this.#opts.reapplyMs ?? 60_000)) return;
    this.#lwsApplied.delete(name);
    const applied = (await this.#custom.patchNamespacedCustomObject(
      { group: LWS_GROUP, version: LWS_VERSION, namespace, plural: LWS_PLURAL, name, body, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )) as LeaderWorkerSet;
    await this.#applyAccess(name, access, ownedByLeaderWorkerSet(name, applied.metadata!.uid!));
    this.#lwsApplied.set(name, { hash, at: this.#now() });
  }

  #accessFor(p: DesiredPlacement): PlacementAccess {
    const ns = this.#opts.namespace;
    const ingress = this.#opts.ingress;
    const httpRoute = ingress?.httpRoute;
    return {
      secret: secretFor(p, ns),
      service: serviceFor(p, ns),
      ingress: ingress && !httpRoute ? ingressFor(p, ns, ingress) : undefined,
      route: ingress && httpRoute ? httpRouteFor(p, ns, { ...ingress, httpRoute }) : undefined,
    };
  }

  /** Applies the placement's Secret, Service and Ingress (deleting an Ingress no longer configured). */
  async #applyAccess(name: string, access: PlacementAccess, owner: V1OwnerReference): Promise<void> {
    const namespace = this.#opts.namespace;
    const apply = { fieldManager: FIELD_MANAGER, force: true };
    const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    const owned = <T extends KubernetesObject>(o: T): T => ({ ...o, metadata: { ...o.metadata, ownerReferences: [owner] } });
    if (access.secret) await this.#core.patchNamespacedSecret({ name, namespace, body: owned(access.secret), ...apply }, ssa);
    await this.#core.patchNamespacedService({ name, namespace, body: owned(access.service), ...apply }, ssa);
    if (access.ingress) await this.#net.patchNamespacedIngress({ name, namespace, body: owned(access.ingress), ...apply }, ssa);
    else await ignoreNotFound(this.#net.deleteNamespacedIngress({ name, namespace }));
    // HTTPRoutes are touched only when configured (the agent may lack the CRDs and the permission
    // otherwise); one left from an earlier configuration goes with its Deployment (owner reference).
    if (access.route) await this.#custom.patchNamespacedCustomObject({ ...HTTP_ROUTE_PATH, name, namespace, body: owned(access.route), ...apply }, ssa);
  }

  /** Deletes the placement's Ingress, Service and Secret, whichever exist. */
  async #deleteAccess(name: string): Promise<void> {
    const namespace = this.#opts.namespace;
    await ignoreNotFound(this.#net.deleteNamespacedIngress({ name, namespace }));
    if (this.#opts.ingress?.httpRoute) await ignoreNotFound(this.#custom.deleteNamespacedCustomObject({ ...HTTP_ROUTE_PATH, name, namespace }));
    await ignoreNotFound(this.#core.deleteNamespacedService({ name, namespace }));
    await ignoreNotFound(this.#core.deleteNamespacedSecret({ name, namespace }));
  }

  /** Scrapes every running serving pod of ours for its token counters. */
  async scrape(): Promise<CounterSample[]> {
    const fetchMetrics = this.#opts.fetchMetrics ?? httpGet;
    const pods = this.#pods
      .list(this.#opts.namespace)
      // An engine whose metrics dialect is `none` has nothing to scrape (deployment.ts annotates it so).
      .filter(
        (p) =>
          p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp && p.metadata?.annotations?.['prometheus.io/scrape'] !== 'false',
      );
    const samples = await Promise.all(
      pods.map(async (pod): Promise<CounterSample | undefined> => {
        const labels = pod.metadata?.labels ?? {};
        const placementId = labels[LABELS.placement];
        const workloadId = labels[LABELS.workload];
        if (!placementId || !workloadId) return undefined;
        const port = pod.metadata?.annotations?.['prometheus.io/port'] ?? String(this.#opts.serving.port);
        const path = pod.metadata?.annotations?.['prometheus.io/path'] ?? '/metrics';
        const host = pod.status!.podIP!.includes(':') ? `[${pod.status!.podIP}]` : pod.status!.podIP;
        try {
          const counters = parseTokenCounters(await fetchMetrics(`http://${host}:${port}${path}`));
          if (!counters) return undefined;
          const container = pod.status?.containerStatuses?.[0];
          const started = container?.state?.running?.startedAt;
          return {
            placementId,
            workloadId,
            pod: pod.metadata!.name!,
            incarnation: `${pod.metadata?.uid ?? ''}/${container?.restartCount ?? 0}`,
            ...(started ? { startedAtMs: new Date(started).getTime() } : {}),
            promptTokensTotal: counters.promptTokensTotal,
            generationTokensTotal: counters.generationTokensTotal,
          };
        } catch (err) {
          this.#log('scraping a serving pod failed', { pod: pod.metadata?.name, error: errorText(err) });
          return undefined;
        }
      }),
    );
    return samples.filter((s): s is CounterSample => s !== undefined);
  }
}

interface PlacementAccess {
  readonly secret: V1Secret | undefined;
  readonly service: V1Service;
  readonly ingress: V1Ingress | undefined;
  readonly route: HttpRoute | undefined;
}

const HTTP_ROUTE_PATH = { group: HTTP_ROUTE.group, version: HTTP_ROUTE.version, plural: HTTP_ROUTE.plural };

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/** A Kubernetes API failure (its status and body) or any other error, in one line. */
export function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'body' in err) {
    const body = (err as { body: unknown }).body;
    return `${String((err as { code: unknown }).code)} ${typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300)}`;
  }
  return err instanceof Error ? err.message : String(err);
}
