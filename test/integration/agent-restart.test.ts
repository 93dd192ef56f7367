/**
 * The agent keeps what it owes (issue 14): an agent process reporting a serving engine's token
 * counters is killed while the platform is unreachable and started again, still in the outage; when
 * the platform comes back, the usage billed equals the counters' growth exactly — nothing lost,
 * nothing counted twice. The agent is a real process (usage-agent-fixture.ts) with its state in a
 * file; the outage is a relay to the platform that refuses connections.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseUsageState, type UsageState } from '../../adapters/usage-state.js';
import { FakeVllmMetrics } from '../fake-vllm.js';
import { Relay } from '../outage-relay.js';
import { until } from '../until.js';
import { describeOnDatabases } from './harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

describeOnDatabases('the agent keeps what it owes across a restart in an outage', (platform) => {
  let dir: string;
  let engine: FakeVllmMetrics;
  let relay: Relay;
  let agent: ChildProcess | undefined;
  let env: Record<string, string>;
  let tenant: { id: string; apiKey: string };
  let stderr = '';

  before(async function () {
    this.timeout(30_000);
    const p = platform();
    p.clock.set(new Date());
    dir = mkdtempSync(join(tmpdir(), 'tokenpool-agent-restart-'));
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Port', kind: 'enterprise' } })).body;
    const created = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'port-assistant', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, regions: ['nansha'], access: 'direct' },
    });
    expect(created.status).to.equal(202);
    await p.app.scheduler.runCycle();
    const w = (await p.request('GET', `/api/v1/workloads/${created.body.id}`, { token: tenant.apiKey })).body;
    expect(w.placements).to.have.length(1);
    engine = new FakeVllmMetrics(9_000, 900);
    await engine.start();
    relay = new Relay();
    await relay.start(new URL(p.baseUrl));
    env = {
      PLATFORM_URL: relay.url,
      AGENT_TOKEN: cluster.agentToken,
      CLUSTER_ID: cluster.id,
      METRICS_URL: engine.url,
      PLACEMENT_ID: w.placements[0].id,
      WORKLOAD_ID: w.id,
      ENGINE_STARTED_MS: String(Date.now() - 3_600_000), // before the agent's first scrape
      STATE_FILE: join(dir, 'usage-state.json'),
      INTERVAL_MS: '50',
    };
  });

  after(async () => {
    await kill();
    await relay?.stop();
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function startAgent(): void {
    agent = spawn(process.execPath, ['--import', 'tsx', 'test/integration/usage-agent-fixture.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    agent.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  }

  /** Kills the agent as a node failure would: no chance to save anything more. */
  async function kill(): Promise<void> {
    const a = agent;
    agent = undefined;
    if (!a || a.exitCode !== null) return;
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGKILL');
    await exited;
  }

  const saved = (): UsageState | undefined => {
    try {
      return parseUsageState(readFileSync(join(dir, 'usage-state.json'), 'utf8'));
    } catch {
      return undefined;
    }
  };
  /** Waits until the saved state shows the engine's current counters as its baseline. */
  const caughtUp = (what: string) =>
    until(
      what,
      async () => saved(),
      (s) => s?.baselines[0]?.[3] === engine.prompt && s.baselines[0][4] === engine.generation,
      20_000,
    );
  const usage = async () => (await platform().request('GET', `/api/v1/usage?tenantId=${tenant.id}`)).body as { inputTokens: number; outputTokens: number };

  it('bills exactly the counters’ growth, once, when the agent restarts mid-outage', async function () {
    this.timeout(90_000);
    startAgent();
    await caughtUp('the first baseline saved'); // the engine ran before the agent: its tokens so far are not this agent's
    engine.grow(1_000, 100);
    await until('the first growth billed', usage, (u) => u.inputTokens === 1_000 && u.outputTokens === 100, 20_000);

    relay.takeDown();
    for (let i = 0; i < 5; i++) {
      engine.grow(200 + i, 20 + i);
      await caughtUp(`window ${i} of the outage saved`);
    }
    expect(saved()!.queue.length, 'the outage’s windows wait in the saved state').to.equal(5);
    await kill();
    engine.grow(333, 33); // while no agent runs

    startAgent();
    await caughtUp('the new process continuing from the saved baseline');
    engine.grow(77, 7);
    await caughtUp('a window of the new process saved');
    expect(saved()!.queue.length, 'the first process’s windows and the new process’s').to.equal(7);
    expect((await usage()).inputTokens, 'nothing arrived during the outage').to.equal(1_000);

    relay.down = false;
    await until(
      'every window sent',
      async () => saved()?.queue.length,
      (n) => n === 0,
      20_000,
    );
    const billed = await usage();
    expect({ input: billed.inputTokens, output: billed.outputTokens }).to.deep.equal(engine.grown);
    const rows = await platform()
      .database.db.selectFrom('usage_events')
      .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.sum<string>('input_tokens').as('input')])
      .executeTakeFirstOrThrow();
    expect([Number(rows.n), Number(rows.input)], 'one stored event per window, none twice').to.deep.equal([8, engine.grown.input]);
    expect(stderr).to.match(/usage: restored the saved state/);
  });
});
