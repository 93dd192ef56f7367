/**
 * A simulated serving engine: a real OpenAI-compatible HTTP server on loopback for one ready
 * replica, answering as `vllm serve <model> --api-key <servingKey>` does, so that the gateway, the
 * `openai` client and curl meet the same protocol as in a real cluster.
 *
 * Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings` and
 * `GET /v1/models` (each needs `Authorization: Bearer <servingKey>`), `GET /metrics` (vLLM's token
 * counters) and `GET /health` (both open, as vLLM's are). Errors are OpenAI-shaped:
 * `{ "error": { "message", "type", "param", "code" } }`.
 *
 * Text is deterministic: a fixed word list walked by a generator seeded with a hash of the prompt,
 * one word per token, so the same request always gets the same answer. A prompt is counted as one
 * token per CJK character and one per run of other non-space characters; a chat message adds one
 * token for its role. Tokens are produced at `tokensPerSecond` (each answer on its own, whatever
 * else the engine serves), so a stream takes real time; when the client leaves, generation stops
 * and the counters keep what was produced.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { vllmMetricsPage } from '../kubernetes/prometheus-text.js';

/** Options of {@link SimulatedEngine.start}. */
export interface SimulatedEngineOptions {
  /** The one model name it serves; any other is `404 model_not_found`. */
  readonly model: string;
  /** The API key callers must send as `Authorization: Bearer <servingKey>`. */
  readonly servingKey: string;
  /** Tokens each answer is generated at, per second (> 0). Tests pass a large one. */
  readonly tokensPerSecond: number;
  /** Address to listen on. Default `127.0.0.1` (a free port is picked). */
  readonly host?: string;
  /** Length of embedding vectors when the request names no `dimensions`. Default 256. */
  readonly embeddingDimensions?: number;
  /** Told of every request that generated or embedded anything, once it ended. */
  readonly onServed?: (served: ServedRequest) => void;
  /** Epoch ms, for `created`. Default `Date.now`. */
  readonly now?: () => number;
}

/** A request the engine served, as counted in its `/metrics`. */
export interface ServedRequest {
  readonly route: 'chat' | 'completions' | 'embeddings';
  readonly stream: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** The client left, or the engine closed, before the answer was complete. */
  readonly aborted: boolean;
}

/** Completion tokens of an answer whose request sets no `max_tokens`. */
export const DEFAULT_MAX_TOKENS = 64;
/** Context length the engine claims: `max_tokens` above it is refused, as vLLM refuses it. */
export const MAX_MODEL_LEN = 32_768;
/** Shortest wait between two steps of generation, in ms. */
const STEP_MS = 10;
/** Largest request body read, in bytes; a larger one is `413`. */
export const MAX_BODY_BYTES = 1024 * 1024;

// One string split once: an array literal of 64 words would be formatted one per line.
const WORDS: readonly string[] = (
  'city pool token model river bridge signal traffic harbour district cluster device replica answer request service ' +
  'public record summary report the a of and to in for with on by quickly safely today together clearly often now ' +
  'here again soon serves routes counts bills reads writes checks plans finds keeps green busy quiet open exact ' +
  'shared local steady bright careful Guangzhou Nansha Tianhe Pearl'
).split(' ');

const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}';
const TOKEN = new RegExp(`[${CJK}]|[^\\s${CJK}]+`, 'gu');

/** Tokens of `text` as the engine counts them: one per CJK character, one per run of other non-space characters. */
export function countTokens(text: string): number {
  let n = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text)) n += 1;
  return n;
}

/** An OpenAI error answer. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const invalid = (message: string, param: string | null = null) => new ApiError(400, message, 'invalid_request_error', null, param);

type Route = 'chat' | 'completions' | 'embeddings' | 'models';
const ROUTES: ReadonlyMap<string, { method: string; route: Route }> = new Map([
  ['/v1/chat/completions', { method: 'POST', route: 'chat' }],
  ['/v1/completions', { method: 'POST', route: 'completions' }],
  ['/v1/embeddings', { method: 'POST', route: 'embeddings' }],
  ['/v1/models', { method: 'GET', route: 'models' }],
]);

/** What a generation request asks, once validated. */
interface Generation {
  readonly route: 'chat' | 'completions';
  readonly promptText: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly ignoreEos: boolean;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
}

/**
 * One engine; `start()` listens, `close()` stops it (answers in progress end as a dying pod's do:
 * the connection is cut). Counters only grow while it runs; a new engine starts from zero.
 */
export class SimulatedEngine {
  readonly model: string;
  /** The key callers must present; the agent may change it when the platform rotates it. */
  servingKey: string;
  /** When the engine started listening, epoch ms. */
  readonly startedAtMs: number;
  readonly #server: Server;
  readonly #opts: SimulatedEngineOptions;
  readonly #inFlight = new Set<AbortController>();
  #prompt = 0;
  #generation = 0;
  #url = '';
  #closing: Promise<void> | undefined;

  private constructor(opts: SimulatedEngineOptions) {
    if (!(opts.tokensPerSecond > 0)) throw new RangeError('tokensPerSecond must be positive');
    this.#opts = opts;
    this.model = opts.model;
    this.servingKey = opts.servingKey;
    this.startedAtMs = (opts.now ?? Date.now)();
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        // A request body that broke off, or a write to a connection already gone: nobody to tell.
        if (!res.headersSent && !res.destroyed) sendError(res, new ApiError(500, 'internal error', 'internal_server_error'));
        else res.destroy();
      });
    });
  }

  /** Starts an engine on a free port of `host`. */
  static async start(opts: SimulatedEngineOptions): Promise<SimulatedEngine> {
    const engine = new SimulatedEngine(opts);
    const host = opts.host ?? '127.0.0.1';
    engine.#server.listen(0, host);
    await once(engine.#server, 'listening');
    const { port } = engine.#server.address() as AddressInfo;
    engine.#url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return engine;
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`; the OpenAI routes are under `<url>/v1`. */
  get url(): string {
    return this.#url;
  }

  /** Token counters since start: what `/metrics` shows. */
  get counters(): { readonly promptTokensTotal: number; readonly generationTokensTotal: number } {
    return { promptTokensTotal: this.#prompt, generationTokensTotal: this.#generation };
  }

  /** Chat and completion requests generating now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Adds tokens served to callers that are not simulated over HTTP (the demo's background load). */
  countServed(promptTokens: number, generationTokens: number): void {
    this.#prompt += Math.max(0, Math.floor(promptTokens));
    this.#generation += Math.max(0, Math.floor(generationTokens));
  }

  /** Stops listening, cuts every connection and aborts generation in progress. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const ac of this.#inFlight) ac.abort();
      const closed = once(this.#server, 'close');
      this.#server.close();
      this.#server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = headerValue(req.headers['x-request-id']) ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?', 1)[0]!;
    try {
      if (path === '/health' || path === '/metrics') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `${req.method} not allowed`, 'invalid_request_error');
        const body = path === '/health' ? '' : vllmMetricsPage(this.model, this.#prompt, this.#generation);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const route = ROUTES.get(path);
      if (!route) throw new ApiError(404, `no route ${path}`, 'invalid_request_error', 'not_found');
      if (req.method !== route.method) throw new ApiError(405, `${req.method} not allowed on ${path}`, 'invalid_request_error');
      if (!this.#authorized(req)) throw new ApiError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      if (route.route === 'models') {
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: this.model, object: 'model', created: this.#created(), owned_by: 'vllm', root: this.model, parent: null, max_model_len: MAX_MODEL_LEN }],
        });
        return;
      }
      const body = await readJsonObject(req);
      if (typeof body.model !== 'string' || body.model === '') throw invalid('`model` must be a non-empty string', 'model');
      if (body.model !== this.model) {
        throw new ApiError(404, `The model \`${body.model}\` does not exist.`, 'invalid_request_error', 'model_not_found', 'model');
      }
      if (route.route === 'embeddings') this.#embed(body, res);
      else await this.#generate(parseGeneration(route.route, body), requestId, res);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 413) res.setHeader('connection', 'close');
      sendError(res, err);
    }
  }

  #authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!.trim());
    const want = Buffer.from(this.servingKey);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  #created(): number {
    return Math.floor((this.#opts.now ?? Date.now)() / 1000);
  }

  #embed(body: Record<string, unknown>, res: ServerResponse): void {
    const inputs = parseEmbeddingInput(body.input);
    const dimensions = body.dimensions ?? this.#opts.embeddingDimensions ?? 256;
    if (!Number.isInteger(dimensions) || (dimensions as number) < 1 || (dimensions as number) > 4096) {
      throw invalid('`dimensions` must be an integer from 1 to 4096', 'dimensions');
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw invalid('`encoding_format` must be "float" or "base64"', 'encoding_format');
    let promptTokens = 0;
    const data = inputs.map((input, index) => {
      promptTokens += typeof input === 'string' ? countTokens(input) : input.length;
      const vector = embedding(typeof input === 'string' ? input : input.join(' '), dimensions as number);
      // base64 is the little-endian float32 array, which the openai client asks for by default.
      const value = format === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector);
      return { object: 'embedding', index, embedding: value };
    });
    this.#prompt += promptTokens;
    sendJson(res, 200, { object: 'list', data, model: this.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
    this.#opts.onServed?.({ route: 'embeddings', stream: false, promptTokens, completionTokens: 0, aborted: false });
  }

  async #generate(g: Generation, requestId: string, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    this.#inFlight.add(ac);
    res.once('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    // A client that left while its body was read closed the connection before the listener was there.
    if (res.socket?.destroyed ?? true) ac.abort();
    const { words, finishReason } = answerOf(g);
    const id = `${g.route === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId.replace(/[^a-zA-Z0-9]/g, '')}`;
    const created = this.#created();
    const object = g.route === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    let produced = 0;
    const usage = () => ({ prompt_tokens: g.promptTokens, completion_tokens: produced, total_tokens: g.promptTokens + produced });
    const chunk = (choice: Record<string, unknown> | undefined, withUsage: boolean) => {
      const c: Record<string, unknown> = { id, object, created, model: this.model, choices: choice ? [choice] : [] };
      if (g.includeUsage || g.continuousUsage) c.usage = withUsage ? usage() : null;
      return `data: ${JSON.stringify(c)}\n\n`;
    };
    const piece = (i: number) => (i === 0 ? words[0]! : ` ${words[i]!}`);
    const write = async (text: string) => {
      if (!res.write(text)) await once(res, 'drain', { signal: ac.signal });
    };
    // Prefill happens before the first token, so the prompt counts once generation starts.
    this.#prompt += g.promptTokens;
    try {
      if (g.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
        if (g.route === 'chat')
          await write(chunk({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }, g.continuousUsage));
      }
      const started = performance.now();
      const perMs = this.#opts.tokensPerSecond / 1000;
      while (produced < words.length) {
        // Tokens due by now, at least one; the rest wait for the next step. A step is at least
        // STEP_MS long, as an engine's decode steps are, so that a fast pace costs few timers.
        const due = Math.min(words.length, Math.max(produced + 1, Math.floor((performance.now() - started) * perMs)));
        let out = '';
        while (produced < due) {
          produced += 1;
          this.#generation += 1;
          if (!g.stream) continue;
          const text = piece(produced - 1);
          const choice =
            g.route === 'chat'
              ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
              : { index: 0, text, logprobs: null, finish_reason: null };
          out += chunk(choice, g.continuousUsage);
        }
        if (out) await write(out);
        if (produced >= words.length) break;
        const next = started + (produced + 1) / perMs - performance.now();
        await sleep(Math.max(STEP_MS, next), undefined, { signal: ac.signal });
      }
      if (ac.signal.aborted) return;
      const text = words.join(' ');
      if (g.stream) {
        const last =
          g.route === 'chat'
            ? { index: 0, delta: {}, logprobs: null, finish_reason: finishReason }
            : { index: 0, text: '', logprobs: null, finish_reason: finishReason };
        await write(chunk(last, g.continuousUsage));
        if (g.includeUsage) await write(chunk(undefined, true));
        res.end('data: [DONE]\n\n');
      } else {
        const choice =
          g.route === 'chat'
            ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason }
            : { index: 0, text, logprobs: null, finish_reason: finishReason };
        sendJson(res, 200, {
          id,
          object: g.route === 'chat' ? 'chat.completion' : 'text_completion',
          created,
          model: this.model,
          choices: [choice],
          usage: usage(),
        });
      }
    } catch (err) {
      // An abort while waiting (the client left, or the engine closes) ends the answer; nothing else is expected.
      if (!ac.signal.aborted) throw err;
    } finally {
      this.#inFlight.delete(ac);
      if (ac.signal.aborted) res.destroy();
      this.#opts.onServed?.({ route: g.route, stream: g.stream, promptTokens: g.promptTokens, completionTokens: produced, aborted: ac.signal.aborted });
    }
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.length <= 200 ? s : undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } });
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const tooLarge = () => new ApiError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`, 'invalid_request_error');
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  // Listeners rather than `for await`, which would destroy the socket on the way out and lose the 413.
  const raw = await new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off('data', onData);
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  if (!raw) throw tooLarge();
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalid('the body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Text of a message's `content`: a string, or the `text` of its text parts (other parts count nothing). */
function contentText(content: unknown, i: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isObject(part) && part.type === 'text' && typeof part.text === 'string' ? part.text : '')).join(' ');
  }
  throw invalid(`messages[${i}].content must be a string or an array of parts`, `messages[${i}].content`);
}

function parseGeneration(route: 'chat' | 'completions', body: Record<string, unknown>): Generation {
  let promptText: string;
  let promptTokens: number;
  if (route === 'chat') {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw invalid('`messages` must be a non-empty array', 'messages');
    const parts: string[] = [];
    promptTokens = 0;
    messages.forEach((m, i) => {
      if (!isObject(m) || typeof m.role !== 'string') throw invalid(`messages[${i}] must be an object with a role`, `messages[${i}]`);
      const text = contentText(m.content, i);
      parts.push(`${m.role}: ${text}`);
      promptTokens += 1 + countTokens(text);
    });
    promptText = parts.join('\n');
  } else {
    const prompt: unknown = Array.isArray(body.prompt) && body.prompt.length === 1 ? (body.prompt as unknown[])[0] : body.prompt;
    if (typeof prompt !== 'string') throw invalid('`prompt` must be a string (or an array of one string)', 'prompt');
    promptText = prompt;
    promptTokens = countTokens(prompt);
  }
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (limit !== undefined && limit !== null && (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_MODEL_LEN)) {
    throw invalid(`\`max_tokens\` must be an integer from 1 to ${MAX_MODEL_LEN}`, 'max_tokens');
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid('only `n: 1` is served', 'n');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw invalid('`stream` must be a boolean', 'stream');
  const opts = body.stream_options;
  if (opts !== undefined && opts !== null && !isObject(opts)) throw invalid('`stream_options` must be an object', 'stream_options');
  const stream = body.stream === true;
  return {
    route,
    promptText,
    promptTokens,
    maxTokens: (limit as number | null | undefined) ?? DEFAULT_MAX_TOKENS,
    // vLLM's extra sampling parameter: generate up to the limit whatever the text says.
    ignoreEos: body.ignore_eos === true,
    stream,
    includeUsage: stream && isObject(opts) && opts.include_usage === true,
    // vLLM's `continuous_usage_stats`: every chunk carries the usage so far.
    continuousUsage: stream && isObject(opts) && opts.continuous_usage_stats === true,
  };
}

function parseEmbeddingInput(input: unknown): (string | readonly number[])[] {
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  if (typeof input === 'string') return [input];
  if (isTokens(input)) return [input];
  if (Array.isArray(input) && input.length > 0 && input.length <= 2048 && input.every((v) => typeof v === 'string' || isTokens(v))) {
    return input;
  }
  throw invalid('`input` must be a string, an array of strings, or token arrays', 'input');
}

/** 32-bit FNV-1a of the text's UTF-16 code units. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** xorshift32 from a seed (never 0). */
function generator(seed: number): () => number {
  let x = seed || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

/**
 * The answer to a prompt: its natural length is 8 to 255 words (from the hash), cut at `maxTokens`
 * (`length`) or, with `ignoreEos`, always `maxTokens` words.
 */
function answerOf(g: Generation): { words: string[]; finishReason: 'stop' | 'length' } {
  const seed = hash(g.promptText);
  const natural = 8 + (seed % 248);
  const n = g.ignoreEos ? g.maxTokens : Math.min(natural, g.maxTokens);
  const next = generator(seed);
  const words = Array.from({ length: n }, () => WORDS[next() % WORDS.length]!);
  return { words, finishReason: !g.ignoreEos && natural <= g.maxTokens ? 'stop' : 'length' };
}

/** A unit vector of `dimensions` float32 components derived from the text. */
function embedding(text: string, dimensions: number): Float32Array {
  const next = generator(hash(text));
  const v = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    v[i] = next() / 0x80000000 - 1;
    norm += v[i]! * v[i]!;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale;
  return v;
}
