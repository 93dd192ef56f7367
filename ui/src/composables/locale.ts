/** The current language and the formatters bound to it, for templates. */
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';
import type { ApiError } from '@/api/client';
import type { Lang } from '@/i18n';
import { formatCompact, formatDateTime, formatDecimal, formatMoney, formatNumber, formatPercent } from '@/format';

/** Server messages the UI knows, by their English text (server/services/accounts.service.ts, server/auth/authenticate.ts). */
const KNOWN: Record<string, string> = {
  'Wrong username or password.': 'error.known.wrongPassword',
  'Not signed in.': 'error.known.notSignedIn',
  'The token is not valid.': 'error.known.badToken',
  'This user is disabled; ask an administrator.': 'error.known.disabled',
  'The session has ended; sign in again.': 'error.known.sessionEnded',
};
const STATUSES = ['0', '400', '401', '403', '404', '409', '422', '429', '500', '503'] as const;

export function useFormat() {
  const { t, locale } = useI18n();
  const lang = computed(() => locale.value as Lang);
  return {
    t,
    lang,
    num: (n: number, digits = 0) => formatNumber(n, lang.value, digits),
    compact: (n: number) => formatCompact(n, lang.value),
    pct: (share: number) => formatPercent(share, lang.value),
    dec: (s: string, minDigits = 0) => formatDecimal(s, lang.value, minDigits),
    money: (s: string) => formatMoney(s, lang.value),
    date: (iso: string | null | undefined) => formatDateTime(iso, lang.value),
    /** A translated enum value (`state.cluster`, `reason`, …), or the value itself when unknown. */
    label: (group: string, value: string | null | undefined) => {
      if (!value) return '';
      const key = `${group}.${value}`;
      const text = t(key);
      return text === key ? (group === 'reason' ? t('reason.unknown', { reason: value }) : value) : text;
    },
    /** What to say about a failed request: a known server message translated, else its detail, and the status's meaning. */
    problem: (e: ApiError) => {
      const known = KNOWN[e.detail];
      const status = (STATUSES as readonly string[]).includes(String(e.status)) ? t(`error.status.${e.status}`) : t('error.title');
      return { summary: known ? t(known) : status, detail: known ? '' : e.detail };
    },
  };
}
