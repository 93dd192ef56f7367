import { describe, expect, it } from 'vitest';
import { useSeries } from '../src/composables/series';
import { bodyOf, formOf, parsePrices, type Field } from '../src/views/ops/fields';
import { ratePercent } from '../src/views/ops/rates';
import { toPoint, type HistoryPoint } from '../src/views/ops/history';

const bucket = (at: string, over: Partial<HistoryPoint> = {}): HistoryPoint => ({
  at,
  minutes: 5,
  countedMinutes: 5,
  totalStdPerMin: 540000,
  totalStdPerMinMax: 540000,
  allocatedStdPerMin: 360000,
  allocatedStdPerMinMax: 360000,
  freeStdPerMin: 90000,
  clustersReady: 1,
  clustersNotReady: 0,
  clustersCordoned: 1,
  stdTokens: '8250',
  gatewayStdTokens: '1200',
  agentStdTokens: '7050',
  inputTokens: 1950,
  outputTokens: 5700,
  requests: 600,
  failedRequests: 1,
  energyJoules: null,
  meanWatts: null,
  measuredStdTokens: null,
  stdTokensPerJoule: null,
  ...over,
});

describe('history as trend points', () => {
  it('reads rates per counted minute', () => {
    const p = toPoint(bucket('2026-10-20T02:00:00.000Z'));
    expect(p.at).toBe(Date.parse('2026-10-20T02:00:00.000Z'));
    expect(p.values).toMatchObject({ total: 540000, allocated: 360000, served: 1650, requestsPerSec: 2, perJoule: null });
  });

  it('keeps an unsampled bucket as a gap (nulls, never 0)', () => {
    const empty = bucket('2026-10-20T02:05:00.000Z', {
      minutes: 0,
      countedMinutes: 0,
      totalStdPerMin: null,
      allocatedStdPerMin: null,
      freeStdPerMin: null,
      stdTokens: null,
      requests: null,
    });
    expect(Object.values(toPoint(empty).values).every((v) => v === null)).toBe(true);
  });

  it('puts history before the live points', () => {
    const s = useSeries();
    s.push(3_000, { total: 3 });
    s.seed([toPoint(bucket(new Date(1_000).toISOString())), toPoint(bucket(new Date(5_000).toISOString()))]);
    expect(s.points.value.map((p) => p.at)).toEqual([1_000, 3_000]);
  });
});

describe('form fields', () => {
  const fields: Field[] = [
    { key: 'name', label: 'x', kind: 'text', required: true },
    { key: 'vendors', label: 'x', kind: 'list' },
    { key: 'env', label: 'x', kind: 'map' },
    { key: 'port', label: 'x', kind: 'number' },
    { key: 'apiKeyEnv', label: 'x', kind: 'text', nullable: true },
  ];

  it('turns a form into a body and back', () => {
    const form = formOf(fields, undefined, { port: 8000 });
    Object.assign(form, { name: 'vllm', vendors: 'nvidia, huawei', env: 'A=1\nB=x=y', port: '8001' });
    expect(bodyOf(fields, form)).toEqual({ name: 'vllm', vendors: ['nvidia', 'huawei'], env: { A: '1', B: 'x=y' }, port: 8001, apiKeyEnv: null });
  });

  it('sends only what changed when editing', () => {
    const entity = { name: 'vllm', vendors: ['nvidia'], env: { A: '1' }, port: 8000, apiKeyEnv: null };
    const form = formOf(fields, entity);
    form.port = '9000';
    expect(bodyOf(fields, form, entity)).toEqual({ port: 9000 });
  });
});

describe('plan prices and rates', () => {
  it('reads per-model prices: a multiplier or a price of its own', () => {
    expect(parsePrices('qwen2.5-7b-instruct=x1.5\nqwen2.5-72b-instruct = 12.00\n')).toEqual({
      'qwen2.5-7b-instruct': { multiplier: '1.5' },
      'qwen2.5-72b-instruct': { pricePerMillionStd: '12.00' },
    });
  });

  it('shows a VAT rate as its exact percentage', () => {
    expect(['0.06', '0.0625', '0', '0.1', '0.09'].map(ratePercent)).toEqual(['6', '6.25', '0', '10', '9']);
  });
});
