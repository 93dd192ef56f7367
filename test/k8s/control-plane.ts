/**
 * A real Kubernetes control plane on loopback for the agent's tests, as controller-runtime's
 * envtest starts one: etcd, kube-apiserver with client-certificate authentication and RBAC, and
 * (optionally) kube-controller-manager running the Deployment and ReplicaSet controllers so that
 * Deployments make Pods. No kubelet and no scheduler: tests play their part.
 *
 * The binaries come from test/k8s/assets.sh (KUBEBUILDER_ASSETS, the cache, or a build when
 * TOKENPOOL_K8S_BUILD=1). Certificates are made with openssl in a temporary directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export interface ControlPlane {
  /** A kubeconfig of a `system:masters` user. */
  readonly kubeconfigPath: string;
  /** The same kubeconfig as YAML text (certificates inline). */
  readonly kubeconfig: string;
  readonly server: string;
  readonly binDir: string;
  /** Stops kube-apiserver and starts it again on the same port and etcd (clients see it go away). */
  restartApiServer(downMs?: number): Promise<void>;
  /** Path of a kubeconfig whose client certificate says `user` in `groups`, signed by the cluster's CA. */
  userKubeconfig(user: string, groups: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
};
process.once('exit', killChildren);
// A signal ends Node without 'exit': kill the children, then let the signal do what it would have.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = () => {
    killChildren();
    if (process.listenerCount(sig) === 1) {
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    }
  };
  process.on(sig, onSignal);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** The directory holding the binaries, or an Error saying why there is none. */
export async function findAssets(): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(ROOT, 'test/k8s/assets.sh')], { env: process.env, maxBuffer: 64 * 1024 * 1024, timeout: 3 * 3600_000 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? '').trim().split('\n').pop();
    throw new Error(stderr || (err as Error).message, { cause: err });
  }
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A key and a certificate for `subject`, signed by the CA in `dir`. */
async function signed(dir: string, name: string, subject: string, ext?: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  );
  const extArgs: string[] = [];
  if (ext) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    extArgs.push('-extfile', `${name}.ext`);
  }
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    ...extArgs,
  );
}

function kubeconfigYaml(server: string, dir: string, name: string): string {
  const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${name}`,
    `clusters: [{name: test, cluster: {server: "${server}", certificate-authority-data: ${b64('ca.crt')}}}]`,
    `users: [{name: ${name}, user: {client-certificate-data: ${b64(`${name}.crt`)}, client-key-data: ${b64(`${name}.key`)}}}]`,
    `contexts: [{name: ${name}, context: {cluster: test, user: ${name}}}]`,
    '',
  ].join('\n');
}

function start(bin: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    log = (log + c).slice(-200_000);
  });
  child.once('exit', () => {
    children.delete(child);
    writeFileSync(logFile, log);
  });
  children.add(child);
  (child as ChildProcess & { lastLog: () => string }).lastLog = () => log.slice(-2000);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function get(url: string, dir: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(
      url,
      {
        ca: readFileSync(join(dir, 'ca.crt')),
        cert: readFileSync(join(dir, 'admin.crt')),
        key: readFileSync(join(dir, 'admin.key')),
        timeout: 2_000,
      },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => done({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

export async function startControlPlane(opts: { withControllerManager?: boolean } = {}): Promise<ControlPlane> {
  const binDir = await findAssets();
  for (const b of ['etcd', 'kube-apiserver', ...(opts.withControllerManager ? ['kube-controller-manager'] : [])]) {
    try {
      accessSync(join(binDir, b), constants.X_OK);
    } catch {
      throw new Error(`no executable ${b} in ${binDir}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tokenpool-k8s-'));
  tempDirs.add(dir);
  const started: ChildProcess[] = [];
  const stop = async () => {
    for (const c of started.reverse()) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    await openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=tokenpool-test-ca',
    );
    await signed(dir, 'apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\n');
    await signed(dir, 'admin', '/CN=admin/O=system:masters');
    await openssl(dir, 'genrsa', '-out', 'sa.key', '2048');
    await openssl(dir, 'rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;
    started.push(
      start(
        join(binDir, 'etcd'),
        [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync',
        ],
        join(dir, 'etcd.log'),
      ),
    );
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--cert-dir=${join(dir, 'certs')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      // The `kubernetes` Service cannot have a loopback endpoint: without this the apiserver logs
      // "unable to sync kubernetes service" every few seconds. Nothing here uses that Service.
      '--endpoint-reconciler-type=none',
    ];
    let apiserver = start(join(binDir, 'kube-apiserver'), apiserverArgs, join(dir, 'kube-apiserver.log'));
    started.push(apiserver);
    const apiserverReady = async () => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited: ${(apiserver as ChildProcess & { lastLog: () => string }).lastLog()}`);
        const ready = await get(`${server}/readyz`, dir).catch(() => undefined);
        if (ready?.status === 200) return;
        if (Date.now() > deadline) throw new Error(`kube-apiserver not ready within 90 s: ${ready?.body ?? 'no answer'}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await apiserverReady();
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    const kubeconfig = kubeconfigYaml(server, dir, 'admin');
    writeFileSync(kubeconfigPath, kubeconfig);
    if (opts.withControllerManager) {
      started.push(
        start(
          join(binDir, 'kube-controller-manager'),
          [
            `--kubeconfig=${kubeconfigPath}`,
            '--leader-elect=false',
            '--controllers=deployment,replicaset,garbagecollector',
            '--use-service-account-credentials=false',
            '--secure-port=0',
            '--concurrent-deployment-syncs=2',
            '--concurrent-replicaset-syncs=2',
          ],
          join(dir, 'kube-controller-manager.log'),
        ),
      );
    }
    let users = 0;
    return {
      kubeconfigPath,
      kubeconfig,
      server,
      binDir,
      async restartApiServer(downMs = 1_000) {
        await stopChild(apiserver);
        await new Promise((r) => setTimeout(r, downMs));
        const next = start(join(binDir, 'kube-apiserver'), apiserverArgs, join(dir, 'kube-apiserver.log'));
        started.splice(started.indexOf(apiserver), 1, next);
        apiserver = next;
        await apiserverReady();
      },
      async userKubeconfig(user, groups) {
        const name = `user${++users}`;
        await signed(dir, name, `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`);
        const path = join(dir, `${name}.kubeconfig`);
        writeFileSync(path, kubeconfigYaml(server, dir, name));
        return path;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
