/**
 * The gateway benchmark's simulated serving engine, as a process of its own so that it shares no
 * event loop with the load generator: OpenAI's `/v1/chat/completions`, answered at once with fixed
 * `usage` (prompt and completion tokens as its arguments say), or, with `stream: true`, one content
 * chunk per completion token and, when `stream_options.include_usage` asks, a usage chunk. A body
 * field `bench_hold_ms` spreads a stream's chunks over that long.
 *
 * Arguments: the serving key, the number of ports, prompt tokens, completion tokens. Requires
 * `Authorization: Bearer <serving key>`, as a real engine started with `--api-key` does. Listens on
 * loopback on that many free ports and prints `listening <port> <port>…`. `GET /stats` answers what it served, split by whether
 * the call came from the gateway (it sends `x-request-id`) or not, and the most streams it held open
 * at once (`?resetPeak=1` starts that count again).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Served {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

const [servingKey, portsArg, promptArg, completionArg] = process.argv.slice(2);
const ports = Number(portsArg);
const PROMPT_TOKENS = Number(promptArg);
const COMPLETION_TOKENS = Number(completionArg);
if (!servingKey || !(ports >= 1) || !(PROMPT_TOKENS >= 0) || !(COMPLETION_TOKENS >= 1)) {
  process.stderr.write('usage: gateway-upstream.ts <serving key> <ports> <prompt tokens> <completion tokens>\n');
  process.exit(2);
}
const expected = `Bearer ${servingKey}`;
const served: Record<'gateway' | 'other', Served> = {
  gateway: { requests: 0, promptTokens: 0, completionTokens: 0 },
  other: { requests: 0, promptTokens: 0, completionTokens: 0 },
};
let openStreams = 0;
let peakOpenStreams = 0;
let refused = 0;

const usage = { prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS, total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS };
const answer = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 0,
  model: 'bench',
  choices: [{ index: 0, message: { role: 'assistant', content: 'one two three four five' }, finish_reason: 'stop' }],
  usage,
});
const chunk = (i: number) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'bench',
    choices: [{ index: 0, delta: { content: `t${i} ` }, finish_reason: i === COMPLETION_TOKENS - 1 ? 'stop' : null }],
  })}\n\n`;
const chunks = Array.from({ length: COMPLETION_TOKENS }, (_, i) => chunk(i));
const usageChunk = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model: 'bench', choices: [], usage })}\n\n`;
const done = 'data: [DONE]\n\n';

function count(req: http.IncomingMessage, res: http.ServerResponse, tokens: boolean): void {
  res.once('finish', () => {
    const lane = served[req.headers['x-request-id'] === undefined ? 'other' : 'gateway'];
    lane.requests += 1;
    // A stream without its usage chunk reports no usage; the engine still produced the same tokens.
    if (tokens) {
      lane.promptTokens += PROMPT_TOKENS;
      lane.completionTokens += COMPLETION_TOKENS;
    }
  });
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'GET' && (req.url === '/stats' || req.url === '/stats?resetPeak=1')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...served, peakOpenStreams, refused }));
    if (req.url.endsWith('resetPeak=1')) peakOpenStreams = openStreams;
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404).end();
    return;
  }
  if (req.headers.authorization !== expected) {
    refused += 1;
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad serving key"}}');
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    let body: { stream?: boolean; stream_options?: { include_usage?: boolean }; bench_hold_ms?: number };
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as typeof body;
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (body.stream !== true) {
      count(req, res, true);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
      return;
    }
    count(req, res, true);
    const withUsage = body.stream_options?.include_usage === true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const hold = Number(body.bench_hold_ms ?? 0);
    if (!(hold > 0)) {
      res.end(chunks.join('') + (withUsage ? usageChunk : '') + done);
      return;
    }
    openStreams += 1;
    peakOpenStreams = Math.max(peakOpenStreams, openStreams);
    res.once('close', () => (openStreams -= 1));
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(chunks[i]!);
      if (++i < chunks.length) return;
      clearInterval(timer);
      res.end((withUsage ? usageChunk : '') + done);
    }, hold / chunks.length);
  });
}

const listening = await Promise.all(
  Array.from(
    { length: ports },
    () =>
      new Promise<number>((resolve) => {
        const server = http.createServer(handle);
        server.keepAliveTimeout = 60_000;
        server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
      }),
  ),
);
process.stdout.write(`listening ${listening.join(' ')}\n`);
