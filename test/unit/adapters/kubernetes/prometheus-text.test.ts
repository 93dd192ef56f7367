import { expect } from 'chai';
import { parseSampleLine, parseTokenCounters, vllmMetricsPage, type TokenCounters } from '../../../../adapters/kubernetes/prometheus-text.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

/** A trimmed page as vLLM 0.8 serves it (prometheus_client: family without `_total`, `_created` samples). */
const VLLM_PAGE = lines(
  '# HELP python_gc_objects_collected_total Objects collected during gc',
  '# TYPE python_gc_objects_collected_total counter',
  'python_gc_objects_collected_total{generation="0"} 12345.0',
  '# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.',
  '# TYPE process_start_time_seconds gauge',
  'process_start_time_seconds 1.76430000052e+09',
  '# HELP vllm:num_requests_running Number of requests currently running on GPU.',
  '# TYPE vllm:num_requests_running gauge',
  'vllm:num_requests_running{engine="0",model_name="qwen2.5-72b-instruct"} 4.0',
  '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
  '# TYPE vllm:prompt_tokens counter',
  'vllm:prompt_tokens_total{engine="0",model_name="qwen2.5-72b-instruct"} 1200.0',
  'vllm:prompt_tokens_created{engine="0",model_name="qwen2.5-72b-instruct"} 1.7643000007e+09',
  'vllm:prompt_tokens_total{engine="1",model_name="qwen2.5-72b-instruct"} 800.0',
  'vllm:prompt_tokens_created{engine="1",model_name="qwen2.5-72b-instruct"} 1.7643000007e+09',
  '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
  '# TYPE vllm:generation_tokens counter',
  'vllm:generation_tokens_total{engine="0",model_name="qwen2.5-72b-instruct"} 3e2',
  'vllm:generation_tokens_created{engine="0",model_name="qwen2.5-72b-instruct"} 1.7643000007e+09',
  'vllm:generation_tokens_total{engine="1",model_name="qwen2.5-72b-instruct"} 150.0',
  '# HELP vllm:e2e_request_latency_seconds Histogram of end to end request latency in seconds.',
  '# TYPE vllm:e2e_request_latency_seconds histogram',
  'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="qwen2.5-72b-instruct"} 7.0',
  'vllm:e2e_request_latency_seconds_count{engine="0",model_name="qwen2.5-72b-instruct"} 7.0',
);

describe('parseTokenCounters', () => {
  const cases: { name: string; text: string; want: TokenCounters | undefined }[] = [
    {
      name: 'vLLM: sums the series of each counter across engines, ignores _created, histograms and gauges',
      text: VLLM_PAGE,
      want: { engine: 'vllm', promptTokensTotal: 2000, generationTokensTotal: 450, processStartTimeSeconds: 1764300000.52 },
    },
    {
      name: 'vLLM: several models on one page are summed',
      text: lines(
        'vllm:prompt_tokens_total{model_name="a"} 10',
        'vllm:prompt_tokens_total{model_name="b"} 20',
        'vllm:generation_tokens_total{model_name="a"} 5',
      ),
      want: { engine: 'vllm', promptTokensTotal: 30, generationTokensTotal: 5 },
    },
    {
      name: 'SGLang, with its cached-token counter ignored',
      text: lines(
        '# TYPE sglang:prompt_tokens_total counter',
        'sglang:prompt_tokens_total{model_name="m",tp_rank="0"} 10.0',
        'sglang:generation_tokens_total{model_name="m",tp_rank="0"} 5.0',
        'sglang:cached_tokens_total{model_name="m",tp_rank="0"} 3.0',
      ),
      want: { engine: 'sglang', promptTokensTotal: 10, generationTokensTotal: 5 },
    },
    {
      name: "vLLM's counters win over SGLang's on the same page",
      text: lines('sglang:prompt_tokens_total 10', 'vllm:generation_tokens_total 7'),
      want: { engine: 'vllm', promptTokensTotal: 0, generationTokensTotal: 7 },
    },
    {
      name: 'label values with escaped quotes, backslashes, newlines, braces, commas and #; timestamps',
      text: lines(
        'vllm:prompt_tokens_total{model_name="a \\"b\\" {c}, # \\\\",engine="0"} 7 1764300000000',
        'vllm:generation_tokens_total{model_name="x\\ny",} 2 -1',
      ),
      want: { engine: 'vllm', promptTokensTotal: 7, generationTokensTotal: 2 },
    },
    {
      name: 'values as Go formats them; NaN, Inf and negatives are left out of the sums',
      text: lines(
        'vllm:prompt_tokens_total{engine="0"} 1.5e3',
        'vllm:prompt_tokens_total{engine="1"} +Inf',
        'vllm:prompt_tokens_total{engine="2"} NaN',
        'vllm:prompt_tokens_total{engine="3"} -Inf',
        'vllm:prompt_tokens_total{engine="4"} -5',
        'vllm:generation_tokens_total 0.4',
        'vllm:generation_tokens_total 0.2',
      ),
      want: { engine: 'vllm', promptTokensTotal: 1500, generationTokensTotal: 1 },
    },
    {
      name: 'Windows line ends, tabs and an OpenMetrics page',
      text: '# TYPE vllm:prompt_tokens counter\r\nvllm:prompt_tokens_total{engine="0"}\t12.0\r\nvllm:generation_tokens_total{engine="0"} 3.0 # {trace_id="abc"} 1.0\r\n# EOF\r\n',
      want: { engine: 'vllm', promptTokensTotal: 12, generationTokensTotal: 3 },
    },
    { name: 'no token counters', text: lines('# TYPE up gauge', 'up 1', 'vllm:num_requests_running 3'), want: undefined },
    { name: 'only _created samples', text: lines('vllm:prompt_tokens_created 1.7e9', 'sglang:generation_tokens_created 1.7e9'), want: undefined },
    { name: 'an empty page', text: '', want: undefined },
    {
      name: 'garbage lines are skipped',
      text: lines(
        'not a metric line at all',
        '{}',
        '<html><body>502 Bad Gateway</body></html>',
        'vllm:prompt_tokens_total{engine="0" 99',
        'vllm:prompt_tokens_total{engine="0} 99',
        'vllm:prompt_tokens_total{0engine="0"} 99',
        'vllm:prompt_tokens_total{engine=0} 99',
        'vllm:prompt_tokens_total 99 100 101',
        'vllm:prompt_tokens_total 0x63',
        'vllm:prompt_tokens_total 99 yesterday',
        'vllm:prompt_tokens_total{engine="0"}99',
        'vllm:prompt_tokens_total',
        'vllm:prompt_tokens_total 5',
      ),
      want: { engine: 'vllm', promptTokensTotal: 5, generationTokensTotal: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(parseTokenCounters(c.text)).to.deep.equal(c.want));
  }

  it('reads back the page a simulated engine renders', () => {
    expect(parseTokenCounters(vllmMetricsPage('qwen"7b\\x\ny', 123, 45.5))).to.deep.equal({
      engine: 'vllm',
      promptTokensTotal: 123,
      generationTokensTotal: 46,
    });
  });
});

describe('parseSampleLine', () => {
  it('gives the name, the unescaped labels in page order and the value', () => {
    expect(parseSampleLine('vllm:prompt_tokens_total{model_name="a\\"b\\\\c\\nd\\q", engine = "0" } 1.5e3 1764300000000')).to.deep.equal({
      name: 'vllm:prompt_tokens_total',
      labels: [
        ['model_name', 'a"b\\c\nd\\q'],
        ['engine', '0'],
      ],
      value: 1500,
    });
  });

  const values: [string, number][] = [
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['.5', 0.5],
    ['1.', 1],
    ['-0', -0],
    ['1E-2', 0.01],
  ];
  for (const [text, want] of values) it(`reads the value ${text}`, () => expect(parseSampleLine(`m ${text}`)?.value).to.equal(want));
  it('reads the value NaN', () => expect(parseSampleLine('m NaN')?.value).to.be.NaN);

  for (const line of ['', '   ', '# HELP m x', '# TYPE m counter']) {
    it(`gives no sample for ${JSON.stringify(line)}`, () => expect(parseSampleLine(line)).to.equal(undefined));
  }
});
