/**
 * Readiness that respects the pinned roster (design §8, issue 7): a peer counts as ready only
 * while the roster pins it (its messages could not be verified otherwise), and this signer
 * counts itself ready only while the roster pins exactly its own identity key. An unpinned or
 * impostor signer therefore never makes up a quorum, on its own side or anyone else's.
 */
import { selfPinState, type SelfPinState } from '../identity/index.ts';
import type { Membership } from './membership.ts';

export class RosterGatedMembership implements Membership {
  constructor(
    private readonly inner: Membership,
    private readonly roster: ReadonlyMap<string, Uint8Array>,
    private readonly selfNodeId: string,
    private readonly selfPublicKey: Uint8Array,
  ) {}

  /** How the roster currently sees this signer's key. */
  selfPin(): SelfPinState {
    return selfPinState(this.roster, this.selfNodeId, this.selfPublicKey);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  isReady(nodeId: string): boolean {
    if (nodeId === this.selfNodeId) return this.selfPin() === 'pinned';
    const pinned = this.roster.get(nodeId);
    if (pinned === undefined) return false;
    // A peer whose Lease presents another key than its pin is an impostor (or was rebuilt):
    // it could not take part in a session, so it must not be picked for one.
    const presented = this.inner.presentedIdentity?.(nodeId);
    if (presented !== undefined && presented !== Buffer.from(pinned).toString('hex')) return false;
    return this.inner.isReady(nodeId);
  }

  presentedIdentity(nodeId: string): string | undefined {
    return this.inner.presentedIdentity?.(nodeId);
  }

  readyNodes(candidates?: readonly string[]): string[] {
    return this.inner.readyNodes(candidates).filter((node) => this.isReady(node));
  }

  markSuspect(nodeId: string): void {
    this.inner.markSuspect(nodeId);
  }

  onChange(listener: () => void): void {
    this.inner.onChange(listener);
  }
}
