/**
 * Pure half of the Kubernetes membership backend (design §7, k8s.md §4): turns observed
 * `coordination.k8s.io/v1` Lease snapshots into heartbeats for a `LivenessTracker`.
 *
 * Rules (the client-go / node-lifecycle-controller pattern, k8s.md §2.5 and §4.1):
 * - A renewal is a CHANGE of `(holderIdentity, renewTime)` between two observations by this
 *   reader. It is recorded as a heartbeat at the reader's own monotonic clock. `renewTime` is
 *   written by the holder's clock and is never compared with local time; it is an opaque
 *   version here. `resourceVersion` alone is not used: any writer (labels, annotations, the
 *   operator) bumps it, and that proves nothing about the holder.
 * - The first sight of a Lease in a LIST is a baseline, not a heartbeat: its value may be
 *   arbitrarily old. The first sight in a WATCH event (the Lease was created or written after
 *   our list) is a heartbeat: the write happened just now.
 * - A Lease with no holder or no renewTime (released by a clean `stop()`), or a deleted Lease,
 *   is a departure: the peer is not ready until its next renewal.
 * - Restart grace: a reader has no history when it starts. Peers are not READY until a renewal
 *   is observed, but no peer is reported `expired` (dead) before `peerTimeoutMs` has passed
 *   since the reader started: until then a peer without an observed renewal is `pending`.
 *   Knowledge survives relists of the same reader: a relist that shows an unchanged Lease keeps
 *   the peer's last heartbeat (it expires only on its own timeout); a changed one is a heartbeat.
 * - Suspects (transport found the peer unreachable) stay out until their next renewal.
 * - Signed heartbeats (heartbeat.ts; when `verifyHeartbeat` is given, as every signer does):
 *   a renewal counts only when the Lease's heartbeat verifies under the key pinned for that
 *   node and its counter exceeds every counter accepted from that node before. Any writer of
 *   the Lease (all signers share one ServiceAccount) can change `renewTime`, the holder or the
 *   annotations, or put back an old heartbeat: none of that is a renewal. A LIST's first sight
 *   records the counter as a baseline; a departure keeps it, so an old heartbeat written back
 *   after a release does not revive the peer.
 */
import { HeartbeatLedger } from './heartbeat.ts';
import { LivenessTracker } from './liveness.ts';

/** What this module needs of a Lease; `renewTime` as an opaque string (the holder's clock). */
export interface LeaseSnapshot {
  readonly name: string;
  readonly holderIdentity: string | undefined;
  readonly renewTime: string | undefined;
  /** The heartbeat annotation (heartbeat.ts wire form), if any. */
  readonly heartbeat?: string | undefined;
}

/** Where a snapshot came from: a full LIST (old values possible) or a WATCH event (fresh). */
export type LeaseSource = 'list' | 'watch';

/** What an observation meant for the peer. */
export type LeaseObservation =
  | 'heartbeat'
  | 'departure'
  | 'baseline'
  | 'unchanged'
  | 'ignored'
  /** A renewal without a heartbeat signed by the node's pinned key: not counted. */
  | 'unverified';

/**
 * A peer as this reader sees it: `live` (renewal observed within the timeout), `suspect`
 * (excluded until its next renewal), `released` (clean departure or Lease deleted), `pending`
 * (no renewal observed yet and the restart grace has not elapsed), `expired` (dead).
 */
export type PeerLeaseState = 'self' | 'live' | 'suspect' | 'released' | 'pending' | 'expired';

export interface LeaseObserverOptions {
  readonly selfNodeId: string;
  /** Node id → Lease name for every node of the cluster, self included. Names are distinct. */
  readonly leaseNames: ReadonlyMap<string, string>;
  /** A peer whose Lease did not change for this long (reader's clock) is not ready. */
  readonly peerTimeoutMs: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /**
   * The counter of `lease`'s heartbeat when it verifies under the key pinned for `nodeId`
   * (heartbeat.ts), else undefined. Absent: renewals are not authenticated (tests only).
   */
  readonly verifyHeartbeat?: (nodeId: string, lease: LeaseSnapshot) => number | undefined;
}

/** Converts a Date or MicroTime string from the API into an opaque comparable string. */
export function renewTimeKey(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export class LeaseObserver {
  private readonly options: LeaseObserverOptions;
  private readonly tracker: LivenessTracker;
  private readonly nodeOfLease = new Map<string, string>();
  /** Last observed `(holder, renewTime)` per peer; `null` = seen released or deleted. */
  private readonly lastValue = new Map<string, string | null>();
  private readonly startedAt: number;
  private readonly counters = new HeartbeatLedger();

  constructor(options: LeaseObserverOptions) {
    this.options = options;
    const nodes = [...options.leaseNames.keys()];
    if (!nodes.includes(options.selfNodeId)) {
      throw new RangeError('leaseNames must include the self node');
    }
    for (const [node, lease] of options.leaseNames) {
      if (this.nodeOfLease.has(lease)) throw new RangeError(`lease name ${lease} used twice`);
      this.nodeOfLease.set(lease, node);
    }
    this.tracker = new LivenessTracker({
      nodes,
      selfNodeId: options.selfNodeId,
      peerTimeoutMs: options.peerTimeoutMs,
      now: options.now,
    });
    this.startedAt = options.now();
  }

  /** The peer node holding Lease `name`, or undefined for self and unknown Leases. */
  peerOfLease(name: string): string | undefined {
    const node = this.nodeOfLease.get(name);
    return node === this.options.selfNodeId ? undefined : node;
  }

  observe(lease: LeaseSnapshot, source: LeaseSource): LeaseObservation {
    const node = this.peerOfLease(lease.name);
    if (node === undefined) return 'ignored';
    const holder = lease.holderIdentity ?? '';
    const value =
      holder === '' || lease.renewTime === undefined ? null : `${holder}\n${lease.renewTime}`;
    const previous = this.lastValue.get(node);
    if (value === null) {
      this.lastValue.set(node, value);
      return previous === null ? 'unchanged' : this.depart(node);
    }
    const verify = this.options.verifyHeartbeat;
    if (verify !== undefined) {
      const counter = verify(node, lease);
      if (counter === undefined) return 'unverified';
      if (previous === undefined && source === 'list' && !this.counters.has(node)) {
        this.counters.baseline(node, counter);
        this.lastValue.set(node, value);
        return 'baseline';
      }
      if (!this.counters.accept(node, counter)) return 'unchanged';
      this.lastValue.set(node, value);
      this.tracker.observeHeartbeat(node);
      return 'heartbeat';
    }
    this.lastValue.set(node, value);
    if (previous === value) return 'unchanged';
    if (previous === undefined && source === 'list') return 'baseline';
    this.tracker.observeHeartbeat(node);
    return 'heartbeat';
  }

  /** The Lease was deleted (watch DELETED, or missing from a relist after being seen). */
  observeDeleted(name: string): LeaseObservation {
    const node = this.peerOfLease(name);
    if (node === undefined) return 'ignored';
    const previous = this.lastValue.get(node);
    this.lastValue.set(node, null);
    return previous === null ? 'unchanged' : this.depart(node);
  }

  /** Lease names of peers seen (and not yet seen deleted), to diff a relist against. */
  knownLeaseNames(): string[] {
    const names: string[] = [];
    for (const [node, value] of this.lastValue) {
      const lease = this.options.leaseNames.get(node);
      if (value !== null && lease !== undefined) names.push(lease);
    }
    return names;
  }

  markSuspect(nodeId: string): void {
    this.tracker.markSuspect(nodeId);
  }

  isReady(nodeId: string): boolean {
    return this.tracker.isReady(nodeId);
  }

  state(nodeId: string): PeerLeaseState {
    if (nodeId === this.options.selfNodeId) return 'self';
    if (this.tracker.isSuspect(nodeId)) return 'suspect';
    if (this.tracker.isReady(nodeId)) return 'live';
    if (this.lastValue.get(nodeId) === null) return 'released';
    // Any renewal observed since start expires after the grace ends, so within the grace a
    // non-live, non-released peer has never been seen renewing: unknown, not dead.
    const inGrace = this.options.now() - this.startedAt < this.options.peerTimeoutMs;
    return inGrace ? 'pending' : 'expired';
  }

  private depart(node: string): LeaseObservation {
    this.tracker.observeDeparture(node);
    return 'departure';
  }
}
