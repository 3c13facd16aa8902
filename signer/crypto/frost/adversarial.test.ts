/**
 * Malicious-party tests (crypto.md §8.3): each tampering must end in the expected typed error
 * at the honest party, never in a signature or key share.
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import type { PartyId, RoundProtocol } from '../round-protocol.ts';
import { EMPTY_ROUND_INPUT } from '../round-protocol.ts';
import { GROUP_ORDER, Point, encodeScalar } from './ed25519-group.ts';
import { FrostError, FrostErrorCode } from './errors.ts';
import type { FrostKeyShare } from './key-share.ts';
import { createFrostKeygenProtocol } from './keygen-protocol.ts';
import { createFrostSigningProtocol, type FrostSignature } from './signing-protocol.ts';
import { runProtocols, type Delivery, type PartyOutcome } from './test-driver.ts';
import { generateKeyShares, randomSessionId, range } from './test-helpers.ts';

const IDENTITY = hexToBytes('0100000000000000000000000000000000000000000000000000000000000000');
/** (0, -1): order 2. */
const ORDER_TWO = hexToBytes('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
/** y = p (≡ 0): non-canonical encoding. */
const NON_CANONICAL = hexToBytes(
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
);
/** B + (order-2 point): on the curve, not in the prime-order subgroup. */
const MIXED_TORSION = Point.BASE.add(Point.fromBytes(ORDER_TWO)).toBytes();

function expectFailure<T>(
  outcome: PartyOutcome<T> | undefined,
  code: string,
  counterparty?: PartyId,
): void {
  expect(outcome?.ok).toBe(false);
  const error = (outcome as { error: unknown }).error;
  expect(error).toBeInstanceOf(FrostError);
  expect((error as FrostError).code).toBe(code);
  if (counterparty !== undefined) expect((error as FrostError).counterparty).toBe(counterparty);
}

function replaceAt(payload: Uint8Array, offset: number, bytes: Uint8Array): Uint8Array {
  const copy = payload.slice();
  copy.set(bytes, offset);
  return copy;
}

describe('signing under attack (2-of-3, honest party 1, attacker 2)', () => {
  const shares = generateKeyShares(range(3), 1);
  const message = new TextEncoder().encode('pay 1 SOL');

  function sign(
    intercept: (delivery: Delivery) => Uint8Array | undefined,
    signers: PartyId[] = [1, 2],
    overrides: Partial<Record<PartyId, { message?: Uint8Array; sessionId?: Uint8Array }>> = {},
  ): Map<PartyId, PartyOutcome<FrostSignature>> {
    const sessionId = randomSessionId();
    return runProtocols(
      signers.map((self) =>
        createFrostSigningProtocol({
          share: shares.get(self) as FrostKeyShare,
          signers,
          sessionId: overrides[self]?.sessionId ?? sessionId,
          message: overrides[self]?.message ?? message,
        }),
      ),
      { intercept },
    );
  }
  const fromAttacker =
    (round: number, edit: (payload: Uint8Array) => Uint8Array | undefined) =>
    (delivery: Delivery): Uint8Array | undefined =>
      delivery.from === 2 && delivery.round === round ? edit(delivery.payload) : delivery.payload;

  it('baseline: untampered run signs', () => {
    const outcome = sign((delivery) => delivery.payload).get(1);
    expect(outcome?.ok).toBe(true);
  });

  it('tampered (valid but wrong) hiding commitment: the attacker share is named', () => {
    const other = Point.BASE.multiply(12345n).toBytes();
    const outcomes = sign(fromAttacker(0, (payload) => replaceAt(payload, 34, other)));
    expectFailure(outcomes.get(1), FrostErrorCode.InvalidSignatureShare, 2);
  });

  for (const [name, bytes] of [
    ['identity', IDENTITY],
    ['order-2', ORDER_TWO],
    ['non-canonical', NON_CANONICAL],
    ['mixed-torsion', MIXED_TORSION],
  ] as const) {
    it(`${name} binding commitment is rejected before signing`, () => {
      const outcomes = sign(fromAttacker(0, (payload) => replaceAt(payload, 66, bytes)));
      expectFailure(outcomes.get(1), FrostErrorCode.InvalidPoint, 2);
    });
  }

  it('bad signature share: named as cheater', () => {
    const outcomes = sign(
      fromAttacker(1, (payload) => {
        const copy = payload.slice();
        copy[34] = ((copy[34] as number) + 1) & 0xff;
        return copy;
      }),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.InvalidSignatureShare, 2);
  });

  it('non-canonical signature share (z + ℓ) is malformed', () => {
    const outcomes = sign(
      fromAttacker(1, (payload) => {
        let z = 0n;
        for (let index = 65; index >= 34; index--) z = (z << 8n) | BigInt(payload[index] as number);
        if (z + GROUP_ORDER >= 2n ** 256n) return payload;
        return replaceAt(payload, 34, encodeScalar(z + GROUP_ORDER));
      }),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.MalformedMessage, 2);
  });

  it('wrong version, truncated, extended and mistyped messages are malformed', () => {
    const edits: ((payload: Uint8Array) => Uint8Array)[] = [
      (payload) => replaceAt(payload, 0, new Uint8Array([2])),
      (payload) => payload.subarray(0, payload.length - 1),
      (payload) => Uint8Array.from([...payload, 0]),
      (payload) => replaceAt(payload, 1, new Uint8Array([0x12])),
    ];
    for (const edit of edits) {
      expectFailure(sign(fromAttacker(0, edit)).get(1), FrostErrorCode.MalformedMessage, 2);
    }
  });

  it('commitments replayed from another session are a context mismatch', () => {
    let stale: Uint8Array | undefined;
    sign((delivery) => {
      if (delivery.from === 2 && delivery.round === 0) stale = delivery.payload;
      return delivery.payload;
    });
    const outcomes = sign(fromAttacker(0, () => stale));
    expectFailure(outcomes.get(1), FrostErrorCode.ContextMismatch, 2);
  });

  it('a party duplicating the honest party commitments is caught', () => {
    let honest: Uint8Array | undefined;
    const outcomes = sign((delivery) => {
      if (delivery.from === 1 && delivery.round === 0) honest = delivery.payload;
      if (delivery.from === 2 && delivery.round === 0) return honest;
      return delivery.payload;
    });
    expectFailure(outcomes.get(1), FrostErrorCode.InvalidSignatureShare, 2);
  });

  it('a signer with a different message aborts in round 1, before any share is sent', () => {
    let sharesSent = 0;
    const outcomes = sign(
      (delivery) => {
        if (delivery.round === 1) sharesSent++;
        return delivery.payload;
      },
      [1, 2],
      { 2: { message: new TextEncoder().encode('pay 1000 SOL') } },
    );
    expectFailure(outcomes.get(1), FrostErrorCode.ContextMismatch, 2);
    expectFailure(outcomes.get(2), FrostErrorCode.ContextMismatch, 1);
    expect(sharesSent).toBe(0);
  });

  it('signers deriving different child keys (tweaks) abort in round 1', () => {
    const sessionId = randomSessionId();
    const outcomes = runProtocols(
      [1, 2].map((self) =>
        createFrostSigningProtocol({
          share: shares.get(self) as FrostKeyShare,
          signers: [1, 2],
          sessionId,
          message,
          tweak: self === 1 ? 5n : 6n,
        }),
      ),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.ContextMismatch, 2);
  });

  it('messages from outside the signer set, missing or on the wrong channel are rejected', () => {
    const protocol = (): RoundProtocol<FrostSignature> =>
      createFrostSigningProtocol({
        share: shares.get(1) as FrostKeyShare,
        signers: [1, 2],
        sessionId: new Uint8Array([1]),
        message,
      });
    const payload = new Uint8Array(98);
    const cases: [Parameters<RoundProtocol<FrostSignature>['round']>[1], PartyId][] = [
      [
        {
          broadcast: new Map([
            [2, payload],
            [3, payload],
          ]),
          direct: new Map(),
        },
        3,
      ],
      [{ broadcast: new Map(), direct: new Map() }, 2],
      [{ broadcast: new Map(), direct: new Map([[2, payload]]) }, 2],
    ];
    for (const [input, counterparty] of cases) {
      const party = protocol();
      party.round(0, EMPTY_ROUND_INPUT);
      try {
        party.round(1, input);
        throw new Error('expected failure');
      } catch (error) {
        expect((error as FrostError).code).toBe(FrostErrorCode.UnexpectedSender);
        expect((error as FrostError).counterparty).toBe(counterparty);
      }
    }
  });

  it('enforces call order, single use and wipe', () => {
    const make = (): RoundProtocol<FrostSignature> =>
      createFrostSigningProtocol({
        share: shares.get(1) as FrostKeyShare,
        signers: [1, 2],
        sessionId: new Uint8Array([1]),
        message,
      });
    const codeOf = (run: () => unknown): string | undefined => {
      try {
        run();
      } catch (error) {
        return (error as FrostError).code;
      }
      return undefined;
    };
    const first = make();
    expect(codeOf(() => first.round(1, EMPTY_ROUND_INPUT))).toBe(FrostErrorCode.ProtocolState);
    const second = make();
    second.round(0, EMPTY_ROUND_INPUT);
    expect(codeOf(() => second.round(0, EMPTY_ROUND_INPUT))).toBe(FrostErrorCode.ProtocolState);
    second.wipe();
    second.wipe();
    expect(codeOf(() => second.round(1, EMPTY_ROUND_INPUT))).toBe(FrostErrorCode.ProtocolState);
    expect(codeOf(() => second.finish(EMPTY_ROUND_INPUT))).toBe(FrostErrorCode.ProtocolState);
  });

  it('rejects invalid arguments with the field named', () => {
    const share = shares.get(1) as FrostKeyShare;
    const base = { share, signers: [1, 2], sessionId: new Uint8Array([1]), message };
    const fieldOf = (options: Parameters<typeof createFrostSigningProtocol>[0]): unknown => {
      try {
        createFrostSigningProtocol(options);
      } catch (error) {
        expect((error as FrostError).code).toBe(FrostErrorCode.InvalidArgument);
        return (error as FrostError).field;
      }
      return undefined;
    };
    expect(fieldOf({ ...base, signers: [1, 2, 3] })).toBe('signers');
    expect(fieldOf({ ...base, signers: [2, 3] })).toBe('signers');
    expect(fieldOf({ ...base, signers: [2, 1] })).toBe('signers');
    expect(fieldOf({ ...base, signers: [1, 4] })).toBe('signers');
    expect(fieldOf({ ...base, signers: [1, 1] })).toBe('signers');
    expect(fieldOf({ ...base, sessionId: new Uint8Array(0) })).toBe('sessionId');
    expect(fieldOf({ ...base, tweak: GROUP_ORDER })).toBe('tweak');
    expect(fieldOf({ ...base, tweak: -1n })).toBe('tweak');
    // A tweak that cancels the master key would sign under the identity.
    const secret = ed25519_FROST.utils.Fn.fromBytes(
      ed25519_FROST.combineSecret(
        [1, 2].map((party) => ({
          identifier: ed25519_FROST.Identifier.fromNumber(party),
          signingShare: (shares.get(party) as FrostKeyShare).secretShare,
        })),
        { min: 2, max: 3 },
      ),
    );
    expect(fieldOf({ ...base, tweak: GROUP_ORDER - secret })).toBe('tweak');
  });
});

describe('DKG under attack (2-of-3, attacker 3)', () => {
  const participants = range(3);

  function keygen(
    intercept: (delivery: Delivery) => Uint8Array | undefined,
    sessionIds: Partial<Record<PartyId, Uint8Array>> = {},
  ): Map<PartyId, PartyOutcome<FrostKeyShare>> {
    const sessionId = randomSessionId();
    return runProtocols(
      participants.map((self) =>
        createFrostKeygenProtocol({
          self,
          participants,
          threshold: 1,
          sessionId: sessionIds[self] ?? sessionId,
        }),
      ),
      { intercept },
    );
  }
  const fromAttacker =
    (round: number, edit: (delivery: Delivery) => Uint8Array | undefined) =>
    (delivery: Delivery): Uint8Array | undefined =>
      delivery.from === 3 && delivery.round === round ? edit(delivery) : delivery.payload;

  it('bad proof of knowledge is blamed on the dealer', () => {
    const outcomes = keygen(
      fromAttacker(0, ({ payload }) => replaceAt(payload, 34 + 64, Point.BASE.toBytes())),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.InvalidProofOfKnowledge, 3);
  });

  it('identity or small-order commitment is rejected', () => {
    for (const bytes of [IDENTITY, ORDER_TWO, MIXED_TORSION]) {
      const outcomes = keygen(fromAttacker(0, ({ payload }) => replaceAt(payload, 34 + 32, bytes)));
      expectFailure(outcomes.get(1), FrostErrorCode.InvalidPoint, 3);
    }
  });

  it('wrong polynomial degree (extra commitment) is malformed', () => {
    const outcomes = keygen(
      fromAttacker(0, ({ payload }) => {
        const longer = new Uint8Array(payload.length + 32);
        longer.set(payload.subarray(0, 98));
        longer.set(Point.BASE.toBytes(), 98);
        longer.set(payload.subarray(98), 130);
        return longer;
      }),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.MalformedMessage, 3);
  });

  it('a wrong share to one party is blamed on the dealer by that party only', () => {
    const outcomes = keygen(
      fromAttacker(1, ({ payload, to }) => {
        if (to !== 1) return payload;
        const copy = payload.slice();
        copy[66] = ((copy[66] as number) ^ 1) & 0xff;
        return copy;
      }),
    );
    expectFailure(outcomes.get(1), FrostErrorCode.InvalidDkgShare, 3);
    expect(outcomes.get(2)?.ok).toBe(true);
  });

  it('a non-canonical share (f(j) + ℓ) or proof response is malformed', () => {
    const plusOrder = (payload: Uint8Array, offset: number): Uint8Array => {
      let value = 0n;
      for (let index = offset + 31; index >= offset; index--) {
        value = (value << 8n) | BigInt(payload[index] as number);
      }
      return replaceAt(payload, offset, encodeScalar(value + GROUP_ORDER));
    };
    const share = keygen(fromAttacker(1, ({ payload }) => plusOrder(payload, 66)));
    expectFailure(share.get(1), FrostErrorCode.MalformedMessage, 3);
    const proof = keygen(fromAttacker(0, ({ payload }) => plusOrder(payload, 34 + 64 + 32)));
    expectFailure(proof.get(1), FrostErrorCode.MalformedMessage, 3);
  });

  it('equivocating round-1 broadcasts are caught by the echo check', () => {
    const sessionId = randomSessionId();
    // A second, independent polynomial for party 3, shown only to party 2.
    const twin = createFrostKeygenProtocol({ self: 3, participants, threshold: 1, sessionId });
    const alternative = twin.round(0, EMPTY_ROUND_INPUT).broadcast as Uint8Array;
    twin.wipe();
    const outcomes = runProtocols(
      participants.map((self) =>
        createFrostKeygenProtocol({ self, participants, threshold: 1, sessionId }),
      ),
      {
        intercept: (delivery) =>
          delivery.from === 3 && delivery.round === 0 && delivery.to === 2
            ? alternative
            : delivery.payload,
      },
    );
    expectFailure(outcomes.get(1), FrostErrorCode.TranscriptMismatch, 2);
    expect(outcomes.get(2)?.ok).toBe(false);
  });

  it('a party in another session (different id) is a context mismatch', () => {
    const outcomes = keygen((delivery) => delivery.payload, { 3: randomSessionId() });
    expectFailure(outcomes.get(1), FrostErrorCode.ContextMismatch, 3);
  });

  it('a missing round-1 broadcast names the silent party', () => {
    const party = createFrostKeygenProtocol({
      self: 1,
      participants,
      threshold: 1,
      sessionId: new Uint8Array([1]),
    });
    party.round(0, EMPTY_ROUND_INPUT);
    try {
      party.round(1, { broadcast: new Map([[2, new Uint8Array(162)]]), direct: new Map() });
      throw new Error('expected failure');
    } catch (error) {
      expect((error as FrostError).code).toBe(FrostErrorCode.UnexpectedSender);
      expect((error as FrostError).counterparty).toBe(3);
    }
  });

  it('rejects bad parameters', () => {
    const make = (overrides: Partial<Parameters<typeof createFrostKeygenProtocol>[0]>): string => {
      try {
        createFrostKeygenProtocol({
          self: 1,
          participants,
          threshold: 1,
          sessionId: new Uint8Array([1]),
          ...overrides,
        });
      } catch (error) {
        return `${(error as FrostError).code}:${String((error as FrostError).field)}`;
      }
      return 'ok';
    };
    expect(make({})).toBe('ok');
    expect(make({ threshold: 0 })).toBe('FROST_INVALID_ARGUMENT:threshold');
    expect(make({ threshold: 3 })).toBe('FROST_INVALID_ARGUMENT:threshold');
    expect(make({ participants: [1, 1, 2] })).toBe('FROST_INVALID_ARGUMENT:participants');
    expect(make({ participants: [0, 1, 2] })).toBe('FROST_INVALID_ARGUMENT:participants');
    expect(make({ self: 4 })).toBe('FROST_INVALID_ARGUMENT:self');
    expect(make({ sessionId: new Uint8Array(0) })).toBe('FROST_INVALID_ARGUMENT:sessionId');
  });
});

describe('signature verification is strict', () => {
  it('ed25519.verify rejects a signature under the wrong key (sanity of the oracle)', () => {
    const key = ed25519.utils.randomSecretKey();
    const signature = ed25519.sign(new Uint8Array([1]), key);
    const other = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    expect(ed25519.verify(signature, new Uint8Array([1]), other, { zip215: false })).toBe(false);
  });
});
