/** Bounded polling for tests that wait on a real server (apiserver, NATS, signer processes). */
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `check` every 250 ms until it returns a value other than undefined, false or null (a
 * throw counts as not yet, and the last one is named in the timeout's message); bounded.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<Exclude<T, undefined | false | null>> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) {
        return value as Exclude<T, undefined | false | null>;
      }
    } catch (error) {
      last = error;
    }
    await delay(250);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`,
  );
}
