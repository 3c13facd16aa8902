/**
 * The concurrency cap that keeps DKLs23's one-bit rule under concurrency (security review C1,
 * crypto.md §1.4 item 1).
 *
 * Every DKLs23 signing session between this signer and a peer uses the wallet's pairwise OT
 * state with that peer (Δ, seeds). A cheating peer learns one chosen bit of Δ from each
 * OT-extension check outcome, and a failed check bans the pair; so the number of sessions on
 * one pair's OT state whose checks can run before a ban takes effect must be tiny. This module
 * bounds it: at most `perPair` (k ≤ 4) sessions per (pair state, peer) are in flight on this
 * signer at once, whoever coordinates them.
 *
 * The k slots are split by who coordinates, so that honest signers never refuse each other:
 * - `own`: sessions this signer coordinates, at most ⌊k/2⌋ per (pair state, peer); a request
 *   waits (first come, first served, bounded) for one;
 * - `foreign`: sessions another signer coordinates, at most k − ⌊k/2⌋; an invite beyond that
 *   is refused with `ERROR_CONCURRENCY_LIMIT` after a short bounded wait (a coordinator that
 *   just finished a session may invite again before this signer has torn the old one down).
 * An honest coordinator holds at most ⌊k/2⌋ own slots towards each peer, so its invites fit in
 * the peer's foreign slots; a malicious one is refused past k − ⌊k/2⌋. The total on this
 * signer is at most k per (pair state, peer) in every case.
 *
 * Pure bookkeeping: no I/O, timers only for the bounded waits.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';

/** Invites past the pair cap, or a wait for a slot that exceeded its bound. */
export class PairConcurrencyLimitError extends MpcError {
  constructor(peer: string) {
    super(
      ErrorCode.ConcurrencyLimit,
      `too many concurrent ECDSA sessions with ${peer} on one wallet key (pairwise OT cap)`,
    );
  }
}

export type SlotBucket = 'own' | 'foreign';

/** The slots one session holds; `release()` is idempotent. */
export interface SlotLease {
  release(): void;
}

interface Waiter {
  readonly keys: readonly string[];
  readonly bucket: SlotBucket;
  readonly grant: () => void;
}

export class PairSlots {
  readonly ownLimit: number;
  readonly foreignLimit: number;
  private readonly held = new Map<string, number>();
  private waiters: Waiter[] = [];

  /** `perPair` is k, 2 ≤ k ≤ 4 (one own and one foreign slot at least). */
  constructor(perPair: number) {
    if (!Number.isInteger(perPair) || perPair < 2 || perPair > 4) {
      throw new RangeError('pair slot cap must be an integer from 2 to 4');
    }
    this.ownLimit = Math.floor(perPair / 2);
    this.foreignLimit = perPair - this.ownLimit;
  }

  private keysOf(pairState: string, peers: readonly string[], bucket: SlotBucket): string[] {
    return peers.map((peer) => `${bucket}\n${pairState}\n${peer}`);
  }

  private limitOf(bucket: SlotBucket): number {
    return bucket === 'own' ? this.ownLimit : this.foreignLimit;
  }

  private fits(keys: readonly string[], bucket: SlotBucket): boolean {
    const limit = this.limitOf(bucket);
    return keys.every((key) => (this.held.get(key) ?? 0) < limit);
  }

  private take(keys: readonly string[]): SlotLease {
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const key of keys) {
          const count = (this.held.get(key) ?? 1) - 1;
          if (count <= 0) this.held.delete(key);
          else this.held.set(key, count);
        }
        this.wake();
      },
    };
  }

  /** Grants waiters in arrival order while they fit (a waiter that does not fit blocks none). */
  private wake(): void {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.fits(waiter.keys, waiter.bucket)) waiter.grant();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** Number of free slots in `bucket` towards `peer` on `pairState` (for choosing signing sets). */
  free(pairState: string, peer: string, bucket: SlotBucket): number {
    const [key] = this.keysOf(pairState, [peer], bucket);
    return this.limitOf(bucket) - (this.held.get(key ?? '') ?? 0);
  }

  /** Takes one slot towards every peer at once, or none. */
  tryAcquire(
    pairState: string,
    peers: readonly string[],
    bucket: SlotBucket,
  ): SlotLease | undefined {
    const keys = this.keysOf(pairState, peers, bucket);
    return this.fits(keys, bucket) ? this.take(keys) : undefined;
  }

  /**
   * Takes one slot towards every peer, waiting at most `waitMs` for them (all at once, in
   * arrival order); rejects with `PairConcurrencyLimitError` naming the first busy peer.
   */
  acquire(
    pairState: string,
    peers: readonly string[],
    bucket: SlotBucket,
    waitMs: number,
  ): Promise<SlotLease> {
    const keys = this.keysOf(pairState, peers, bucket);
    if (this.fits(keys, bucket)) return Promise.resolve(this.take(keys));
    const limit = this.limitOf(bucket);
    const busy = peers.find((_, index) => (this.held.get(keys[index] ?? '') ?? 0) >= limit);
    return new Promise<SlotLease>((resolve, reject) => {
      const waiter: Waiter = {
        keys,
        bucket,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(keys));
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((entry) => entry !== waiter);
        reject(new PairConcurrencyLimitError(busy ?? peers.join(',')));
      }, waitMs);
      timer.unref();
      this.waiters.push(waiter);
    });
  }

  /** Sessions currently holding a slot towards `peer` on `pairState` (both buckets). */
  inFlight(pairState: string, peer: string): number {
    let total = 0;
    for (const bucket of ['own', 'foreign'] as const) {
      const [key] = this.keysOf(pairState, [peer], bucket);
      total += this.held.get(key ?? '') ?? 0;
    }
    return total;
  }
}
