/**
 * The demo city's callers (`npm start`): the demo tenants' applications calling their models
 * through the token gateway, about one call a second, so that the cockpit's requests per second,
 * the request logs and the gateway's metering show traffic that went through the gateway the way a
 * tenant's own would: over HTTP, with an API key, in the OpenAI format, streamed or not.
 *
 * Each start makes every demo tenant a member key named `demo-traffic` (and revokes the one of the
 * start before: keys are stored hashed, so an old one cannot be read back).
 */
import type { AppContext } from '../server/context.js';
import type { Companion } from '../server/main.js';
import { decodeCursor } from '../server/repositories/paging.js';

/** The name of the keys the demo's callers use. */
export const DEMO_TRAFFIC_KEY = 'demo-traffic';
/** Between two calls, in ms. */
const INTERVAL_MS = 1000;
/** Calls in flight at most; a slower gateway sees fewer calls, never a pile. */
const MAX_IN_FLIGHT = 4;
const OPERATOR = { kind: 'operator', name: 'admin' } as const;

const PROMPTS = [
  'Summarise this morning’s congestion on the Huangpu Avenue corridor in two sentences.',
  'Draft a short notice about the weekend closure of the Zhujiang New Town metro exit.',
  'List three checks for a customs declaration of refrigerated goods.',
  'Suggest a polite reply to a citizen asking about clinic opening hours on public holidays.',
  'Explain in one paragraph what a reserved token throughput is.',
  '用两句话概括今天上午黄埔大道的拥堵情况。',
  '为一份冷链货物报关单列出三项检查要点。',
];

/** One demo tenant's caller: its key, and the models that key may call (read when first needed). */
interface Caller {
  readonly tenant: string;
  readonly key: string;
  models?: string[];
}

/** Makes each named tenant's `demo-traffic` key, revoking those of earlier starts. */
async function demoKeys(ctx: AppContext, tenantNames: readonly string[]): Promise<Caller[]> {
  const { tenants } = ctx.services;
  const callers: Caller[] = [];
  for (const name of tenantNames) {
    const tenant = await tenants.findByName(name);
    if (!tenant) continue;
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof tenants.listKeys>> = await tenants.listKeys(OPERATOR, tenant.id, {
        limit: 500,
        after: decodeCursor(cursor ?? undefined),
      });
      for (const k of page.items) if (k.name === DEMO_TRAFFIC_KEY && k.revokedAt === null) await tenants.revokeKey(OPERATOR, k.id);
      cursor = page.nextCursor;
    } while (cursor);
    const made = await tenants.createKey(OPERATOR, tenant.id, { name: DEMO_TRAFFIC_KEY, role: 'member' });
    callers.push({ tenant: name, key: made.key });
  }
  return callers;
}

/** Starts the demo tenants' callers against the gateway at `baseUrl`; stopped with the companion. */
export async function startDemoTraffic(ctx: AppContext, baseUrl: string, tenantNames: readonly string[]): Promise<Companion> {
  const callers = await demoKeys(ctx, tenantNames);
  const stopping = new AbortController();
  let inFlight = 0;
  let turn = 0;
  let calls = 0;
  let failed = 0;

  const call = async (caller: Caller, n: number): Promise<void> => {
    const headers = { authorization: `Bearer ${caller.key}`, 'content-type': 'application/json' };
    caller.models ??= ((await (await fetch(`${baseUrl}/v1/models`, { headers, signal: stopping.signal })).json()) as { data?: { id: string }[] }).data?.map(
      (m) => m.id,
    );
    const models = caller.models ?? [];
    if (models.length === 0) {
      caller.models = undefined; // none yet (the workloads are still being placed): ask again next time
      return;
    }
    const stream = n % 2 === 0;
    const res = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers,
      signal: stopping.signal,
      body: JSON.stringify({
        // n / callers: this caller's own count, so that it goes through all its models in turn.
        model: models[Math.floor(n / callers.length) % models.length],
        messages: [{ role: 'user', content: PROMPTS[n % PROMPTS.length] }],
        max_tokens: 64 + (n % 5) * 32,
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      }),
    });
    await res.arrayBuffer();
    calls += 1;
    if (!res.ok) failed += 1;
  };

  const timer = setInterval(() => {
    if (inFlight >= MAX_IN_FLIGHT || callers.length === 0) return;
    const n = turn++;
    inFlight += 1;
    call(callers[n % callers.length]!, n)
      .catch(() => {
        if (!stopping.signal.aborted) failed += 1;
      })
      .finally(() => (inFlight -= 1));
  }, INTERVAL_MS);
  timer.unref();
  const report = setInterval(() => ctx.log.info('demo traffic', { calls, failed }), 10 * 60_000);
  report.unref();
  ctx.log.info('demo traffic started', { callers: callers.length, intervalMs: INTERVAL_MS });

  return {
    async stop() {
      clearInterval(timer);
      clearInterval(report);
      stopping.abort();
    },
  };
}
