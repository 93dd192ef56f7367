/**
 * Billing periods: calendar months in an IANA time zone (API.md "Billing": a period is the calendar
 * month in `TOKENPOOL_TIMEZONE`, Asia/Shanghai by default).
 *
 * No clock reads, no I/O. The functions on periods alone are pure; what depends on the zone is a
 * `Calendar` for that zone, which keeps its formatter and the day starts of the months it was asked
 * about. Offsets come from `Intl.DateTimeFormat` with `timeZone`, so any zone Node's ICU knows
 * works, including zones with daylight saving time, where a day may last 23 or 25 hours and local
 * midnight may even be skipped or repeated.
 *
 * A period is written `YYYY-MM` (`"2026-10"`); a day `YYYY-MM-DD`. Instants are `Date`s.
 */

/** A parsed period: `month` is 1–12. */
export interface Period {
  readonly year: number;
  readonly month: number;
}

const PERIOD_RE = /^(\d{4})-(\d{2})$/;

/**
 * Parses and validates `YYYY-MM` (year 0001–9999, month 01–12).
 * @throws RangeError for anything else (`"2026-1"`, `"2026-13"`, `"2026-10-01"`, non-strings).
 */
export function parsePeriod(period: string): Period {
  const m = typeof period === 'string' ? PERIOD_RE.exec(period) : null;
  const year = m ? Number(m[1]) : NaN;
  const month = m ? Number(m[2]) : NaN;
  if (!(year >= 1 && month >= 1 && month <= 12)) {
    throw new RangeError(`Invalid period ${JSON.stringify(period)}: expected YYYY-MM`);
  }
  return { year, month };
}

function formatPeriod(year: number, month: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

/** The period after `period` (`"2026-12"` → `"2027-01"`). @throws RangeError on an invalid period. */
export function nextPeriod(period: string): string {
  const { year, month } = parsePeriod(period);
  return month === 12 ? formatPeriod(year + 1, 1) : formatPeriod(year, month + 1);
}

/** The period before `period` (`"2027-01"` → `"2026-12"`). @throws RangeError on an invalid period. */
export function previousPeriod(period: string): string {
  const { year, month } = parsePeriod(period);
  return month === 1 ? formatPeriod(year - 1, 12) : formatPeriod(year, month - 1);
}

/**
 * Number of calendar days of the month (28–31, Gregorian leap years: `"2028-02"` → 29,
 * `"2100-02"` → 28). Independent of the time zone: a DST day of 23 or 25 hours is still one day.
 * @throws RangeError on an invalid period.
 */
export function daysInMonth(period: string): number {
  const { year, month } = parsePeriod(period);
  return utcDate(year, month + 1, 0).getUTCDate();
}

/** A UTC Date from calendar fields; fields may overflow (day 0 is the last day of the month before). */
function utcDate(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): Date {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d;
}

// --- time-zone arithmetic -------------------------------------------------------------------

interface LocalFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function assertInstant(instant: Date, name: string): void {
  if (!(instant instanceof Date) || Number.isNaN(instant.getTime())) {
    throw new RangeError(`${name} must be a valid Date`);
  }
}

const DAY_MS = 86_400_000;
/** Months whose day starts a calendar keeps (a close reads one or two; the demo a few more). */
const DAY_START_CACHE_LIMIT = 512;

/**
 * The calendar of one IANA time zone: which period and day an instant falls in, and where a
 * month begins and ends there. Build one per zone and keep it: it holds the zone's formatter and
 * the day starts of the months it computed, each month's computed once.
 */
export class Calendar {
  private readonly formatter: Intl.DateTimeFormat;
  private readonly dayStartCache = new Map<string, readonly number[]>();

  /** @throws RangeError for a zone Node's ICU does not know. */
  constructor(readonly timezone: string) {
    this.formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  }

  /**
   * The period (`YYYY-MM`) that contains `instant`, reading the local date.
   * Example: 2026-10-31T16:30:00Z is 2026-11-01 00:30 in Asia/Shanghai → `"2026-11"`.
   * @throws RangeError for an invalid Date.
   */
  periodOf(instant: Date): string {
    assertInstant(instant, 'instant');
    const f = this.localFields(instant);
    return formatPeriod(f.year, f.month);
  }

  /**
   * The local date (`YYYY-MM-DD`) of `instant`.
   * @throws RangeError for an invalid Date.
   */
  dayOf(instant: Date): string {
    assertInstant(instant, 'instant');
    const f = this.localFields(instant);
    return `${formatPeriod(f.year, f.month)}-${String(f.day).padStart(2, '0')}`;
  }

  /**
   * Local 00:00 of a date (`YYYY-MM-DD`), as `monthBounds` reads days.
   * @throws RangeError for a date that does not exist.
   */
  dayStart(day: string): Date {
    const m = /^(\d{4}-\d{2})-(\d{2})$/.exec(day);
    const start = m ? this.dayStarts(m[1]!)[Number(m[2]) - 1] : undefined;
    if (!m || start === undefined || Number(m[2]) < 1 || Number(m[2]) > daysInMonth(m[1]!)) throw new RangeError(`Not a date: ${day}`);
    return new Date(start);
  }

  /**
   * The instants that bound the month, half-open: `start` is local 00:00 on the 1st and `end`
   * local 00:00 on the 1st of the next month; an instant `t` is in the period iff `start ≤ t < end`.
   * Example: `"2026-10"` in Asia/Shanghai is 2026-09-30T16:00:00Z … 2026-10-31T16:00:00Z. Where a
   * zone skips local midnight, the day begins at the first instant of that date.
   * @throws RangeError for an invalid period.
   */
  monthBounds(period: string): { start: Date; end: Date } {
    const starts = this.dayStarts(period);
    return { start: new Date(starts[0]!), end: new Date(starts[starts.length - 1]!) };
  }

  /**
   * How many days of the month a subscription covers for proration (API.md "Rating"): the days
   * whose start (local 00:00) falls inside the subscription, i.e. `subStart ≤ dayStart < subEnd`
   * (`subEnd === null`: open-ended). 0 to `daysInMonth(period)`.
   * Examples in Asia/Shanghai, October 2026: starting 2026-10-16T00:00+08:00 → 16; starting one
   * second later → 15 (the 16th began before it); ending 2026-10-16T00:00+08:00 → 15; an end not
   * after the start → 0.
   * @throws RangeError for an invalid period or Date.
   */
  activeDays(period: string, subStart: Date, subEnd: Date | null): number {
    assertInstant(subStart, 'subStart');
    if (subEnd !== null) assertInstant(subEnd, 'subEnd');
    const starts = this.dayStarts(period);
    const from = subStart.getTime();
    const to = subEnd === null ? Infinity : subEnd.getTime();
    let n = 0;
    for (let i = 0; i < starts.length - 1; i++) {
      const t = starts[i]!;
      if (from <= t && t < to) n++;
    }
    return n;
  }

  /**
   * Whether the month is over at `now`: `now ≥ monthBounds(period).end`. A period can be closed
   * only then (API.md: "A month that has not ended cannot be closed").
   * @throws RangeError for an invalid period or Date.
   */
  periodHasEnded(period: string, now: Date): boolean {
    assertInstant(now, 'now');
    return now.getTime() >= this.monthBounds(period).end.getTime();
  }

  /** Epoch milliseconds of local 00:00 of every day of the month, plus that of the next month's 1st. */
  private dayStarts(period: string): readonly number[] {
    const hit = this.dayStartCache.get(period);
    if (hit) return hit;
    const { year, month } = parsePeriod(period);
    const n = daysInMonth(period);
    const starts: number[] = [];
    for (let d = 1; d <= n + 1; d++) starts.push(this.wallToInstant(utcDate(year, month, d).getTime()));
    if (this.dayStartCache.size >= DAY_START_CACHE_LIMIT) this.dayStartCache.clear();
    this.dayStartCache.set(period, Object.freeze(starts));
    return starts;
  }

  /** The wall-clock fields of `instant` here. */
  private localFields(instant: Date): LocalFields {
    const parts = this.formatter.formatToParts(instant);
    const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
    const yearOfEra = Number(get('year'));
    return {
      year: get('era') === 'BC' || get('era') === 'B' ? 1 - yearOfEra : yearOfEra,
      month: Number(get('month')),
      day: Number(get('day')),
      hour: Number(get('hour')),
      minute: Number(get('minute')),
      second: Number(get('second')),
    };
  }

  /** The zone's offset from UTC at `ms` (milliseconds since the epoch), in milliseconds, whole seconds. */
  private offsetAt(ms: number): number {
    const wholeSecond = Math.floor(ms / 1000) * 1000;
    const f = this.localFields(new Date(wholeSecond));
    return utcDate(f.year, f.month, f.day, f.hour, f.minute, f.second).getTime() - wholeSecond;
  }

  /**
   * The instant at which the wall-clock time `wall` (calendar fields encoded as if UTC) occurs
   * here. Repeated wall time (a fold): the earlier instant. Skipped wall time (a gap): the offset
   * before the transition is applied, which lands on the transition itself when the gap starts
   * exactly at `wall` (the "compatible" rule of Temporal). For local midnight this is the instant
   * the local day begins.
   */
  private wallToInstant(wall: number): number {
    // Real zones change offset at most once within any 48 hours, so the offsets a day either side
    // are the only candidates.
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    const valid = [before, after].map((o) => wall - o).filter((t) => this.offsetAt(t) === wall - t);
    if (valid.length > 0) return Math.min(...valid);
    return wall - before;
  }
}
