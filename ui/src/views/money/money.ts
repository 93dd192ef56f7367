/**
 * What the money views share: a form action with its busy flag and the API's problem, field errors
 * placed beside the input they name, the server's messages in the user's language, CSV files
 * built in the page, and the names of tenants, providers and clusters for selects and tables.
 */
import { ref, shallowRef } from 'vue';
import { useI18n } from 'vue-i18n';
import { api, ApiError, unwrap, type FieldError } from '@/api/client';
import { allPages } from '@/composables/cursor-pages';
import { useRequest } from '@/composables/request';

/**
 * The field error for input `name`: the first whose path is the name or under it
 * (`terms.prices.0.match` goes to `terms.prices`), the longest name among `names` winning.
 */
export function fieldErrorFor(errors: readonly FieldError[], name: string, names: readonly string[] = [name]): FieldError | undefined {
  const longest = (path: string) => [...names, name].filter((n) => path === n || path.startsWith(`${n}.`)).sort((a, b) => b.length - a.length)[0];
  return errors.find((e) => longest(e.path) === name);
}

/** The errors no input of `names` takes. */
export function unplacedErrors(errors: readonly FieldError[], names: readonly string[]): FieldError[] {
  return errors.filter((e) => !names.some((n) => e.path === n || e.path.startsWith(`${n}.`)));
}

/** A form's submit: runs `fn`, keeping its failure as an ApiError; answers its result, or undefined when it failed. */
export function useAction() {
  const busy = ref(false);
  const error = shallowRef<ApiError>();
  async function run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    error.value = undefined;
    try {
      return await fn();
    } catch (e) {
      error.value = e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e));
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, run, clear: () => (error.value = undefined) };
}

/**
 * Server messages of the settlement and ledger routes the UI knows (by their English text, a
 * pattern capturing what varies), as keys of `money.server` with the captured values as {0}, {1}.
 */
const SERVER: readonly [RegExp, string][] = [
  [/^The request (body|query|params) is invalid\.$/, 'requestInvalid'],
  [/^must not be empty$/, 'empty'],
  [/^must be 18 characters$/, 'usccLength'],
  [/^may hold only digits and the upper-case letters/, 'usccAlphabet'],
  [/^has an unknown registration authority/, 'usccAuthority'],
  [/^has an organization type/, 'usccType'],
  [/^must have a six-digit administrative division code/, 'usccDivision'],
  [/^has a wrong organization code check character/, 'usccOrgCheck'],
  [/^has a wrong check character/, 'usccCheck'],
  [/^The USCC has a wrong check character/, 'usccCheck'],
  [/^must be a bank account number/, 'bankAccount'],
  [/^must be a telephone number$/, 'phone'],
  [/^must be an e-mail address$/, 'email'],
  [/^must be an amount in CNY/, 'amount'],
  [/^must be more than 0$/, 'positive'],
  [/^must be a non-negative decimal string/, 'price'],
  [/^must be a percentage from "0" to "100"/, 'percent'],
  [/^must be a decimal string from 0 to below 1/, 'vatRate'],
  [/^must be a 19-digit tax classification code$/, 'taxCode'],
  [/^must be later than validFrom$/, 'validTo'],
  [/^A rate card must end after it begins\.$/, 'validTo'],
  [/^must be a month such as "2026-10"/, 'period'],
  [/^A provider has this name already\.$/, 'nameTaken'],
  [/^A provider has this unified social credit code already\.$/, 'usccTaken'],
  [/^The provider owns clusters or has statements/, 'providerInUse'],
  [/^A statement pays by this rate card/, 'cardInUse'],
  [/^The rate card's validity overlaps rate card (\S+)/, 'cardOverlaps'],
  [/^The period (\S+) has not ended yet\.$/, 'notEnded'],
  [/^The period (\S+) has no invoice and no statement/, 'notClosed'],
  [/^The seller's invoicing details are not set yet/, 'noSeller'],
  [/^The city owes the provider (-?[\d.]+): it cannot be paid more\.$/, 'overPaid'],
  [/^At most ([\d.]+) of this invoice can still be credited\.$/, 'overCredited'],
  [/^The invoice is void/, 'invoiceVoid'],
  [/^(\d+) problem\(s\) in the statement: nothing was recorded\.$/, 'importRejected'],
  [/^The statement has no payment lines\.$/, 'importEmpty'],
  [/^The tenant is postpaid/, 'postpaid'],
  [/^Reference "(.+)" was recorded before/, 'referenceTaken'],
  [/^No tenant has this id\.$/, 'noTenant'],
  [/^no such tenant$/, 'noTenant'],
];

/** Translates a server message the UI knows; any other is answered as it is. */
export function useServerText() {
  const { t } = useI18n();
  return (message: string): string => {
    for (const [re, key] of SERVER) {
      const m = re.exec(message);
      if (m) return t(`money.server.${key}`, m.slice(1));
    }
    return message;
  };
}

/** The month before now, YYYY-MM (the period usually reported or closed). */
export function lastMonth(now = new Date()): string {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** An RFC 3339 time with the browser's offset from a date picker's value ('' / null: none). */
export function rfc3339(d: Date | string | null | undefined): string | undefined {
  if (!d) return undefined;
  const date = typeof d === 'string' ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return undefined;
  const off = -date.getTimezoneOffset();
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const local = new Date(date.getTime() + off * 60_000).toISOString().slice(0, 19);
  return `${local}${off >= 0 ? '+' : '-'}${pad(off / 60)}:${pad(off % 60)}`;
}

const page = (cursor: string | undefined) => ({ limit: '200', ...(cursor ? { cursor } : {}) });

/** Tenants, providers and clusters by id (for names in tables and choices in selects), loaded once per view. */
export function useDirectory() {
  return useRequest(async () => {
    const [tenants, providers, clusters] = await Promise.all([
      allPages((c) => unwrap(api.GET('/api/v1/tenants', { params: { query: page(c) } }))),
      allPages((c) => unwrap(api.GET('/api/v1/providers', { params: { query: page(c) } }))),
      allPages((c) => unwrap(api.GET('/api/v1/clusters', { params: { query: page(c) } }))),
    ]);
    const name = <T extends { id: string; name: string }>(list: T[]) => new Map(list.map((x) => [x.id, x.name]));
    return { tenants, providers, clusters, tenantName: name(tenants), providerName: name(providers), clusterName: name(clusters) };
  });
}

/** A list request's query beyond its page size: the cursor if any, and the filters that are set ('' is not set). */
export function listQuery<F extends Record<string, string>>(
  cursor: string | undefined,
  filters: F,
): { cursor?: string } & { [K in keyof F]?: Exclude<F[K], ''> } {
  const set = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '')) as { [K in keyof F]?: Exclude<F[K], ''> };
  return { ...(cursor ? { cursor } : {}), ...set };
}
