/**
 * Exponential backoff with full jitter: attempt 0 waits up to `initialMs`, each further attempt
 * doubles the ceiling up to `maxMs`. Pure: the random source is injected.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxMs,
    policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30),
  );
  // Never below half the ceiling: keeps retries spread without hammering at ~0 ms.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
