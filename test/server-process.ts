/**
 * The real server program as a child process (`node --import tsx bin/tokenpool.ts`), configured only
 * through its environment: started, waited for, signalled, killed. For the suites that test the
 * process itself (start-up, shutdown, a crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
export const STARTUP_MS = 45_000;

/** Variables of API.md "Running the server": never inherited from the test's own environment. */
export const SERVER_VARIABLES = [
  'PORT',
  'HOST',
  'DATABASE_URL',
  'TOKENPOOL_DATA_DIR',
  'TOKENPOOL_ADMIN_TOKEN',
  'TOKENPOOL_DEMO',
  'TOKENPOOL_CLUSTER_TTL_SECONDS',
  'TOKENPOOL_TIMEZONE',
  'TOKENPOOL_WORKERS',
  'TOKENPOOL_FAIR_SHARE_HALF_LIFE_SECONDS',
  'TOKENPOOL_METERING_JOURNAL',
  'TOKENPOOL_GATEWAY_PORT',
  'REDIS_URL',
  'TOKENPOOL_REDIS_TIMEOUT_MS',
  'TOKENPOOL_REDIS_PREFIX',
];

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One run of the server process. */
export class ServerProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;

  /** `program`: bin/tokenpool.ts, or bin/gateway.ts for a gateway process. */
  constructor(env: Record<string, string>, program = 'bin/tokenpool.ts') {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SERVER_VARIABLES.includes(k)));
    this.child = spawn(process.execPath, ['--import', 'tsx', program], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      });
    });
  }

  /** Resolves with the base URL once the process prints its `listening on` line. */
  async listening(timeoutMs = STARTUP_MS): Promise<string> {
    const printed = () => /listening on (http:\/\/\S+:\d+)/.exec(this.stdout)?.[1];
    const stdout = this.child.stdout!;
    const seen = new Promise<string | Exit>((resolve) => {
      // Registered after the constructor's listener, so this.stdout already holds the chunk.
      const check = () => {
        const url = printed();
        if (url) {
          stdout.off('data', check);
          resolve(url);
        }
      };
      stdout.on('data', check);
      void this.exited.then((exit) => {
        stdout.off('data', check);
        resolve(printed() ?? exit);
      });
      check();
    });
    const url = await within(seen, timeoutMs, () => `the server did not print "listening on" within ${timeoutMs} ms:\n${this.output()}`);
    if (typeof url !== 'string') throw new Error(`the server exited (${url.code ?? url.signal}) before listening:\n${this.output()}`);
    return url;
  }

  /** The admin token printed on first start, if any. */
  printedAdminToken(): string | undefined {
    return /\b(tp_admin_[A-Za-z0-9_-]+)/.exec(this.stdout)?.[1];
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Sends SIGTERM and waits for the exit. */
  async terminate(timeoutMs = 20_000): Promise<Exit> {
    this.signal('SIGTERM');
    return within(this.exited, timeoutMs, () => `the server did not exit within ${timeoutMs} ms of SIGTERM:\n${this.output()}`);
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  output(): string {
    return `--- stdout\n${this.stdout}--- stderr\n${this.stderr.slice(-4000)}`;
  }
}

const running = new Set<ServerProcess>();

/** Kills whatever server a test left running, whatever happened. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const p of left) p.kill();
  await Promise.all(left.map((p) => p.exited));
}

/** `promise`, or a failure saying `message` (made when the time is up) after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(typeof message === 'string' ? message : message())), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
