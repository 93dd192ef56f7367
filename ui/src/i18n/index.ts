/**
 * vue-i18n with the two languages of the UI, zh-CN (the default in China) and en; the choice is
 * kept in localStorage and set on <html lang>. Element Plus follows it (App.vue).
 */
import { createI18n } from 'vue-i18n';
import { en, type Messages } from './en';
import { zhCN } from './zh-CN';

export type Lang = 'zh-CN' | 'en';
export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
const KEY = 'tokenpool.lang';

/** The saved language, else the browser's first language we have, else Chinese. */
export function initialLang(): Lang {
  const saved = typeof localStorage === 'undefined' ? null : localStorage.getItem(KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  const nav = typeof navigator === 'undefined' ? [] : navigator.languages;
  for (const l of nav) {
    if (/^zh/i.test(l)) return 'zh-CN';
    if (/^en/i.test(l)) return 'en';
  }
  return 'zh-CN';
}

export const i18n = createI18n<[Messages], Lang, false>({
  legacy: false,
  locale: initialLang(),
  fallbackLocale: 'en',
  messages: { en, 'zh-CN': zhCN },
  missingWarn: false,
  fallbackWarn: false,
});

export function setLang(lang: Lang): void {
  i18n.global.locale.value = lang;
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang;
}
