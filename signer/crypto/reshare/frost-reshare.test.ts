import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_ROUND_INPUT, type PartyId } from '../round-protocol.ts';
import { Point, decodeScalar, encodeScalar, mod } from '../frost/ed25519-group.ts';
import {
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  type FrostKeyShare,
} from '../frost/key-share.ts';
import { runProtocols, runToCompletion, type Delivery } from '../frost/test-driver.ts';
import {
  generateKeyShares,
  randomSessionId,
  signWith,
  verifiesEverywhere,
} from '../frost/test-helpers.ts';
import { ReshareError, ReshareErrorCode } from './errors.ts';
import { createFrostReshareProtocol } from './frost-reshare.ts';
import type { NewShareResult } from './options.ts';

interface Plan {
  readonly oldShares: ReadonlyMap<PartyId, FrostKeyShare>;
  readonly oldCommittee: readonly PartyId[];
  readonly oldThreshold: number;
  readonly newCommittee: readonly PartyId[];
  readonly newThreshold: number;
  readonly dealers?: readonly PartyId[];
  readonly sessionId?: Uint8Array;
}

function parties(plan: Plan) {
  const dealers = plan.dealers ?? plan.oldCommittee.slice(0, plan.oldThreshold + 1);
  const run = [...new Set([...dealers, ...plan.newCommittee])].sort((a, b) => a - b);
  const publicKey = (plan.oldShares.values().next().value as FrostKeyShare).publicKey;
  const sessionId = plan.sessionId ?? randomSessionId();
  return run.map((self) => {
    const oldShare = plan.oldShares.get(self);
    return createFrostReshareProtocol({
      self,
      oldCommittee: plan.oldCommittee,
      oldThreshold: plan.oldThreshold,
      newCommittee: plan.newCommittee,
      newThreshold: plan.newThreshold,
      publicKey,
      sessionId,
      ...(oldShare === undefined ? {} : { oldShare }),
      ...(plan.dealers === undefined ? {} : { dealers: plan.dealers }),
    });
  });
}

function newShares(
  results: Map<PartyId, NewShareResult<FrostKeyShare> | undefined>,
): Map<PartyId, FrostKeyShare> {
  const out = new Map<PartyId, FrostKeyShare>();
  for (const [party, result] of results) if (result !== undefined) out.set(party, result.share);
  return out;
}

function signAndVerify(
  shares: ReadonlyMap<PartyId, FrostKeyShare>,
  signers: PartyId[],
  publicKey: Uint8Array,
): void {
  const message = new TextEncoder().encode(`reshare test ${signers.join(',')}`);
  for (const result of signWith(shares, signers, message).values()) {
    expect(bytesToHex(result.publicKey)).toBe(bytesToHex(publicKey));
    expect(verifiesEverywhere(result.signature, message, publicKey)).toBe(true);
  }
}

/** Interpolates the secret from `subset` (test-only) and checks it against the key. */
function reconstructs(shares: ReadonlyMap<PartyId, FrostKeyShare>, subset: PartyId[]): boolean {
  let secret = 0n;
  for (const party of subset) {
    let numerator = 1n;
    let denominator = 1n;
    for (const other of subset) {
      if (other === party) continue;
      numerator = mod(numerator * BigInt(other));
      denominator = mod(denominator * BigInt(other - party));
    }
    const share = decodeScalar((shares.get(party) as FrostKeyShare).secretShare, 'share');
    secret = mod(secret + share * numerator * Point.Fn.inv(denominator));
  }
  const first = shares.get(subset[0] as PartyId) as FrostKeyShare;
  return bytesToHex(Point.BASE.multiply(secret).toBytes()) === bytesToHex(first.publicKey);
}

const oldCommittee = [1, 2, 3];
const oldShares = generateKeyShares(oldCommittee, 1);
const publicKey = (oldShares.get(1) as FrostKeyShare).publicKey;
const encodedBefore = new Map(
  [...oldShares].map(([party, share]) => [party, bytesToHex(encodeFrostKeyShare(share))]),
);

function expectOldSharesUntouched(): void {
  for (const [party, share] of oldShares) {
    expect(bytesToHex(encodeFrostKeyShare(share))).toBe(encodedBefore.get(party));
  }
  signAndVerify(oldShares, [1, 3], publicKey);
}

describe('FROST resharing', () => {
  it('2-of-3 → 3-of-3 on the same parties: same key, new shares sign, old shares unchanged', () => {
    const results = runToCompletion(
      parties({
        oldShares,
        oldCommittee,
        oldThreshold: 1,
        newCommittee: [1, 2, 3],
        newThreshold: 2,
      }),
    );
    const shares = newShares(results);
    expect([...shares.keys()]).toEqual([1, 2, 3]);
    const digests = new Set(
      [...results.values()].map((r) => bytesToHex(r?.transcriptDigest ?? new Uint8Array())),
    );
    expect(digests.size).toBe(1);
    for (const share of shares.values()) {
      expect(share.threshold).toBe(2);
      expect(bytesToHex(share.publicKey)).toBe(bytesToHex(publicKey));
      expect(bytesToHex(share.secretShare)).not.toBe(
        bytesToHex((oldShares.get(share.self) as FrostKeyShare).secretShare),
      );
    }
    for (const share of shares.values()) {
      const encoded = encodeFrostKeyShare(share);
      expect(bytesToHex(encodeFrostKeyShare(decodeFrostKeyShare(encoded)))).toBe(
        bytesToHex(encoded),
      );
    }
    signAndVerify(shares, [1, 2, 3], publicKey);
    expect(reconstructs(shares, [1, 2, 3])).toBe(true);
    expect(reconstructs(shares, [1, 2])).toBe(false);
    expectOldSharesUntouched();
  });

  it('2-of-3 → 2-of-3 with party 4 joining and party 1 leaving; any pair of the new committee signs', () => {
    const newCommittee = [2, 3, 4];
    const protocols = parties({
      oldShares,
      oldCommittee,
      oldThreshold: 1,
      newCommittee,
      newThreshold: 1,
    });
    expect(protocols[0]?.confirmedTranscript()).toBeUndefined();
    const results = runToCompletion(protocols);
    expect(results.get(1)).toBeUndefined();
    // The leaving dealer confirmed the same transcript as every new member (the ACK round).
    const confirmed = protocols.map((protocol) =>
      bytesToHex(protocol.confirmedTranscript() ?? new Uint8Array(0)),
    );
    const digest = bytesToHex((results.get(2) as NewShareResult<FrostKeyShare>).transcriptDigest);
    expect(confirmed).toEqual([digest, digest, digest, digest]);
    const shares = newShares(results);
    expect([...shares.keys()]).toEqual(newCommittee);
    for (const share of shares.values()) expect(share.participants).toEqual(newCommittee);
    for (const signers of [
      [2, 3],
      [2, 4],
      [3, 4],
    ])
      signAndVerify(shares, signers, publicKey);
    // Old and new shares do not mix: an old share of 1 with a new share of 4 is not the key.
    const mixed = new Map([
      [1, oldShares.get(1) as FrostKeyShare],
      [4, shares.get(4) as FrostKeyShare],
    ]);
    expect(reconstructs(mixed, [1, 4])).toBe(false);
    expectOldSharesUntouched();
  });

  it('uses the chosen dealers and reshares again from reshared shares', () => {
    const first = newShares(
      runToCompletion(
        parties({
          oldShares,
          oldCommittee,
          oldThreshold: 1,
          newCommittee: [2, 3, 4, 5],
          newThreshold: 2,
          dealers: [2, 3],
        }),
      ),
    );
    const second = newShares(
      runToCompletion(
        parties({
          oldShares: first,
          oldCommittee: [2, 3, 4, 5],
          oldThreshold: 2,
          newCommittee: [1, 5],
          newThreshold: 1,
          dealers: [3, 4, 5],
        }),
      ),
    );
    signAndVerify(second, [1, 5], publicKey);
  });
  it('moves the key away from an unreachable old member (it is not a participant)', () => {
    const protocols = parties({
      oldShares,
      oldCommittee,
      oldThreshold: 1,
      newCommittee: [2, 3, 4],
      newThreshold: 1,
      dealers: [2, 3],
    });
    expect(protocols.map((protocol) => protocol.self)).toEqual([2, 3, 4]);
    expect(protocols[0]?.participants).toEqual([2, 3, 4]);
    const shares = newShares(runToCompletion(protocols));
    signAndVerify(shares, [2, 4], publicKey);
  });

  it('property: any committees and thresholds keep the key; any t+1 new members reconstruct it', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (members, thresholdSeed, pick) => {
          const newCommittee = [...members].sort((a, b) => a - b);
          const newThreshold = 1 + (thresholdSeed % (newCommittee.length - 1));
          const dealers = [
            [1, 2],
            [1, 3],
            [2, 3],
          ][pick % 3] as PartyId[];
          const shares = newShares(
            runToCompletion(
              parties({
                oldShares,
                oldCommittee,
                oldThreshold: 1,
                newCommittee,
                newThreshold,
                dealers,
              }),
            ),
          );
          expect([...shares.keys()]).toEqual(newCommittee);
          const offset = pick % (newCommittee.length - newThreshold);
          const subset = newCommittee.slice(offset, offset + newThreshold + 1);
          expect(reconstructs(shares, subset)).toBe(true);
          expect(reconstructs(shares, subset.slice(1))).toBe(false);
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('FROST resharing: adversarial dealers', () => {
  const plan: Plan = {
    oldShares,
    oldCommittee,
    oldThreshold: 1,
    newCommittee: [2, 3, 4],
    newThreshold: 1,
  };

  function run(intercept: (delivery: Delivery) => Uint8Array | undefined) {
    return runProtocols(parties(plan), { intercept });
  }

  function expectBlamed(
    outcomes: ReturnType<typeof run>,
    victim: PartyId,
    code: string,
    counterparty: PartyId,
  ): void {
    const outcome = outcomes.get(victim);
    expect(outcome?.ok).toBe(false);
    const error = (outcome as { ok: false; error: unknown }).error;
    expect(error).toBeInstanceOf(ReshareError);
    expect((error as ReshareError).code).toBe(code);
    expect((error as ReshareError).counterparty).toBe(counterparty);
    for (const result of outcomes.values()) {
      if (result.ok) expect(result.value).toBeUndefined();
    }
  }

  const HEADER = 34;

  it('a bad sub-share names its dealer', () => {
    const outcomes = run((delivery) => {
      if (
        delivery.round === 0 &&
        delivery.from === 1 &&
        delivery.to === 4 &&
        delivery.channel === 'direct'
      ) {
        const tampered = delivery.payload.slice();
        tampered[HEADER] = (tampered[HEADER] as number) ^ 1;
        return tampered;
      }
      return delivery.payload;
    });
    expectBlamed(outcomes, 4, ReshareErrorCode.InvalidSubShare, 1);
  });

  it('a constant-term commitment that is not λ·Y_i names its dealer', () => {
    // Dealer 2 deals f + 1 instead of f, consistently: C_0 + B and f(j) + 1 to everyone, so
    // every sub-share matches its commitments and only the per-dealer check catches it.
    const outcomes = run((delivery) => {
      if (delivery.round !== 0 || delivery.from !== 2) return delivery.payload;
      const tampered = delivery.payload.slice();
      if (delivery.channel === 'broadcast') {
        const offset = HEADER + 32 * oldCommittee.length;
        const constant = Point.fromBytes(tampered.subarray(offset, offset + 32));
        tampered.set(constant.add(Point.BASE).toBytes(), offset);
      } else if (tampered.length === HEADER + 32) {
        const value = decodeScalar(tampered.subarray(HEADER), 'sub-share');
        tampered.set(encodeScalar(mod(value + 1n)), HEADER);
      }
      return tampered;
    });
    expectBlamed(outcomes, 4, ReshareErrorCode.WrongConstantTerm, 2);
    expectBlamed(outcomes, 3, ReshareErrorCode.WrongConstantTerm, 2);
  });

  it('a commitment changed for one recipient only fails its sub-share check, naming the dealer', () => {
    const outcomes = run((delivery) => {
      if (
        delivery.round === 0 &&
        delivery.from === 1 &&
        delivery.to === 4 &&
        delivery.channel === 'broadcast'
      ) {
        // Replace the last commitment with another valid point for party 4 only.
        const tampered = delivery.payload.slice();
        tampered.set(Point.BASE.multiply(7n).toBytes(), tampered.length - 32);
        return tampered;
      }
      return delivery.payload;
    });
    // Party 4 sees a commitment its sub-share from 1 does not match.
    expectBlamed(outcomes, 4, ReshareErrorCode.InvalidSubShare, 1);
  });

  it('an equivocated broadcast to an old-only party fails the echo naming the party that differs', () => {
    const outcomes = run((delivery) => {
      if (
        delivery.round === 0 &&
        delivery.from === 2 &&
        delivery.to === 1 &&
        delivery.channel === 'broadcast'
      ) {
        const tampered = delivery.payload.slice();
        tampered.set(Point.BASE.multiply(7n).toBytes(), tampered.length - 32);
        return tampered;
      }
      return delivery.payload;
    });
    const outcome = outcomes.get(1) as { ok: false; error: ReshareError };
    expect(outcome.ok).toBe(false);
    expect(outcome.error.code).toBe(ReshareErrorCode.TranscriptMismatch);
    for (const party of [2, 3, 4]) {
      const other = outcomes.get(party) as { ok: false; error: ReshareError };
      expect(other.ok).toBe(false);
      expect(other.error.code).toBe(ReshareErrorCode.TranscriptMismatch);
      expect(other.error.counterparty).toBe(1);
    }
  });

  it('a dealer announcing other old verifying shares is named', () => {
    const outcomes = run((delivery) => {
      if (delivery.round === 0 && delivery.from === 1 && delivery.channel === 'broadcast') {
        const tampered = delivery.payload.slice();
        tampered.set(Point.BASE.multiply(5n).toBytes(), HEADER + 64);
        return tampered;
      }
      return delivery.payload;
    });
    expectBlamed(outcomes, 3, ReshareErrorCode.OldKeyMismatch, 1); // compares with its own
    expectBlamed(outcomes, 4, ReshareErrorCode.OldKeyMismatch, 1); // no old share: consistency
  });

  /**
   * Finding L1: dealer 1 (the first dealer, whose word a joining member used to take) lies
   * about the old verifying shares. It announces S_m = Y_m + m·D, which still lies on one
   * degree-t polynomial through the public key, so the consistency check cannot catch it. With
   * `ownDealing` it also deals as if S_1 were its share (C_0 + λ_1·D, sub-shares + λ_1·d), so
   * its broadcast agrees with its own lie and only comparison with other dealers exposes it.
   */
  function lyingFirstDealer(
    shares: ReadonlyMap<PartyId, FrostKeyShare>,
    committee: readonly PartyId[],
    lambda: bigint,
    ownDealing: boolean,
  ): (delivery: Delivery) => Uint8Array {
    const d = 5n;
    const shift = Point.BASE.multiply(d);
    const truth = (shares.get(1) as FrostKeyShare).verifyingShares;
    const announced = committee.map((party) =>
      Point.fromBytes(truth.get(party) as Uint8Array)
        .add(shift.multiply(BigInt(party)))
        .toBytes(),
    );
    return (delivery) => {
      if (delivery.round !== 0 || delivery.from !== 1) return delivery.payload;
      const tampered = delivery.payload.slice();
      if (delivery.channel === 'broadcast') {
        announced.forEach((bytes, index) => tampered.set(bytes, HEADER + 32 * index));
        if (ownDealing) {
          const offset = HEADER + 32 * committee.length;
          const constant = Point.fromBytes(tampered.subarray(offset, offset + 32));
          tampered.set(constant.add(shift.multiply(lambda)).toBytes(), offset);
        }
      } else if (ownDealing && tampered.length === HEADER + 32) {
        const value = decodeScalar(tampered.subarray(HEADER), 'sub-share');
        tampered.set(encodeScalar(mod(value + lambda * d)), HEADER);
      }
      return tampered;
    };
  }

  it('a lying first dealer dealing honestly is named by a joining member, not the honest dealer', () => {
    // λ_1 over the dealers {1, 2} at 0 is 2.
    const outcomes = run(lyingFirstDealer(oldShares, oldCommittee, 2n, false));
    expectBlamed(outcomes, 4, ReshareErrorCode.WrongConstantTerm, 1); // contradicts itself
    expectBlamed(outcomes, 3, ReshareErrorCode.OldKeyMismatch, 1); // compares with its own
    expectBlamed(outcomes, 2, ReshareErrorCode.OldKeyMismatch, 1);
  });

  it('two dealers, the first lying consistently: a joining member aborts naming nobody', () => {
    const outcomes = run(lyingFirstDealer(oldShares, oldCommittee, 2n, true));
    const joiner = outcomes.get(4) as { ok: false; error: ReshareError };
    expect(joiner.ok).toBe(false);
    expect(joiner.error).toBeInstanceOf(ReshareError);
    expect(joiner.error.code).toBe(ReshareErrorCode.OldKeyMismatch);
    expect(joiner.error.counterparty).toBeUndefined();
    expectBlamed(outcomes, 3, ReshareErrorCode.OldKeyMismatch, 1);
    expectBlamed(outcomes, 2, ReshareErrorCode.OldKeyMismatch, 1);
  });

  it('three dealers, the first lying consistently: a joining member names it by majority', () => {
    const committee = [1, 2, 3, 4];
    const shares = generateKeyShares(committee, 2);
    const lying = lyingFirstDealer(shares, committee, 3n, true); // λ_1 over {1, 2, 3} at 0
    const outcomes = runProtocols(
      parties({
        oldShares: shares,
        oldCommittee: committee,
        oldThreshold: 2,
        newCommittee: [2, 3, 4, 5],
        newThreshold: 2,
      }),
      { intercept: lying },
    );
    expectBlamed(outcomes, 5, ReshareErrorCode.OldKeyMismatch, 1);
    for (const party of [2, 3, 4])
      expectBlamed(outcomes, party, ReshareErrorCode.OldKeyMismatch, 1);
  });

  it('a replayed message from another session is rejected as a context mismatch', () => {
    const outcomes = run((delivery) => {
      if (
        delivery.round === 0 &&
        delivery.from === 2 &&
        delivery.to === 3 &&
        delivery.channel === 'direct'
      ) {
        const tampered = delivery.payload.slice();
        tampered[2] = (tampered[2] as number) ^ 0xff;
        return tampered;
      }
      return delivery.payload;
    });
    expectBlamed(outcomes, 3, ReshareErrorCode.ContextMismatch, 2);
  });

  it('a missing sub-share names its dealer', () => {
    const outcomes = run((delivery) =>
      delivery.round === 0 &&
      delivery.from === 1 &&
      delivery.to === 4 &&
      delivery.channel === 'direct'
        ? undefined
        : delivery.payload,
    );
    expectBlamed(outcomes, 4, ReshareErrorCode.UnexpectedSender, 1);
  });

  it('a truncated dealer broadcast is malformed and names its dealer', () => {
    const outcomes = run((delivery) =>
      delivery.round === 0 &&
      delivery.from === 2 &&
      delivery.to === 3 &&
      delivery.channel === 'broadcast'
        ? delivery.payload.subarray(0, delivery.payload.length - 1)
        : delivery.payload,
    );
    expectBlamed(outcomes, 3, ReshareErrorCode.MalformedMessage, 2);
  });

  it('a non-dealer that sends a dealer broadcast is rejected', () => {
    const outcomes = run((delivery) => {
      if (delivery.round === 0 && delivery.from === 4 && delivery.channel === 'broadcast') {
        const tampered = delivery.payload.slice();
        tampered[1] = 0x21;
        return tampered;
      }
      return delivery.payload;
    });
    expectBlamed(outcomes, 3, ReshareErrorCode.MalformedMessage, 4);
  });

  it('enforces the call order and refuses everything after wipe', () => {
    const [first] = parties(plan);
    const protocol = first as NonNullable<typeof first>;
    const state = (call: () => unknown): string | undefined => {
      try {
        call();
      } catch (error) {
        return (error as ReshareError).code;
      }
      return undefined;
    };
    expect(state(() => protocol.round(1, EMPTY_ROUND_INPUT))).toBe(ReshareErrorCode.ProtocolState);
    expect(state(() => protocol.finish(EMPTY_ROUND_INPUT))).toBe(ReshareErrorCode.ProtocolState);
    expect(state(() => protocol.round(0, EMPTY_ROUND_INPUT))).toBeUndefined();
    expect(state(() => protocol.round(2, EMPTY_ROUND_INPUT))).toBe(ReshareErrorCode.ProtocolState);
    protocol.wipe();
    protocol.wipe();
    expect(state(() => protocol.round(1, EMPTY_ROUND_INPUT))).toBe(ReshareErrorCode.ProtocolState);
  });

  it('rejects bad options with the field named', () => {
    const base = {
      self: 1,
      oldCommittee,
      oldThreshold: 1,
      newCommittee: [1, 2, 3],
      newThreshold: 1,
      publicKey,
      sessionId: randomSessionId(),
    };
    const field = (
      options: Parameters<typeof createFrostReshareProtocol>[0],
    ): string | undefined => {
      try {
        createFrostReshareProtocol(options);
      } catch (error) {
        expect((error as ReshareError).code).toBe(ReshareErrorCode.InvalidArgument);
        return (error as ReshareError).field;
      }
      return 'accepted';
    };
    expect(field(base)).toBe('oldShare'); // party 1 deals by default and has no share
    expect(field({ ...base, self: 9 })).toBe('self');
    expect(field({ ...base, newThreshold: 3 })).toBe('newCommittee.threshold');
    expect(field({ ...base, dealers: [1] })).toBe('dealers');
    expect(field({ ...base, dealers: [2, 4] })).toBe('dealers');
    expect(field({ ...base, oldShare: oldShares.get(2) as FrostKeyShare })).toBe('oldShare');
    expect(
      field({
        ...base,
        oldShare: oldShares.get(1) as FrostKeyShare,
        publicKey: new Uint8Array(32),
      }),
    ).toBe('publicKey');
    expect(field({ ...base, oldShare: oldShares.get(1) as FrostKeyShare })).toBe('accepted');
  });
});
