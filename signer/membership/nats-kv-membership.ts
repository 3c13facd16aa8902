/**
 * Local membership backend (design §7): heartbeats in a NATS KV bucket. Each signer puts
 * `hb.<node>` every `heartbeatIntervalMs` with an increasing sequence number; every signer
 * watches the bucket for updates only (values present before it started prove nothing) and
 * feeds them to a `LivenessTracker`. A clean shutdown deletes the key so peers drop the node
 * at once.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { LivenessTracker } from './liveness.ts';
import { nodeSubjectToken } from '../transport/peer-messenger.ts';
import type { Membership } from './membership.ts';

export const MEMBERSHIP_BUCKET = 'mpc_membership';

export interface NatsKvMembershipOptions {
  readonly nc: NatsConnection;
  readonly selfNodeId: string;
  readonly nodes: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly peerTimeoutMs: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export class NatsKvMembership implements Membership {
  private readonly options: NatsKvMembershipOptions;
  private readonly tracker: LivenessTracker;
  private readonly nodeOfToken = new Map<string, string>();
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;
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
        if (entry.operation === 'PUT') this.tracker.observeHeartbeat(node);
        else this.tracker.observeDeparture(node);
        this.changed();
      }
    })().catch((error: unknown) => {
      if (!this.stopped) this.options.log.warn({ err: error }, 'membership watch ended');
    });
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.kv === undefined) return;
    this.sequence += 1;
    try {
      await this.kv.put(
        `hb.${nodeSubjectToken(this.options.selfNodeId)}`,
        JSON.stringify({ node: this.options.selfNodeId, seq: this.sequence }),
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
