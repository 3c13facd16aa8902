/**
 * A list+watch that survives everything the apiserver and the network throw at it
 * (client-node 1.4's informer stops on any non-410 error; see reference k8s.md §2.2):
 * - LIST, then WATCH from the list's resourceVersion with bookmarks;
 * - a watch that ends cleanly (server timeout) resumes from the last seen resourceVersion;
 * - a watch that fails (network, 5xx, 403) resumes after jittered exponential backoff;
 * - 410 Gone (resourceVersion too old), as an ERROR event or an error, triggers a relist;
 * - every relist diffs against the cache, so objects deleted while disconnected are reported;
 * - a periodic relist (default 5 min) and a client-side watchdog on each watch (server
 *   timeout + 30 s) catch silently dead connections.
 * Consumers get level-style notifications `(key, object | undefined)` and read the cache;
 * they must never rely on seeing every intermediate version.
 */
import { backoffDelayMs, type BackoffPolicy } from '../controller/backoff.ts';

export interface ListedObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
}

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** The transport: one LIST, and one WATCH that reports events until `onDone`. */
export interface WatchSource<T> {
  list(): Promise<ListResult<T>>;
  watch(
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface ResilientWatchOptions {
  readonly backoff?: BackoffPolicy;
  readonly relistIntervalMs?: number;
  readonly watchTimeoutSeconds?: number;
  /** Diagnostics: restarts and relists, with the reason. */
  readonly onRestart?: (reason: string, error: unknown, delayMs: number) => void;
  readonly onRelist?: (reason: string) => void;
}

export function objectKey(object: ListedObject): string {
  const meta = object.metadata ?? {};
  return meta.namespace === undefined || meta.namespace === ''
    ? (meta.name ?? '')
    : `${meta.namespace}/${meta.name ?? ''}`;
}

export interface ListDiff<T> {
  readonly upserted: T[];
  readonly deleted: string[];
}

/** What changed between the cache and a fresh list (unchanged resourceVersions are skipped). */
export function diffList<T extends ListedObject>(
  cache: ReadonlyMap<string, T>,
  items: readonly T[],
): ListDiff<T> {
  const seen = new Set<string>();
  const upserted: T[] = [];
  for (const item of items) {
    const key = objectKey(item);
    seen.add(key);
    const old = cache.get(key);
    if (old === undefined || old.metadata?.resourceVersion !== item.metadata?.resourceVersion)
      upserted.push(item);
  }
  const deleted = [...cache.keys()].filter((key) => !seen.has(key));
  return { upserted, deleted };
}

/** True for "resourceVersion too old" in any of the shapes client-node reports it. */
export function isGone(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const record = error as Record<string, unknown>;
  return (
    record['code'] === 410 ||
    record['statusCode'] === 410 ||
    record['reason'] === 'Expired' ||
    record['reason'] === 'Gone'
  );
}

export class ResilientWatch<T extends ListedObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private running = false;
  /** Bumped on every (re)connect; callbacks of older connections are ignored. */
  private epoch = 0;
  private current: { abort(): void } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private failures = 0;
  private syncedResolve: (() => void) | undefined;
  readonly synced: Promise<void>;

  constructor(
    private readonly source: WatchSource<T>,
    private readonly onChange: (
      key: string,
      object: T | undefined,
      previous: T | undefined,
    ) => void,
    private readonly options: ResilientWatchOptions = {},
  ) {
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleRelistTimer();
    void this.relist('start');
  }

  stop(): void {
    this.running = false;
    this.epoch++;
    this.current?.abort();
    this.current = undefined;
    clearTimeout(this.retryTimer);
    clearTimeout(this.relistTimer);
    clearTimeout(this.watchdog);
  }

  private scheduleRelistTimer(): void {
    clearTimeout(this.relistTimer);
    this.relistTimer = setTimeout(() => {
      if (!this.running) return;
      this.scheduleRelistTimer();
      void this.relist('periodic');
    }, this.options.relistIntervalMs ?? 300_000);
    this.relistTimer.unref();
  }

  private async relist(reason: string): Promise<void> {
    const epoch = ++this.epoch;
    this.current?.abort();
    this.current = undefined;
    clearTimeout(this.watchdog);
    this.options.onRelist?.(reason);
    let listed: ListResult<T>;
    try {
      listed = await this.source.list();
    } catch (error) {
      if (epoch === this.epoch)
        this.retry('list failed', error, () => void this.relist('retry after list failure'));
      return;
    }
    if (epoch !== this.epoch || !this.running) return;
    const diff = diffList(this.cache, listed.items);
    for (const key of diff.deleted) {
      const previous = this.cache.get(key);
      this.cache.delete(key);
      this.onChange(key, undefined, previous);
    }
    for (const item of diff.upserted) {
      const key = objectKey(item);
      const previous = this.cache.get(key);
      this.cache.set(key, item);
      this.onChange(key, item, previous);
    }
    this.resourceVersion = listed.resourceVersion;
    this.syncedResolve?.();
    await this.watchFrom(epoch);
  }

  private retry(reason: string, error: unknown, action: () => void): void {
    if (!this.running) return;
    const delay = backoffDelayMs(
      this.options.backoff ?? { initialMs: 500, maxMs: 30_000 },
      this.failures++,
    );
    this.options.onRestart?.(reason, error, delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(action, delay);
    this.retryTimer.unref();
  }

  private async watchFrom(epoch: number): Promise<void> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    let ended = false;
    const end = (error: unknown): void => {
      if (ended || epoch !== this.epoch || !this.running) return;
      ended = true;
      clearTimeout(this.watchdog);
      this.current?.abort();
      this.current = undefined;
      if (isGone(error)) {
        void this.relist('resourceVersion expired');
      } else if (error === null || error === undefined) {
        this.failures = 0; // clean close (server-side timeout): resume right away
        const next = ++this.epoch;
        void this.watchFrom(next);
      } else {
        this.retry('watch failed', error, () => {
          if (!this.running) return;
          const next = ++this.epoch;
          void this.watchFrom(next);
        });
      }
    };
    try {
      const handle = await this.source.watch(
        this.resourceVersion,
        timeoutSeconds,
        (type, object) => {
          if (ended || epoch !== this.epoch) return;
          this.handleEvent(type, object, end);
        },
        end,
      );
      if (epoch !== this.epoch || ended) {
        handle.abort();
        return;
      }
      this.current = handle;
      this.watchdog = setTimeout(
        () => end(new Error('watch silent past its timeout')),
        (timeoutSeconds + 30) * 1000,
      );
      this.watchdog.unref();
    } catch (error) {
      end(error ?? new Error('watch failed to start'));
    }
  }

  private handleEvent(type: WatchEventType, object: unknown, end: (error: unknown) => void): void {
    if (type === 'ERROR') {
      end(object ?? new Error('watch ERROR event'));
      return;
    }
    const item = object as T;
    const version = item.metadata?.resourceVersion;
    if (version !== undefined && version !== '') this.resourceVersion = version;
    if (type === 'BOOKMARK') return;
    this.failures = 0;
    const key = objectKey(item);
    const previous = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.onChange(key, undefined, previous ?? item);
    } else {
      this.cache.set(key, item);
      this.onChange(key, item, previous);
    }
  }
}
