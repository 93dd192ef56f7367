/**
 * What one answer costs at the tenant's plan, in exact decimals (never binary floats):
 * standard tokens `std = costFactor × (completion + inputFactor × prompt)` (API.md "Formulas"),
 * priced per million at the plan's price for the model — the model's own price or the plan's price
 * times the model's multiplier, else the plan's price (a unit plan's `pricePerMillionStd`, a
 * periodic plan's overage price, paid only past its included tokens: see billedStd).
 * Exclusive of VAT, as prices are.
 */
/** What of a plan (GET /api/v1/me's subscription.plan, GET /api/v1/plans) prices an answer. */
export interface PlanLike {
  type: 'unit' | 'periodic';
  pricePerMillionStd?: string;
  overagePricePerMillionStd?: string | null;
  includedStd?: number;
  modelPrices?: Record<string, { multiplier: string } | { pricePerMillionStd: string }>;
}

/** A decimal as an integer scaled by 10^-scale. */
interface Dec {
  n: bigint;
  scale: number;
}

export function dec(v: string | number): Dec {
  const s = typeof v === 'number' ? (/e/i.test(String(v)) ? v.toFixed(20).replace(/0+$/, '') : String(v)) : v.trim();
  const m = /^(-)?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (!m[2] && !m[3])) throw new Error(`not a decimal: ${s}`);
  const frac = m[3] ?? '';
  const n = BigInt((m[2] || '0') + frac);
  return { n: m[1] ? -n : n, scale: frac.length };
}

const mul = (a: Dec, b: Dec): Dec => ({ n: a.n * b.n, scale: a.scale + b.scale });
const align = (a: Dec, s: number) => a.n * 10n ** BigInt(s - a.scale);
const add = (a: Dec, b: Dec): Dec => {
  const s = Math.max(a.scale, b.scale);
  return { n: align(a, s) + align(b, s), scale: s };
};

/** The decimal string of `d`, rounded half away from zero to `digits` places. */
export function toFixed(d: Dec, digits: number): string {
  let n = d.n;
  if (d.scale > digits) {
    const div = 10n ** BigInt(d.scale - digits);
    const neg = n < 0n;
    const abs = neg ? -n : n;
    let q = abs / div;
    if ((abs % div) * 2n >= div) q += 1n;
    n = neg ? -q : q;
  } else n *= 10n ** BigInt(digits - d.scale);
  const neg = n < 0n;
  const s = (neg ? -n : n).toString().padStart(digits + 1, '0');
  const out = digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
  return neg ? `-${out}` : out;
}

/** The plan's price per million standard tokens for `model`; null: none (a hard cap's usage past its included tokens is not billed). */
export function pricePerMillion(plan: PlanLike, model: string): string | null {
  const p = plan;
  const base = p.type === 'unit' ? (p.pricePerMillionStd ?? null) : (p.overagePricePerMillionStd ?? null);
  const own = p.modelPrices?.[model];
  if (own && 'pricePerMillionStd' in own) return own.pricePerMillionStd;
  if (own && 'multiplier' in own && base !== null) return toFixed(mul(dec(base), dec(own.multiplier)), 6);
  return base;
}

/** Standard tokens of an answer (exact decimal string). */
export function stdTokens(costFactor: number, inputFactor: number, promptTokens: number, completionTokens: number): string {
  return plain(mul(dec(costFactor), add(dec(completionTokens), mul(dec(inputFactor), dec(promptTokens)))));
}

/** Two exact decimal strings added. */
export function sumStd(a: string, b: string): string {
  return plain(add(dec(a), dec(b)));
}

/** `d` exactly, without trailing zeros. */
function plain(d: Dec): string {
  const s = toFixed(d, d.scale);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * The part of an answer's `std` billed at the plan's price, `used` standard tokens of the period
 * having come before it: all of it on a unit plan; on a periodic plan, only what passes the
 * plan's included tokens (`max(0, used + std − included) − max(0, used − included)`).
 */
export function billedStd(plan: PlanLike, used: string, std: string): string {
  if (plan.type !== 'periodic') return std;
  const included = dec(plan.includedStd ?? 0);
  const past = (x: Dec): Dec => {
    const d = add(x, { n: -included.n, scale: included.scale });
    return d.n > 0n ? d : { n: 0n, scale: 0 };
  };
  const after = past(add(dec(used), dec(std)));
  const before = past(dec(used));
  return plain(add(after, { n: -before.n, scale: before.scale }));
}

/** CNY, to six decimals: std × price ÷ 1,000,000. */
export function answerCost(std: string, price: string): string {
  const d = mul(dec(std), dec(price));
  return toFixed({ n: d.n, scale: d.scale + 6 }, 6);
}
