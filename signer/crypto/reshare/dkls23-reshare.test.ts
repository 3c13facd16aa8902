/**
 * DKLs23 resharing. Kept small: the fresh pairwise base OTs cost ≈ 1.8 s of CPU per pair per
 * party, so one full reshare scenario (with signing under the original key) and one
 * adversarial case on the smallest committee.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import type { PartyId } from '../round-protocol.ts';
import {
  decodeDkls23KeyShare,
  encodeDkls23KeyShare,
  type Dkls23KeyShare,
} from '../dkls23/key-share.ts';
import { Fn, Point, decodeScalar, scalarToBytes } from '../dkls23/group.ts';
import { runProtocols, type Delivery } from '../dkls23/test-driver.ts';
import { dealKeyShares, runSigning, seededRandom, values } from '../dkls23/test-helpers.ts';
import { createDkls23ReshareProtocol } from './dkls23-reshare.ts';
import { ReshareError, ReshareErrorCode } from './errors.ts';

function reshareParties(
  oldShares: ReadonlyMap<PartyId, Dkls23KeyShare>,
  oldCommittee: readonly PartyId[],
  newCommittee: readonly PartyId[],
  threshold: number,
  label: string,
) {
  const dealers = oldCommittee.slice(0, threshold + 1);
  const run = [...new Set([...dealers, ...newCommittee])].sort((a, b) => a - b);
  const publicKey = (oldShares.values().next().value as Dkls23KeyShare).publicKey;
  const sessionId = new Uint8Array(32).fill(9);
  return run.map((self) => {
    const oldShare = oldShares.get(self);
    return createDkls23ReshareProtocol({
      self,
      oldCommittee,
      oldThreshold: threshold,
      newCommittee,
      newThreshold: threshold,
      publicKey,
      sessionId,
      random: seededRandom(`${label}-${self}`),
      ...(oldShare === undefined ? {} : { oldShare }),
    });
  });
}

function verifies(
  shares: ReadonlyMap<PartyId, Dkls23KeyShare>,
  signers: PartyId[],
  publicKey: Uint8Array,
): void {
  const digest = new Uint8Array(32).fill(signers.reduce((a, b) => a * 7 + b, 1) & 0xff);
  for (const signature of values(runSigning({ shares, signers, digest })).values()) {
    expect(bytesToHex(signature.publicKey)).toBe(bytesToHex(publicKey));
    const compact = new Uint8Array([...signature.r, ...signature.s]);
    expect(secp256k1.verify(compact, digest, publicKey, { prehash: false, lowS: true })).toBe(true);
  }
}

describe('DKLs23 resharing', () => {
  it('2-of-3 → 2-of-3 with party 4 joining and party 1 leaving; signs under the original key', () => {
    const oldCommittee = [1, 2, 3];
    const oldShares = dealKeyShares(1, oldCommittee, seededRandom('dkls-reshare-old'));
    const publicKey = (oldShares.get(1) as Dkls23KeyShare).publicKey;
    const before = [...oldShares.values()].map((share) => bytesToHex(encodeDkls23KeyShare(share)));

    const outcomes = values(
      runProtocols(reshareParties(oldShares, oldCommittee, [2, 3, 4], 1, 'scenario')),
    );
    expect(outcomes.get(1)).toBeUndefined();
    const shares = new Map<PartyId, Dkls23KeyShare>();
    for (const party of [2, 3, 4]) {
      const result = outcomes.get(party);
      expect(result).toBeDefined();
      shares.set(party, (result as { share: Dkls23KeyShare }).share);
    }
    const digests = new Set(
      [2, 3, 4].map((party) => bytesToHex(outcomes.get(party)?.transcriptDigest as Uint8Array)),
    );
    expect(digests.size).toBe(1);
    for (const share of shares.values()) {
      expect(share.participants).toEqual([2, 3, 4]);
      expect(bytesToHex(share.publicKey)).toBe(bytesToHex(publicKey));
      expect([...share.pairs.keys()]).toEqual([2, 3, 4].filter((party) => party !== share.self));
    }
    // λ-interpolation of the new shares 2 and 4 gives the old key's secret (test-only).
    const s2 = decodeScalar((shares.get(2) as Dkls23KeyShare).secretShare, { field: 's2' });
    const s4 = decodeScalar((shares.get(4) as Dkls23KeyShare).secretShare, { field: 's4' });
    const secret = Fn.add(Fn.mul(s2, Fn.create(2n)), Fn.mul(s4, Fn.neg(1n)));
    expect(bytesToHex(Point.BASE.multiply(secret).toBytes(true))).toBe(bytesToHex(publicKey));
    // The new share is in the stored format: it decodes (all checks) to the same bytes.
    const encoded = encodeDkls23KeyShare(shares.get(3) as Dkls23KeyShare);
    expect(bytesToHex(encodeDkls23KeyShare(decodeDkls23KeyShare(encoded)))).toBe(
      bytesToHex(encoded),
    );

    verifies(shares, [2, 4], publicKey);
    verifies(shares, [3, 4], publicKey);
    // Old shares are untouched and still sign.
    expect([...oldShares.values()].map((share) => bytesToHex(encodeDkls23KeyShare(share)))).toEqual(
      before,
    );
    verifies(oldShares, [1, 3], publicKey);
  }, 300_000);

  it('a dealer whose constant term is not λ·Y_i is named and nobody gets a share', () => {
    const committee = [1, 2];
    const oldShares = dealKeyShares(1, committee, seededRandom('dkls-reshare-adversarial'));
    const HEADER = 34;
    // Dealer 2 deals f + 1: C_0 + G in its broadcast and f(1) + 1 to party 1, consistently.
    const intercept = (delivery: Delivery): Uint8Array => {
      if (delivery.round !== 0 || delivery.from !== 2) return delivery.payload;
      const tampered = delivery.payload.slice();
      if (delivery.channel === 'broadcast') {
        const offset = HEADER + 33 * committee.length;
        const constant = Point.fromBytes(tampered.subarray(offset, offset + 33));
        tampered.set(constant.add(Point.BASE).toBytes(true), offset);
      } else {
        const value = decodeScalar(tampered.subarray(HEADER, HEADER + 32), { field: 'share' });
        tampered.set(scalarToBytes(Fn.add(value, 1n)), HEADER);
      }
      return tampered;
    };
    const outcomes = runProtocols(reshareParties(oldShares, committee, committee, 1, 'adv'), {
      intercept,
    });
    const victim = outcomes.get(1) as { ok: false; error: ReshareError };
    expect(victim.ok).toBe(false);
    expect(victim.error).toBeInstanceOf(ReshareError);
    expect(victim.error.code).toBe(ReshareErrorCode.WrongConstantTerm);
    expect(victim.error.counterparty).toBe(2);
    for (const outcome of outcomes.values()) expect(outcome.ok).toBe(false);
  });

  it('a lying first dealer is never blamed on an honest dealer by a joining member (finding L1)', () => {
    // Dealer 1 announces S_m = Y_m + m·D: still one degree-1 polynomial through the key, so
    // only comparison with dealer 2 exposes it. Honestly dealt, its constant term contradicts
    // its own announcement; dealt consistently with the lie (C_0 + λ_1·D, sub-shares + λ_1·d,
    // λ_1 = 2 over the dealers {1, 2}), two dealers tie and the joining member names nobody.
    const oldCommittee = [1, 2, 3];
    const oldShares = dealKeyShares(1, oldCommittee, seededRandom('dkls-reshare-liar'));
    const HEADER = 34;
    const d = 5n;
    const shift = Point.BASE.multiply(d);
    const truth = (oldShares.get(1) as Dkls23KeyShare).publicShares;
    const announced = oldCommittee.map((party) =>
      Point.fromBytes(truth.get(party) as Uint8Array)
        .add(shift.multiply(BigInt(party)))
        .toBytes(true),
    );
    const lying =
      (ownDealing: boolean) =>
      (delivery: Delivery): Uint8Array => {
        if (delivery.round !== 0 || delivery.from !== 1) return delivery.payload;
        const tampered = delivery.payload.slice();
        if (delivery.channel === 'broadcast') {
          announced.forEach((bytes, index) => tampered.set(bytes, HEADER + 33 * index));
          if (ownDealing) {
            const offset = HEADER + 33 * oldCommittee.length;
            const constant = Point.fromBytes(tampered.subarray(offset, offset + 33));
            tampered.set(constant.add(shift.multiply(2n)).toBytes(true), offset);
          }
        } else if (ownDealing) {
          const value = decodeScalar(tampered.subarray(HEADER, HEADER + 32), { field: 'share' });
          tampered.set(scalarToBytes(Fn.add(value, Fn.mul(2n, d))), HEADER);
        }
        return tampered;
      };
    const blamed = (
      outcomes: ReturnType<typeof runProtocols>,
      party: PartyId,
    ): { code: string; counterparty: PartyId | undefined } => {
      const outcome = outcomes.get(party) as { ok: false; error: ReshareError };
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toBeInstanceOf(ReshareError);
      return { code: outcome.error.code, counterparty: outcome.error.counterparty };
    };
    const parties = () => reshareParties(oldShares, oldCommittee, [2, 3, 4], 1, 'liar');

    const honestDealing = runProtocols(parties(), { intercept: lying(false) });
    expect(blamed(honestDealing, 4)).toEqual({
      code: ReshareErrorCode.WrongConstantTerm,
      counterparty: 1,
    });
    for (const party of [2, 3]) {
      expect(blamed(honestDealing, party)).toEqual({
        code: ReshareErrorCode.OldKeyMismatch,
        counterparty: 1,
      });
    }

    const consistentLie = runProtocols(parties(), { intercept: lying(true) });
    expect(blamed(consistentLie, 4)).toEqual({
      code: ReshareErrorCode.OldKeyMismatch,
      counterparty: undefined,
    });
    for (const party of [2, 3]) {
      expect(blamed(consistentLie, party)).toEqual({
        code: ReshareErrorCode.OldKeyMismatch,
        counterparty: 1,
      });
    }
  });

  it('rejects an old share whose public data is inconsistent, naming the option', () => {
    const committee = [1, 2, 3];
    const oldShares = dealKeyShares(1, committee, seededRandom('dkls-reshare-options'));
    const share = oldShares.get(1) as Dkls23KeyShare;
    const publicShares = new Map(share.publicShares);
    publicShares.set(3, Point.BASE.multiply(5n).toBytes(true));
    const field = (oldShare: Dkls23KeyShare, sessionId = new Uint8Array(16)): unknown => {
      try {
        createDkls23ReshareProtocol({
          self: 1,
          oldCommittee: committee,
          oldThreshold: 1,
          newCommittee: committee,
          newThreshold: 2,
          publicKey: share.publicKey,
          sessionId,
          oldShare,
        });
      } catch (error) {
        expect((error as ReshareError).code).toBe(ReshareErrorCode.InvalidArgument);
        return (error as ReshareError).field;
      }
      return 'accepted';
    };
    expect(field({ ...share, publicShares })).toBe('oldShare');
    expect(field(oldShares.get(2) as Dkls23KeyShare)).toBe('oldShare');
    expect(field(share, new Uint8Array(8))).toBe('sessionId');
    expect(field(share)).toBe('accepted');
  });
});
