/**
 * CreateWithSecret (views/onboard): the form sends what was typed; the secret in the answer is
 * shown once, with the warning, and the made thing is passed on; a refusal shows the API's field
 * error and shows no secret.
 */
import { flushPromises, mount } from '@vue/test-utils';
import ElementPlus from 'element-plus';
import { describe, expect, it, vi } from 'vitest';
import { createI18n } from 'vue-i18n';
import { toApiError } from '../src/api/client';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import CreateWithSecret from '../src/views/onboard/CreateWithSecret.vue';
import type { Field } from '../src/views/ops/fields';

const fields: Field[] = [
  { key: 'name', label: 'clusters.name', kind: 'text', required: true },
  { key: 'region', label: 'clusters.region', kind: 'text', required: true },
];

async function settle() {
  await flushPromises();
  await new Promise((r) => setTimeout(r, 20));
  await flushPromises();
}

function make(name: string, save: (body: Record<string, unknown>) => Promise<unknown>, locale: 'en' | 'zh-CN' = 'en') {
  return mount(CreateWithSecret, {
    props: {
      name,
      title: 'onboard.cluster.register',
      fields,
      save,
      secretOf: (made: unknown) => (made as { agentToken: string }).agentToken,
      secretLabel: 'onboard.cluster.token',
      secretHint: 'onboard.cluster.tokenHint',
    },
    global: { plugins: [createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } }), ElementPlus] },
    attachTo: document.body,
  });
}

async function fillAndSubmit(name: string, values: Record<string, string>) {
  for (const [key, value] of Object.entries(values)) {
    const el = document.querySelector<HTMLInputElement>(`[data-form="${name}"] input[name="${key}"]`)!;
    el.value = value;
    el.dispatchEvent(new Event('input'));
  }
  await flushPromises();
  document.querySelector<HTMLButtonElement>(`[data-dialog="${name}"] [data-submit]`)!.click();
  await settle();
}

describe('CreateWithSecret', () => {
  it('sends the form, then shows the secret of the answer once, and passes on what was made', async () => {
    const save = vi.fn(async (body: Record<string, unknown>) => ({ id: 'cl_1', ...body, agentToken: 'tp_agent_secret-1' }));
    const w = make('c1', save);
    await w.find('[data-action="new-c1"]').trigger('click');
    await settle();
    await fillAndSubmit('c1', { name: 'yuexiu-1', region: 'yuexiu' });
    expect(save).toHaveBeenCalledWith({ name: 'yuexiu-1', region: 'yuexiu' });
    const dialog = document.querySelector('[data-dialog="c1-secret"]')!;
    expect(dialog.querySelector('[data-secret]')!.textContent).toBe('tp_agent_secret-1');
    expect(dialog.textContent).toContain(en.onboard.onceOnly);
    expect(w.emitted('made')![0]![0]).toMatchObject({ id: 'cl_1', agentToken: 'tp_agent_secret-1' });
    w.unmount();
  });

  it('shows the API’s refusal beside its field, and no secret', async () => {
    const refusal = toApiError(400, {
      title: 'Bad Request',
      status: 400,
      detail: 'The request is not valid.',
      errors: [{ path: 'name', message: 'must be a DNS label' }],
    });
    const save = vi.fn(async () => {
      throw refusal;
    });
    const w = make('c2', save, 'zh-CN');
    await w.find('[data-action="new-c2"]').trigger('click');
    await settle();
    await fillAndSubmit('c2', { name: 'Yuexiu One', region: 'yuexiu' });
    await new Promise((r) => setTimeout(r, 50));
    await flushPromises();
    expect(save).toHaveBeenCalledWith({ name: 'Yuexiu One', region: 'yuexiu' });
    // The field is marked, and the problem names it (the message beside the field is checked in Chromium).
    expect(document.querySelector('[data-form="c2"] [data-field-name="name"]')!.classList.contains('is-error')).toBe(true);
    expect(document.querySelector('[data-dialog="c2"] li[data-field="name"]')?.textContent).toContain('must be a DNS label');
    expect(document.querySelector('[data-dialog="c2-secret"] [data-secret]')).toBeNull();
    expect(w.emitted('made')).toBeUndefined();
    w.unmount();
  });
});
