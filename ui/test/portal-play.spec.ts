import { describe, expect, it } from 'vitest';
import { SseParser, streamChat, type ChatEvent } from '../src/views/portal/chat';
import { answerCost, billedStd, dec, pricePerMillion, stdTokens, sumStd, toFixed } from '../src/views/portal/cost';
import { snippet } from '../src/views/portal/snippets';

const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

describe('the playground’s stream', () => {
  it('parses data lines split across chunks, the usage chunk and [DONE]', () => {
    const p = new SseParser();
    const text =
      ': comment\n' +
      chunk({ choices: [{ delta: { role: 'assistant' } }] }) +
      chunk({ choices: [{ delta: { content: 'Hel' } }] }) +
      chunk({ choices: [{ delta: { content: 'lo' } }], usage: null }) +
      chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }) +
      'data: [DONE]\n\n';
    const events: ChatEvent[] = [];
    for (let i = 0; i < text.length; i += 7) events.push(...p.push(text.slice(i, i + 7)));
    events.push(...p.end());
    expect(events).toEqual([
      { kind: 'delta', text: 'Hel' },
      { kind: 'delta', text: 'lo' },
      { kind: 'usage', usage: { promptTokens: 5, completionTokens: 2 } },
      { kind: 'done' },
    ]);
  });

  it('turns an error in the stream into an ApiError', () => {
    const [e] = new SseParser().push(chunk({ error: { message: 'The replicas failed.', type: 'server_error', code: 'upstream_error' } }));
    expect(e).toMatchObject({ kind: 'error' });
    expect((e as { error: Error }).error.message).toBe('The replicas failed.');
  });

  it('sends stream and include_usage with the CSRF token, and throws the gateway’s OpenAI-shaped refusal', async () => {
    let sent: RequestInit | undefined;
    const refuse = (async (_url: string, init: RequestInit) => {
      sent = init;
      return new Response(JSON.stringify({ error: { message: 'Model not allowed for this key.', type: 'invalid_request_error', code: 'model_not_allowed' } }), {
        status: 403,
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    const err = await streamChat({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      csrfToken: 'tok',
      signal: new AbortController().signal,
      onEvent: () => {},
      fetch: refuse,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, detail: 'Model not allowed for this key.' });
    expect(JSON.parse(sent!.body as string)).toMatchObject({ model: 'm', stream: true, stream_options: { include_usage: true } });
    expect((sent!.headers as Record<string, string>)['x-csrf-token']).toBe('tok');
  });

  it('streams events and ends quietly when stopped', async () => {
    const controller = new AbortController();
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(chunk({ choices: [{ delta: { content: 'A' } }] })));
      },
      pull() {
        return new Promise<void>((_, reject) => controller.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
      },
    });
    const ok = (async () => new Response(stream, { status: 200, headers: { 'x-request-id': 'r1' } })) as unknown as typeof fetch;
    const events: ChatEvent[] = [];
    const done = streamChat({ model: 'm', messages: [], csrfToken: undefined, signal: controller.signal, onEvent: (e) => events.push(e), fetch: ok });
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    expect(await done).toBe('r1');
    expect(events).toEqual([{ kind: 'delta', text: 'A' }]);
  });
});

describe('an answer’s cost', () => {
  it('computes standard tokens and money exactly', () => {
    expect(stdTokens(10, 0.25, 3, 7)).toBe('77.5');
    expect(stdTokens(1, 0.1, 3, 0)).toBe('0.3'); // 0.1 × 3 in floats is 0.30000000000000004
    expect(answerCost('77.5', '2.00')).toBe('0.000155');
    expect(answerCost('1000000', '8.00')).toBe('8.000000');
    expect(toFixed(dec('0.0000005'), 6)).toBe('0.000001');
  });

  it('takes the model’s own price, a multiplier of the plan’s, or the plan’s', () => {
    const plan = { type: 'unit' as const, pricePerMillionStd: '2.00', modelPrices: { a: { multiplier: '1.5' }, b: { pricePerMillionStd: '9.00' } } };
    expect(pricePerMillion(plan, 'a')).toBe('3.000000');
    expect(pricePerMillion(plan, 'b')).toBe('9.00');
    expect(pricePerMillion(plan, 'c')).toBe('2.00');
    expect(pricePerMillion({ type: 'periodic', overagePricePerMillionStd: null }, 'c')).toBe(null);
    expect(pricePerMillion({ type: 'periodic', overagePricePerMillionStd: '8.00' }, 'c')).toBe('8.00');
  });

  it('bills a periodic plan only past its included tokens, exactly; a unit plan all of it', () => {
    const periodic = { type: 'periodic' as const, includedStd: 1000, overagePricePerMillionStd: '8.00' };
    expect(billedStd(periodic, '0', '77.5')).toBe('0');
    expect(billedStd(periodic, '950.25', '77.5')).toBe('27.75');
    expect(billedStd(periodic, '1000', '77.5')).toBe('77.5');
    expect(billedStd(periodic, '5000.1', '0.3')).toBe('0.3');
    expect(billedStd({ type: 'unit', pricePerMillionStd: '2.00' }, '5000', '77.5')).toBe('77.5');
    expect(sumStd('950.25', '77.5')).toBe('1027.75');
    expect(sumStd('77.5', '-27.75')).toBe('49.75');
  });
});

describe('the snippets', () => {
  it('name the base URL and the model, with the key from the environment', () => {
    const curl = snippet('curl', 'https://pool.example/v1', 'qwen', "it's");
    expect(curl).toContain('https://pool.example/v1/chat/completions');
    expect(curl).toContain('$TOKENPOOL_API_KEY');
    expect(curl).toContain(`it'\\''s`);
    expect(snippet('python', 'https://pool.example/v1', 'qwen', 'hi')).toContain('base_url="https://pool.example/v1"');
    expect(snippet('node', 'https://pool.example/v1', 'qwen', 'hi')).toContain('model: "qwen"');
  });
});
