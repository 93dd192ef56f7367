/**
 * The usage reporter's state (usage-state.ts) in one ConfigMap of the agent's own namespace, so
 * that it outlives the agent's pod. The agent may only get and update that one ConfigMap
 * (deploy/agent/rbac.yaml, by resourceNames); deploy/agent ships it empty, since Kubernetes cannot
 * limit `create` to a name. Writes are optimistic: each update names the resourceVersion last
 * read or written, so a write by anyone else in between fails (409) instead of being overwritten
 * unseen; the next save then writes over it.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { checkSize, type UsageStateStore } from '../usage-state.js';
import { errorText } from './backend.js';

/** The data key holding the state. */
export const STATE_KEY = 'usage-state.json';

/** A ConfigMap keeps at most 1 MiB of data; this leaves room for the key and a margin. */
export const CONFIGMAP_STATE_MAX_BYTES = 960 * 1024;

export interface ConfigMapStateStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Default {@link CONFIGMAP_STATE_MAX_BYTES}. */
  readonly maxBytes?: number;
}

/** Another writer changed the ConfigMap since this store last read or wrote it. */
export class StateConflictError extends Error {}

export class ConfigMapStateStore implements UsageStateStore {
  readonly maxBytes: number;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;
  /** The ConfigMap as last read or written; undefined: not read yet, null: it does not exist. */
  #object: V1ConfigMap | null | undefined;

  constructor(opts: ConfigMapStateStoreOptions) {
    this.#core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = opts.namespace;
    this.#name = opts.name;
    this.maxBytes = opts.maxBytes ?? CONFIGMAP_STATE_MAX_BYTES;
  }

  /** `namespace/name`. */
  get where(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  /**
   * Reads the ConfigMap, and makes it (empty) when it does not exist, so that a missing ConfigMap
   * or permission is reported when the agent starts rather than when usage is first saved.
   */
  async prepare(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      throw new Error(`cannot read the ConfigMap ${this.where} that keeps unsent usage: ${errorText(err)}`, { cause: err });
    }
    if (this.#object !== null) return;
    try {
      this.#object = await this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body: this.#body({}) });
    } catch (err) {
      throw new Error(
        `the ConfigMap ${this.where} that keeps unsent usage does not exist and cannot be made (apply deploy/agent/state-configmap.yaml): ${errorText(err)}`,
        { cause: err },
      );
    }
  }

  async load(): Promise<string | undefined> {
    try {
      this.#object = await this.#core.readNamespacedConfigMap({ name: this.#name, namespace: this.#namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      this.#object = null;
    }
    return this.#object?.data?.[STATE_KEY];
  }

  async save(text: string): Promise<void> {
    checkSize(text, this.maxBytes);
    // Not read yet, or missing when last looked: it may have been applied since.
    if (!this.#object) await this.load();
    const current = this.#object;
    try {
      this.#object = current
        ? await this.#core.replaceNamespacedConfigMap({
            name: this.#name,
            namespace: this.#namespace,
            body: { ...current, data: { ...current.data, [STATE_KEY]: text } },
          })
        : await this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body: this.#body({ [STATE_KEY]: text }) });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 409 || (code === 404 && current)) {
        // Read again, so that the next save is made against what is there now.
        this.#object = undefined;
        await this.load().catch(() => {});
        throw new StateConflictError(`the ConfigMap ${this.where} changed under the agent (${code}); the next save writes over it`);
      }
      throw err;
    }
  }

  #body(data: Record<string, string>): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.#name,
        namespace: this.#namespace,
        labels: { 'app.kubernetes.io/name': 'tokenpool-agent', 'app.kubernetes.io/component': 'agent', 'app.kubernetes.io/part-of': 'tokenpool' },
      },
      data,
    };
  }
}
