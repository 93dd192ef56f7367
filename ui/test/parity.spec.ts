// The views ported from the old console: the energy view's figures in a person's units, and a
// workload's SLA record as the API answers it.
import { flushPromises, mount } from '@vue/test-utils';
import ElementPlus from 'element-plus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createI18n } from 'vue-i18n';
import { api } from '../src/api/client';
import { formatSignificant } from '../src/format';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { clusterLabel, kWh, totals, type EnergyFigure } from '../src/views/energy/energy';
import WorkloadSla from '../src/views/sla/WorkloadSla.vue';

const figure = (over: Partial<EnergyFigure>): EnergyFigure => ({
  placementId: null,
  clusterId: 'cl_1',
  clusterName: 'nansha-1',
  vendor: 'nvidia',
  model: null,
  profile: 'NVIDIA-H100-80GB',
  placements: 1,
  joules: 0,
  measuredSeconds: 60,
  stdTokens: '0',
  stdTokensPerJoule: null,
  tdpStdTokensPerJoule: null,
  powerWatts: null,
  ...over,
});

describe('the energy view’s figures', () => {
  it('to three significant digits per locale, a dash for none', () => {
    expect(formatSignificant(0.256410256, 'en')).toBe('0.256');
    expect(formatSignificant(12345.6, 'en')).toBe('12,300');
    expect(formatSignificant(12345.6, 'zh-CN')).toBe('12,300');
    expect(formatSignificant(null, 'en')).toBe('—');
    expect(formatSignificant(Number.NaN, 'en')).toBe('—');
  });

  it('energy in kWh; power now over the clusters that report it, none when none does', () => {
    expect(kWh(3.6e6)).toBe(1);
    const items = [figure({ joules: 1.8e6, powerWatts: 650 }), figure({ joules: 5.4e6, powerWatts: null }), figure({ joules: 0, powerWatts: 350 })];
    expect(totals(items)).toEqual({ kWh: 2, powerWatts: 1000 });
    expect(totals([figure({ joules: 3.6e6 })])).toEqual({ kWh: 1, powerWatts: null });
    expect(totals([])).toEqual({ kWh: 0, powerWatts: null });
  });

  it('names a figure by its cluster, else its id', () => {
    expect(clusterLabel(figure({}))).toBe('nansha-1');
    expect(clusterLabel(figure({ clusterName: null }))).toBe('cl_1');
    expect(clusterLabel(figure({ clusterName: null, clusterId: null }))).toBe('—');
  });
});

describe('WorkloadSla', () => {
  afterEach(() => vi.restoreAllMocks());
  const answer = {
    spells: [
      { reason: 'under_replicated', placementId: 'pl_1', clusterId: 'cl_1', startedAt: '2026-10-20T02:00:00Z', endedAt: '2026-10-20T02:10:00Z' },
      { reason: 'lost', placementId: 'pl_2', clusterId: 'cl_2', startedAt: '2026-10-21T02:00:00Z', endedAt: null },
    ],
    credits: [{ period: '2026-10', subscriptionId: 'sub_1', availabilityPercent: '98.5', creditPercent: '10', amount: '-100.00', invoiceId: null }],
  };

  for (const [locale, text] of [
    ['en', { lost: 'Cluster stopped reporting', ongoing: 'ongoing', next: 'on the next invoice' }],
    ['zh-CN', { lost: '集群停止上报', ongoing: '进行中', next: '计入下一张发票' }],
  ] as const) {
    it(`shows the spells with the cluster responsible, and the credits (${locale})`, async () => {
      const get = vi.spyOn(api, 'GET').mockResolvedValue({ data: answer, response: new Response('{}', { status: 200 }) } as never);
      const w = mount(WorkloadSla, {
        props: { workloadId: 'wl_1', clusterName: (id: string) => ({ cl_1: 'nansha-1', cl_2: 'tianhe-1' })[id] ?? id },
        global: { plugins: [createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } }), ElementPlus] },
      });
      await flushPromises();
      expect(get).toHaveBeenCalledWith('/api/v1/workloads/{id}/sla', { params: { path: { id: 'wl_1' } } });
      const spells = w.find('[data-table="sla-spells"]').text();
      expect(spells).toContain('nansha-1');
      expect(spells).toContain('tianhe-1');
      expect(w.find('[data-spell="lost"]').text()).toBe(text.lost);
      expect(w.find('[data-spell-end="open"]').text()).toBe(text.ongoing);
      expect(w.find('[data-credit="2026-10"]').text()).toBe('-¥100.00');
      expect(w.find('[data-table="sla-credits"]').text()).toContain(text.next);
    });
  }
});
