/**
 * The operator's view of the signers' Leases (design §7, k8s.md §4.2): liveness is judged by
 * the operator's own monotonic clock from *observed changes* of `renewTime`, never by comparing
 * `renewTime` (the holder's clock) with local time. A Lease is live while its last observed
 * change is younger than the grace (lease duration + one renew interval = 1.25 × duration); a
 * Lease first seen (e.g. after an operator restart, with no history) counts as changed at that
 * moment, so nobody is declared dead before one full grace has passed (client-go rule). A
 * released Lease (empty holder: the signer stopped cleanly) is not live at once. Pure apart from
 * the injected clock.
 */

/** The Lease fields the tracker reads. */
export interface LeaseObservation {
  readonly holderIdentity?: string;
  readonly renewTime?: string;
  readonly leaseDurationSeconds?: number;
  /** The signer's identity public key from the Lease annotation (hex), if any. */
  readonly identityPublicKey?: string;
  /** The Lease's heartbeat counter when its signature verified (see module comment). */
  readonly heartbeatCounter?: number;
}

export type LeaseLiveness = 'live' | 'stale' | 'released' | 'absent';

export interface SignerLeaseView {
  readonly liveness: LeaseLiveness;
  /** Seconds since the operator last saw the Lease change (absent when never seen). */
  readonly ageSeconds?: number;
  readonly identityPublicKey?: string;
}

interface Tracked {
  readonly lease: LeaseObservation;
  changedAt: number;
  /** Largest verified heartbeat counter seen (signed mode). */
  counter: number | undefined;
}

/** Grace per lease duration: duration + one renew interval (duration / 4). */
export const LEASE_GRACE_FACTOR = 1.25;

export class LeaseTracker {
  private readonly leases = new Map<string, Tracked>();

  constructor(
    private readonly now: () => number,
    private readonly defaultDurationSeconds = 20,
    private readonly options: { readonly signedHeartbeats?: boolean } = {},
  ) {}

  private graceMs(lease: LeaseObservation): number {
    const seconds = lease.leaseDurationSeconds ?? this.defaultDurationSeconds;
    return Math.max(1, seconds) * 1000 * LEASE_GRACE_FACTOR;
  }

  /**
   * Records the Lease `key` (undefined: deleted). Returns true when the change matters for
   * status (new or deleted Lease, new holder, new identity key, or a stale Lease renewed);
   * false for a routine renewal of a live Lease.
   */
  observe(key: string, lease: LeaseObservation | undefined): boolean {
    const previous = this.leases.get(key);
    if (lease === undefined) return this.leases.delete(key);
    const now = this.now();
    const signed = this.options.signedHeartbeats === true;
    const counter = lease.heartbeatCounter;
    if (previous === undefined) {
      const changedAt = !signed || counter !== undefined ? now : Number.NEGATIVE_INFINITY;
      this.leases.set(key, { lease, changedAt, counter });
      return true;
    }
    const wasLive = this.liveness(previous, now) === 'live';
    const renewed = signed
      ? counter !== undefined && (previous.counter === undefined || counter > previous.counter)
      : previous.lease.renewTime !== lease.renewTime;
    const relevant =
      previous.lease.holderIdentity !== lease.holderIdentity ||
      previous.lease.identityPublicKey !== lease.identityPublicKey ||
      previous.lease.leaseDurationSeconds !== lease.leaseDurationSeconds ||
      (renewed && !wasLive);
    this.leases.set(key, {
      lease,
      changedAt: renewed ? now : previous.changedAt,
      counter: renewed ? counter : previous.counter,
    });
    return relevant;
  }

  private liveness(tracked: Tracked, now: number): LeaseLiveness {
    const holder = tracked.lease.holderIdentity;
    if (holder === undefined || holder === '') return 'released';
    return now - tracked.changedAt < this.graceMs(tracked.lease) ? 'live' : 'stale';
  }

  view(key: string): SignerLeaseView {
    const tracked = this.leases.get(key);
    if (tracked === undefined) return { liveness: 'absent' };
    const now = this.now();
    const identity = tracked.lease.identityPublicKey;
    return {
      liveness: this.liveness(tracked, now),
      ...(Number.isFinite(tracked.changedAt)
        ? { ageSeconds: Math.max(0, Math.floor((now - tracked.changedAt) / 1000)) }
        : {}),
      ...(identity === undefined ? {} : { identityPublicKey: identity }),
    };
  }

  /** Milliseconds until the first of `keys` that is live now turns stale (undefined: none). */
  nextExpiryInMs(keys: readonly string[]): number | undefined {
    const now = this.now();
    let next: number | undefined;
    for (const key of keys) {
      const tracked = this.leases.get(key);
      if (tracked === undefined || this.liveness(tracked, now) !== 'live') continue;
      const remaining = tracked.changedAt + this.graceMs(tracked.lease) - now;
      next = next === undefined ? remaining : Math.min(next, remaining);
    }
    return next;
  }
}
