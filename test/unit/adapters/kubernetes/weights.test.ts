import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { deploymentFor, type ServingConfig } from '../../../../adapters/kubernetes/deployment.js';
import {
  CACHE_PATH,
  cacheDirOf,
  COMPLETE_MARKER,
  DEFAULT_S3_IMAGE,
  offeredKinds,
  WEIGHTS_PATH,
  weightsFor,
  type WeightsConfig,
} from '../../../../adapters/kubernetes/weights.js';
import type { DesiredPlacement, WeightSource } from '../../../../adapters/platform-client.js';
import { VLLM_CUDA } from '../../../engine-specs.js';

const NS = 'tokenpool-workloads';
const HOST_CACHE: WeightsConfig = { cache: { hostPath: '/var/lib/tokenpool/weights' } };
const serving = (weights: WeightsConfig = HOST_CACHE): ServingConfig => ({ image: 'vllm/vllm-openai:v0.8.5', port: 8000, weights });

function aPlacement(overrides: Partial<DesiredPlacement> = {}): DesiredPlacement {
  return {
    id: 'pl_weights',
    workloadId: 'wl_weights',
    model: 'qwen2.5-7b-instruct',
    deviceModel: 'NVIDIA-H100-80GB-HBM3',
    profile: 'NVIDIA-H100-80GB',
    resourceName: 'nvidia.com/gpu',
    replicas: 1,
    devicesPerReplica: 1,
    servingKey: 'sk-test',
    engine: VLLM_CUDA,
    servedName: 'qwen-7b',
    ...overrides,
  };
}

const podOf = (d: V1Deployment) => d.spec!.template.spec!;
const serving0 = (d: V1Deployment): V1Container => podOf(d).containers[0]!;
const argAfter = (c: V1Container, flag: string) => c.args![c.args!.indexOf(flag) + 1];
const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('weights: rendering each source kind', () => {
  it('no source: {model} and {servedName} as before weights, no weights volumes', () => {
    const d = deploymentFor(aPlacement({ servedName: undefined }), undefined, NS, serving());
    const c = serving0(d);
    expect(argAfter(c, '--model')).to.equal('qwen2.5-7b-instruct');
    expect(argAfter(c, '--served-model-name')).to.equal('qwen2.5-7b-instruct');
    expect(podOf(d).volumes!.map((v) => v.name)).to.deep.equal(['dshm']);
    expect(podOf(d)).not.to.have.property('initContainers');
  });

  it('pvc: the claim mounted read-only, {model} the directory inside it, {servedName} the served name', () => {
    const d = deploymentFor(aPlacement({ source: { kind: 'pvc', claim: 'qwen-weights', path: 'Qwen2.5-7B-Instruct' } }), undefined, NS, serving({}));
    const c = serving0(d);
    expect(argAfter(c, '--model')).to.equal(`${WEIGHTS_PATH}/Qwen2.5-7B-Instruct`);
    expect(argAfter(c, '--served-model-name')).to.equal('qwen-7b');
    expect(podOf(d).volumes).to.deep.include({ name: 'weights', persistentVolumeClaim: { claimName: 'qwen-weights', readOnly: true } });
    expect(c.volumeMounts).to.deep.include({ name: 'weights', mountPath: WEIGHTS_PATH, readOnly: true });
    expect(podOf(d)).not.to.have.property('initContainers');
  });

  it('hostPath: the node directory mounted read-only (it must exist), {model} the mount', () => {
    const d = deploymentFor(aPlacement({ source: { kind: 'hostPath', path: '/data/models/qwen' } }), undefined, NS, serving({}));
    expect(argAfter(serving0(d), '--model')).to.equal(WEIGHTS_PATH);
    expect(podOf(d).volumes).to.deep.include({ name: 'weights', hostPath: { path: '/data/models/qwen', type: 'Directory' } });
    expect(serving0(d).volumeMounts).to.deep.include({ name: 'weights', mountPath: WEIGHTS_PATH, readOnly: true });
  });

  it('huggingface: an init container with the serving image downloads through the mirror into the cache', () => {
    const source: WeightSource = { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct', mirror: 'https://hf-mirror.com', revision: 'main' };
    const d = deploymentFor(aPlacement({ source }), undefined, NS, serving());
    const dir = `${CACHE_PATH}/${cacheDirOf(source)}`;
    expect(dir).to.match(/\/huggingface\/Qwen--Qwen2\.5-7B-Instruct@main-[0-9a-f]{8}$/);
    expect(argAfter(serving0(d), '--model')).to.equal(dir);
    const init = podOf(d).initContainers![0]!;
    expect(init.image).to.equal('vllm/vllm-openai:v0.8.5');
    expect(init.command!.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(init.command!.join(' ')).to.include('snapshot_download').and.include(COMPLETE_MARKER);
    expect(envOf(init)).to.deep.equal({
      TP_WEIGHTS_DIR: dir,
      TP_WEIGHTS_ID: 'Qwen/Qwen2.5-7B-Instruct',
      TP_WEIGHTS_REVISION: 'main',
      HF_ENDPOINT: 'https://hf-mirror.com',
    });
    expect(init.volumeMounts).to.deep.equal([{ name: 'weights-cache', mountPath: CACHE_PATH }]);
    expect(podOf(d).volumes).to.deep.include({ name: 'weights-cache', hostPath: { path: '/var/lib/tokenpool/weights', type: 'DirectoryOrCreate' } });
    expect(serving0(d).volumeMounts).to.deep.include({ name: 'weights-cache', mountPath: CACHE_PATH, readOnly: true });
  });

  it('modelscope: only with a configured image; the id and revision as variables, a PVC cache', () => {
    const source: WeightSource = { kind: 'modelscope', id: 'qwen/Qwen2.5-7B-Instruct' };
    expect(() => deploymentFor(aPlacement({ source }), undefined, NS, serving())).to.throw(/modelscope cannot be loaded/);
    const config: WeightsConfig = { cache: { claim: 'weights-cache' }, downloaders: { modelscope: { image: 'registry.example.cn/modelscope:1.20' } } };
    const d = deploymentFor(aPlacement({ source }), undefined, NS, serving(config));
    const init = podOf(d).initContainers![0]!;
    expect(init.image).to.equal('registry.example.cn/modelscope:1.20');
    expect(init.command!.join(' ')).to.include('from modelscope import snapshot_download');
    expect(envOf(init)).to.include({ TP_WEIGHTS_ID: 'qwen/Qwen2.5-7B-Instruct' }).and.not.have.property('TP_WEIGHTS_REVISION');
    expect(podOf(d).volumes).to.deep.include({ name: 'weights-cache', persistentVolumeClaim: { claimName: 'weights-cache' } });
  });

  it('s3: the AWS CLI image syncs the URL, keys from the named Secret, the endpoint for S3-compatible stores', () => {
    const source: WeightSource = { kind: 's3', url: 's3://models/qwen2.5-7b', secret: 'model-store', endpoint: 'https://minio.example.cn' };
    const d = deploymentFor(aPlacement({ source }), undefined, NS, serving());
    const init = podOf(d).initContainers![0]!;
    expect(init.image).to.equal(DEFAULT_S3_IMAGE);
    expect(init.command!.join(' ')).to.include('aws s3 sync');
    const env = envOf(init);
    expect(env).to.include({ TP_WEIGHTS_URL: 's3://models/qwen2.5-7b', AWS_ENDPOINT_URL: 'https://minio.example.cn' });
    expect(env.AWS_ACCESS_KEY_ID).to.deep.equal({ secretKeyRef: { name: 'model-store', key: 'AWS_ACCESS_KEY_ID' } });
    expect(env.AWS_SECRET_ACCESS_KEY).to.deep.equal({ secretKeyRef: { name: 'model-store', key: 'AWS_SECRET_ACCESS_KEY' } });
    expect(env.AWS_SESSION_TOKEN).to.deep.equal({ secretKeyRef: { name: 'model-store', key: 'AWS_SESSION_TOKEN', optional: true } });
  });

  it('a configured command and image replace the defaults; the wrapper still skips a complete directory', () => {
    const config: WeightsConfig = { ...HOST_CACHE, downloaders: { huggingface: { image: 'mirror.example.cn/hf-cli:1', command: ['hf', 'download', 'x'] } } };
    const init = podOf(deploymentFor(aPlacement({ source: { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct' } }), undefined, NS, serving(config)))
      .initContainers![0]!;
    expect(init.image).to.equal('mirror.example.cn/hf-cli:1');
    expect(init.command!.slice(-3)).to.deep.equal(['hf', 'download', 'x']);
  });

  it("a non-root engine: the pod-wide runAsNonRoot stays unless the init container runs another image (the AWS CLI's)", () => {
    const nonRoot = { ...VLLM_CUDA, runAsNonRoot: true };
    const hf = deploymentFor(aPlacement({ engine: nonRoot, source: { kind: 'huggingface', id: 'a/b' } }), undefined, NS, serving());
    expect(podOf(hf).securityContext).to.deep.equal({ runAsNonRoot: true });
    expect(podOf(hf).initContainers![0]!.securityContext).to.include({ runAsNonRoot: true });
    const s3 = deploymentFor(aPlacement({ engine: nonRoot, source: { kind: 's3', url: 's3://models/a', secret: 's' } }), undefined, NS, serving());
    expect(podOf(s3)).not.to.have.property('securityContext');
    expect(serving0(s3).securityContext).to.include({ runAsNonRoot: true });
  });

  it('the default container (no engine) gets the path and served name too', () => {
    const d = deploymentFor(aPlacement({ engine: undefined, source: { kind: 'hostPath', path: '/m' } }), undefined, NS, serving());
    expect(argAfter(serving0(d), '--model')).to.equal(WEIGHTS_PATH);
    expect(argAfter(serving0(d), '--served-model-name')).to.equal('qwen-7b');
    expect(serving0(d).volumeMounts).to.deep.equal([{ name: 'weights', mountPath: WEIGHTS_PATH, readOnly: true }]);
  });

  it('refuses, for the placement alone, a kind it does not know, a kind not allowed, or a download without a cache', () => {
    expect(() => weightsFor({ kind: 'unknown', sent: 'ftp' }, 'img', HOST_CACHE)).to.throw(/"ftp".*upgrade the agent/);
    expect(() => weightsFor({ kind: 'hostPath', path: '/m' }, 'img', { kinds: ['pvc'] })).to.throw(/hostPath cannot be loaded/);
    expect(() => weightsFor({ kind: 's3', url: 's3://a/b', secret: 's' }, 'img', {})).to.throw(/no weights cache is configured/);
  });

  it('offers pvc and hostPath always, downloads with a cache and an image, cut to the allowed kinds', () => {
    expect(offeredKinds({})).to.deep.equal(['hostPath', 'pvc']);
    expect(offeredKinds(HOST_CACHE)).to.deep.equal(['hostPath', 'huggingface', 'pvc', 's3']);
    expect(offeredKinds({ ...HOST_CACHE, downloaders: { modelscope: { image: 'ms' } } })).to.deep.equal(['hostPath', 'huggingface', 'modelscope', 'pvc', 's3']);
    expect(offeredKinds({ ...HOST_CACHE, kinds: ['pvc', 'huggingface'] })).to.deep.equal(['huggingface', 'pvc']);
  });

  it('cache directories differ by id, revision, URL and endpoint, not by mirror', () => {
    const hf = (over: object) => cacheDirOf({ kind: 'huggingface', id: 'a/b', ...over });
    expect(hf({})).to.equal(hf({ mirror: 'https://hf-mirror.com' }));
    expect(hf({})).not.to.equal(hf({ revision: 'v2' }));
    const s3 = (over: object) => cacheDirOf({ kind: 's3', url: 's3://m/a', secret: 's', ...over });
    expect(s3({})).not.to.equal(s3({ endpoint: 'https://minio' }));
    expect(s3({})).not.to.equal(s3({ url: 's3://m/b' }));
  });

  it("the init container's wrapper downloads once, marks the directory, skips it next time, and leaves no mark on failure", () => {
    const init = podOf(deploymentFor(aPlacement({ source: { kind: 'huggingface', id: 'a/b' } }), undefined, NS, serving())).initContainers![0]!;
    const root = mkdtempSync(join(tmpdir(), 'tp-weights-'));
    try {
      const dir = join(root, 'cache', 'a');
      const counter = join(root, 'runs');
      writeFileSync(counter, '');
      // The wrapper (sh -c WRAPPER name …) with a fake download: it appends to the counter and writes a file.
      const [, , wrapper, name] = init.command!;
      const run = (download: string) =>
        execFileSync('sh', ['-c', wrapper!, name!, 'sh', '-c', download], { env: { ...process.env, TP_WEIGHTS_DIR: dir }, stdio: 'pipe' });
      expect(() => run('exit 3')).to.throw();
      expect(readdirSync(root)).to.include('cache');
      expect(readdirSync(dir)).not.to.include(COMPLETE_MARKER);
      run(`echo x >> ${counter}; echo w > "$TP_WEIGHTS_DIR/model.safetensors"`);
      run(`echo x >> ${counter}`);
      expect(readdirSync(dir).sort()).to.deep.equal([COMPLETE_MARKER, 'model.safetensors']);
      expect(execFileSync('wc', ['-l', counter]).toString().trim().split(' ')[0]).to.equal('1');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
