/**
 * Peer liveness as judged by the reader's own clock (design §7): a peer is live when a new
 * heartbeat from it was observed within `peerTimeoutMs`, measured with the local monotonic
 * clock at observation time. Heartbeat contents are never compared with local time.
 *
 * A peer found unreachable by the transport is marked suspect and stays out of signing sets
 * until a heartbeat is observed after the mark (design §6.4).
 */

export interface LivenessOptions {
  /** Node ids of the whole cluster, including self. */
  readonly nodes: readonly string[];
  readonly selfNodeId: string;
  readonly peerTimeoutMs: number;
  /** Monotonic milliseconds; injected for tests. */
  readonly now: () => number;
}

export class LivenessTracker {
  private readonly options: LivenessOptions;
  private readonly lastSeen = new Map<string, number>();
  private readonly suspectSince = new Map<string, number>();

  constructor(options: LivenessOptions) {
    this.options = options;
  }

  /** Records a fresh heartbeat of `nodeId` observed now. Unknown nodes are ignored. */
  observeHeartbeat(nodeId: string): void {
    if (!this.options.nodes.includes(nodeId) || nodeId === this.options.selfNodeId) return;
    const now = this.options.now();
    this.lastSeen.set(nodeId, now);
    const suspect = this.suspectSince.get(nodeId);
    if (suspect !== undefined && now > suspect) this.suspectSince.delete(nodeId);
  }

  /** The peer said goodbye (clean shutdown): not live until its next heartbeat. */
  observeDeparture(nodeId: string): void {
    this.lastSeen.delete(nodeId);
  }

  markSuspect(nodeId: string): void {
    if (nodeId === this.options.selfNodeId || !this.options.nodes.includes(nodeId)) return;
    this.suspectSince.set(nodeId, this.options.now());
  }

  isSuspect(nodeId: string): boolean {
    return this.suspectSince.has(nodeId);
  }

  isReady(nodeId: string): boolean {
    if (nodeId === this.options.selfNodeId) return true;
    if (this.suspectSince.has(nodeId)) return false;
    const seen = this.lastSeen.get(nodeId);
    return seen !== undefined && this.options.now() - seen <= this.options.peerTimeoutMs;
  }

  /** Ready nodes among `candidates` (default: the whole cluster), in the given order. */
  readyNodes(candidates: readonly string[] = this.options.nodes): string[] {
    return candidates.filter((node) => this.isReady(node));
  }
}
