/** Roster-gated readiness: unpinned peers and a mismatched self never count. */
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { LiveRoster, rosterFromEntries } from '../identity/index.ts';
import type { Membership } from './membership.ts';
import { RosterGatedMembership } from './roster-gated-membership.ts';

const key = () => ed25519.getPublicKey(ed25519.utils.randomSecretKey());
const selfKey = key();
const peerKey = key();

function everyoneReady(presented: Record<string, string> = {}): Membership {
  const nodes = ['self', 'peer', 'other'];
  return {
    presentedIdentity: (node) => presented[node],
    start: async () => undefined,
    stop: async () => undefined,
    isReady: () => true,
    readyNodes: (candidates = nodes) => [...candidates],
    markSuspect: () => undefined,
    onChange: () => undefined,
  };
}

describe('RosterGatedMembership', () => {
  it('counts only pinned peers, and itself only when pinned to its own key', () => {
    const roster = new LiveRoster();
    const gated = new RosterGatedMembership(everyoneReady(), roster, 'self', selfKey);
    expect(gated.selfPin()).toBe('unpinned');
    expect(gated.readyNodes()).toEqual([]);

    roster.replace(rosterFromEntries([['peer', peerKey]]));
    expect(gated.readyNodes()).toEqual(['peer']);

    roster.replace(
      rosterFromEntries([
        ['peer', peerKey],
        ['self', selfKey],
      ]),
    );
    expect(gated.selfPin()).toBe('pinned');
    expect(gated.readyNodes()).toEqual(['self', 'peer']);

    // An administrator's pin for "self" that is not our key: we are an impostor there.
    roster.replace(
      rosterFromEntries([
        ['peer', peerKey],
        ['self', key()],
      ]),
    );
    expect(gated.selfPin()).toBe('mismatch');
    expect(gated.isReady('self')).toBe(false);
    expect(gated.readyNodes()).toEqual(['peer']);
  });

  it('does not count a pinned peer whose Lease presents another key', () => {
    const roster = new LiveRoster();
    roster.replace(
      rosterFromEntries([
        ['peer', peerKey],
        ['self', selfKey],
      ]),
    );
    const honest = Buffer.from(peerKey).toString('hex');
    const other = Buffer.from(key()).toString('hex');
    expect(
      new RosterGatedMembership(
        everyoneReady({ peer: honest }),
        roster,
        'self',
        selfKey,
      ).readyNodes(),
    ).toEqual(['self', 'peer']);
    expect(
      new RosterGatedMembership(
        everyoneReady({ peer: other }),
        roster,
        'self',
        selfKey,
      ).readyNodes(),
    ).toEqual(['self']);
  });
});
