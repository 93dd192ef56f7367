import { mount } from '@vue/test-utils';
import ElementPlus, { ElTable } from 'element-plus';
import { describe, expect, it } from 'vitest';
import { defineComponent, h } from 'vue';
import { createI18n } from 'vue-i18n';
import { flushPromises } from '@vue/test-utils';
import { ApiError } from '../src/api/client';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import FieldItem from '../src/views/money/FieldItem.vue';
import FormProblem from '../src/views/money/FormProblem.vue';
import MoneyColumn from '../src/views/money/MoneyColumn.vue';
import { csvText } from '../src/csv';
import { fieldErrorFor, listQuery, rfc3339, unplacedErrors } from '../src/views/money/money';

const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({
  global: { plugins: [createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } }), ElementPlus] },
});

describe('money helpers', () => {
  it('places a field error on the input with the longest matching name', () => {
    const errors = [
      { path: 'terms.prices.0.match', message: 'priced twice' },
      { path: 'uscc', message: 'must be 18 characters' },
      { path: 'other', message: 'x' },
    ];
    const names = ['terms', 'terms.prices', 'uscc'];
    expect(fieldErrorFor(errors, 'terms.prices', names)?.message).toBe('priced twice');
    expect(fieldErrorFor(errors, 'terms', names)).toBeUndefined();
    expect(fieldErrorFor(errors, 'uscc', names)?.message).toBe('must be 18 characters');
    expect(unplacedErrors(errors, names).map((e) => e.path)).toEqual(['other']);
  });

  it('writes CSV with quotes and neutralized formulas', () => {
    expect(csvText([['a,b', 'say "hi"', '=1+1', '-12.50', null]])).toBe('\ufeff"a,b","say ""hi""","\'=1+1","-12.50",""\r\n');
  });

  it('sends only the filters that are set', () => {
    expect(listQuery(undefined, { tenantId: '', period: '2026-10' })).toEqual({ period: '2026-10' });
    expect(listQuery('c1', { tenantId: 't1' })).toEqual({ cursor: 'c1', tenantId: 't1' });
  });

  it('writes a time with the browser’s offset', () => {
    expect(rfc3339(new Date('2026-10-01T00:00:00Z'))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(rfc3339(null)).toBeUndefined();
  });
});

describe('FieldItem and FormProblem', () => {
  const error = new ApiError(400, 'The body is not valid.', [
    { path: 'uscc', message: 'has a wrong check character (character 18)' },
    { path: 'lines.2.amount', message: 'must be more than 0' },
  ]);

  it('shows the field’s error beside it, translated', () => {
    const w = mount(FieldItem, { props: { label: 'USCC', name: 'uscc', error }, slots: { default: '<input name="uscc" />' }, ...plugins('zh-CN') });
    expect(w.find('[data-error-for="uscc"]').text()).toBe('校验码（第 18 位）错误');
  });

  it('lists the errors no input took, with the problem translated', () => {
    const w = mount(FormProblem, {
      props: { error: new ApiError(422, '1 problem(s) in the statement: nothing was recorded.', error.errors), placed: ['uscc'] },
      ...plugins('zh-CN'),
    });
    expect(w.find('[data-problem-detail]').text()).toBe('流水中有 1 处错误：未登记任何一行。');
    expect(w.findAll('[data-field]').map((x) => x.attributes('data-field'))).toEqual(['lines.2.amount']);
    expect(w.find('[data-field="lines.2.amount"]').text()).toContain('必须大于 0');
  });
});

describe('MoneyColumn', () => {
  it('shows a column of amounts from decimal strings, per locale, digit for digit', async () => {
    const Table = defineComponent(
      () => () => h(ElTable, { data: [{ amount: '11600.005' }, { amount: '-2.5' }] }, () => [h(MoneyColumn, { label: 'Amount', field: 'amount' })]),
    );
    const w = mount(Table, { ...plugins('zh-CN'), attachTo: document.body });
    for (let i = 0; i < 5; i++) {
      await flushPromises();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(w.findAll('[data-amount]').map((x) => x.text())).toEqual(['¥11,600.005', '-¥2.50']);
  });
});
