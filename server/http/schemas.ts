/** zod schemas shared by routes; the OpenAPI document is generated from them. */
import { z } from 'zod';
import { formatMicro, numberText, parseMicro } from '../../scheduler/capacity.js';
import { decodeCursor } from '../repositories/paging.js';
import { usccMessage, usccProblem } from '../billing/uscc.js';

const SIX_PLACES = /^\d{1,12}(\.\d{1,6})?$/;

/**
 * A catalog factor: a positive decimal with at most six places, given as a JSON number (read as
 * the decimal its text shows) or a decimal string. Output: the canonical decimal text.
 */
export function decimalFactor(opts: { min?: 'positive' | 'zero'; max: number }) {
  return z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      const text = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? numberText(v) : 'x') : v;
      if (!SIX_PLACES.test(text)) {
        ctx.addIssue({ code: 'custom', message: 'must be a non-negative decimal with at most 6 decimal places' });
        return z.NEVER;
      }
      const micro = parseMicro(text);
      if (opts.min !== 'zero' && micro === 0) {
        ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
        return z.NEVER;
      }
      if (micro > opts.max * 1_000_000) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${opts.max}` });
        return z.NEVER;
      }
      return formatMicro(micro);
    })
    .meta({ description: 'A decimal with at most 6 decimal places (JSON number or string).' });
}

export const vendorName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a lower-case vendor id such as "nvidia"');
export const regionName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a lower-case region id such as "nansha"');
export const deviceName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/ ]*$/, 'must start with a letter or digit and use letters, digits, ".", "_", "-", "/" or spaces');
export const resourceName = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
    'must be an extended Kubernetes resource name such as "nvidia.com/gpu"',
  )
  .max(253);
export const modelName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-:/]*$/, 'must start with a letter or digit and use letters, digits, ".", "_", "-", ":" or "/"');
export const clusterName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a DNS label: lower-case letters, digits and "-"');
export const labelMap = z
  .record(
    z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9]([A-Za-z0-9._\-/]*[A-Za-z0-9])?$/, 'label keys use letters, digits, ".", "_", "-" and "/"'),
    z.string().max(256),
  )
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 labels');

/**
 * The base URL of a serving replica's OpenAI-compatible server, as an agent reports it: http or
 * https, no credentials, query or fragment, no whitespace (API.md v2 "Token gateway"); or
 * `tunnel://<host>:<port>`, an in-cluster address the gateway reaches through the cluster's tunnel
 * (README "Tunnel").
 */
export const endpointUrl = z
  .string()
  .max(2048)
  .regex(/^(?:https?:\/\/\S+|tunnel:\/\/[^/@\s]+:\d+)$/, 'must be an http or https URL, or tunnel://<host>:<port>')
  .refine((s) => {
    try {
      const u = new URL(s);
      if (u.protocol === 'tunnel:') return u.hostname !== '' && u.port !== '' && (u.pathname === '' || u.pathname === '/');
      return u.username === '' && u.password === '' && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, 'must be a base URL without credentials, query or fragment');

/**
 * A billing period: a calendar month `YYYY-MM`, from 1970 as for `instant` (PostgreSQL has no
 * year 0, and PGlite does not read years below 100 back as written).
 */
export const billingPeriod = z.string().regex(/^(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])$/, 'must be a month such as "2026-10", from 1970-01');

/** A unified social credit code (GB 32100-2015, server/billing/uscc.ts); a wrong one is refused with the reason. */
export const usccCode = z.string().superRefine((code, ctx) => {
  const problem = usccProblem(code);
  if (problem) ctx.addIssue({ code: 'custom', message: usccMessage(problem) });
});

export const idParam = z.strictObject({ id: z.string().min(1).max(64) });

export const pageQuery = {
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000'))
    .default(100)
    .meta({ description: 'Page size, 1–1000 (default 100).' }),
  cursor: z.string().max(200).optional().meta({ description: "The previous page's nextCursor." }),
};

export const pageOnlyQuery = z.strictObject(pageQuery);

/** The page request of a validated list query. */
export function pageOf(q: { limit: number; cursor?: string | undefined }): { limit: number; after: number } {
  return { limit: q.limit, after: decodeCursor(q.cursor) };
}

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** An error under `/v1`, as OpenAI's API answers it (API.md v2 "Token gateway"). */
export const openAiErrorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

export const timestamp = z.string().meta({ format: 'date-time' });

const EARLIEST = Date.parse('1970-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T00:00:00Z');

/**
 * An instant a client gives: RFC 3339 with an offset, from 1970-01-01 to 9999-12-31 UTC. Outside
 * that, PGlite reads a stored year below 100 back as 19xx or 20xx (or not at all), and a year past
 * 9999 is written back as "+010000-…", which is not RFC 3339. Output: the Date.
 */
export const instant = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 time with an offset' })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t <= LATEST;
  }, 'must be between 1970-01-01 and 9999-12-31')
  .transform((s) => new Date(s));
