import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PartyId, RoundInput } from '../round-protocol.ts';
import { EMPTY_ROUND_INPUT } from '../round-protocol.ts';
import { deriveEd25519Child } from '../hd/index.ts';
import { Point } from './ed25519-group.ts';
import {
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  wipeFrostKeyShare,
  type FrostKeyShare,
} from './key-share.ts';
import { createFrostSigningProtocol } from './signing-protocol.ts';
import { runToCompletion } from './test-driver.ts';
import { generateKeyShares, range, signWith, verifiesEverywhere } from './test-helpers.ts';

function subsets(items: readonly PartyId[], size: number): PartyId[][] {
  if (size === 0) return [[]];
  const [first, ...rest] = items;
  if (first === undefined) return [];
  return [...subsets(rest, size - 1).map((tail) => [first, ...tail]), ...subsets(rest, size)];
}

function expectSameKey(shares: Map<PartyId, FrostKeyShare>): Uint8Array {
  const keys = new Set([...shares.values()].map((share) => bytesToHex(share.publicKey)));
  expect(keys.size).toBe(1);
  return (shares.values().next().value as FrostKeyShare).publicKey;
}

/** Reconstructs the secret from `subset` and checks sk·B = group key (test-only). */
function expectReconstructs(shares: Map<PartyId, FrostKeyShare>, subset: PartyId[]): void {
  const first = shares.get(subset[0] as PartyId) as FrostKeyShare;
  const secret = ed25519_FROST.combineSecret(
    subset.map((party) => ({
      identifier: ed25519_FROST.Identifier.fromNumber(party),
      signingShare: (shares.get(party) as FrostKeyShare).secretShare,
    })),
    { min: first.threshold + 1, max: first.participants.length },
  );
  const scalar = ed25519_FROST.utils.Fn.fromBytes(secret);
  expect(bytesToHex(Point.BASE.multiply(scalar).toBytes())).toBe(bytesToHex(first.publicKey));
}

describe('FROST DKG + signing through RoundProtocol (2-of-3)', () => {
  const participants = range(3);
  const shares = generateKeyShares(participants, 1);

  it('agrees on one group key that any two shares reconstruct', () => {
    expectSameKey(shares);
    for (const subset of subsets(participants, 2)) expectReconstructs(shares, subset);
    for (const [party, share] of shares) {
      expect(share.self).toBe(party);
      expect(share.threshold).toBe(1);
      expect(share.participants).toEqual(participants);
      expect(share.verifyingShares.size).toBe(3);
    }
  });

  it('signs with every pair of signers; all results identical and verified independently', () => {
    const publicKey = expectSameKey(shares);
    for (const signers of subsets(participants, 2)) {
      const message = new Uint8Array([0, 0, 1, 2, 3, 0]);
      const results = signWith(shares, signers, message);
      expect([...results.keys()]).toEqual(signers);
      const signatures = new Set([...results.values()].map((r) => bytesToHex(r.signature)));
      expect(signatures.size).toBe(1);
      for (const result of results.values()) {
        expect(result.signature.length).toBe(64);
        expect(bytesToHex(result.publicKey)).toBe(bytesToHex(publicKey));
        expect(verifiesEverywhere(result.signature, message, publicKey)).toBe(true);
        // Signed as sent: stripping the leading zeros gives a different message.
        expect(verifiesEverywhere(result.signature, message.subarray(2), publicKey)).toBe(false);
      }
    }
  });

  it('signs the empty message and a large message', () => {
    const publicKey = expectSameKey(shares);
    for (const message of [new Uint8Array(0), new Uint8Array(10_000).fill(7)]) {
      const result = signWith(shares, [1, 3], message).get(1);
      expect(result && verifiesEverywhere(result.signature, message, publicKey)).toBe(true);
    }
  });

  it('signs under HD-tweaked child keys (mpcium Ed25519 CKD)', () => {
    const master = expectSameKey(shares);
    const chainCode = crypto.getRandomValues(new Uint8Array(32));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { minLength: 1, maxLength: 5 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom([1, 2], [1, 3], [2, 3]),
        (path, message, signers) => {
          const child = deriveEd25519Child(master, chainCode, path);
          const results = signWith(shares, signers, message, { tweak: child.tweak });
          for (const result of results.values()) {
            expect(bytesToHex(result.publicKey)).toBe(bytesToHex(child.publicKey));
            expect(verifiesEverywhere(result.signature, message, child.publicKey)).toBe(true);
            expect(verifiesEverywhere(result.signature, message, master)).toBe(false);
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it('round-trips key shares through the codec and signs with decoded shares', () => {
    const decoded = new Map<PartyId, FrostKeyShare>();
    for (const [party, share] of shares) {
      const bytes = encodeFrostKeyShare(share);
      expect(bytes.length).toBe(7 + 2 * 3 + 32 * 4 + 32);
      const copy = decodeFrostKeyShare(bytes);
      expect(bytesToHex(encodeFrostKeyShare(copy))).toBe(bytesToHex(bytes));
      decoded.set(party, copy);
    }
    const message = new TextEncoder().encode('decoded');
    const result = signWith(decoded, [2, 3], message).get(3);
    expect(result && verifiesEverywhere(result.signature, message, expectSameKey(shares))).toBe(
      true,
    );
    for (const share of decoded.values()) {
      wipeFrostKeyShare(share);
      expect(share.secretShare.every((byte) => byte === 0)).toBe(true);
    }
  });
});

describe('secret ownership', () => {
  it('a run keeps its own copy of the secret share (caller may wipe its share object)', () => {
    const shares = generateKeyShares(range(3), 1);
    const key = expectSameKey(shares);
    const copies = new Map(
      [...shares].map(([party, share]) => [party, decodeFrostKeyShare(encodeFrostKeyShare(share))]),
    );
    const message = new Uint8Array([9]);
    const sessionId = crypto.getRandomValues(new Uint8Array(8));
    const parties = [1, 2].map((self) =>
      createFrostSigningProtocol({
        share: copies.get(self) as FrostKeyShare,
        signers: [1, 2],
        sessionId,
        message,
      }),
    );
    for (const copy of copies.values()) wipeFrostKeyShare(copy);
    const results = runToCompletion(parties);
    for (const result of results.values()) {
      expect(verifiesEverywhere(result.signature, message, key)).toBe(true);
    }
  });
});

describe('FROST 3-of-5', () => {
  const participants = range(5);
  const shares = generateKeyShares(participants, 2);

  it('reconstructs from every 3-subset and signs with random 3-subsets, with and without tweak', () => {
    const master = expectSameKey(shares);
    for (const subset of subsets(participants, 3)) expectReconstructs(shares, subset);
    fc.assert(
      fc.property(
        fc.shuffledSubarray(participants, { minLength: 3, maxLength: 3 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.boolean(),
        (chosen, message, tweaked) => {
          const signers = [...chosen].sort((a, b) => a - b);
          const tweak = tweaked
            ? ed25519_FROST.utils.Fn.create(BigInt(message.length) * 7919n + 1n)
            : 0n;
          const expectedKey = Point.fromBytes(master).add(
            Point.BASE.multiplyUnsafe(tweak === 0n ? 1n : tweak),
          );
          const key = tweak === 0n ? master : expectedKey.toBytes();
          for (const result of signWith(shares, signers, message, { tweak }).values()) {
            expect(bytesToHex(result.publicKey)).toBe(bytesToHex(key));
            expect(verifiesEverywhere(result.signature, message, key)).toBe(true);
          }
        },
      ),
      { numRuns: 6 },
    );
  });
});

describe('FROST with sparse party ids', () => {
  it('works for participants {2, 5, 9} with threshold 2 (3-of-3)', () => {
    const participants = [2, 5, 9];
    const shares = generateKeyShares(participants, 2);
    const key = expectSameKey(shares);
    const message = new Uint8Array([1]);
    const result = signWith(shares, participants, message).get(9);
    expect(result && verifiesEverywhere(result.signature, message, key)).toBe(true);
  });
});

describe('independent concurrent sessions', () => {
  it('two interleaved signing runs of the same key both verify', () => {
    const shares = generateKeyShares(range(3), 1);
    const key = expectSameKey(shares);
    // Same session id within a run, different across runs.
    const runs = [new Uint8Array([1]), new Uint8Array([2])].map((message) => {
      const sessionId = crypto.getRandomValues(new Uint8Array(8));
      return {
        message,
        parties: [1, 2].map((self) =>
          createFrostSigningProtocol({
            share: shares.get(self) as FrostKeyShare,
            signers: [1, 2],
            sessionId,
            message,
          }),
        ),
      };
    });
    const exchange = (outputs: Uint8Array[]): RoundInput[] => [
      { broadcast: new Map([[2, outputs[1] as Uint8Array]]), direct: new Map() },
      { broadcast: new Map([[1, outputs[0] as Uint8Array]]), direct: new Map() },
    ];
    const [first, second] = runs as [(typeof runs)[number], (typeof runs)[number]];
    const round0 = (run: typeof first): RoundInput[] =>
      exchange(
        run.parties.map((party) => party.round(0, EMPTY_ROUND_INPUT).broadcast as Uint8Array),
      );
    const inputsSecond0 = round0(second);
    const inputsFirst0 = round0(first);
    const round1 = (run: typeof first, inputs: RoundInput[]): RoundInput[] =>
      exchange(
        run.parties.map(
          (party, index) => party.round(1, inputs[index] as RoundInput).broadcast as Uint8Array,
        ),
      );
    const inputsFirst1 = round1(first, inputsFirst0);
    const inputsSecond1 = round1(second, inputsSecond0);
    for (const [run, inputs] of [
      [second, inputsSecond1],
      [first, inputsFirst1],
    ] as const) {
      run.parties.forEach((party, index) => {
        const result = party.finish(inputs[index] as RoundInput);
        expect(verifiesEverywhere(result.signature, run.message, key)).toBe(true);
      });
    }
  });
});
