/**
 * Local membership backend (design §7): heartbeats in a NATS KV bucket. Each signer puts
 * `hb.<node>` every `heartbeatIntervalMs` with an increasing sequence number; every signer
 * watches the bucket for updates only (values present before it started prove nothing) and
 * feeds them to a `LivenessTracker`. A clean shutdown deletes the key so peers drop the node
 * at once.
 *
 * With `heartbeat` (as `createMembership` always gives): the value is
 * `{ "node": id, "seq": counter, "hb": "<counter>.<signature>" }`, signed as in heartbeat.ts
 * (holder identity = the node id); a reader counts a PUT only when `hb` verifies under the key
 * the roster pins for that node and the counter grew. Anyone who may write the bucket can
 * still delete a peer's key (it then looks departed until its next heartbeat) but cannot make
 * it look alive.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { LivenessTracker } from './liveness.ts';
import { nodeSubjectToken } from '../transport/peer-messenger.ts';
import type { Membership } from './membership.ts';
import { HeartbeatCounter, HeartbeatLedger, signHeartbeat, verifyHeartbeat } from './heartbeat.ts';
import type { HeartbeatIdentity } from './lease-membership.ts';

export const MEMBERSHIP_BUCKET = 'mpc_membership';

export interface NatsKvMembershipOptions {
  readonly nc: NatsConnection;
  readonly selfNodeId: string;
  readonly nodes: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly peerTimeoutMs: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** Sign our heartbeats and count only peers' signed ones. Absent: unauthenticated (tests). */
  readonly heartbeat?: HeartbeatIdentity;
}

export class NatsKvMembership implements Membership {
  private readonly options: NatsKvMembershipOptions;
  private readonly tracker: LivenessTracker;
  private readonly nodeOfToken = new Map<string, string>();
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly counter: HeartbeatCounter;
  private readonly ledger = new HeartbeatLedger();
  private stopped = false;
  private watcher: { stop(): void } | undefined;
  private listeners: (() => void)[] = [];

  constructor(options: NatsKvMembershipOptions) {
    this.options = options;
    const now = options.now ?? (() => performance.now());
    this.tracker = new LivenessTracker({
      nodes: options.nodes,
      selfNodeId: options.selfNodeId,
      peerTimeoutMs: options.peerTimeoutMs,
      now,
    });
    for (const node of options.nodes) this.nodeOfToken.set(nodeSubjectToken(node), node);
    this.counter = new HeartbeatCounter(options.heartbeat?.clock);
  }

  /** Whether a PUT's value is a fresh heartbeat signed by the node's pinned key. */
  private isSignedHeartbeat(node: string, value: Uint8Array): boolean {
    const heartbeat = this.options.heartbeat;
    if (heartbeat === undefined) return true;
    const pinned = heartbeat.pinnedKey(node);
    if (pinned === undefined) return false;
    let hb: unknown;
    try {
      hb = (JSON.parse(new TextDecoder().decode(value)) as { hb?: unknown }).hb;
    } catch {
      return false;
    }
    const counter = verifyHeartbeat(typeof hb === 'string' ? hb : undefined, {
      cluster: heartbeat.cluster,
      nodeId: node,
      holderIdentity: node,
      publicKey: Buffer.from(pinned).toString('hex'),
    });
    return counter !== undefined && this.ledger.accept(node, counter);
  }

  async start(): Promise<void> {
    const kvm = new Kvm(this.options.nc);
    this.kv = await kvm.create(MEMBERSHIP_BUCKET, { history: 1, ttl: 24 * 3600 * 1000 });
    await this.watch();
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.heartbeatIntervalMs);
    this.timer.unref();
  }

  private async watch(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) return;
    const iterator = await kv.watch({ key: 'hb.>', include: 'updates' });
    this.watcher = iterator;
    void (async () => {
      for await (const entry of iterator) {
        const node = this.nodeOfToken.get(entry.key.slice(3));
        if (node === undefined || node === this.options.selfNodeId) continue;
        if (entry.operation === 'PUT') {
          if (!this.isSignedHeartbeat(node, entry.value)) continue;
          this.tracker.observeHeartbeat(node);
        } else this.tracker.observeDeparture(node);
        this.changed();
      }
    })().catch((error: unknown) => {
      if (!this.stopped) this.options.log.warn({ err: error }, 'membership watch ended');
    });
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.kv === undefined) return;
    const seq = this.counter.next();
    const heartbeat = this.options.heartbeat;
    const self = this.options.selfNodeId;
    const hb =
      heartbeat === undefined
        ? undefined
        : signHeartbeat(
            {
              cluster: heartbeat.cluster,
              nodeId: self,
              holderIdentity: self,
              publicKey: Buffer.from(heartbeat.publicKey).toString('hex'),
              counter: seq,
            },
            heartbeat.sign,
          );
    try {
      await this.kv.put(
        `hb.${nodeSubjectToken(self)}`,
        JSON.stringify({ node: self, seq, ...(hb === undefined ? {} : { hb }) }),
      );
    } catch (error) {
      this.options.log.debug({ err: error }, 'heartbeat not written');
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.stop();
    try {
      await this.kv?.delete(`hb.${nodeSubjectToken(this.options.selfNodeId)}`);
    } catch {
      // Best effort: peers time us out anyway.
    }
  }

  isReady(nodeId: string): boolean {
    return this.tracker.isReady(nodeId);
  }

  readyNodes(candidates?: readonly string[]): string[] {
    return this.tracker.readyNodes(candidates);
  }

  markSuspect(nodeId: string): void {
    this.tracker.markSuspect(nodeId);
    this.changed();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
