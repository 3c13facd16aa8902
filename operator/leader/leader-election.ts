/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics
 * (k8s.md §4.1, `tools/leaderelection/leaderelection.go`), so two operator replicas can run and
 * only one reconciles:
 * - every `retryPeriodMs` a candidate reads the Lease; it only acts on times it observed
 *   itself: another holder counts as alive until `leaseDurationMs` have passed, by the
 *   candidate's monotonic clock, since the record last *changed* (renewTime/holder) — holder
 *   clocks are never compared with ours, so only the skew *rate* matters;
 * - acquiring and renewing are updates carrying the read resourceVersion (optimistic
 *   concurrency: of two candidates racing, one gets 409 and stays a follower);
 * - the leader renews every `retryPeriodMs`; when it has not renewed successfully for
 *   `renewDeadlineMs` it has lost leadership and must stop acting at once (the caller exits,
 *   as controller-runtime does: a leader that may have been replaced never keeps writing);
 * - on graceful shutdown the leader releases the Lease (empty holder, duration 1 s), so a
 *   standby takes over after one retry period instead of a full lease duration.
 * Defaults: lease 15 s, renew deadline 10 s, retry 2 s (client-go's).
 *
 * `decide` is the pure core (unit-tested with an injected clock); `LeaderElector` does the I/O
 * through `LeaseStore`.
 */

/** The Lease fields leader election uses. */
export interface LeaderRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface StoredLease {
  readonly record: LeaderRecord;
  /** Optimistic-concurrency token (metadata.resourceVersion). */
  readonly version: string;
}

/** Kubernetes I/O of the elector (see `kubeLeaseStore`). */
export interface LeaseStore {
  /** Undefined when the Lease does not exist. */
  get(): Promise<StoredLease | undefined>;
  /** Creates the Lease; throws a conflict error (409) if it exists. */
  create(record: LeaderRecord): Promise<StoredLease>;
  /** Replaces the Lease if it still has `version`; throws a conflict error (409) otherwise. */
  update(record: LeaderRecord, version: string): Promise<StoredLease>;
}

export interface ElectionTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: ElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** What the candidate last saw and when (its own clock). */
export interface Observation {
  readonly record: LeaderRecord | undefined;
  readonly observedAt: number;
}

/** Notes a read: the observation time moves only when the record changed. */
export function observe(
  previous: Observation | undefined,
  record: LeaderRecord | undefined,
  now: number,
): Observation {
  const same =
    previous !== undefined &&
    previous.record?.holderIdentity === record?.holderIdentity &&
    previous.record?.renewTime === record?.renewTime;
  return same ? previous : { record, observedAt: now };
}

export type Decision =
  | { readonly action: 'create' }
  | { readonly action: 'take'; readonly transitions: number }
  | { readonly action: 'renew' }
  | { readonly action: 'wait'; readonly holder: string };

/** What a candidate named `identity` should do after observing `observation` at `now`. */
export function decide(
  identity: string,
  observation: Observation,
  now: number,
  timings: ElectionTimings,
): Decision {
  const record = observation.record;
  if (record === undefined) return { action: 'create' };
  const holder = record.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  const durationMs = Math.max(
    (record.leaseDurationSeconds ?? timings.leaseDurationMs / 1000) * 1000,
    0,
  );
  const expired = holder === '' || observation.observedAt + durationMs <= now;
  if (!expired) return { action: 'wait', holder };
  return { action: 'take', transitions: (record.leaseTransitions ?? 0) + 1 };
}

export interface LeaderElectorOptions {
  readonly store: LeaseStore;
  /** Unique per process (pod name + random suffix). */
  readonly identity: string;
  readonly timings?: ElectionTimings;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  /** Wall-clock timestamp written into renewTime/acquireTime (informational only). */
  readonly wallClock?: () => string;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly log: {
    info(fields: object, message: string): void;
    warn(fields: object, message: string): void;
  };
}

function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 409;
}

export class LeaderElector {
  private readonly timings: ElectionTimings;
  private readonly now: () => number;
  private readonly wallClock: () => string;
  private observation: Observation | undefined;
  private leading = false;
  private lastRenewal = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> = Promise.resolve();
  private own: StoredLease | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.timings = options.timings ?? DEFAULT_TIMINGS;
    if (
      !(this.timings.leaseDurationMs > this.timings.renewDeadlineMs) ||
      !(this.timings.renewDeadlineMs > this.timings.retryPeriodMs) ||
      !(this.timings.retryPeriodMs > 0)
    ) {
      throw new RangeError('need leaseDuration > renewDeadline > retryPeriod > 0');
    }
    this.now = options.now ?? (() => performance.now());
    this.wallClock = options.wallClock ?? (() => new Date().toISOString());
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning (and, once leading, renewing) until `stop()`. */
  start(): void {
    this.tick();
  }

  /** Stops; a leader releases the Lease so a standby can take over quickly. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.loop;
    if (this.leading && this.own !== undefined) {
      try {
        await this.options.store.update(
          {
            ...this.own.record,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: this.wallClock(),
          },
          this.own.version,
        );
        this.options.log.info({ identity: this.options.identity }, 'leader lease released');
      } catch (error) {
        this.options.log.warn({ error: String(error) }, 'leader lease not released');
      }
    }
    this.leading = false;
  }

  private tick(): void {
    if (this.stopped) return;
    this.loop = this.attempt().finally(() => {
      if (this.stopped) return;
      this.timer = setTimeout(() => this.tick(), this.timings.retryPeriodMs);
      this.timer.unref();
    });
  }

  private async attempt(): Promise<void> {
    const { store, identity, log } = this.options;
    try {
      const current = await store.get();
      const now = this.now();
      this.observation = observe(this.observation, current?.record, now);
      const decision = decide(identity, this.observation, now, this.timings);
      const stamp = this.wallClock();
      const durationSeconds = Math.ceil(this.timings.leaseDurationMs / 1000);
      let written: StoredLease | undefined;
      if (decision.action === 'create') {
        written = await store.create({
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: stamp,
          renewTime: stamp,
          leaseTransitions: 0,
        });
      } else if (decision.action === 'take' && current !== undefined) {
        written = await store.update(
          {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: stamp,
            renewTime: stamp,
            leaseTransitions: decision.transitions,
          },
          current.version,
        );
      } else if (decision.action === 'renew' && current !== undefined) {
        written = await store.update(
          { ...current.record, leaseDurationSeconds: durationSeconds, renewTime: stamp },
          current.version,
        );
      }
      if (written !== undefined) {
        this.own = written;
        this.observation = { record: written.record, observedAt: this.now() };
        this.lastRenewal = this.now();
        if (!this.leading) {
          this.leading = true;
          log.info({ identity }, 'became leader');
          this.options.onStartedLeading();
        }
        return;
      }
      if (this.leading) this.lose('another holder owns the lease');
    } catch (error) {
      if (!isConflict(error)) log.warn({ error: String(error) }, 'leader election attempt failed');
      if (this.leading && this.now() - this.lastRenewal >= this.timings.renewDeadlineMs) {
        this.lose('could not renew within the renew deadline');
      }
    }
  }

  private lose(reason: string): void {
    this.leading = false;
    this.own = undefined;
    this.options.log.warn({ identity: this.options.identity, reason }, 'leadership lost');
    this.options.onStoppedLeading();
  }
}
