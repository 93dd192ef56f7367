/**
 * The cluster agent program (`npm run agent`, or `node dist/adapters/cluster-agent.js` in a
 * container): configuration from the environment (adapters/agent-config.ts), JSON log lines on
 * stdout, a clear message and exit status 1 when the configuration is missing or wrong, and a
 * graceful stop on SIGTERM or SIGINT.
 */
import { AgentConfigError, loadAgentConfig } from './agent-config.js';
import { AgentStartError, startAgentRuntime } from './agent-runtime.js';

function log(msg: string, fields?: object): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

async function main(): Promise<void> {
  let runtime;
  try {
    const config = loadAgentConfig(process.env);
    runtime = await startAgentRuntime(config, { log });
    log('agent started', { platform: config.platformUrl, namespace: config.namespace, health: `${runtime.url}/healthz` });
  } catch (err) {
    if (err instanceof AgentConfigError || err instanceof AgentStartError) {
      process.stderr.write(`tokenpool-agent: ${err instanceof AgentConfigError ? 'invalid configuration: ' : ''}${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('agent stopping', { signal });
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`tokenpool-agent: stopping failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
