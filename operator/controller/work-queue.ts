/**
 * A keyed work queue for level-based reconciliation (the client-go workqueue contract):
 * - a key is queued at most once; adding a key that is being processed marks it dirty, and
 *   it is processed again after the current run (never concurrently with itself);
 * - failures are retried with per-key exponential backoff, reset on success;
 * - `addAfter` schedules a later re-check (periodic resync, waiting for pods).
 * One worker processes keys in FIFO order. Timers are injected for tests.
 */
import { backoffDelayMs, type BackoffPolicy } from './backoff.ts';

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type ProcessResult = { readonly requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, unknown>();
  private running = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly process: (key: string) => Promise<ProcessResult>,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void,
    private readonly backoff: BackoffPolicy = { initialMs: 500, maxMs: 60_000 },
    private readonly timers: Timers = realTimers,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    void this.drain();
  }

  /** Adds the key after `ms`; an earlier pending delay for the same key is kept if sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (this.delayed.has(key)) return;
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, handle);
  }

  /** Forgets a key (its object is gone): drops backoff state and pending delays. */
  forget(key: string): void {
    this.failures.delete(key);
    const handle = this.delayed.get(key);
    if (handle !== undefined) this.timers.clearTimeout(handle);
    this.delayed.delete(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or processing (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work; resolves once the key in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    await this.whenIdle();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const key = this.queue.shift() as string;
        this.queued.delete(key);
        this.processing.add(key);
        try {
          const result = await this.process(key);
          this.failures.delete(key);
          if (result !== undefined && result.requeueAfterMs !== undefined)
            this.addAfter(key, result.requeueAfterMs);
        } catch (error) {
          const attempt = this.failures.get(key) ?? 0;
          this.failures.set(key, attempt + 1);
          const delay = backoffDelayMs(this.backoff, attempt);
          this.onError(key, error, delay);
          this.addAfter(key, delay);
        } finally {
          this.processing.delete(key);
          if (this.dirty.delete(key)) this.add(key);
        }
      }
    } finally {
      this.running = false;
      if (this.queue.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }
}
