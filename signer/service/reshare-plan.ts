/**
 * Who takes part in a resharing session and with which party ids (crypto.md §4, design §5).
 * Pure: the coordinator plans (`planReshare`), every participant re-checks the plan it is
 * invited to against the signed client request and its own record (`checkReshareInvite`).
 *
 * Rules:
 * - New committee = the request's `node_ids`; each must be a cluster node and ready.
 * - Party ids: a node keeps its id when it is in the old and the new committee (the id is its
 *   Shamir x-coordinate in both keys); a joining node takes the smallest id that no old member
 *   (leaving ones included) uses, in `node_ids` order.
 * - Dealers: exactly t_old + 1 ready old members: the coordinator first (it must take part),
 *   then members that leave (so they take part and retire their share at the commit), then
 *   members that stay, each group in party-id order.
 * - Participants = dealers ∪ new committee; an old member that neither deals nor stays keeps
 *   its old share (it is not reachable through the session; see the reshare README).
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { ResharingMessage } from '../protocol/messages.ts';
import type { InviteParticipant, ReshareInviteContext } from '../transport/control-messages.ts';
import type { CommitteeMember, WalletMetadata } from './wallet-record.ts';

/** The request names a node that is not a signer of this cluster, or the invite is inconsistent. */
export class ReshareCommitteeError extends MpcError {
  constructor(message: string) {
    super(ErrorCode.IncompatiblePeerIds, message);
  }
}

/** A node of the new committee, or too many old members, are not ready. */
export class ReshareQuorumError extends MpcError {
  constructor(message: string) {
    super(ErrorCode.PeerUnavailable, message);
  }
}

export interface ResharePlan {
  /** Dealers ∪ new committee, ascending party id. */
  readonly participants: readonly InviteParticipant[];
  readonly context: ReshareInviteContext;
  /** The new committee, ascending party id. */
  readonly newCommittee: readonly CommitteeMember[];
}

function byPartyId<T extends { partyId: number }>(members: readonly T[]): T[] {
  return [...members].sort((left, right) => left.partyId - right.partyId);
}

/** Party ids of the new committee (old members keep theirs; joiners take the smallest free). */
function assignPartyIds(
  oldCommittee: readonly CommitteeMember[],
  nodeIds: readonly string[],
): CommitteeMember[] {
  const used = new Set(oldCommittee.map((member) => member.partyId));
  let next = 1;
  return byPartyId(
    nodeIds.map((nodeId) => {
      const old = oldCommittee.find((member) => member.nodeId === nodeId);
      if (old !== undefined) return { nodeId, partyId: old.partyId };
      while (used.has(next)) next += 1;
      used.add(next);
      return { nodeId, partyId: next };
    }),
  );
}

/**
 * The coordinator's plan. `metadata` is the coordinator's current record of the key (the
 * caller makes sure the coordinator is an old member holding a share).
 */
export function planReshare(input: {
  readonly metadata: WalletMetadata;
  readonly request: Pick<ResharingMessage, 'nodeIds' | 'newThreshold'>;
  readonly clusterNodes: readonly string[];
  readonly isReady: (nodeId: string) => boolean;
  readonly selfNodeId: string;
}): ResharePlan {
  const { metadata, request, clusterNodes, isReady, selfNodeId } = input;
  for (const nodeId of request.nodeIds) {
    if (!clusterNodes.includes(nodeId)) {
      throw new ReshareCommitteeError(`node_ids: ${nodeId} is not a signer of this cluster`);
    }
  }
  const notReady = request.nodeIds.filter((nodeId) => !isReady(nodeId));
  if (notReady.length > 0) {
    throw new ReshareQuorumError(`new committee members not ready: ${notReady.join(',')}`);
  }
  const oldCommittee = byPartyId(metadata.committee);
  const self = oldCommittee.find((member) => member.nodeId === selfNodeId);
  if (self === undefined) throw new RangeError('the coordinator must be an old member');
  const leaving = oldCommittee.filter(
    (member) =>
      member !== self && !request.nodeIds.includes(member.nodeId) && isReady(member.nodeId),
  );
  const staying = oldCommittee.filter(
    (member) =>
      member !== self && request.nodeIds.includes(member.nodeId) && isReady(member.nodeId),
  );
  const needed = metadata.threshold + 1;
  const candidates = [self, ...leaving, ...staying];
  if (candidates.length < needed) {
    throw new ReshareQuorumError(
      `not enough ready old committee members to deal: ready=${candidates.length}, required=${needed}`,
    );
  }
  const dealers = byPartyId(candidates.slice(0, needed));
  const newCommittee = assignPartyIds(oldCommittee, request.nodeIds);
  const participants = byPartyId([
    ...dealers,
    ...newCommittee.filter((member) => !dealers.some((dealer) => dealer.nodeId === member.nodeId)),
  ]);
  return {
    participants,
    newCommittee,
    context: {
      oldVersion: metadata.version,
      oldThreshold: metadata.threshold,
      oldCommittee,
      dealers: dealers.map((dealer) => dealer.partyId),
      publicKey: metadata.publicKey,
    },
  };
}

/** What a participant concluded from a valid invite. */
export interface CheckedReshareInvite {
  readonly newCommittee: readonly CommitteeMember[];
  readonly context: ReshareInviteContext;
  readonly selfPartyId: number;
  readonly isDealer: boolean;
  readonly isNewMember: boolean;
}

function sameCommittee(
  left: readonly CommitteeMember[],
  right: readonly CommitteeMember[],
): boolean {
  if (left.length !== right.length) return false;
  return left.every((member) =>
    right.some((other) => other.nodeId === member.nodeId && other.partyId === member.partyId),
  );
}

function isCommitteeList(value: unknown): value is CommitteeMember[] {
  return (
    Array.isArray(value) &&
    value.every(
      (entry) =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof (entry as CommitteeMember).nodeId === 'string' &&
        Number.isSafeInteger((entry as CommitteeMember).partyId) &&
        (entry as CommitteeMember).partyId >= 1,
    )
  );
}

/**
 * A participant's check of a resharing invite against the signed request and, when it holds
 * one, its own record of the key (`current`; undefined for a joining node). Throws
 * `ReshareCommitteeError` (or KeyNotFound-style errors from the caller) on any mismatch.
 */
export function checkReshareInvite(input: {
  readonly request: Pick<ResharingMessage, 'nodeIds' | 'newThreshold'>;
  readonly participants: readonly InviteParticipant[];
  readonly context: ReshareInviteContext | undefined;
  readonly current: WalletMetadata | undefined;
  readonly clusterNodes: readonly string[];
  readonly selfNodeId: string;
}): CheckedReshareInvite {
  const { request, participants, context, current, clusterNodes, selfNodeId } = input;
  const fail = (why: string): never => {
    throw new ReshareCommitteeError(`reshare invite rejected: ${why}`);
  };
  if (context === undefined) return fail('no reshare context');
  if (!isCommitteeList(context.oldCommittee) || !isCommitteeList(participants)) {
    return fail('malformed committee');
  }
  if (
    !Number.isSafeInteger(context.oldVersion) ||
    context.oldVersion < 1 ||
    !Number.isSafeInteger(context.oldThreshold) ||
    context.oldThreshold < 1 ||
    typeof context.publicKey !== 'string' ||
    !Array.isArray(context.dealers)
  ) {
    return fail('malformed context');
  }
  const oldCommittee = context.oldCommittee;
  if (new Set(oldCommittee.map((member) => member.partyId)).size !== oldCommittee.length) {
    return fail('duplicate party ids in the old committee');
  }
  const dealers = context.dealers.map((partyId) => {
    const member = oldCommittee.find((entry) => entry.partyId === partyId);
    return member ?? fail(`dealer ${String(partyId)} is not an old member`);
  });
  if (
    dealers.length !== context.oldThreshold + 1 ||
    new Set(context.dealers).size !== dealers.length
  ) {
    return fail('the dealers must be exactly oldThreshold + 1 distinct old members');
  }
  for (const participant of participants) {
    if (!clusterNodes.includes(participant.nodeId)) {
      return fail(`${participant.nodeId} is not a signer of this cluster`);
    }
  }
  const newCommittee = byPartyId(
    request.nodeIds.map((nodeId) => {
      const member = participants.find((participant) => participant.nodeId === nodeId);
      return member === undefined
        ? fail(`new member ${nodeId} is not invited`)
        : { nodeId, partyId: member.partyId };
    }),
  );
  const usedIds = new Map<number, string>();
  for (const member of [...oldCommittee, ...newCommittee]) {
    const holder = usedIds.get(member.partyId);
    if (holder !== undefined && holder !== member.nodeId) {
      return fail(`party id ${member.partyId} names both ${holder} and ${member.nodeId}`);
    }
    usedIds.set(member.partyId, member.nodeId);
  }
  for (const member of newCommittee) {
    const old = oldCommittee.find((entry) => entry.nodeId === member.nodeId);
    if (old !== undefined && old.partyId !== member.partyId) {
      return fail(`${member.nodeId} must keep party id ${old.partyId}`);
    }
  }
  const expected = byPartyId([
    ...dealers,
    ...newCommittee.filter((member) => !dealers.some((dealer) => dealer.nodeId === member.nodeId)),
  ]);
  if (!sameCommittee(expected, participants)) {
    return fail('participants must be exactly the dealers and the new committee');
  }
  const self = participants.find((participant) => participant.nodeId === selfNodeId);
  if (self === undefined) return fail('this signer is not a participant');
  const isOldMember = oldCommittee.some((member) => member.nodeId === selfNodeId);
  if (current !== undefined && current.retired !== true) {
    if (
      current.version !== context.oldVersion ||
      current.threshold !== context.oldThreshold ||
      current.publicKey !== context.publicKey ||
      !sameCommittee(current.committee, oldCommittee)
    ) {
      return fail("the invite's view of the key differs from this signer's record");
    }
  } else if (isOldMember) {
    return fail('this signer holds no current share of the key');
  }
  return {
    newCommittee,
    context,
    selfPartyId: self.partyId,
    isDealer: dealers.some((dealer) => dealer.nodeId === selfNodeId),
    isNewMember: newCommittee.some((member) => member.nodeId === selfNodeId),
  };
}
