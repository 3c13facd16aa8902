/**
 * RFC 9591 Appendix E.1 FROST(Ed25519, SHA-512) known-answer test, reproduced byte for byte
 * twice: through noble's `ed25519_FROST` (commit / signShare / aggregate) and through this
 * module's signing core; plus a differential test of the core against noble on random keys.
 */
import { readFileSync } from 'node:fs';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { Point, decodeElement, decodeScalar, encodeScalar } from './ed25519-group.ts';
import {
  bindingFactorPrefix,
  computeSignatureShare,
  computeSigningTranscript,
  aggregateSignature,
  generateNonceCommitment,
  verifySignatureShare,
  type SignerCommitment,
} from './signing-core.ts';

interface RoundOne {
  identifier: number;
  hiding_nonce_randomness: string;
  binding_nonce_randomness: string;
  hiding_nonce: string;
  binding_nonce: string;
  hiding_nonce_commitment: string;
  binding_nonce_commitment: string;
  binding_factor_input: string;
  binding_factor: string;
}
interface Vector {
  config: { MAX_PARTICIPANTS: string; MIN_PARTICIPANTS: string };
  inputs: {
    participant_list: number[];
    group_secret_key: string;
    group_public_key: string;
    message: string;
    share_polynomial_coefficients: string[];
    participant_shares: { identifier: number; participant_share: string }[];
  };
  round_one_outputs: { outputs: RoundOne[] };
  round_two_outputs: { outputs: { identifier: number; sig_share: string }[] };
  final_output: { sig: string };
}

const file = JSON.parse(
  readFileSync(
    new URL('../../../test/vectors/frost/rfc9591-ed25519-sha512.json', import.meta.url),
    'utf8',
  ),
) as { vector: Vector };
const vector = file.vector;
const message = hexToBytes(vector.inputs.message);
const shareOf = (id: number): string =>
  vector.inputs.participant_shares.find((entry) => entry.identifier === id)?.participant_share ??
  '';

/** An RNG that replays the vector's nonce randomness (hiding, then binding). */
function replay(...chunks: string[]): (length?: number) => Uint8Array<ArrayBuffer> {
  const queue = chunks.map((chunk) => hexToBytes(chunk));
  return () => {
    const next = queue.shift();
    if (next === undefined) throw new Error('vector randomness exhausted');
    return Uint8Array.from(next);
  };
}

describe('RFC 9591 E.1 through noble ed25519_FROST', () => {
  it('reproduces the key, commitments, shares and signature', () => {
    const frost = ed25519_FROST;
    const signers = {
      min: Number(vector.config.MIN_PARTICIPANTS),
      max: Number(vector.config.MAX_PARTICIPANTS),
    };
    expect(
      bytesToHex(
        ed25519.Point.BASE.multiply(
          decodeScalar(hexToBytes(vector.inputs.group_secret_key), 'sk'),
        ).toBytes(),
      ),
    ).toBe(vector.inputs.group_public_key);
    // The shares are the dealer polynomial f(x) = sk + a_1·x evaluated at each identifier.
    const coefficient = decodeScalar(
      hexToBytes(vector.inputs.share_polynomial_coefficients[0] as string),
      'a1',
    );
    const polynomial = frost.utils.generateSecretPolynomial(
      signers,
      hexToBytes(vector.inputs.group_secret_key),
      [coefficient],
    );
    expect(bytesToHex(polynomial.commitment[0] as Uint8Array)).toBe(vector.inputs.group_public_key);
    for (const entry of vector.inputs.participant_shares) {
      const value = (polynomial.secret + coefficient * BigInt(entry.identifier)) % Point.Fn.ORDER;
      expect(bytesToHex(encodeScalar(value))).toBe(entry.participant_share);
    }
    const verifyingShares: Record<string, Uint8Array> = {};
    for (const entry of vector.inputs.participant_shares) {
      verifyingShares[frost.Identifier.fromNumber(entry.identifier)] = Point.BASE.multiply(
        decodeScalar(hexToBytes(entry.participant_share), 'share'),
      ).toBytes();
    }
    const pub = {
      signers,
      commitments: [hexToBytes(vector.inputs.group_public_key)],
      verifyingShares,
    };
    const generated = vector.round_one_outputs.outputs.map((output) => {
      const secret = {
        identifier: frost.Identifier.fromNumber(output.identifier),
        signingShare: hexToBytes(shareOf(output.identifier)),
      };
      const nonce = frost.commit(
        secret,
        replay(output.hiding_nonce_randomness, output.binding_nonce_randomness),
      );
      expect(bytesToHex(nonce.nonces.hiding)).toBe(output.hiding_nonce);
      expect(bytesToHex(nonce.nonces.binding)).toBe(output.binding_nonce);
      expect(bytesToHex(nonce.commitments.hiding)).toBe(output.hiding_nonce_commitment);
      expect(bytesToHex(nonce.commitments.binding)).toBe(output.binding_nonce_commitment);
      return { secret, nonce };
    });
    const commitmentList = generated.map((entry) => entry.nonce.commitments);
    const shares: Record<string, Uint8Array> = {};
    vector.round_two_outputs.outputs.forEach((output, index) => {
      const entry = generated[index];
      if (entry === undefined) throw new Error('vector mismatch');
      const share = frost.signShare(entry.secret, pub, entry.nonce.nonces, commitmentList, message);
      expect(bytesToHex(share)).toBe(output.sig_share);
      shares[entry.secret.identifier] = share;
    });
    const signature = frost.aggregate(pub, commitmentList, message, shares);
    expect(bytesToHex(signature)).toBe(vector.final_output.sig);
    expect(
      ed25519.verify(signature, message, pub.commitments[0] as Uint8Array, { zip215: false }),
    ).toBe(true);
  });
});

describe('RFC 9591 E.1 through the signing core', () => {
  it('reproduces the round-one nonces and commitments (nonce_generate, node:crypto SHA-512)', () => {
    for (const output of vector.round_one_outputs.outputs) {
      const secret = hexToBytes(shareOf(output.identifier));
      const draw = replay(output.hiding_nonce_randomness, output.binding_nonce_randomness);
      const hiding = generateNonceCommitment(secret, draw);
      const binding = generateNonceCommitment(secret, draw);
      expect(bytesToHex(hiding.nonce)).toBe(output.hiding_nonce);
      expect(bytesToHex(binding.nonce)).toBe(output.binding_nonce);
      expect(bytesToHex(hiding.pointBytes)).toBe(output.hiding_nonce_commitment);
      expect(bytesToHex(binding.pointBytes)).toBe(output.binding_nonce_commitment);
      // The kept points are the decoded commitments (round one never re-decodes its own).
      expect(hiding.point.equals(decodeElement(hiding.pointBytes, 'hiding'))).toBe(true);
      expect(binding.point.equals(decodeElement(binding.pointBytes, 'binding'))).toBe(true);
      // The secret share bytes are read, not wiped; the randomness is.
      expect(bytesToHex(secret)).toBe(shareOf(output.identifier));
    }
  });

  it('reproduces binding factor inputs, binding factors, shares and signature', () => {
    const groupKey = hexToBytes(vector.inputs.group_public_key);
    const commitments: SignerCommitment[] = vector.round_one_outputs.outputs.map((output) => {
      const hidingBytes = hexToBytes(output.hiding_nonce_commitment);
      const bindingBytes = hexToBytes(output.binding_nonce_commitment);
      return {
        party: output.identifier,
        hiding: decodeElement(hidingBytes, 'hiding'),
        binding: decodeElement(bindingBytes, 'binding'),
        hidingBytes,
        bindingBytes,
      };
    });
    const prefix = bindingFactorPrefix(groupKey, commitments, message);
    const transcript = computeSigningTranscript(groupKey, commitments, message);
    const shares: bigint[] = [];
    for (const output of vector.round_one_outputs.outputs) {
      const id = encodeScalar(BigInt(output.identifier));
      expect(bytesToHex(prefix) + bytesToHex(id)).toBe(output.binding_factor_input);
      expect(bytesToHex(encodeScalar(transcript.bindingFactors.get(output.identifier) ?? 0n))).toBe(
        output.binding_factor,
      );
      const secret = decodeScalar(hexToBytes(shareOf(output.identifier)), 'share');
      const share = computeSignatureShare(
        transcript,
        output.identifier,
        secret,
        decodeScalar(hexToBytes(output.hiding_nonce), 'hiding'),
        decodeScalar(hexToBytes(output.binding_nonce), 'binding'),
      );
      const expected = vector.round_two_outputs.outputs.find(
        (entry) => entry.identifier === output.identifier,
      );
      expect(bytesToHex(encodeScalar(share))).toBe(expected?.sig_share);
      expect(
        verifySignatureShare(transcript, output.identifier, Point.BASE.multiply(secret), share),
      ).toBe(true);
      expect(
        verifySignatureShare(
          transcript,
          output.identifier,
          Point.BASE.multiply(secret),
          share + 1n,
        ),
      ).toBe(false);
      shares.push(share);
    }
    expect(bytesToHex(aggregateSignature(transcript, shares))).toBe(vector.final_output.sig);
  });
});

describe('signing core against noble on random keys', () => {
  it('produces the same shares and signature as noble for 3-of-5 with random signers', () => {
    const frost = ed25519_FROST;
    for (let trial = 0; trial < 3; trial++) {
      const dealt = frost.trustedDealer({ min: 3, max: 5 });
      const ids = [1, 2, 3, 4, 5]
        .sort(() => Math.random() - 0.5)
        .slice(0, 3)
        .sort((a, b) => a - b);
      const msg = crypto.getRandomValues(new Uint8Array(1 + trial * 40));
      const entries = ids.map((id) => {
        const secret = dealt.secretShares[frost.Identifier.fromNumber(id)];
        if (secret === undefined) throw new Error('missing share');
        return { id, secret, nonce: frost.commit(secret) };
      });
      const hidingCopies = entries.map((entry) => decodeScalar(entry.nonce.nonces.hiding, 'h'));
      const bindingCopies = entries.map((entry) => decodeScalar(entry.nonce.nonces.binding, 'b'));
      const list = entries.map((entry) => entry.nonce.commitments);
      const nobleShares: Record<string, Uint8Array> = {};
      for (const entry of entries) {
        nobleShares[entry.secret.identifier] = frost.signShare(
          entry.secret,
          dealt.public,
          entry.nonce.nonces,
          list,
          msg,
        );
      }
      const groupKey = dealt.public.commitments[0] as Uint8Array;
      const transcript = computeSigningTranscript(
        groupKey,
        entries.map((entry) => ({
          party: entry.id,
          hiding: decodeElement(entry.nonce.commitments.hiding, 'h'),
          binding: decodeElement(entry.nonce.commitments.binding, 'b'),
          hidingBytes: entry.nonce.commitments.hiding,
          bindingBytes: entry.nonce.commitments.binding,
        })),
        msg,
      );
      const ours = entries.map((entry, index) =>
        computeSignatureShare(
          transcript,
          entry.id,
          decodeScalar(entry.secret.signingShare, 's'),
          hidingCopies[index] as bigint,
          bindingCopies[index] as bigint,
        ),
      );
      entries.forEach((entry, index) => {
        expect(bytesToHex(encodeScalar(ours[index] as bigint))).toBe(
          bytesToHex(nobleShares[entry.secret.identifier] as Uint8Array),
        );
      });
      expect(bytesToHex(aggregateSignature(transcript, ours))).toBe(
        bytesToHex(frost.aggregate(dealt.public, list, msg, nobleShares)),
      );
    }
  });
});
