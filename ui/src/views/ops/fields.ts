/**
 * Forms described by their fields: what each field of an API body is (text, number, list, map,
 * choice, switch), how it validates (as the route's zod schema does) and how a form value becomes
 * the body's value and back. The catalog, plans, tenants and workloads forms are lists of these.
 */
import type { FormItemRule } from 'element-plus';

export type FieldKind = 'text' | 'number' | 'list' | 'lines' | 'map' | 'select' | 'multi' | 'bool' | 'json' | 'prices';

export interface Field<K extends string = string> {
  readonly key: K;
  /** The i18n key of its label. */
  readonly label: string;
  readonly kind: FieldKind;
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Whole numbers only. */
  readonly integer?: boolean;
  readonly pattern?: RegExp;
  /** The i18n key of the message when `pattern` fails. */
  readonly patternMessage?: string;
  /** select / multi: the values (labels: `optionLabel` group via `label()`, else the value). */
  readonly options?: readonly string[];
  readonly optionLabel?: string;
  /** select / multi: an option's text, when it is not a translated value (a tenant's name for its id). */
  readonly optionText?: (value: string) => string;
  /** null when left empty (a nullable field), instead of leaving it out. */
  readonly nullable?: boolean;
  /** Shown only when creating (the API does not change it). */
  readonly createOnly?: boolean;
  readonly placeholder?: string;
  /** Shown (and sent) only when this holds of the form (a plan's type, say). */
  readonly when?: (form: FormModel) => boolean;
}

export type FormValue = string | number | boolean | string[] | null | undefined;
export type FormModel = Record<string, FormValue>;

const splitList = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

/** The form's value of a field, from an entity's value. */
export function toForm(f: Field, v: unknown): FormValue {
  if (v === undefined || v === null) return f.kind === 'bool' ? false : f.kind === 'multi' ? [] : f.kind === 'number' ? undefined : '';
  switch (f.kind) {
    case 'list':
      return (v as string[]).join(', ');
    case 'lines':
      return (v as string[]).join('\n');
    case 'map':
      return Object.entries(v as Record<string, string>)
        .map(([k, x]) => `${k}=${x}`)
        .join('\n');
    case 'json':
      return JSON.stringify(v, null, 2);
    case 'prices':
      return Object.entries(v as Record<string, { multiplier?: string; pricePerMillionStd?: string }>)
        .map(([m, p]) => (p.multiplier !== undefined ? `${m}=x${p.multiplier}` : `${m}=${p.pricePerMillionStd ?? ''}`))
        .join('\n');
    case 'multi':
      return [...(v as string[])];
    default:
      return v as FormValue;
  }
}

/** The body's value of a field, from the form's; undefined: leave the field out. Throws on unreadable JSON. */
export function toBody(f: Field, v: FormValue): unknown {
  const empty = v === undefined || v === null || v === '';
  if (empty) return f.nullable ? null : f.kind === 'list' || f.kind === 'lines' ? [] : f.kind === 'map' ? {} : undefined;
  switch (f.kind) {
    case 'number':
      return typeof v === 'number' ? v : Number(v);
    case 'list':
      return splitList(String(v));
    case 'lines':
      return String(v)
        .split('\n')
        .filter((x) => x.trim() !== '');
    case 'map': {
      const out: Record<string, string> = {};
      for (const line of String(v).split('\n')) {
        const i = line.indexOf('=');
        if (line.trim() === '') continue;
        if (i < 0) out[line.trim()] = '';
        else out[line.slice(0, i).trim()] = line.slice(i + 1);
      }
      return out;
    }
    case 'json':
      return JSON.parse(String(v));
    case 'prices':
      return parsePrices(String(v));
    default:
      return v;
  }
}

/**
 * Per-model prices, one a line: `model=x1.5` (a multiplier of the plan's price) or `model=12.00`
 * (its own price per million standard tokens), as a plan's `modelPrices`.
 */
export function parsePrices(text: string): Record<string, { multiplier: string } | { pricePerMillionStd: string }> {
  const out: Record<string, { multiplier: string } | { pricePerMillionStd: string }> = {};
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf('=');
    if (i < 0) continue;
    const model = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    out[model] = /^[x×*]/i.test(v) ? { multiplier: v.slice(1).trim() } : { pricePerMillionStd: v };
  }
  return out;
}

/** The form model of an entity (or of a new one: `initial`). */
export function formOf(fields: readonly Field[], entity: Record<string, unknown> | undefined, initial: Record<string, unknown> = {}): FormModel {
  const src = entity ?? initial;
  return Object.fromEntries(fields.map((f) => [f.key, toForm(f, src[f.key])]));
}

/** The API body of a form: every shown field (creating) or only those that changed (editing). */
export function bodyOf(fields: readonly Field[], form: FormModel, editing?: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (editing && f.createOnly) continue;
    if (f.when && !f.when(form)) continue;
    const v = toBody(f, form[f.key]);
    if (v === undefined) continue;
    if (editing && JSON.stringify(v) === JSON.stringify(toBody(f, toForm(f, editing[f.key])))) continue;
    out[f.key] = v;
  }
  return out;
}

/** Element Plus rules for a field, as its API schema checks it; `t` translates the messages. */
export function rulesOf(f: Field, t: (key: string, named?: Record<string, unknown>) => string): FormItemRule[] {
  const rules: FormItemRule[] = [];
  if (f.required) rules.push({ required: true, message: t('ops.form.required'), trigger: ['blur', 'change'] });
  if (f.kind === 'number')
    rules.push({
      trigger: ['blur', 'change'],
      validator: (_r, v: unknown, cb) => {
        if (v === undefined || v === null || v === '') return cb();
        const n = Number(v);
        if (!Number.isFinite(n)) return cb(new Error(t('ops.form.number')));
        if (f.integer && !Number.isInteger(n)) return cb(new Error(t('ops.form.integer')));
        if (f.min !== undefined && n < f.min) return cb(new Error(t('ops.form.min', { min: f.min })));
        if (f.max !== undefined && n > f.max) return cb(new Error(t('ops.form.max', { max: f.max })));
        cb();
      },
    });
  if (f.kind === 'text' && f.max !== undefined) rules.push({ max: f.max, message: t('ops.form.maxLength', { max: f.max }), trigger: 'blur' });
  if (f.pattern) {
    const re = f.pattern;
    rules.push({
      trigger: 'blur',
      validator: (_r, v: unknown, cb) =>
        v === undefined || v === null || v === '' || re.test(String(v)) ? cb() : cb(new Error(t(f.patternMessage ?? 'ops.form.pattern'))),
    });
  }
  if (f.kind === 'prices')
    rules.push({
      trigger: 'blur',
      validator: (_r, v: unknown, cb) => {
        const bad = String(v ?? '')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .some((l) => !/^[^=]+=\s*([x×*]\s*\d{1,6}(\.\d{1,6})?|\d{1,14}(\.\d{1,6})?)\s*$/i.test(l));
        return bad ? cb(new Error(t('ops.form.prices'))) : cb();
      },
    });
  if (f.kind === 'json')
    rules.push({
      trigger: 'blur',
      validator: (_r, v: unknown, cb) => {
        if (v === undefined || v === null || v === '') return cb();
        try {
          JSON.parse(String(v));
          cb();
        } catch {
          cb(new Error(t('ops.form.json')));
        }
      },
    });
  return rules;
}
