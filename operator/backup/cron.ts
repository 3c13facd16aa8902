/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week), evaluated in UTC,
 * for scheduled MpcBackups. Fields take `*`, numbers, ranges `a-b`, lists `a,b` and steps
 * `*\/n`, `a-b/n`, `a/n`; day-of-week is 0–7 with 0 and 7 both Sunday. As in Vixie cron,
 * when both day-of-month and day-of-week are restricted (neither is `*`), a day matches if
 * either does. No names (`MON`, `JAN`) and no `@daily` macros: the CRD admits digits only.
 * Pure.
 */

export class CronError extends Error {
  readonly code = 'ERROR_INVALID_SCHEDULE';
  constructor(message: string) {
    super(message);
    this.name = 'CronError';
  }
}

export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 folded into 0). */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 7 },
] as const;

function parseNumber(text: string, field: string): number {
  if (!/^\d{1,2}$/.test(text))
    throw new CronError(`${field}: ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

function parseField(text: string, field: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [rangeText = '', stepText, extra] = part.split('/');
    if (extra !== undefined)
      throw new CronError(`${field.name}: ${JSON.stringify(part)} has two steps`);
    const step = stepText === undefined ? 1 : parseNumber(stepText, field.name);
    if (step < 1) throw new CronError(`${field.name}: the step must be at least 1`);
    let low: number;
    let high: number;
    if (rangeText === '*') {
      low = field.min;
      high = field.max;
    } else if (rangeText.includes('-')) {
      const [a = '', b = '', more] = rangeText.split('-');
      if (more !== undefined)
        throw new CronError(`${field.name}: bad range ${JSON.stringify(rangeText)}`);
      low = parseNumber(a, field.name);
      high = parseNumber(b, field.name);
    } else {
      low = parseNumber(rangeText, field.name);
      // `a/n` means a, a+n, … up to the maximum.
      high = stepText === undefined ? low : field.max;
    }
    if (low < field.min || high > field.max || low > high) {
      throw new CronError(
        `${field.name}: ${JSON.stringify(part)} is outside ${field.min}-${field.max}`,
      );
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    );
  }
  const [minute, hour, dayOfMonth, month, dayOfWeek] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  const daysOfWeek = parseField(dayOfWeek, FIELDS[4]);
  if (daysOfWeek.delete(7)) daysOfWeek.add(0);
  return {
    minutes: parseField(minute, FIELDS[0]),
    hours: parseField(hour, FIELDS[1]),
    daysOfMonth: parseField(dayOfMonth, FIELDS[2]),
    months: parseField(month, FIELDS[3]),
    daysOfWeek,
    dayOfMonthRestricted: dayOfMonth !== '*',
    dayOfWeekRestricted: dayOfWeek !== '*',
  };
}

function dayMatches(schedule: CronSchedule, date: Date): boolean {
  const dom = schedule.daysOfMonth.has(date.getUTCDate());
  const dow = schedule.daysOfWeek.has(date.getUTCDay());
  if (schedule.dayOfMonthRestricted && schedule.dayOfWeekRestricted) return dom || dow;
  return dom && dow;
}

export function matches(schedule: CronSchedule, date: Date): boolean {
  return (
    schedule.minutes.has(date.getUTCMinutes()) &&
    schedule.hours.has(date.getUTCHours()) &&
    schedule.months.has(date.getUTCMonth() + 1) &&
    dayMatches(schedule, date)
  );
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Far enough for any satisfiable schedule (29 February on a given weekday: 28 years). */
const SEARCH_LIMIT_MS = 29 * 366 * DAY_MS;

/**
 * The first scheduled minute strictly after `after`, or undefined when none exists within
 * the search limit (e.g. 31 February). Skips non-matching days whole, so it is cheap.
 */
export function nextRun(schedule: CronSchedule, after: Date): Date | undefined {
  let t = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const limit = after.getTime() + SEARCH_LIMIT_MS;
  while (t <= limit) {
    const date = new Date(t);
    if (!schedule.months.has(date.getUTCMonth() + 1) || !dayMatches(schedule, date)) {
      t = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
      continue;
    }
    if (!schedule.hours.has(date.getUTCHours())) {
      t = Date.UTC(
        date.getUTCFullYear(),
        date.getUTCMonth(),
        date.getUTCDate(),
        date.getUTCHours() + 1,
      );
      continue;
    }
    if (schedule.minutes.has(date.getUTCMinutes())) return date;
    t += MINUTE_MS;
  }
  return undefined;
}

/** The last scheduled minute at or before `atOrBefore`, or undefined within the search limit. */
export function previousRun(schedule: CronSchedule, atOrBefore: Date): Date | undefined {
  let t = Math.floor(atOrBefore.getTime() / MINUTE_MS) * MINUTE_MS;
  const limit = atOrBefore.getTime() - SEARCH_LIMIT_MS;
  while (t >= limit) {
    const date = new Date(t);
    if (!schedule.months.has(date.getUTCMonth() + 1) || !dayMatches(schedule, date)) {
      // The last minute of the previous day.
      t = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) - MINUTE_MS;
      continue;
    }
    if (!schedule.hours.has(date.getUTCHours())) {
      t =
        Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours()) -
        MINUTE_MS;
      continue;
    }
    if (schedule.minutes.has(date.getUTCMinutes())) return date;
    t -= MINUTE_MS;
  }
  return undefined;
}

/**
 * The latest scheduled minute in (`after`, `now`], or undefined when none: the run a
 * controller owes at `now` (missed runs before it are skipped, like a CronJob catching up
 * only once).
 */
export function latestRunBetween(schedule: CronSchedule, after: Date, now: Date): Date | undefined {
  const latest = previousRun(schedule, now);
  return latest !== undefined && latest.getTime() > after.getTime() ? latest : undefined;
}
