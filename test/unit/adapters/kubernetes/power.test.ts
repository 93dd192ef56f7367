import { expect } from 'chai';

import { loadAgentConfig } from '../../../../adapters/agent-config.js';
import { EnergyMeter, EXPORTER_DEFAULTS, placementSamples, scrapePower, type PowerExporter } from '../../../../adapters/kubernetes/power.js';
import { dcgmPage, npuPage } from '../../../fake-power-exporter.js';

const NS = 'tokenpool-workloads';
const URL = 'http://10.0.0.5:9400/metrics';
const dcgm: PowerExporter = { vendor: 'nvidia', urls: [URL], ...EXPORTER_DEFAULTS.nvidia! };
const npu: PowerExporter = { vendor: 'huawei', urls: [URL], ...EXPORTER_DEFAULTS.huawei! };
const mine = { name: 'tp-pl-1-abc', namespace: NS };
const pods = new Map([
  ['tp-pl-1-abc', 'pl-1'],
  ['tp-pl-2-def', 'pl-2'],
]);

describe('power exporters', () => {
  describe('placementSamples: which series are a placement’s', () => {
    it('DCGM: a GPU whose pod label names a serving pod of ours in our namespace; its power and energy counter in joules', () => {
      const page = dcgmPage('node-1', [
        { gpu: 0, uuid: 'GPU-0', watts: 612.5, totalEnergyMj: 5_000_000, pod: mine },
        { gpu: 1, uuid: 'GPU-1', watts: 300, totalEnergyMj: 7_000, pod: { name: 'tp-pl-1-abc', namespace: 'other-team' } },
        { gpu: 2, uuid: 'GPU-2', watts: 200, totalEnergyMj: 9_000, pod: { name: 'someone-else', namespace: NS } },
        { gpu: 3, uuid: 'GPU-3', watts: 90, totalEnergyMj: 1_000 },
      ]);
      const samples = placementSamples(page, URL, dcgm, NS, pods);
      expect(samples).to.have.length(1);
      expect(samples[0]).to.include({ placementId: 'pl-1', watts: 612.5, counterJoules: 5000 });
      expect(samples[0]!.series).to.contain('UUID=GPU-0');
    });
    it('NPU exporter: npu_chip_info_power by pod_name; no energy counter', () => {
      const page = npuPage([
        { id: 0, watts: 180, pod: { name: 'tp-pl-2-def', namespace: NS } },
        { id: 1, watts: 175, pod: { name: 'tp-pl-2-def', namespace: NS } },
        { id: 2, watts: 60 },
      ]);
      const samples = placementSamples(page, URL, npu, NS, pods);
      expect(samples.map((s) => [s.placementId, s.watts, s.counterJoules])).to.deep.equal([
        ['pl-2', 180, undefined],
        ['pl-2', 175, undefined],
      ]);
    });
    it('configured names: another metric and pod label', () => {
      const page = 'my_power_watts{card="0",k8s_pod="tp-pl-1-abc"} 250\nmy_power_watts{card="1",k8s_pod="tp-pl-1-abc"} 250\n';
      const custom: PowerExporter = { ...dcgm, powerMetric: 'my_power_watts', energyMetric: null, podLabel: 'k8s_pod', namespaceLabel: null };
      expect(placementSamples(page, URL, custom, NS, pods).map((s) => s.watts)).to.deep.equal([250, 250]);
    });
  });

  describe('EnergyMeter', () => {
    const live = new Set(['pl-1', 'pl-2']);
    const s = (series: string, placementId: string, fields: { watts?: number; counterJoules?: number }) => ({ series, placementId, ...fields });

    it('an energy counter: increases between scrapes; a reset counts its new reading; the first sight is a baseline', () => {
      const m = new EnergyMeter();
      m.observe([s('g0', 'pl-1', { watts: 600, counterJoules: 10_000 })], 0, live);
      expect(m.readings().get('pl-1')).to.deep.equal({ energyJoules: 0, powerWatts: 600 });
      m.observe([s('g0', 'pl-1', { watts: 650, counterJoules: 16_000 })], 10_000, live);
      m.observe([s('g0', 'pl-1', { watts: 640, counterJoules: 400 })], 20_000, live); // the driver reloaded
      expect(m.readings().get('pl-1')).to.deep.equal({ energyJoules: 6400, powerWatts: 640 });
    });
    it('power alone: integrated by the trapezoid rule, summed over the placement’s devices', () => {
      const m = new EnergyMeter();
      m.observe([s('n0', 'pl-2', { watts: 100 }), s('n1', 'pl-2', { watts: 200 })], 0, live);
      m.observe([s('n0', 'pl-2', { watts: 300 }), s('n1', 'pl-2', { watts: 200 })], 10_000, live);
      // (100 + 300) / 2 × 10 s + 200 × 10 s
      expect(m.readings().get('pl-2')).to.deep.equal({ energyJoules: 4000, powerWatts: 500 });
    });
    it('a gap longer than the limit starts a new baseline; a placement no longer running is forgotten', () => {
      const m = new EnergyMeter({ maxGapMs: 60_000 });
      m.observe([s('n0', 'pl-2', { watts: 100 })], 0, live);
      m.observe([s('n0', 'pl-2', { watts: 100 })], 120_000, live);
      expect(m.readings().get('pl-2')!.energyJoules).to.equal(0);
      m.observe([s('n0', 'pl-2', { watts: 100 })], 130_000, live);
      expect(m.readings().get('pl-2')!.energyJoules).to.equal(1000);
      m.observe([], 140_000, new Set(['pl-1']));
      expect(m.readings().has('pl-2')).to.equal(false);
    });
    it('a device that moves to another placement starts again there', () => {
      const m = new EnergyMeter();
      m.observe([s('g0', 'pl-1', { counterJoules: 100 })], 0, live);
      m.observe([s('g0', 'pl-2', { counterJoules: 500 })], 10_000, live);
      expect(m.readings().get('pl-2')!.energyJoules).to.equal(0);
    });
  });

  it('scrapePower: every exporter URL, a page that fails skipped and reported', async () => {
    const pages: Record<string, string> = {
      'http://a/metrics': dcgmPage('a', [{ gpu: 0, uuid: 'GPU-A', watts: 500, totalEnergyMj: 1_000_000, pod: mine }]),
    };
    const failed: string[] = [];
    const meter = new EnergyMeter();
    let now = 0;
    const run = () =>
      scrapePower({
        exporters: [{ ...dcgm, urls: ['http://a/metrics', 'http://b/metrics'] }],
        fetchText: async (url) => {
          const page = pages[url];
          if (page === undefined) throw new Error('connection refused');
          return page;
        },
        namespace: NS,
        pods,
        live: new Set(['pl-1']),
        meter,
        nowMs: () => now,
        onError: (url) => failed.push(url),
      });
    await run();
    now = 15_000;
    pages['http://a/metrics'] = dcgmPage('a', [{ gpu: 0, uuid: 'GPU-A', watts: 520, totalEnergyMj: 8_650_000, pod: mine }]);
    expect((await run()).get('pl-1')).to.deep.equal({ energyJoules: 7650, powerWatts: 520 });
    expect(failed).to.deep.equal(['http://b/metrics', 'http://b/metrics']);
  });

  describe('agent configuration: TOKENPOOL_POWER_EXPORTERS', () => {
    const base = { TOKENPOOL_URL: 'http://platform:8080', TOKENPOOL_AGENT_TOKEN: 'tp_agent_x', KUBECONFIG: '/k' };
    it('nvidia and huawei need only URLs; names are the exporters’ defaults', () => {
      const c = loadAgentConfig({
        ...base,
        TOKENPOOL_POWER_EXPORTERS: JSON.stringify([
          { vendor: 'nvidia', urls: ['http://dcgm:9400/metrics'] },
          { vendor: 'huawei', urls: ['http://npu:8082/metrics'], podLabel: 'pod' },
        ]),
      });
      expect(c.powerExporters).to.deep.equal([
        { vendor: 'nvidia', urls: ['http://dcgm:9400/metrics'], ...EXPORTER_DEFAULTS.nvidia },
        { vendor: 'huawei', urls: ['http://npu:8082/metrics'], ...EXPORTER_DEFAULTS.huawei, podLabel: 'pod' },
      ]);
      expect(loadAgentConfig(base).powerExporters).to.deep.equal([]);
    });
    it('a vendor without defaults must name its metric; bad JSON is refused naming the variable', () => {
      expect(() => loadAgentConfig({ ...base, TOKENPOOL_POWER_EXPORTERS: JSON.stringify([{ vendor: 'cambricon', urls: ['http://m/metrics'] }]) })).to.throw(
        /TOKENPOOL_POWER_EXPORTERS/,
      );
      const c = loadAgentConfig({
        ...base,
        TOKENPOOL_POWER_EXPORTERS: JSON.stringify([{ vendor: 'cambricon', urls: ['http://m/metrics'], powerMetric: 'mlu_power_usage', podLabel: 'pod' }]),
      });
      expect(c.powerExporters![0]).to.include({ powerMetric: 'mlu_power_usage', energyMetric: null, energyScale: 1 });
      expect(() => loadAgentConfig({ ...base, TOKENPOOL_POWER_EXPORTERS: '[{' })).to.throw(/TOKENPOOL_POWER_EXPORTERS/);
    });
  });
});
