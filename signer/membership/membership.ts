/**
 * Peer readiness as the signer sees it (design §7). Two backends implement it: NATS KV
 * heartbeats (local) and Kubernetes Leases + pod readiness. Signers compute quorum from this
 * themselves, so they refuse to sign without quorum even when the operator is down.
 */
export interface Membership {
  start(): Promise<void>;
  /** Stops heartbeating and announces departure where the backend can. */
  stop(): Promise<void>;
  /** Self is always ready; a suspect peer is not ready until its next heartbeat. */
  isReady(nodeId: string): boolean;
  /** Ready nodes among `candidates` (default: every configured node), order kept. */
  readyNodes(candidates?: readonly string[]): string[];
  /** The transport found this peer unreachable: exclude it until it heartbeats again. */
  markSuspect(nodeId: string): void;
  /** Called after any readiness change (for metrics). */
  onChange(listener: () => void): void;
  /**
   * The identity public key (hex) a peer currently presents through the backend, if the
   * backend carries one (Kubernetes: its Lease annotation).
   */
  presentedIdentity?(nodeId: string): string | undefined;
}
