/**
 * The evidence a two-phase session's commit must carry (session-host.ts, crypto.md §4.1 step
 * 4): a signed `done` from every participant other than the coordinator and the receiver,
 * each for this session and with exactly the receiver's own result digest. A coordinator
 * cannot forge them (they are signed by each participant's identity key), so a commit proves
 * that every participant staged the same result. Pure.
 */
import {
  openControl,
  type InviteParticipant,
  type SignedControl,
} from '../transport/control-messages.ts';

/** Participants whose matching confirmation is missing from `dones` (empty: evidence holds). */
export function missingConfirmations(input: {
  readonly sessionId: string;
  readonly coordinator: string;
  readonly participants: readonly InviteParticipant[];
  readonly selfNodeId: string;
  readonly digest: string;
  readonly dones: unknown;
  readonly roster: ReadonlyMap<string, Uint8Array>;
}): string[] {
  const confirmed = new Set<string>();
  for (const signed of Array.isArray(input.dones) ? (input.dones as SignedControl[]) : []) {
    const done = openControl(signed, input.roster);
    if (
      done?.type === 'done' &&
      done.sessionId === input.sessionId &&
      done.resultDigest === input.digest
    ) {
      confirmed.add(done.nodeId);
    }
  }
  return input.participants
    .map((participant) => participant.nodeId)
    .filter(
      (node) => node !== input.coordinator && node !== input.selfNodeId && !confirmed.has(node),
    );
}
