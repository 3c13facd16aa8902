/** Identity pinning: first key wins, changes are mismatches, unpin clears. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  encodeRepinToken,
  newRepinNonce,
  signRepin,
  type RepinStatement,
} from '../../signer/identity/repin.ts';
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

describe('computePins with administrator-signed repin statements', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const adminHex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const realKey = (seed: number) =>
    Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(seed))).toString('hex');
  const oldKey = realKey(1);
  const newKey = realKey(2);
  const NOW = 1_800_000_000_000;
  const token = (overrides: Partial<RepinStatement> = {}, key = privateKey) =>
    encodeRepinToken(
      signRepin(
        {
          cluster: 'ns/w',
          nodeId: 'w-signer-0',
          oldFingerprint: keyFingerprint(oldKey),
          newKey,
          nonce: newRepinNonce(),
          expiresAt: NOW / 1000 + 600,
          ...overrides,
        },
        (message) => new Uint8Array(sign(null, message, key)),
      ),
    );
  const run = (tokens: string[], previousAuth: string[] = [], nowMs = NOW) =>
    computePins({
      previous: { 'w-signer-0': oldKey },
      presented: new Map([['w-signer-0', newKey]]),
      signers,
      unpin: [],
      repin: {
        tokens,
        previous: previousAuth,
        administratorKey: adminHex,
        cluster: 'ns/w',
        nowMs,
      },
    });

  it('a valid statement replaces the pin at once and is kept for the signers', () => {
    const signed = token();
    const outcome = run([signed]);
    expect(outcome.pins['w-signer-0']).toBe(newKey);
    expect(outcome.repinned).toEqual(['w-signer-0']);
    expect(outcome.mismatches).toEqual([]);
    expect(outcome.authorizations).toEqual([signed]);
    // Later rounds keep it from status while it is valid, and drop it once expired.
    const later = computePins({
      previous: outcome.pins,
      presented: new Map([['w-signer-0', newKey]]),
      signers,
      unpin: [],
      repin: {
        tokens: [],
        previous: [signed],
        administratorKey: adminHex,
        cluster: 'ns/w',
        nowMs: NOW,
      },
    });
    expect(later.authorizations).toEqual([signed]);
    expect(run([], [signed], NOW + 3600_000).authorizations).toEqual([]);
  });

  it('rejects forged, foreign, stale and mismatched statements without touching the pin', () => {
    const mallory = generateKeyPairSync('ed25519').privateKey;
    for (const [bad, reason] of [
      [token({}, mallory), /not signed/],
      [token({ cluster: 'other/w' }), /cluster/],
      [token({ expiresAt: NOW / 1000 - 1 }), /expired/],
      [token({ oldFingerprint: keyFingerprint(realKey(3)) }), /replaces key/],
      [token({ nodeId: 'x-signer-0' }), /not a signer/],
      ['garbage', /token/],
    ] as const) {
      const outcome = run([bad]);
      expect(outcome.pins['w-signer-0']).toBe(oldKey);
      expect(outcome.rejectedRepins[0]).toMatch(reason);
      expect(outcome.authorizations).toEqual([]);
    }
  });
});
