import { flushPromises, mount } from '@vue/test-utils';
import ElementPlus from 'element-plus';
import { describe, expect, it, vi } from 'vitest';
import { defineComponent, h, ref } from 'vue';
import { createI18n } from 'vue-i18n';
import { toApiError } from '../src/api/client';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { rulesOf } from '../src/views/ops/fields';
import EntityDialog from '../src/views/ops/EntityDialog.vue';
import type { Field } from '../src/views/ops/fields';

const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({
  global: { plugins: [createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } }), ElementPlus] },
  attachTo: document.body,
});

const fields: Field[] = [
  { key: 'name', label: 'ops.catalog.name', kind: 'text', required: true },
  { key: 'port', label: 'ops.catalog.port', kind: 'number', required: true, integer: true, min: 1, max: 65535 },
  { key: 'resourceName', label: 'ops.catalog.resourceName', kind: 'text' },
];

/** A dialog named `name` (each test its own: a closed dialog stays in the document). */
function host(name: string, save: (body: Record<string, unknown>) => Promise<unknown>, entity?: Record<string, unknown>) {
  const open = ref(true);
  const Host = defineComponent({
    setup: () => () =>
      h(EntityDialog, {
        modelValue: open.value,
        'onUpdate:modelValue': (v: boolean) => (open.value = v),
        title: 'x',
        name,
        fields,
        entity,
        save,
      }),
  });
  return { w: mount(Host, plugins()), open };
}
const type = async (form: string, name: string, value: string) => {
  const el = document.querySelector<HTMLInputElement>(`[data-form="${form}"] input[name="${name}"]`)!;
  el.value = value;
  el.dispatchEvent(new Event('input'));
  await flushPromises();
};
const submit = async (form: string) => {
  document.querySelector<HTMLButtonElement>(`[data-dialog="${form}"] [data-submit]`)!.click();
  await flushPromises();
  await new Promise((r) => setTimeout(r, 20));
  await flushPromises();
};

describe('EntityDialog', () => {
  it("sends the body, shows the API's field errors beside their fields, and closes once saved", async () => {
    let refuse = true;
    const save = vi.fn(async () => {
      if (refuse)
        throw toApiError(400, { detail: 'The body is not valid.', errors: [{ path: 'resourceName', message: 'must be a Kubernetes resource name' }] });
      return { id: '1' };
    });
    const { w, open } = host('one', save);
    await flushPromises();
    await type('one', 'name', 'H20');
    await type('one', 'port', '8000');
    await type('one', 'resourceName', 'bad');
    await submit('one');
    expect(save).toHaveBeenCalledWith({ name: 'H20', port: 8000, resourceName: 'bad' });
    await new Promise((r) => setTimeout(r, 50));
    await flushPromises();
    const item = document.querySelector('[data-form="one"] [data-field-name="resourceName"]')!;
    expect(item.classList.contains('is-error')).toBe(true);
    // The message itself, beside the field, is checked in Chromium (test/e2e/ui-ops.test.ts); the problem lists it too.
    expect(document.querySelector('[data-dialog="one"] li[data-field="resourceName"]')?.textContent).toContain('must be a Kubernetes resource name');
    expect(open.value).toBe(true);
    refuse = false;
    await type('one', 'resourceName', 'nvidia.com/gpu');
    await submit('one');
    expect(open.value).toBe(false);
    w.unmount();
  });

  it('sends only the fields changed when editing', async () => {
    const save = vi.fn(async () => ({}));
    const { w } = host('two', save, { id: '1', name: 'H20', port: 8000, resourceName: 'nvidia.com/gpu' });
    await flushPromises();
    await type('two', 'port', '9000');
    await submit('two');
    expect(save).toHaveBeenCalledWith({ port: 9000 });
    w.unmount();
  });
});

describe('field rules', () => {
  const t = (key: string, named?: Record<string, unknown>) => `${key}${named ? JSON.stringify(named) : ''}`;
  /** The messages the rules of `f` give for `value` ('' when it passes). */
  const check = (f: Field, value: unknown) =>
    rulesOf(f, t)
      .map((r) => {
        if (r.required) return value === '' || value === undefined ? String(r.message) : '';
        let said = '';
        r.validator?.(r, value, (e?: string | Error) => (said = e ? String(e instanceof Error ? e.message : e) : ''), {}, {});
        return said;
      })
      .filter(Boolean);

  it('checks numbers as the API does', () => {
    const port: Field = { key: 'port', label: 'x', kind: 'number', required: true, integer: true, min: 1, max: 65535 };
    expect(check(port, '')).toEqual(['ops.form.required']);
    expect(check(port, '70000')).toEqual(['ops.form.max{"max":65535}']);
    expect(check(port, '1.5')).toEqual(['ops.form.integer']);
    expect(check(port, 'abc')).toEqual(['ops.form.number']);
    expect(check(port, '8000')).toEqual([]);
  });

  it('checks patterns, JSON and per-model prices', () => {
    expect(check({ key: 'v', label: 'x', kind: 'text', pattern: /^[a-z]+$/, patternMessage: 'ops.form.vendor' }, 'NVIDIA')).toEqual(['ops.form.vendor']);
    expect(check({ key: 's', label: 'x', kind: 'json' }, '{"kind":')).toEqual(['ops.form.json']);
    const prices: Field = { key: 'p', label: 'x', kind: 'prices' };
    expect(check(prices, 'qwen=x1.5\nglm=12.00')).toEqual([]);
    expect(check(prices, 'qwen=cheap')).toEqual(['ops.form.prices']);
  });
});
