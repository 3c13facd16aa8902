/** Identity pinning: first key wins, changes are mismatches, unpin clears. */
import { describe, expect, it } from 'vitest';
import { computePins, keyFingerprint, parseUnpin, rosterDocument } from './roster-pins.ts';

const keyA = 'a'.repeat(64);
const keyB = 'b'.repeat(64);
const keyC = 'c'.repeat(64);
const signers = ['w-signer-0', 'w-signer-1'];

describe('computePins', () => {
  it('pins the first key each signer presents, and only valid keys', () => {
    const outcome = computePins({
      previous: undefined,
      presented: new Map([
        ['w-signer-0', keyA],
        ['w-signer-1', 'not-a-key'],
        ['stranger', keyC],
      ]),
      signers,
      unpin: [],
    });
    expect(outcome.pins).toEqual({ 'w-signer-0': keyA });
    expect(outcome.newlyPinned).toEqual(['w-signer-0']);
    expect(outcome.mismatches).toEqual([]);
  });

  it('keeps a pin when the signer presents another key and reports the mismatch', () => {
    const outcome = computePins({
      previous: { 'w-signer-0': keyA },
      presented: new Map([['w-signer-0', keyB]]),
      signers,
      unpin: [],
    });
    expect(outcome.pins).toEqual({ 'w-signer-0': keyA });
    expect(outcome.mismatches).toEqual([
      {
        signer: 'w-signer-0',
        pinnedFingerprint: keyFingerprint(keyA),
        presentedFingerprint: keyFingerprint(keyB),
      },
    ]);
  });

  it('an unpin clears the pin and the presented key is pinned afresh', () => {
    const outcome = computePins({
      previous: { 'w-signer-0': keyA, 'w-signer-1': keyC },
      presented: new Map([['w-signer-0', keyB]]),
      signers,
      unpin: parseUnpin(' w-signer-0 , '),
    });
    expect(outcome.pins).toEqual({ 'w-signer-0': keyB, 'w-signer-1': keyC });
    expect(outcome.unpinned).toEqual(['w-signer-0']);
    expect(outcome.mismatches).toEqual([]);
  });

  it('never pins one key for two signers', () => {
    const outcome = computePins({
      previous: { 'w-signer-0': keyA },
      presented: new Map([['w-signer-1', keyA]]),
      signers,
      unpin: [],
    });
    expect(outcome.pins).toEqual({ 'w-signer-0': keyA });
  });

  it('renders the roster document the signers parse', () => {
    expect(JSON.parse(rosterDocument({ 'w-signer-0': keyA }))).toEqual({
      version: 1,
      nodes: { 'w-signer-0': keyA },
    });
  });
});
