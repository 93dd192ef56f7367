import { flushPromises, mount } from '@vue/test-utils';
import ElementPlus from 'element-plus';
import { describe, expect, it } from 'vitest';
import { defineComponent, h } from 'vue';
import { createI18n } from 'vue-i18n';
import { ApiError, toApiError } from '../src/api/client';
import CursorPager from '../src/components/CursorPager.vue';
import RequestState from '../src/components/RequestState.vue';
import { useCursorPages } from '../src/composables/cursor-pages';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { compareDecimal, rank } from '../src/views/cockpit/live';

const i18n = (locale: 'en' | 'zh-CN' = 'en') => createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } });
const plugins = (locale?: 'en' | 'zh-CN') => ({ global: { plugins: [i18n(locale), ElementPlus] } });

describe('RequestState', () => {
  it('shows a problem: its detail, its field errors and a retry', async () => {
    const error = toApiError(400, {
      type: 'x',
      title: 'Bad Request',
      status: 400,
      detail: 'The body is not valid.',
      errors: [{ path: 'tokensPerMin', message: 'must be positive' }],
    });
    const w = mount(RequestState, { props: { loading: false, error }, ...plugins() });
    expect(w.text()).toContain('The request was not valid.');
    expect(w.find('[data-problem-detail]').text()).toBe('The body is not valid.');
    expect(w.find('[data-field="tokensPerMin"]').text()).toContain('must be positive');
    await w.find('button').trigger('click');
    expect(w.emitted('retry')).toHaveLength(1);
  });

  it('translates a server message it knows', () => {
    const w = mount(RequestState, { props: { loading: false, error: new ApiError(401, 'Wrong username or password.') }, ...plugins('zh-CN') });
    expect(w.text()).toContain('用户名或密码错误。');
    expect(w.find('[data-problem-detail]').exists()).toBe(false);
  });

  it('reads an OpenAI-shaped error too', () => {
    expect(toApiError(429, { error: { message: 'Rate limit reached', type: 'x', code: 'rate_limit_exceeded' } }).detail).toBe('Rate limit reached');
  });
});

describe('cursor paging', () => {
  it('goes forward with nextCursor and back through the cursors seen', async () => {
    const pages: Record<string, { items: number[]; nextCursor: string | null }> = {
      first: { items: [1, 2], nextCursor: 'c2' },
      c2: { items: [3, 4], nextCursor: 'c3' },
      c3: { items: [5], nextCursor: null },
    };
    const asked: (string | undefined)[] = [];
    let state!: ReturnType<typeof useCursorPages<number>>;
    const Host = defineComponent({
      setup() {
        state = useCursorPages<number>(async (cursor) => {
          asked.push(cursor);
          return pages[cursor ?? 'first']!;
        });
        return () =>
          h(CursorPager, { page: state.page.value, hasPrev: state.hasPrev.value, hasNext: state.hasNext.value, onPrev: state.prev, onNext: state.next });
      },
    });
    const w = mount(Host, plugins());
    await flushPromises();
    expect(state.items.value).toEqual([1, 2]);
    expect(w.find('[data-page="prev"]').attributes('disabled')).toBeDefined();
    await w.find('[data-page="next"]').trigger('click');
    await flushPromises();
    await w.find('[data-page="next"]').trigger('click');
    await flushPromises();
    expect(state.items.value).toEqual([5]);
    expect(state.hasNext.value).toBe(false);
    expect(w.text()).toContain('Page 3');
    await w.find('[data-page="prev"]').trigger('click');
    await flushPromises();
    expect(state.items.value).toEqual([3, 4]);
    expect(asked).toEqual([undefined, 'c2', 'c3', 'c2']);
  });
});

describe('ranking by exact decimals', () => {
  it('compares decimal strings exactly', () => {
    expect(compareDecimal('10.5', '10.25')).toBe(1);
    expect(compareDecimal('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareDecimal('1.10', '1.1')).toBe(0);
  });
  it('keeps the largest, dropping zeros', () => {
    expect(
      rank(
        [
          { name: 'a', stdTokens: '5' },
          { name: 'b', stdTokens: '0' },
          { name: 'c', stdTokens: '12.5' },
        ],
        5,
      ).map((r) => r.name),
    ).toEqual(['c', 'a']);
  });
});
