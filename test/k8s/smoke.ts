/**
 * Smoke check of the test control plane: `npx tsx test/k8s/smoke.ts`.
 *
 * Starts etcd, kube-apiserver and kube-controller-manager (test/k8s/control-plane.ts), creates a
 * GPU Node and a Deployment through the REST API with the admin client certificate (plain
 * node:https), waits up to 60 s for the Deployment's ReplicaSet and Pod, and stops everything.
 * Exits 0 on success, 1 on failure, 2 when the binaries cannot be had (the reason is printed).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { startControlPlane, type ControlPlane } from './control-plane.js';

interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/** A tiny REST client that authenticates with the client certificate inlined in a kubeconfig. */
function apiFromKubeconfig(kubeconfig: string, server: string): Api {
  const field = (name: string) => {
    const m = new RegExp(`${name}: ([A-Za-z0-9+/=]+)`).exec(kubeconfig);
    if (!m) throw new Error(`no ${name} in the kubeconfig`);
    return Buffer.from(m[1]!, 'base64');
  };
  const tls = { ca: field('certificate-authority-data'), cert: field('client-certificate-data'), key: field('client-key-data') };
  return {
    call(method, path, body) {
      return new Promise((done, fail) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          new URL(path, server),
          {
            method,
            ...tls,
            timeout: 10_000,
            headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
          },
          (res) => {
            let text = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (text += c))
              .on('end', () => {
                let json: unknown = text;
                try {
                  json = JSON.parse(text);
                } catch {
                  /* not JSON */
                }
                done({ status: res.statusCode ?? 0, json });
              });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
        req.on('error', fail);
        req.end(payload);
      });
    },
  };
}

async function must(api: Api, method: string, path: string, body?: unknown): Promise<any> {
  const { status, json } = await api.call(method, path, body);
  if (status < 200 || status >= 300) throw new Error(`${method} ${path}: HTTP ${status} ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<number> {
  const t0 = Date.now();
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({ withControllerManager: true });
  } catch (err) {
    console.error(`smoke: no control plane: ${(err as Error).message}`);
    return 2;
  }
  try {
    console.log(`smoke: control plane at ${cp.server} from ${cp.binDir} in ${Date.now() - t0} ms`);
    if (readFileSync(cp.kubeconfigPath, 'utf8') !== cp.kubeconfig) throw new Error('kubeconfig text differs from the file');
    const api = apiFromKubeconfig(cp.kubeconfig, cp.server);

    const version = await must(api, 'GET', '/version');
    console.log(`smoke: server version ${version.gitVersion} (${version.goVersion})`);

    const node = await must(api, 'POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'gpu-node-1', labels: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } },
    });
    // A Node's capacity is status: set it through the status subresource, as a kubelet would.
    node.status = {
      capacity: { 'nvidia.com/gpu': '8', cpu: '64', memory: '512Gi', pods: '110' },
      allocatable: { 'nvidia.com/gpu': '8', cpu: '64', memory: '512Gi', pods: '110' },
    };
    const withStatus = await must(api, 'PUT', '/api/v1/nodes/gpu-node-1/status', node);
    if (withStatus.status?.capacity?.['nvidia.com/gpu'] !== '8') throw new Error(`node capacity not kept: ${JSON.stringify(withStatus.status)}`);
    console.log('smoke: node gpu-node-1 with nvidia.com/gpu=8');

    await must(api, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'smoke' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'smoke' } },
        template: {
          metadata: { labels: { app: 'smoke' } },
          spec: {
            containers: [{ name: 'serve', image: 'vllm/vllm-openai:latest', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
            nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
          },
        },
      },
    });
    const t1 = Date.now();
    const rs = await waitFor('ReplicaSet of Deployment smoke', 60_000, async () => {
      const list = await must(api, 'GET', '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dsmoke');
      return list.items.find((r: any) => r.metadata.ownerReferences?.some((o: any) => o.kind === 'Deployment' && o.name === 'smoke'));
    });
    console.log(`smoke: ReplicaSet ${rs.metadata.name} after ${Date.now() - t1} ms`);
    const pod = await waitFor('Pod of ReplicaSet', 60_000 - (Date.now() - t1), async () => {
      const list = await must(api, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dsmoke');
      return list.items.find((p: any) => p.metadata.ownerReferences?.some((o: any) => o.kind === 'ReplicaSet' && o.name === rs.metadata.name));
    });
    console.log(`smoke: Pod ${pod.metadata.name} (phase ${pod.status?.phase}) after ${Date.now() - t1} ms`);

    // A user certificate from userKubeconfig authenticates, and RBAC applies to it.
    const userKc = readFileSync(await cp.userKubeconfig('smoke-user', ['smoke-group']), 'utf8');
    const denied = await apiFromKubeconfig(userKc, cp.server).call('GET', '/api/v1/nodes');
    if (denied.status !== 403 || !String(denied.json?.message).includes('"smoke-user"')) {
      throw new Error(`expected 403 for smoke-user, got ${denied.status} ${JSON.stringify(denied.json).slice(0, 300)}`);
    }
    console.log('smoke: user smoke-user authenticated and denied by RBAC as expected');
    return 0;
  } finally {
    await cp.stop();
    console.log(`smoke: stopped after ${Date.now() - t0} ms`);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`smoke: FAILED: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
