/**
 * Numbers, money and dates per locale. Money arrives as decimal strings ("11600.00", "0.012500")
 * and is never turned into a binary float: its integer part is grouped through BigInt and its
 * fraction kept digit for digit.
 */
import type { Lang } from './i18n';

const nf = new Map<string, Intl.NumberFormat>();
function numberFormat(lang: Lang, options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  const key = `${lang}|${JSON.stringify(options)}`;
  let f = nf.get(key);
  if (!f) nf.set(key, (f = new Intl.NumberFormat(lang, options)));
  return f;
}

/** A count or throughput, grouped (fractions to at most `digits` places). */
export function formatNumber(n: number, lang: Lang, digits = 0): string {
  return numberFormat(lang, { maximumFractionDigits: digits }).format(n);
}

/** A large number in the locale's compact form: 86.4万 / 864K. */
export function formatCompact(n: number, lang: Lang): string {
  return numberFormat(lang, { notation: 'compact', maximumFractionDigits: 1 }).format(n);
}

/** A share 0..1 as a percentage. */
export function formatPercent(share: number, lang: Lang): string {
  return numberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(Number.isFinite(share) ? share : 0);
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * An exact decimal string (a standard-token total, an amount) grouped per locale, with at least
 * `minDigits` fraction digits (padded with zeros) and every digit it has beyond them. A string that
 * is not a decimal is answered as it is.
 */
export function formatDecimal(value: string, lang: Lang, minDigits = 0): string {
  const m = DECIMAL.exec(value.trim());
  if (!m) return value;
  const [, sign, int, frac = ''] = m;
  const grouped = numberFormat(lang).format(BigInt(int!));
  const digits = frac.padEnd(minDigits, '0');
  const point =
    numberFormat(lang)
      .formatToParts(1.5)
      .find((p) => p.type === 'decimal')?.value ?? '.';
  return `${sign ?? ''}${grouped}${digits ? point + digits : ''}`;
}

/** Money in CNY from its decimal string: ¥11,600.00 (at least two decimals; prices keep their six). */
export function formatMoney(value: string, lang: Lang): string {
  const s = formatDecimal(value, lang, 2);
  return s.startsWith('-') ? `-¥${s.slice(1)}` : `¥${s}`;
}

/** A date and time in the locale, in the browser's time zone; '' for none. */
export function formatDateTime(iso: string | null | undefined, lang: Lang): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

/** A clock time (HH:MM:SS) in the locale. */
export function formatTime(d: Date, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(d);
}

/** A ratio to `digits` significant digits (0.0123, 1,230) in the locale; '—' for none. */
export function formatSignificant(n: number | null | undefined, lang: Lang, digits = 3): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return numberFormat(lang, { maximumSignificantDigits: digits }).format(n);
}
