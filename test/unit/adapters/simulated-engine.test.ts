import { expect } from 'chai';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { SimulatedEngine, countTokens } from '../../../adapters/simulated/engine.js';
import type { ServedRequest, SimulatedEngineOptions } from '../../../adapters/simulated/engine.js';
import { SimulatedCluster } from '../../../adapters/simulated/cluster.js';
import { OUTPUT_TOKENS_PER_MIN_PER_DEVICE, SimulatedServing } from '../../../adapters/simulated/serving.js';
import { parseTokenCounters } from '../../../adapters/kubernetes/prometheus-text.js';
import type { DesiredPlacement } from '../../../adapters/platform-client.js';

const MODEL = 'qwen2.5-7b-instruct';
const KEY = 'sk-serving-test';
const MESSAGES = [
  { role: 'system' as const, content: 'You answer for the Guangzhou Transport Bureau.' },
  { role: 'user' as const, content: '你好, how busy is Tianhe today?' },
];

describe('SimulatedEngine', () => {
  const engines: SimulatedEngine[] = [];
  const served: ServedRequest[] = [];
  // Called with each request the engines serve; one that answers true is done waiting.
  let waiters: ((s: ServedRequest) => boolean)[] = [];

  function onServed(s: ServedRequest): void {
    served.push(s);
    waiters = waiters.filter((w) => !w(s));
  }

  async function engine(opts: Partial<SimulatedEngineOptions> = {}): Promise<SimulatedEngine> {
    const e = await SimulatedEngine.start({ model: MODEL, servingKey: KEY, tokensPerSecond: 1e6, onServed, ...opts });
    engines.push(e);
    return e;
  }

  function client(e: SimulatedEngine, apiKey = KEY): OpenAI {
    return new OpenAI({ baseURL: `${e.url}/v1`, apiKey, maxRetries: 0 });
  }

  async function metrics(e: SimulatedEngine) {
    const res = await fetch(`${e.url}/metrics`);
    expect(res.status).to.equal(200);
    return parseTokenCounters(await res.text())!;
  }

  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
    served.length = 0;
    waiters = [];
  });

  it('answers a chat completion with usage, the same text for the same prompt', async () => {
    const e = await engine();
    const openai = client(e);
    const a = await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 20 });
    const b = await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 20 });
    expect(a.object).to.equal('chat.completion');
    expect(a.model).to.equal(MODEL);
    const text = a.choices[0]!.message.content!;
    expect(a.choices[0]!.message.role).to.equal('assistant');
    expect(b.choices[0]!.message.content).to.equal(text);
    expect(text.split(' ').length).to.equal(a.usage!.completion_tokens);
    expect(a.usage!.completion_tokens).to.be.within(1, 20);
    expect(a.choices[0]!.finish_reason).to.equal(a.usage!.completion_tokens === 20 ? 'length' : 'stop');
    // Each message: its role, then one token per CJK character or run of other characters: 1+7, 1+(2+6).
    expect(a.usage).to.deep.include({ prompt_tokens: 17, total_tokens: 17 + a.usage!.completion_tokens });
    expect(countTokens('你好, how busy')).to.equal(5);
    const other = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'something else entirely' }], max_tokens: 20 });
    expect(other.choices[0]!.message.content).to.not.equal(text);
  });

  it('generates max_tokens with ignore_eos, and 64 tokens at most by default', async () => {
    const e = await engine();
    const res = await fetch(`${e.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 300, ignore_eos: true }),
    });
    const body = (await res.json()) as OpenAI.ChatCompletion;
    expect(body.usage!.completion_tokens).to.equal(300);
    expect(body.choices[0]!.finish_reason).to.equal('length');
    const plain = await client(e).chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(plain.usage!.completion_tokens).to.be.at.most(64);
  });

  it('streams chat chunks that add up to the same answer, with a last usage chunk when asked', async () => {
    const e = await engine();
    const openai = client(e);
    const whole = await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 40 });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: MESSAGES,
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).to.deep.equal([]);
    expect(last.usage).to.deep.equal(whole.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.object === 'chat.completion.chunk')).to.equal(true);
    expect(chunks[0]!.choices[0]!.delta.role).to.equal('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).to.equal(whole.choices[0]!.message.content);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).to.equal(whole.choices[0]!.finish_reason);
    // Without include_usage no chunk has a usage field, as OpenAI's do not.
    const bare = await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 5, stream: true });
    for await (const c of bare) expect(c).to.not.have.property('usage');
  });

  it('ends a raw stream with data: [DONE]', async () => {
    const e = await engine();
    const res = await fetch(`${e.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'Summarise the port report', max_tokens: 3, stream: true }),
    });
    expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).to.equal('data: [DONE]');
    expect(events.slice(0, -1).every((ev) => ev.startsWith('data: {'))).to.equal(true);
  });

  it("carries the usage so far on every chunk with vLLM's continuous_usage_stats", async () => {
    const e = await engine();
    const res = await fetch(`${e.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: MESSAGES,
        max_tokens: 6,
        ignore_eos: true,
        stream: true,
        stream_options: { continuous_usage_stats: true },
      }),
    });
    const chunks = (await res.text())
      .split('\n\n')
      .filter((ev) => ev.startsWith('data: {'))
      .map((ev) => JSON.parse(ev.slice(6)) as ChatCompletionChunk);
    // The role chunk, six tokens, the finish chunk; no usage-only chunk without include_usage.
    expect(chunks.map((c) => c.usage?.completion_tokens)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 6]);
    expect(chunks.every((c) => c.usage?.prompt_tokens === 17 && c.choices.length === 1)).to.equal(true);
  });

  it('answers legacy completions, streamed and not', async () => {
    const e = await engine();
    const openai = client(e);
    const whole = await openai.completions.create({ model: MODEL, prompt: 'Summarise the port report', max_tokens: 12 });
    expect(whole.object).to.equal('text_completion');
    expect(whole.usage).to.deep.include({ prompt_tokens: 4 });
    const stream = await openai.completions.create({
      model: MODEL,
      prompt: 'Summarise the port report',
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) {
      expect(c.object).to.equal('text_completion');
      text += c.choices[0]?.text ?? '';
      usage = c.usage;
    }
    expect(text).to.equal(whole.choices[0]!.text);
    expect(usage).to.deep.equal(whole.usage);
  });

  it('embeds deterministically, as floats and as the base64 the openai client asks for', async () => {
    const e = await engine();
    const openai = client(e);
    const a = await openai.embeddings.create({ model: MODEL, input: ['traffic on the bridge', '你好'] });
    const b = await openai.embeddings.create({ model: MODEL, input: ['traffic on the bridge', '你好'], encoding_format: 'float' });
    expect(a.usage).to.deep.equal({ prompt_tokens: 6, total_tokens: 6 });
    expect(a.data.map((d) => d.index)).to.deep.equal([0, 1]);
    expect(b.data[0]!.embedding).to.have.length(256);
    expect(Array.from(a.data[0]!.embedding)).to.deep.equal(b.data[0]!.embedding);
    expect(b.data[0]!.embedding).to.not.deep.equal(b.data[1]!.embedding);
    const norm = Math.sqrt(b.data[0]!.embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).to.be.closeTo(1, 1e-5);
    const small = await openai.embeddings.create({ model: MODEL, input: 'x', dimensions: 8, encoding_format: 'float' });
    expect(small.data[0]!.embedding).to.have.length(8);
  });

  it('lists its model and answers health and metrics without a key', async () => {
    const e = await engine();
    const models = await client(e).models.list();
    expect(models.data.map((m) => m.id)).to.deep.equal([MODEL]);
    expect((await fetch(`${e.url}/health`)).status).to.equal(200);
    expect(await metrics(e)).to.deep.include({ engine: 'vllm', promptTokensTotal: 0, generationTokensTotal: 0 });
  });

  it('refuses a wrong key with 401 and another model with 404 model_not_found', async () => {
    const e = await engine();
    const wrong = await client(e, 'sk-wrong')
      .chat.completions.create({ model: MODEL, messages: MESSAGES })
      .catch((err: unknown) => err);
    expect(wrong).to.be.instanceOf(OpenAI.AuthenticationError);
    expect((wrong as InstanceType<typeof OpenAI.AuthenticationError>).code).to.equal('invalid_api_key');
    const noKey = await fetch(`${e.url}/v1/models`);
    expect(noKey.status).to.equal(401);
    expect(await noKey.json()).to.have.nested.property('error.type', 'invalid_request_error');
    const other = await client(e)
      .chat.completions.create({ model: 'deepseek-v3', messages: MESSAGES })
      .catch((err: unknown) => err);
    expect(other).to.be.instanceOf(OpenAI.NotFoundError);
    expect((other as InstanceType<typeof OpenAI.NotFoundError>).code).to.equal('model_not_found');
    expect(served).to.deep.equal([]);
  });

  it('answers bad bodies with OpenAI-shaped 400s, and too large ones with 413', async () => {
    const e = await engine();
    const post = (body: string) =>
      fetch(`${e.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
    for (const body of [
      '{not json',
      '[]',
      JSON.stringify({ messages: MESSAGES }),
      JSON.stringify({ model: MODEL }),
      JSON.stringify({ model: MODEL, messages: [] }),
      JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 0 }),
    ]) {
      const res = await post(body);
      expect(res.status, body).to.equal(400);
      const json = (await res.json()) as { error: { message: string; type: string } };
      expect(json.error.type, body).to.equal('invalid_request_error');
      expect(json.error.message, body).to.be.a('string');
    }
    const big = await post(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] }));
    expect(big.status).to.equal(413);
    expect(await big.json()).to.have.nested.property('error.type', 'invalid_request_error');
  });

  it('counts on /metrics exactly the usage it served', async () => {
    const e = await engine();
    const openai = client(e);
    const usages: { prompt: number; generation: number }[] = [];
    const add = (u: { prompt_tokens: number; completion_tokens?: number } | null | undefined) =>
      usages.push({ prompt: u!.prompt_tokens, generation: u!.completion_tokens ?? 0 });
    add((await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 30 })).usage);
    add((await openai.completions.create({ model: MODEL, prompt: 'one two three', max_tokens: 7 })).usage);
    add((await openai.embeddings.create({ model: MODEL, input: 'four five' })).usage);
    for await (const c of await openai.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } })) {
      if (c.usage) add(c.usage);
    }
    const sum = usages.reduce((t, u) => ({ prompt: t.prompt + u.prompt, generation: t.generation + u.generation }), { prompt: 0, generation: 0 });
    expect(sum.generation).to.be.above(0);
    expect(await metrics(e)).to.deep.include({ promptTokensTotal: sum.prompt, generationTokensTotal: sum.generation });
    expect(e.counters).to.deep.equal({ promptTokensTotal: sum.prompt, generationTokensTotal: sum.generation });
  });

  it('paces tokens at its throughput', async () => {
    const e = await engine({ tokensPerSecond: 200 });
    const started = performance.now();
    const answer = await client(e).completions.create({
      model: MODEL,
      prompt: 'pace',
      max_tokens: 40,
      ignore_eos: true,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(answer.usage!.completion_tokens).to.equal(40);
    // 40 tokens at 200 per second take at least 200 ms.
    expect(performance.now() - started).to.be.at.least(195);
  });

  it('stops generating when the client leaves mid-stream, and counts what it produced', async () => {
    const e = await engine({ tokensPerSecond: 100 });
    const ended = new Promise<ServedRequest>((resolve) => waiters.push((x) => x.stream && (resolve(x), true)));
    const ac = new AbortController();
    const stream = await client(e).chat.completions.create(
      { model: MODEL, messages: MESSAGES, max_tokens: 10_000, stream: true, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: ac.signal },
    );
    let received = 0;
    await (async () => {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) received += 1;
        if (received === 3) ac.abort();
      }
    })().catch((err: unknown) => expect(err).to.be.instanceOf(OpenAI.APIUserAbortError));
    const s = await ended;
    expect(s.aborted).to.equal(true);
    expect(s.completionTokens).to.be.within(3, 100);
    expect(e.inFlight).to.equal(0);
    expect((await metrics(e)).generationTokensTotal).to.equal(s.completionTokens);
  });

  it('cuts answers in progress when it closes', async () => {
    const e = await engine({ tokensPerSecond: 100 });
    const pending = client(e)
      .chat.completions.create({ model: MODEL, messages: MESSAGES, max_tokens: 10_000, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((err: unknown) => err);
    while (e.inFlight === 0) await new Promise((r) => setImmediate(r));
    await e.close();
    expect(await pending).to.be.instanceOf(OpenAI.APIConnectionError);
    expect(served).to.have.length(1);
    expect(served[0]!.aborted).to.equal(true);
  });
});

describe('SimulatedCluster serving', () => {
  const placement: DesiredPlacement = {
    id: 'pl-1',
    workloadId: 'wl-1',
    model: MODEL,
    deviceModel: 'NVIDIA-H100-80GB-HBM3',
    profile: 'NVIDIA-H100-80GB',
    resourceName: 'nvidia.com/gpu',
    replicas: 2,
    devicesPerReplica: 4,
    servingKey: KEY,
  };
  let cluster: SimulatedCluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('reports endpoints of its ready replicas that answer with the placement servingKey', async () => {
    cluster = new SimulatedCluster(
      { name: 'tianhe-1', region: 'tianhe', nodes: [{ name: 'n1', deviceModel: placement.deviceModel, devices: 8 }] },
      { tokensPerSecondPerDevice: 1e5 },
    );
    await cluster.reconcile([placement]);
    expect(await cluster.running()).to.deep.equal([{ id: 'pl-1', readyReplicas: 0, endpoints: [] }]);
    await cluster.reconcile([placement]);
    const [running] = await cluster.running();
    expect(running!.readyReplicas).to.equal(2);
    expect(running!.endpoints).to.have.length(2);
    for (const url of running!.endpoints!) {
      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const answer = await new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 }).chat.completions.create({
        model: MODEL,
        messages: MESSAGES,
        max_tokens: 5,
      });
      expect(answer.usage!.completion_tokens).to.be.within(1, 5);
    }
    // A failed node takes its replicas and their servers with it.
    cluster.failDevices('n1', 8);
    expect(await cluster.running()).to.deep.equal([{ id: 'pl-1', readyReplicas: 0, endpoints: [] }]);
    const gone = await fetch(`${running!.endpoints![0]}/health`).catch((err: unknown) => err);
    expect(gone).to.be.instanceOf(Error);
  });

  it('serves with a key of its own when the placement brings none, and stops serving a removed placement', async () => {
    cluster = new SimulatedCluster(
      { name: 'tianhe-1', region: 'tianhe', nodes: [{ name: 'n1', deviceModel: placement.deviceModel, devices: 8 }] },
      { readyAfterReconciles: 0 },
    );
    const { servingKey: _, ...withoutKey } = placement;
    await cluster.reconcile([{ ...withoutKey, replicas: 1 }]);
    const [url] = (await cluster.running())[0]!.endpoints!;
    const refused = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(refused.status).to.equal(401);
    await cluster.reconcile([]);
    expect(await cluster.running()).to.deep.equal([]);
    expect(await fetch(`${url}/health`).catch((err: unknown) => err)).to.be.instanceOf(Error);
  });

  it('reports at most 64 endpoints of a placement, as the heartbeat allows', async () => {
    cluster = new SimulatedCluster(
      { name: 'tianhe-1', region: 'tianhe', nodes: [{ name: 'n1', deviceModel: placement.deviceModel, devices: 70 }] },
      { readyAfterReconciles: 0 },
    );
    await cluster.reconcile([{ ...placement, replicas: 70, devicesPerReplica: 1 }]);
    const [running] = await cluster.running();
    expect(running!.readyReplicas).to.equal(70);
    expect(new Set(running!.endpoints)).to.have.property('size', 64);
    expect(cluster.pods()).to.have.length(70);
  });

  it('reports to the usage reporter what the engines served, with background load only where asked', async () => {
    cluster = new SimulatedCluster(
      { name: 'tianhe-1', region: 'tianhe', nodes: [{ name: 'n1', deviceModel: placement.deviceModel, devices: 8 }] },
      { readyAfterReconciles: 0, tokensPerSecondPerDevice: 1e5 },
    );
    await cluster.reconcile([
      { ...placement, id: 'pl-gw', workloadId: 'wl-gw', replicas: 1 },
      { ...placement, id: 'pl-direct', workloadId: 'wl-direct', replicas: 1 },
    ]);
    const serving = new SimulatedServing(cluster, () => 0.5, { background: (workloadId) => workloadId === 'wl-direct' });
    const t0 = Date.parse('2026-12-07T08:00:00Z');
    expect(serving.scrape(new Date(t0)).map((s) => [s.placementId, s.generationTokensTotal])).to.deep.equal([
      ['pl-gw', 0],
      ['pl-direct', 0],
    ]);
    const running = await cluster.running();
    const gw = running.find((p) => p.id === 'pl-gw')!.endpoints![0]!;
    const answer = await new OpenAI({ baseURL: `${gw}/v1`, apiKey: KEY, maxRetries: 0 }).chat.completions.create({
      model: MODEL,
      messages: MESSAGES,
      max_tokens: 9,
    });
    const later = serving.scrape(new Date(t0 + 60_000));
    const byPlacement = new Map(later.map((s) => [s.placementId, s]));
    expect(byPlacement.get('pl-gw')).to.deep.include({
      promptTokensTotal: answer.usage!.prompt_tokens,
      generationTokensTotal: answer.usage!.completion_tokens,
    });
    // A minute of a 4-device pod at the starting load (0.3 + 0.7 × 0.5), then 3 prompt tokens per output token.
    const direct = byPlacement.get('pl-direct')!;
    const generated = 1 * 4 * OUTPUT_TOKENS_PER_MIN_PER_DEVICE * (0.3 + 0.7 * 0.5);
    expect(direct.generationTokensTotal).to.equal(Math.floor(generated));
    expect(direct.promptTokensTotal).to.equal(Math.floor(generated * 3));
    const page = await (await fetch(`${running.find((p) => p.id === 'pl-direct')!.endpoints![0]}/metrics`)).text();
    expect(parseTokenCounters(page)).to.deep.include({ promptTokensTotal: direct.promptTokensTotal, generationTokensTotal: direct.generationTokensTotal });
  });
});
