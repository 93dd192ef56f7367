/**
 * The agent program as an operator runs it (`node --import tsx adapters/cluster-agent.ts`): with
 * configuration missing or wrong it says what is wrong and exits with status 1, before touching
 * anything. (It running against a real cluster is test/k8s/.)
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPlatform, type TestPlatform } from './harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

/** Runs the program to its end; the test's own TOKENPOOL_* and KUBE* variables are not passed on. */
function runAgent(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOKENPOOL_|KUBE)/.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/cluster-agent.ts'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  return new Promise((done) => child.once('exit', (code) => done({ code, stderr })));
}

describe('the agent program: configuration errors', function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let dir: string;
  let token: string;

  before(async () => {
    p = await startPlatform('pglite');
    token = (await p.request('POST', '/api/v1/clusters', { body: { name: 'config-1', region: 'config' } })).body.agentToken;
    dir = mkdtempSync(join(tmpdir(), 'tokenpool-agent-'));
    // A well-formed kubeconfig for a server nobody runs.
    writeFileSync(
      join(dir, 'nowhere.yaml'),
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: c',
        'clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: abc}}]',
        'contexts: [{name: c, context: {cluster: k, user: u}}]',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; env: () => Record<string, string>; message: RegExp }[] = [
    { name: 'nothing configured', env: () => ({}), message: /TOKENPOOL_URL is required.*TOKENPOOL_AGENT_TOKEN is required/ },
    {
      name: 'a URL that is not one',
      env: () => ({ TOKENPOOL_URL: 'platform', TOKENPOOL_AGENT_TOKEN: token, KUBECONFIG: join(dir, 'nowhere.yaml') }),
      message: /TOKENPOOL_URL must be an http\(s\) URL/,
    },
    {
      name: 'a token that is not an agent token',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: 'tp_key_x', KUBECONFIG: join(dir, 'nowhere.yaml') }),
      message: /TOKENPOOL_AGENT_TOKEN must be an agent token/,
    },
    {
      name: 'no kubeconfig outside a cluster',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: token }),
      message: /KUBECONFIG is required outside a Kubernetes pod/,
    },
    {
      name: 'a bad port',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: token, KUBECONFIG: join(dir, 'nowhere.yaml'), TOKENPOOL_AGENT_PORT: 'http' }),
      message: /TOKENPOOL_AGENT_PORT must be a port number/,
    },
    {
      name: 'a kubeconfig file that does not exist',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: token, KUBECONFIG: join(dir, 'missing.yaml') }),
      message: /cannot read the Kubernetes configuration from .*missing\.yaml/,
    },
    {
      name: 'a token the platform refuses',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: 'tp_agent_not-issued', KUBECONFIG: join(dir, 'nowhere.yaml') }),
      message: /refused the agent token \(401\)/,
    },
    {
      name: 'a Kubernetes API server that does not answer',
      env: () => ({ TOKENPOOL_URL: p.baseUrl, TOKENPOOL_AGENT_TOKEN: token, KUBECONFIG: join(dir, 'nowhere.yaml') }),
      message: /Kubernetes API at https:\/\/127\.0\.0\.1:1 did not serve the agent: cannot list Nodes/,
    },
  ];
  for (const c of cases) {
    it(`exits 1 and says why: ${c.name}`, async () => {
      const { code, stderr } = await runAgent(c.env());
      expect(stderr).to.match(c.message);
      expect(stderr).to.match(/^tokenpool-agent: /);
      expect(code).to.equal(1);
    });
  }
});
