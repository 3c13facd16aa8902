import { describe, expect, it } from 'vitest';
import { CronError, latestRunBetween, matches, nextRun, parseCron, previousRun } from './cron.ts';

const at = (iso: string): Date => new Date(iso);
const next = (expression: string, after: string): string | undefined =>
  nextRun(parseCron(expression), at(after))?.toISOString();
const previous = (expression: string, atOrBefore: string): string | undefined =>
  previousRun(parseCron(expression), at(atOrBefore))?.toISOString();

describe('parseCron', () => {
  it('expands *, lists, ranges and steps; folds day-of-week 7 into Sunday', () => {
    const schedule = parseCron('*/15 1,3 1-3 */6 5-7');
    expect([...schedule.minutes]).toEqual([0, 15, 30, 45]);
    expect([...schedule.hours]).toEqual([1, 3]);
    expect([...schedule.daysOfMonth]).toEqual([1, 2, 3]);
    expect([...schedule.months]).toEqual([1, 7]);
    expect([...schedule.daysOfWeek].sort()).toEqual([0, 5, 6]);
    expect([...parseCron('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
  });

  it.each([
    ['* * * *', /5 fields/],
    ['* * * * * *', /5 fields/],
    ['60 * * * *', /minute/],
    ['* 24 * * *', /hour/],
    ['* * 0 * *', /day-of-month/],
    ['* * * 13 *', /month/],
    ['* * * * 8', /day-of-week/],
    ['*/0 * * * *', /step/],
    ['5-1 * * * *', /outside/],
    ['a * * * *', /not a number/],
    ['1/2/3 * * * *', /two steps/],
    ['1-2-3 * * * *', /bad range/],
    ['', /5 fields/],
  ])('refuses %j', (expression, message) => {
    expect(() => parseCron(expression)).toThrow(CronError);
    expect(() => parseCron(expression)).toThrow(message);
  });
});

describe('nextRun / previousRun (UTC)', () => {
  it('every minute', () => {
    expect(next('* * * * *', '2026-12-06T21:30:15Z')).toBe('2026-12-06T21:31:00.000Z');
    expect(next('* * * * *', '2026-12-06T21:31:00Z')).toBe('2026-12-06T21:32:00.000Z');
    expect(previous('* * * * *', '2026-12-06T21:31:59Z')).toBe('2026-12-06T21:31:00.000Z');
  });

  it('daily at 02:30, across month and year ends', () => {
    expect(next('30 2 * * *', '2026-12-31T02:30:00Z')).toBe('2027-01-01T02:30:00.000Z');
    expect(previous('30 2 * * *', '2027-01-01T02:29:00Z')).toBe('2026-12-31T02:30:00.000Z');
  });

  it('day-of-month OR day-of-week when both are restricted', () => {
    // 2026-12-06 is a Sunday. 1st of the month or any Friday.
    expect(next('0 0 1 * 5', '2026-12-06T00:00:00Z')).toBe('2026-12-11T00:00:00.000Z');
    expect(next('0 0 1 * 5', '2026-12-26T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    // Only the weekday restricted: Sundays (0 and 7).
    expect(next('0 12 * * 7', '2026-12-06T12:00:00Z')).toBe('2026-12-13T12:00:00.000Z');
  });

  it('29 February, and never for an impossible date', () => {
    expect(next('0 0 29 2 *', '2026-01-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(next('0 0 31 2 *', '2026-01-01T00:00:00Z')).toBeUndefined();
    expect(previous('0 0 31 2 *', '2026-01-01T00:00:00Z')).toBeUndefined();
  });

  it('matches agrees with nextRun', () => {
    const schedule = parseCron('*/7 */5 * * 1-5');
    let cursor = at('2026-12-04T00:00:00Z');
    for (let i = 0; i < 50; i++) {
      const run = nextRun(schedule, cursor)!;
      expect(matches(schedule, run)).toBe(true);
      for (let t = cursor.getTime() + 60_000; t < run.getTime(); t += 60_000) {
        if (new Date(t).getUTCSeconds() === 0 && t % 60_000 === 0)
          expect(matches(schedule, new Date(t))).toBe(false);
      }
      cursor = run;
    }
  });
});

describe('latestRunBetween', () => {
  const everyMinute = parseCron('* * * * *');
  it('owes only the latest missed run, and nothing before the window', () => {
    expect(
      latestRunBetween(everyMinute, at('2026-12-06T21:00:00Z'), at('2026-12-06T21:05:30Z')),
    ).toEqual(at('2026-12-06T21:05:00Z'));
    expect(
      latestRunBetween(everyMinute, at('2026-12-06T21:05:00Z'), at('2026-12-06T21:05:59Z')),
    ).toBeUndefined();
    // Years behind: still cheap and still the latest run.
    const hourly = parseCron('0 * * * *');
    expect(
      latestRunBetween(hourly, at('2020-01-01T00:00:00Z'), at('2026-12-06T21:05:00Z')),
    ).toEqual(at('2026-12-06T21:00:00Z'));
  });
});
