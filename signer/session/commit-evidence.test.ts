/** Commit evidence of two-phase sessions: every check can fail on its own. */
import { rosterIdentity } from './test-helpers.ts';
import { describe, expect, it } from 'vitest';
import { signControl } from '../transport/control-messages.ts';
import { missingConfirmations } from './commit-evidence.ts';

const [coordinator, self, carol, dave] = ['coordinator', 'self', 'carol', 'dave'].map(
  rosterIdentity,
) as [
  ReturnType<typeof rosterIdentity>,
  ReturnType<typeof rosterIdentity>,
  ReturnType<typeof rosterIdentity>,
  ReturnType<typeof rosterIdentity>,
];
const roster = new Map(
  [coordinator, self, carol, dave].map((member) => [member.nodeId, member.publicKey]),
);
const participants = [coordinator, self, carol, dave].map((member, index) => ({
  nodeId: member.nodeId,
  partyId: index + 1,
}));

const done = (
  signer: ReturnType<typeof rosterIdentity>,
  overrides: { sessionId?: string; digest?: string } = {},
) =>
  signControl(signer, {
    type: 'done',
    sessionId: overrides.sessionId ?? 'session-1',
    nodeId: signer.nodeId,
    resultDigest: overrides.digest ?? 'digest-a',
  });

const check = (dones: unknown) =>
  missingConfirmations({
    sessionId: 'session-1',
    coordinator: 'coordinator',
    participants,
    selfNodeId: 'self',
    digest: 'digest-a',
    dones,
    roster,
  });

describe('missingConfirmations', () => {
  it('accepts a signed matching done from every other participant', () => {
    expect(check([done(carol), done(dave)])).toEqual([]);
  });

  it('names a participant whose done is missing', () => {
    expect(check([done(carol)])).toEqual(['dave']);
  });

  it('does not count a done with another digest or for another session', () => {
    expect(check([done(carol), done(dave, { digest: 'digest-b' })])).toEqual(['dave']);
    expect(check([done(carol), done(dave, { sessionId: 'session-2' })])).toEqual(['dave']);
  });

  it('does not count a done forged by the coordinator in another participant’s name', () => {
    const forged = { ...done(coordinator), from: 'dave' };
    const renamed = signControl(coordinator, {
      type: 'done',
      sessionId: 'session-1',
      nodeId: 'dave',
      resultDigest: 'digest-a',
    });
    expect(check([done(carol), forged, renamed])).toEqual(['dave']);
  });

  it('treats malformed evidence as none', () => {
    expect(check('not a list')).toEqual(['carol', 'dave']);
    expect(check([null, 5, { from: 'carol' }])).toEqual(['carol', 'dave']);
  });
});
