/**
 * Standard-token math (API.md "Formulas"), the one place each formula is written. Pure: data in,
 * numbers out.
 *
 * - capacity of devices: `devices × stdTokensPerSec × 60` std/min ({@link stdPerMinMicro});
 * - what a workload asks for: `tokensPerMin × costFactor` std/min ({@link workloadStdMicro});
 * - what a placement holds against quota: its `tokensPerMin × costFactor`, whole replicas ({@link placementStdMicro});
 * - standard tokens of a usage: `costFactor × (outputTokens + inputFactor × inputTokens)` ({@link usageStdTokens}).
 *
 * Where the database must compute a formula (in a batch insert, in a sum), its SQL text comes
 * from here too ({@link workloadStdSql}, {@link placementStdSql}, {@link usageStdSql}); a property
 * test holds the two equal.
 *
 * Catalog factors are decimals with at most six places. They are carried here as integer
 * millionths ("micro" units, `Micro`) so that products with device counts are exact; a result
 * becomes a JS number only at the end, where API.md lets throughputs be fractional numbers.
 */

/** An integer count of millionths: `parseMicro("0.25") === 250_000`. */
export type Micro = number;

export const MICRO = 1_000_000;
const MICRO_BIG = 1_000_000n;

/** Powers of two a replica may span, in the order they are tried. */
export const REPLICA_SIZES: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

const DECIMAL = /^(\d+)(?:\.(\d{1,6}))?$/;

/**
 * Parses a non-negative decimal text with at most six decimal places into millionths.
 * Throws RangeError on anything else (callers validate input before it gets here).
 */
export function parseMicro(text: string): Micro {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal with at most 6 places: ${text}`);
  const value = Number(m[1]) * MICRO + Number((m[2] ?? '').padEnd(6, '0'));
  if (!Number.isSafeInteger(value)) throw new RangeError(`decimal too large: ${text}`);
  return value;
}

/** Formats millionths as the shortest decimal text: `formatMicro(250_000) === "0.25"`. */
export function formatMicro(value: Micro): string {
  const whole = Math.trunc(value / MICRO);
  const frac = value - whole * MICRO;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(6, '0').replace(/0+$/, '')}`;
}

/** A JS number (as parsed from JSON) read as the decimal its shortest text shows. */
export function microFromNumber(value: number): Micro {
  return parseMicro(numberText(value));
}

/**
 * The decimal text of a finite JS number, without exponent notation: the same digits as its
 * shortest text (`String(value)`), with the exponent shifted out (`1e-7` → `"0.0000001"`,
 * `1e21` → `"1000000000000000000000"`). Non-finite values come back as `String(value)`.
 */
export function numberText(value: number): string {
  const text = String(value);
  // Exponent form appears only for |value| < 1e-6 or >= 1e21. Shift the digits rather than use
  // toFixed, which rounds tiny values to "0" (a positive input must never read as zero) and
  // still answers exponent form from 1e21 up.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign = '', lead = '', rest = '', exp = '0'] = m;
  const digits = lead + rest;
  const point = 1 + Number(exp); // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits.padEnd(point, '0')}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * The replica shape of a model on a device: the smallest power of two `n` (1 … 64) with
 * `n × 0.9 × memoryGiB ≥ minMemoryGiB`, or `null` when even 64 devices are too small.
 */
export function devicesPerReplica(minMemoryGiB: Micro, deviceMemoryGiB: Micro): number | null {
  if (deviceMemoryGiB <= 0) return null;
  // n × 0.9 × mem ≥ min  ⇔  n × 9 × mem ≥ 10 × min, in integers.
  const need = 10n * BigInt(minMemoryGiB);
  const per = 9n * BigInt(deviceMemoryGiB);
  for (const n of REPLICA_SIZES) {
    if (BigInt(n) * per >= need) return n;
  }
  return null;
}

/** Model tokens per minute of one replica: `n × stdTokensPerSec × 60 ÷ costFactor`. */
export function replicaTokensPerMin(n: number, stdTokensPerSec: Micro, costFactor: Micro): number {
  if (costFactor <= 0) throw new RangeError('costFactor must be positive');
  return replicaStdMicro(n, stdTokensPerSec) / costFactor;
}

/** Standard tokens per minute of `devices` devices of one profile: `devices × stdTokensPerSec × 60`. */
export function stdPerMin(devices: number, stdTokensPerSec: Micro): number {
  return Number(stdPerMinMicro(devices, stdTokensPerSec)) / MICRO;
}

/** The same as {@link stdPerMin} in exact millionths, for sums. */
export function stdPerMinMicro(devices: number, stdTokensPerSec: Micro): bigint {
  return BigInt(devices) * BigInt(stdTokensPerSec) * 60n;
}

/**
 * {@link stdPerMinMicro} as a JS number, for the scheduler's hot loops: exact below 2^53
 * millionths (a replica of 64 devices of up to 2.3·10^6 standard tokens per second each).
 */
export function replicaStdMicro(devices: number, stdTokensPerSec: Micro): number {
  return devices * stdTokensPerSec * 60;
}

/** One reported device model of a cluster; `stdTokensPerSec` is null when no profile matches. */
export interface InventoryCapacityRow {
  readonly healthy: number;
  /** Devices that placements hold on it; none when absent. */
  readonly held?: number;
  readonly stdTokensPerSec: Micro | null;
}

/** Capacity of some device models, in exact millionths of standard tokens per minute. */
export interface CapacityMicro {
  /** `Σ healthy × stdTokensPerSec × 60`. */
  readonly total: bigint;
  /** `Σ held × stdTokensPerSec × 60`; devices held beyond the healthy count still count. */
  readonly allocated: bigint;
  /**
   * `Σ max(0, healthy − held) × stdTokensPerSec × 60`: counted per device model and never
   * negative, so an over-held model takes nothing from the others.
   */
  readonly free: bigint;
}

/** Capacity of device models (rows); unprofiled rows (`stdTokensPerSec` null) add nothing. */
export function inventoryCapacity(inventory: readonly InventoryCapacityRow[]): CapacityMicro {
  let total = 0n;
  let allocated = 0n;
  let free = 0n;
  for (const row of inventory) {
    if (row.stdTokensPerSec === null) continue;
    const held = row.held ?? 0;
    total += stdPerMinMicro(row.healthy, row.stdTokensPerSec);
    allocated += stdPerMinMicro(held, row.stdTokensPerSec);
    if (row.healthy > held) free += stdPerMinMicro(row.healthy - held, row.stdTokensPerSec);
  }
  return { total, allocated, free };
}

/**
 * Capacity of a cluster in standard tokens per minute: `Σ healthy × stdTokensPerSec × 60` over
 * the device models that match a profile. Unprofiled devices add nothing.
 */
export function clusterCapacity(inventory: readonly InventoryCapacityRow[]): number {
  return microToNumber(inventoryCapacity(inventory).total);
}

/** Converts an exact sum of millionths to a JS number (rounded once, to the nearest double). */
export function microToNumber(value: bigint): number {
  // Parsing the exact decimal text rounds once. Adding whole and frac / 1e6 rounds twice and
  // misses the nearest double for about 1 in 20 values with a small whole part (1.003691 came
  // out as 1.0036909999999999).
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  return Number(`${sign}${abs / MICRO_BIG}.${(abs % MICRO_BIG).toString().padStart(6, '0')}`);
}

/**
 * Standard millionths per minute a workload holds against its tenant's quota:
 * `tokensPerMin × costFactor`, rounded up to a whole millionth (a no-op for whole tokensPerMin,
 * which the API requires). Exact while the answer is a safe integer; an answer that is not
 * (a product of 2^53 or more) is too large to place, and callers refuse it.
 */
export function workloadStdMicro(tokensPerMin: number, costFactor: Micro): number {
  return Math.ceil(tokensPerMin * costFactor);
}

/**
 * Standard millionths per minute a placement holds against its tenant's quota (API.md v2: quota
 * counts what placements hold, whole replicas): `tokensPerMin × costFactor`. A placement's
 * `tokensPerMin` is its devices' exact standard millionths divided by `costFactor`
 * ({@link replicaTokensPerMin}), so the product, rounded to the nearest millionth, gives those
 * millionths back exactly (the rounding error is far below half a millionth below 2^50).
 */
export function placementStdMicro(tokensPerMin: number, costFactor: Micro): Micro {
  return Math.round(tokensPerMin * costFactor);
}

/**
 * {@link placementStdMicro} as a SQL expression over two columns, in standard tokens per minute
 * (not millionths), rounded to the millionth: `round(tokensPerMin × costFactor, 6)`.
 */
export function placementStdSql(tokensPerMin: string, costFactor: string): string {
  return `round(CAST(${column(tokensPerMin)} AS numeric) * ${column(costFactor)}, 6)`;
}

/**
 * Standard tokens of a usage: `costFactor × (outputTokens + inputFactor × inputTokens)`, exact,
 * as a decimal string (up to 12 decimal places, trailing zeros removed).
 */
export function usageStdTokens(inputTokens: number, outputTokens: number, costFactor: Micro, inputFactor: Micro): string {
  // In units of 1e-12: cost(µ) × (output × 1e6 + inputFactor(µ) × input).
  const scaled = BigInt(costFactor) * (BigInt(outputTokens) * MICRO_BIG + BigInt(inputFactor) * BigInt(inputTokens));
  const unit = MICRO_BIG * MICRO_BIG;
  const whole = scaled / unit;
  const frac = scaled % unit;
  if (frac === 0n) return whole.toString();
  return `${whole}.${frac.toString().padStart(12, '0').replace(/0+$/, '')}`;
}

// SQL text of the formulas, for repositories to wrap in `sql.raw`. The operands are column
// references the repository names (`m.cost_factor`), never values.

const COLUMN = /^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?$/;

function column(name: string): string {
  if (!COLUMN.test(name)) throw new RangeError(`not a column reference: ${name}`);
  return name;
}

/**
 * {@link workloadStdMicro} as a SQL expression over two columns, in standard tokens per minute
 * (not millionths): `tokensPerMin × costFactor`. Exact in `numeric` for an integer
 * `tokensPerMin` and a `numeric` `costFactor`.
 */
export function workloadStdSql(tokensPerMin: string, costFactor: string): string {
  return `(${column(tokensPerMin)} * ${column(costFactor)})`;
}

/**
 * {@link usageStdTokens} as a SQL expression over four columns:
 * `costFactor × (outputTokens + inputFactor × inputTokens)`. Exact in `numeric` for integer
 * token counts and `numeric` factors (at most 12 decimal places).
 */
export function usageStdSql(columns: {
  readonly inputTokens: string;
  readonly outputTokens: string;
  readonly costFactor: string;
  readonly inputFactor: string;
}): string {
  const { inputTokens, outputTokens, costFactor, inputFactor } = columns;
  return `(${column(costFactor)} * (${column(outputTokens)} + ${column(inputFactor)} * ${column(inputTokens)}))`;
}
