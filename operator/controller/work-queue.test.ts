import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.ts';
import { WorkQueue, type Timers } from './work-queue.ts';

/** Manual timers: `fire()` runs every pending callback. */
function manualTimers(): Timers & {
  pending: Map<number, { callback: () => void; ms: number }>;
  fire(): void;
} {
  let next = 0;
  const pending = new Map<number, { callback: () => void; ms: number }>();
  return {
    pending,
    setTimeout: (callback, ms) => {
      pending.set(++next, { callback, ms });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
    fire() {
      const due = [...pending.values()];
      pending.clear();
      for (const { callback } of due) callback();
    },
  };
}

describe('backoffDelayMs', () => {
  it('doubles up to the cap and stays within [ceiling/2, ceiling]', () => {
    const policy = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelayMs(policy, 0, () => 0)).toBe(50);
    expect(backoffDelayMs(policy, 0, () => 1)).toBe(100);
    expect(backoffDelayMs(policy, 3, () => 1)).toBe(800);
    expect(backoffDelayMs(policy, 4, () => 1)).toBe(1000);
    expect(backoffDelayMs(policy, 1000, () => 0.5)).toBe(750);
    expect(backoffDelayMs(policy, -5, () => 1)).toBe(100);
  });
});

describe('WorkQueue', () => {
  it('deduplicates queued keys and never runs a key concurrently with itself', async () => {
    const runs: string[] = [];
    let release: (() => void) | undefined;
    let active = 0;
    let maxActive = 0;
    const queue = new WorkQueue(
      async (key) => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs.push(key);
        if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
        active--;
      },
      () => {},
      undefined,
      manualTimers(),
    );
    queue.add('a');
    await Promise.resolve();
    queue.add('a'); // while processing: marks dirty, runs once more afterwards
    queue.add('a');
    queue.add('b');
    queue.add('b');
    release?.();
    await queue.whenIdle();
    expect(runs).toEqual(['a', 'b', 'a']);
    expect(maxActive).toBe(1);
  });

  it('retries failures with growing backoff and resets after success', async () => {
    const timers = manualTimers();
    const errors: number[] = [];
    let failuresLeft = 3;
    const queue = new WorkQueue(
      async () => {
        if (failuresLeft-- > 0) throw new Error('boom');
      },
      (_key, _error, retryInMs) => errors.push(retryInMs),
      { initialMs: 100, maxMs: 10_000 },
      timers,
    );
    queue.add('k');
    for (let i = 0; i < 3; i++) {
      await queue.whenIdle();
      expect(timers.pending.size).toBe(1);
      timers.fire();
    }
    await queue.whenIdle();
    expect(errors).toHaveLength(3);
    expect(errors[0]).toBeLessThanOrEqual(100);
    expect(errors[2]).toBeGreaterThanOrEqual(200);
    expect(timers.pending.size).toBe(0);
  });

  it('requeues after the delay a run asks for, and forget() cancels it', async () => {
    const timers = manualTimers();
    let runs = 0;
    const queue = new WorkQueue(
      async () => {
        runs++;
        return { requeueAfterMs: 15_000 };
      },
      () => {},
      undefined,
      timers,
    );
    queue.add('k');
    await queue.whenIdle();
    expect([...timers.pending.values()].map((t) => t.ms)).toEqual([15_000]);
    timers.fire();
    await queue.whenIdle();
    expect(runs).toBe(2);
    queue.forget('k');
    expect(timers.pending.size).toBe(0);
  });

  it('stop() waits for the key in progress and takes no new work', async () => {
    let release: (() => void) | undefined;
    let finished = false;
    const seen: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        await new Promise<void>((resolve) => (release = resolve));
        finished = true;
      },
      () => {},
      undefined,
      manualTimers(),
    );
    queue.add('a');
    queue.add('b');
    await Promise.resolve();
    const stopped = queue.stop();
    queue.add('c');
    release?.();
    await stopped;
    expect(finished).toBe(true);
    expect(seen).toEqual(['a']);
  });
});
