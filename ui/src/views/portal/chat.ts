/**
 * The playground's chat through the token gateway: POST /v1/chat/completions with `stream: true`
 * and `stream_options: { include_usage: true }`, read as server-sent events in OpenAI's chunk
 * format (`data: {…}` lines, `data: [DONE]` at the end, the usage in the last chunk before it).
 * The gateway takes the signed-in session as well as an API key (a session's call is metered to the
 * user, with no key), so the page calls it with the session's cookie and CSRF token: no secret is
 * asked for or held by the page.
 */
import { ApiError, toApiError } from '@/api/client';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** One parsed `data:` event: a text delta, the usage, the end, or an error the stream carried. */
export type ChatEvent = { kind: 'delta'; text: string } | { kind: 'usage'; usage: Usage } | { kind: 'done' } | { kind: 'error'; error: ApiError };

/**
 * Turns the stream's text, chunk by chunk, into events: lines may be split across chunks, and
 * lines other than `data:` (comments, `event:`, blank separators) are skipped.
 */
export class SseParser {
  private rest = '';

  push(chunk: string): ChatEvent[] {
    this.rest += chunk;
    const lines = this.rest.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    return lines.flatMap((l) => parseLine(l));
  }

  /** Whatever the stream left unterminated at its end. */
  end(): ChatEvent[] {
    const last = this.rest;
    this.rest = '';
    return parseLine(last);
  }
}

function parseLine(line: string): ChatEvent[] {
  if (!line.startsWith('data:')) return [];
  const data = line.slice(5).trim();
  if (!data) return [];
  if (data === '[DONE]') return [{ kind: 'done' }];
  let chunk: {
    choices?: { delta?: { content?: unknown } }[];
    usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
    error?: unknown;
  };
  try {
    chunk = JSON.parse(data) as typeof chunk;
  } catch {
    return [];
  }
  if (chunk.error) return [{ kind: 'error', error: toApiError(0, chunk) }];
  const out: ChatEvent[] = [];
  for (const c of chunk.choices ?? []) {
    if (typeof c.delta?.content === 'string' && c.delta.content) out.push({ kind: 'delta', text: c.delta.content });
  }
  const u = chunk.usage;
  if (u && typeof u.prompt_tokens === 'number') {
    out.push({ kind: 'usage', usage: { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0 } });
  }
  return out;
}

export interface ChatOptions {
  model: string;
  messages: ChatMessage[];
  csrfToken: string | undefined;
  signal: AbortSignal;
  onEvent: (e: ChatEvent) => void;
  fetch?: typeof fetch;
}

/**
 * Streams one answer, calling `onEvent` for each event; resolves with the request id when the
 * stream ends, throws the gateway's error (OpenAI's shape, as an ApiError) when it refused.
 * An abort ends it quietly (resolves) with what had arrived.
 */
export async function streamChat(o: ChatOptions): Promise<string | null> {
  const doFetch = o.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch('/v1/chat/completions', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(o.csrfToken ? { 'x-csrf-token': o.csrfToken } : {}) },
      body: JSON.stringify({ model: o.model, messages: o.messages, stream: true, stream_options: { include_usage: true } }),
      signal: o.signal,
    });
  } catch (e) {
    if (o.signal.aborted) return null;
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  const requestId = res.headers.get('x-request-id');
  if (!res.ok || !res.body) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: its text */
    }
    throw toApiError(res.status, body);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) o.onEvent(e);
    }
    for (const e of parser.push(decoder.decode())) o.onEvent(e);
    for (const e of parser.end()) o.onEvent(e);
  } catch (e) {
    if (o.signal.aborted) return requestId;
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  return requestId;
}
