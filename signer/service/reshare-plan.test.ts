/** Resharing plans (coordinator) and invite checks (participants); every rule can fail. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { checkReshareInvite, planReshare, type ResharePlan } from './reshare-plan.ts';
import type { WalletMetadata } from './wallet-record.ts';

const cluster = ['n0', 'n1', 'n2', 'n3'];
const metadata: WalletMetadata = {
  walletId: 'w',
  keyType: 'ed25519',
  version: 3,
  threshold: 1,
  committee: [
    { nodeId: 'n0', partyId: 1 },
    { nodeId: 'n1', partyId: 2 },
    { nodeId: 'n2', partyId: 3 },
  ],
  publicKey: 'ab'.repeat(32),
};
const allReady = (_node: string): boolean => true;

function plan(nodeIds: string[], newThreshold: number, self = 'n1', ready = allReady) {
  return planReshare({
    metadata,
    request: { nodeIds, newThreshold },
    clusterNodes: cluster,
    isReady: ready,
    selfNodeId: self,
  });
}

function check(
  result: ResharePlan,
  nodeIds: string[],
  newThreshold: number,
  self: string,
  current: WalletMetadata | undefined,
) {
  return checkReshareInvite({
    request: { nodeIds, newThreshold },
    participants: result.participants,
    context: result.context,
    current,
    clusterNodes: cluster,
    selfNodeId: self,
  });
}

describe('planReshare', () => {
  it('keeps party ids, gives a joiner the smallest unused id, and deals from self then leavers', () => {
    const result = plan(['n1', 'n2', 'n3'], 1);
    expect(result.newCommittee).toEqual([
      { nodeId: 'n1', partyId: 2 },
      { nodeId: 'n2', partyId: 3 },
      { nodeId: 'n3', partyId: 4 },
    ]);
    // Dealers: the coordinator n1, then the leaving n0.
    expect(result.context.dealers).toEqual([1, 2]);
    expect(result.participants.map((p) => p.nodeId)).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(result.context).toMatchObject({ oldVersion: 3, oldThreshold: 1 });
  });

  it('refuses unknown nodes, new members that are not ready, and too few ready old members', () => {
    expect(() => plan(['n1', 'x9'], 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.IncompatiblePeerIds }),
    );
    expect(() => plan(['n1', 'n3'], 1, 'n1', (node) => node !== 'n3')).toThrow(
      expect.objectContaining({ code: ErrorCode.PeerUnavailable }),
    );
    // Only n1 (self) of the old committee is ready: t_old + 1 = 2 dealers impossible.
    expect(() => plan(['n1', 'n3'], 1, 'n1', (node) => node === 'n1' || node === 'n3')).toThrow(
      expect.objectContaining({ code: ErrorCode.PeerUnavailable }),
    );
  });

  it('skips an unreachable leaving member as a dealer', () => {
    const result = plan(['n1', 'n2', 'n3'], 1, 'n1', (node) => node !== 'n0');
    expect(result.context.dealers).toEqual([2, 3]);
    expect(result.participants.map((p) => p.nodeId)).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('checkReshareInvite', () => {
  const good = plan(['n1', 'n2', 'n3'], 1);

  it('accepts the plan at an old dealer, a staying member and a joiner', () => {
    expect(check(good, ['n1', 'n2', 'n3'], 1, 'n0', metadata)).toMatchObject({
      isDealer: true,
      isNewMember: false,
      selfPartyId: 1,
    });
    expect(check(good, ['n1', 'n2', 'n3'], 1, 'n2', metadata)).toMatchObject({
      isDealer: false,
      isNewMember: true,
    });
    expect(check(good, ['n1', 'n2', 'n3'], 1, 'n3', undefined)).toMatchObject({
      isNewMember: true,
      selfPartyId: 4,
    });
  });

  it('refuses an invite whose view of the key differs from the local record', () => {
    for (const current of [
      { ...metadata, version: 4 },
      { ...metadata, threshold: 2 },
      { ...metadata, publicKey: 'cd'.repeat(32) },
      { ...metadata, committee: [...metadata.committee.slice(0, 2), { nodeId: 'n2', partyId: 7 }] },
    ]) {
      expect(() => check(good, ['n1', 'n2', 'n3'], 1, 'n2', current)).toThrow(/differs/);
    }
  });

  it('refuses an old member that has no share, and a request that does not match the invite', () => {
    expect(() => check(good, ['n1', 'n2', 'n3'], 1, 'n2', undefined)).toThrow(/no current share/);
    expect(() => check(good, ['n1', 'n2'], 1, 'n2', metadata)).toThrow(/exactly the dealers/);
    expect(() => check(good, ['n1', 'n2', 'n0'], 1, 'n2', metadata)).toThrow();
  });

  it('refuses tampered party ids and dealer sets', () => {
    const stolenId: ResharePlan = {
      ...good,
      participants: good.participants.map((p) => (p.nodeId === 'n3' ? { ...p, partyId: 1 } : p)),
    };
    expect(() => check(stolenId, ['n1', 'n2', 'n3'], 1, 'n2', metadata)).toThrow(/party id 1/);
    const movedId: ResharePlan = {
      ...good,
      participants: good.participants.map((p) => (p.nodeId === 'n2' ? { ...p, partyId: 9 } : p)),
    };
    expect(() => check(movedId, ['n1', 'n2', 'n3'], 1, 'n2', metadata)).toThrow(/keep party id/);
    const oneDealer: ResharePlan = { ...good, context: { ...good.context, dealers: [2] } };
    expect(() => check(oneDealer, ['n1', 'n2', 'n3'], 1, 'n2', metadata)).toThrow(/dealers/);
    const strangerDealer: ResharePlan = { ...good, context: { ...good.context, dealers: [2, 9] } };
    expect(() => check(strangerDealer, ['n1', 'n2', 'n3'], 1, 'n2', metadata)).toThrow(/dealer 9/);
  });

  it('refuses invites without a context, with unknown nodes, or without this signer', () => {
    expect(() =>
      checkReshareInvite({
        request: { nodeIds: ['n1', 'n2', 'n3'], newThreshold: 1 },
        participants: good.participants,
        context: undefined,
        current: metadata,
        clusterNodes: cluster,
        selfNodeId: 'n2',
      }),
    ).toThrow(/no reshare context/);
    expect(() =>
      checkReshareInvite({
        request: { nodeIds: ['n1', 'n2', 'n3'], newThreshold: 1 },
        participants: good.participants,
        context: good.context,
        current: metadata,
        clusterNodes: ['n0', 'n1', 'n2'],
        selfNodeId: 'n2',
      }),
    ).toThrow(/not a signer of this cluster/);
    const without: ResharePlan = plan(['n1', 'n2'], 1);
    expect(() => check(without, ['n1', 'n2'], 1, 'n3', undefined)).toThrow(/not a participant/);
  });
});
