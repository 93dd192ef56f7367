/**
 * A placement's weights as pod spec parts: what `{model}` becomes, the volumes, the serving
 * container's mounts and, for sources that are downloaded, the init container that fetches them.
 *
 * - `pvc` and `hostPath` hold the weights already: mounted read-only at {@link WEIGHTS_PATH}.
 * - `huggingface`, `modelscope` and `s3` are downloaded by an init container into the agent's
 *   weights cache (a PVC or a node directory, configured on the agent), under a directory per
 *   source, and mounted read-only into the serving container at {@link CACHE_PATH}. A directory
 *   that holds {@link COMPLETE_MARKER} is complete: the init container then exits at once, so a
 *   restarted pod (or another on the same cache) does not download again. The marker is written
 *   only after the download command succeeded.
 *
 * Source values never become shell text: they reach the download command as environment
 * variables (`TP_WEIGHTS_DIR`, `TP_WEIGHTS_ID`, `TP_WEIGHTS_REVISION`, `TP_WEIGHTS_URL`,
 * `HF_ENDPOINT`, `AWS_ENDPOINT_URL`), and the command itself is an argument vector.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { WeightSource, WeightSourceKind } from '../platform-client.js';

export const WEIGHT_KINDS = ['pvc', 'hostPath', 'modelscope', 's3', 'huggingface'] as const satisfies readonly WeightSourceKind[];
/** The kinds an init container downloads. */
export const DOWNLOAD_KINDS = ['huggingface', 'modelscope', 's3'] as const satisfies readonly WeightSourceKind[];
export type DownloadKind = (typeof DOWNLOAD_KINDS)[number];

/** Where a PVC or host path holding the weights is mounted in the serving container. */
export const WEIGHTS_PATH = '/tokenpool/weights';
/** Where the weights cache is mounted (read-write in the init container, read-only in the serving one). */
export const CACHE_PATH = '/tokenpool/weights-cache';
/** The file that marks a cache directory as completely downloaded. */
export const COMPLETE_MARKER = '.tokenpool-complete';

/**
 * The AWS CLI's official image (AWS CLI v2 user guide, "Using the official AWS CLI version 2
 * Docker image"); its entrypoint is `aws`, which the command below replaces with `sh -c`.
 * `latest` until the operator pins the version they tested (TOKENPOOL_WEIGHTS_S3_IMAGE).
 */
export const DEFAULT_S3_IMAGE = 'amazon/aws-cli:latest';

/**
 * Default download commands. Hugging Face: `huggingface_hub.snapshot_download`, run with the
 * serving image's own Python — vLLM (and its vendor builds, and SGLang) depend on `transformers`,
 * which depends on `huggingface_hub`, so their images carry it; it honours `HF_ENDPOINT`.
 * ModelScope: `modelscope.snapshot_download`, which needs an image with the `modelscope` package;
 * vLLM's images do not carry it, so there is no default image (TOKENPOOL_WEIGHTS_MODELSCOPE_IMAGE).
 * S3: `aws s3 sync`, with `--endpoint-url` for S3-compatible services (MinIO, OSS…).
 */
export const DEFAULT_COMMANDS: Readonly<Record<DownloadKind, readonly string[]>> = {
  huggingface: [
    'python3',
    '-c',
    'import os\nfrom huggingface_hub import snapshot_download\nsnapshot_download(repo_id=os.environ["TP_WEIGHTS_ID"], revision=os.environ.get("TP_WEIGHTS_REVISION") or None, local_dir=os.environ["TP_WEIGHTS_DIR"])',
  ],
  modelscope: [
    'python3',
    '-c',
    'import os\nfrom modelscope import snapshot_download\nsnapshot_download(os.environ["TP_WEIGHTS_ID"], revision=os.environ.get("TP_WEIGHTS_REVISION") or None, local_dir=os.environ["TP_WEIGHTS_DIR"])',
  ],
  s3: ['sh', '-c', 'exec aws s3 sync "$TP_WEIGHTS_URL" "$TP_WEIGHTS_DIR" --only-show-errors ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"}'],
};

/** Skips a complete directory; otherwise runs the download command (`"$@"`) and then marks the directory complete. */
const WRAPPER = [
  'set -eu',
  `if [ -f "$TP_WEIGHTS_DIR/${COMPLETE_MARKER}" ]; then echo "weights already in $TP_WEIGHTS_DIR"; exit 0; fi`,
  'mkdir -p "$TP_WEIGHTS_DIR"',
  '"$@"',
  `touch "$TP_WEIGHTS_DIR/${COMPLETE_MARKER}"`,
].join('\n');

/** How one download kind runs: its image (absent: the defaults above) and command. */
export interface Downloader {
  readonly image?: string;
  readonly command?: readonly string[];
}

/** The agent's weights settings (agent-config.ts). */
export interface WeightsConfig {
  /** The kinds the operator allows on this cluster; absent: every kind this agent can load. */
  readonly kinds?: readonly WeightSourceKind[];
  /** The weights cache downloads go to; absent: nothing is downloaded (only pvc and hostPath). */
  readonly cache?: { readonly claim: string } | { readonly hostPath: string } | undefined;
  readonly downloaders?: Partial<Readonly<Record<DownloadKind, Downloader>>>;
}

/** The pod spec parts of a placement's weights. */
export interface WeightsPlan {
  /** What `{model}` becomes: the directory holding the weights in the serving container. */
  readonly modelPath: string;
  readonly volumes: readonly V1Volume[];
  /** Mounts of the serving container. */
  readonly mounts: readonly V1VolumeMount[];
  readonly initContainers: readonly V1Container[];
}

/** The image a download kind runs: configured, else its default; `{ engine: true }`: the serving container's image; null: none. */
function downloaderImage(kind: DownloadKind, config: WeightsConfig): { readonly image: string } | { readonly engine: true } | null {
  const configured = config.downloaders?.[kind]?.image;
  if (configured) return { image: configured };
  return kind === 'huggingface' ? { engine: true } : kind === 's3' ? { image: DEFAULT_S3_IMAGE } : null;
}

/** The kinds this agent can load: pvc and hostPath always, downloads with a cache and an image; cut to the allowed ones. */
export function offeredKinds(config: WeightsConfig): WeightSourceKind[] {
  const possible: WeightSourceKind[] = ['pvc', 'hostPath'];
  if (config.cache) possible.push(...DOWNLOAD_KINDS.filter((k) => downloaderImage(k, config) !== null));
  const allowed = config.kinds;
  return possible.filter((k) => !allowed || allowed.includes(k)).sort();
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * The cache directory of a downloaded source, relative to the cache: `<kind>/<readable>-<hash>`,
 * the hash over what identifies the content (id and revision; bucket URL and endpoint), so that
 * two sources never share a directory and a mirror change does not download again.
 */
export function cacheDirOf(source: Extract<WeightSource, { kind: DownloadKind }>): string {
  const identity = source.kind === 's3' ? [source.url, source.endpoint ?? ''] : [source.id, source.revision ?? ''];
  const readable = (source.kind === 's3' ? source.url.slice('s3://'.length) : `${source.id}${source.revision ? `@${source.revision}` : ''}`)
    .replace(/[^A-Za-z0-9._@-]+/g, '--')
    .slice(0, 100);
  return `${source.kind}/${readable}-${shortHash(JSON.stringify(identity))}`;
}

const readOnly = (name: string, mountPath: string): V1VolumeMount => ({ name, mountPath, readOnly: true });

/**
 * The weights of a placement as pod spec parts; undefined when it has no source (the engine
 * gets the model's name, as before weights). Throws, for this placement alone, on a source this
 * agent cannot load: an unknown kind, a kind the operator did not allow, or a download without a
 * cache or an image.
 */
export function weightsFor(source: WeightSource | undefined, servingImage: string, config: WeightsConfig): WeightsPlan | undefined {
  if (!source) return undefined;
  if (source.kind === 'unknown') throw new Error(`the platform sent weights of kind "${source.sent}", which this agent does not know; upgrade the agent`);
  if (!offeredKinds(config).includes(source.kind)) {
    throw new Error(
      `weights of kind ${source.kind} cannot be loaded on this cluster (${config.cache || !DOWNLOAD_KINDS.includes(source.kind as DownloadKind) ? 'not allowed or no downloader image configured' : 'no weights cache is configured'})`,
    );
  }
  switch (source.kind) {
    case 'pvc':
      return {
        modelPath: source.path ? `${WEIGHTS_PATH}/${source.path}` : WEIGHTS_PATH,
        volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: source.claim, readOnly: true } }],
        mounts: [readOnly('weights', WEIGHTS_PATH)],
        initContainers: [],
      };
    case 'hostPath':
      return {
        modelPath: WEIGHTS_PATH,
        volumes: [{ name: 'weights', hostPath: { path: source.path, type: 'Directory' } }],
        mounts: [readOnly('weights', WEIGHTS_PATH)],
        initContainers: [],
      };
    default:
      return downloaded(source, servingImage, config);
  }
}

function downloaded(source: Extract<WeightSource, { kind: DownloadKind }>, servingImage: string, config: WeightsConfig): WeightsPlan {
  const cache = config.cache!;
  const image = downloaderImage(source.kind, config)!;
  const dir = `${CACHE_PATH}/${cacheDirOf(source)}`;
  const env: V1EnvVar[] = [{ name: 'TP_WEIGHTS_DIR', value: dir }];
  if (source.kind === 's3') {
    env.push({ name: 'TP_WEIGHTS_URL', value: source.url });
    const key = (name: string, optional: boolean): V1EnvVar => ({
      name,
      valueFrom: { secretKeyRef: { name: source.secret, key: name, ...(optional ? { optional } : {}) } },
    });
    env.push(key('AWS_ACCESS_KEY_ID', false), key('AWS_SECRET_ACCESS_KEY', false), key('AWS_SESSION_TOKEN', true), key('AWS_DEFAULT_REGION', true));
    if (source.endpoint) env.push({ name: 'AWS_ENDPOINT_URL', value: source.endpoint });
  } else {
    env.push({ name: 'TP_WEIGHTS_ID', value: source.id });
    if (source.revision) env.push({ name: 'TP_WEIGHTS_REVISION', value: source.revision });
    if (source.kind === 'huggingface' && source.mirror) env.push({ name: 'HF_ENDPOINT', value: source.mirror });
  }
  const command = config.downloaders?.[source.kind]?.command ?? DEFAULT_COMMANDS[source.kind];
  const init: V1Container = {
    name: 'weights',
    image: 'engine' in image ? servingImage : image.image,
    command: ['sh', '-c', WRAPPER, 'tokenpool-weights', ...command],
    env,
    volumeMounts: [{ name: 'weights-cache', mountPath: CACHE_PATH }],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  const volume: V1Volume =
    'claim' in cache
      ? { name: 'weights-cache', persistentVolumeClaim: { claimName: cache.claim } }
      : { name: 'weights-cache', hostPath: { path: cache.hostPath, type: 'DirectoryOrCreate' } };
  return { modelPath: dir, volumes: [volume], mounts: [readOnly('weights-cache', CACHE_PATH)], initContainers: [init] };
}
