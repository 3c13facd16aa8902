/**
 * frost-rs (ZF) FROST(Ed25519, SHA-512) DKG known-answer test: the proofs of knowledge and
 * Feldman shares check with this module's own verifiers, noble's DKG round2/round3 reproduce
 * the vector's shares, group key and verifying shares, and the resulting key shares sign
 * through the signing protocol.
 */
import { readFileSync } from 'node:fs';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import type { DKG_Round1, DKG_Round2, DKG_Secret } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import type { PartyId } from '../round-protocol.ts';
import { Point, decodeElement, decodeScalar, encodeScalar, mod } from './ed25519-group.ts';
import { validateFrostKeyShare, type FrostKeyShare } from './key-share.ts';
import { proofOfKnowledgeChallenge, verifyFeldmanShare } from './signing-core.ts';
import { signWith, verifiesEverywhere } from './test-helpers.ts';

/**
 * frost-rs field names: `signing_key` is dealer i's constant term a_{i,0}, `coefficient` is
 * a_{i,1}, `signing_shares[j]` is the share f_j(i) that i *received* from j. The vector's
 * final `signing_share` is only consistent for participant 1 (for 2 and 3 it does not match
 * their own `verifying_share`), so final secret shares are checked through the verifying
 * shares, and participant 1's also directly.
 */
interface Participant {
  identifier: number;
  signing_key: string;
  coefficient: string;
  vss_commitments: string[];
  proof_of_knowledge: string;
  secret: string;
  signing_shares: Record<string, string>;
  verifying_share: string;
  signing_share: string;
}
const file = JSON.parse(
  readFileSync(new URL('../../../test/vectors/frost/zf-ed25519-dkg.json', import.meta.url), 'utf8'),
) as { vector: { inputs: Record<string, unknown> & { verifying_key: string } } };
const inputs = file.vector.inputs;
const parties: PartyId[] = [1, 2, 3];
const participant = (party: PartyId): Participant => inputs[String(party)] as Participant;
const scalar = (hex: string): bigint => decodeScalar(hexToBytes(hex), 'scalar');
const id = (party: PartyId): string => ed25519_FROST.Identifier.fromNumber(party);

function round1Package(party: PartyId): DKG_Round1 {
  const data = participant(party);
  return {
    identifier: id(party),
    commitment: data.vss_commitments.map((hex) => hexToBytes(hex)),
    proofOfKnowledge: hexToBytes(data.proof_of_knowledge),
  };
}

describe('ZF frost-rs DKG vector', () => {
  it('commitments, proofs of knowledge and Feldman shares check with our verifiers', () => {
    let groupKey = Point.ZERO;
    for (const party of parties) {
      const data = participant(party);
      const commitments = data.vss_commitments.map((hex, index) =>
        decodeElement(hexToBytes(hex), `C${index}`),
      );
      const constant = commitments[0] as (typeof commitments)[number];
      expect(constant.equals(Point.BASE.multiply(scalar(data.signing_key)))).toBe(true);
      expect(commitments[1]?.equals(Point.BASE.multiply(scalar(data.coefficient)))).toBe(true);
      groupKey = groupKey.add(constant);
      const proof = hexToBytes(data.proof_of_knowledge);
      const nonceBytes = proof.subarray(0, 32);
      const challenge = proofOfKnowledgeChallenge(
        party,
        hexToBytes(data.vss_commitments[0] as string),
        nonceBytes,
      );
      const response = scalar(bytesToHex(proof.subarray(32)));
      expect(
        Point.BASE.multiply(response).equals(
          decodeElement(nonceBytes, 'R').add(constant.multiply(challenge)),
        ),
      ).toBe(true);
      // The same check fails for another identifier (the proof binds the dealer).
      const wrong = proofOfKnowledgeChallenge(
        party + 1,
        hexToBytes(data.vss_commitments[0] as string),
        nonceBytes,
      );
      expect(
        Point.BASE.multiply(response).equals(
          decodeElement(nonceBytes, 'R').add(constant.multiply(wrong)),
        ),
      ).toBe(false);
    }
    for (const party of parties) {
      for (const [from, share] of Object.entries(participant(party).signing_shares)) {
        const dealer = participant(Number(from));
        const commitments = dealer.vss_commitments.map((hex) =>
          decodeElement(hexToBytes(hex), 'C'),
        );
        const value = scalar(share);
        expect(value).toBe(
          mod(scalar(dealer.signing_key) + scalar(dealer.coefficient) * BigInt(party)),
        );
        expect(verifyFeldmanShare(party, value, commitments)).toBe(true);
        expect(verifyFeldmanShare(party, mod(value + 1n), commitments)).toBe(false);
      }
    }
    expect(bytesToHex(groupKey.toBytes())).toBe(inputs.verifying_key);
  });

  const finalShares = new Map<PartyId, Uint8Array>();

  it('noble DKG round2/round3 reproduce the shares, group key and verifying shares', () => {
    const signers = { min: 2, max: 3 };
    for (const party of parties) {
      const data = participant(party);
      const coefficients = [scalar(data.signing_key), scalar(data.coefficient)];
      const secret: DKG_Secret = {
        identifier: BigInt(party),
        coefficients,
        commitment: data.vss_commitments.map((hex) => hexToBytes(hex)),
        signers,
        step: 1,
      };
      const others = parties.filter((other) => other !== party);
      const outgoing = ed25519_FROST.DKG.round2(secret, others.map(round1Package));
      for (const other of others) {
        expect(bytesToHex(outgoing[id(other)]?.signingShare as Uint8Array)).toBe(
          participant(other).signing_shares[String(party)],
        );
      }
      const incoming: DKG_Round2[] = others.map((other) => ({
        identifier: id(other),
        signingShare: hexToBytes(data.signing_shares[String(other)] as string),
      }));
      const key = ed25519_FROST.DKG.round3(secret, others.map(round1Package), incoming);
      finalShares.set(party, key.secret.signingShare);
      if (party === 1) expect(bytesToHex(key.secret.signingShare)).toBe(data.signing_share);
      expect(bytesToHex(key.public.commitments[0] as Uint8Array)).toBe(inputs.verifying_key);
      for (const other of parties) {
        expect(bytesToHex(key.public.verifyingShares[id(other)] as Uint8Array)).toBe(
          participant(other).verifying_share,
        );
      }
    }
  });

  it('the vector key shares validate and sign through the signing protocol', () => {
    const verifyingShares = new Map(
      parties.map((party) => [party, hexToBytes(participant(party).verifying_share)]),
    );
    const shares = new Map<PartyId, FrostKeyShare>(
      parties.map((party) => [
        party,
        {
          self: party,
          threshold: 1,
          participants: parties,
          publicKey: hexToBytes(inputs.verifying_key),
          verifyingShares,
          secretShare: (finalShares.get(party) as Uint8Array).slice(),
        },
      ]),
    );
    for (const share of shares.values()) validateFrostKeyShare(share);
    const message = encodeScalar(42n);
    const result = signWith(shares, [1, 3], message).get(1);
    expect(
      result && verifiesEverywhere(result.signature, message, hexToBytes(inputs.verifying_key)),
    ).toBe(true);
  });
});
