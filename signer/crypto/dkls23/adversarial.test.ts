/**
 * Malicious-party tests, one per row of crypto.md §8.3 (DKLs23) plus DKG tampering: every
 * tampering ends in the expected typed abort at the honest party and no signature anywhere.
 */
import { describe, expect, it } from 'vitest';
import { Fn, Point } from './group.ts';
import { dealKeyShares, runKeygen, runSigning, seededRandom } from './test-helpers.ts';
import type { Delivery, PartyOutcome } from './test-driver.ts';
import { createDkls23KeygenProtocol } from './keygen-protocol.ts';
import { createDkls23SigningProtocol } from './signing-protocol.ts';
import type { Dkls23KeyShare } from './key-share.ts';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { EMPTY_ROUND_INPUT, type PartyId } from '../round-protocol.ts';
import {
  Dkls23CommitmentMismatchError,
  Dkls23ContextMismatchError,
  Dkls23DegenerateNonceError,
  Dkls23Error,
  Dkls23GammaCheckError,
  Dkls23InvalidDkgShareError,
  Dkls23InvalidPointError,
  Dkls23InvalidProofOfKnowledgeError,
  Dkls23InvalidSignatureError,
  Dkls23MalformedMessageError,
  Dkls23OtExtensionCheckError,
  Dkls23PublicKeyMismatchError,
  Dkls23RvoleCheckError,
  Dkls23TranscriptMismatchError,
  Dkls23UnexpectedSenderError,
} from './errors.ts';

// Offsets in the signing messages (see signing-protocol.ts).
const H = 38;
const R0 = { nonce: H + 32, u: H + 64, xTilde: H + 64 + 20480, tTilde: H + 64 + 20480 + 16 };
const R1 = {
  R: H,
  salt: H + 33,
  pk: H + 65,
  gammaU: H + 98,
  gammaV: H + 131,
  psi: H + 164,
  rvoleNonce: H + 196,
  tau: H + 228,
};
const R1_DELTA = R1.tau + 512 * 3 * 32;
const R1_ETA = R1_DELTA + 64;
const R1_MU = R1_ETA + 32;
const R2 = { u: H, w: H + 32 };

function flipBit(payload: Uint8Array, offset: number): Uint8Array {
  payload[offset] = (payload[offset] as number) ^ 1;
  return payload;
}
function addToScalar(payload: Uint8Array, offset: number, delta: bigint): Uint8Array {
  const value = Fn.add(bytesToNumberBE(payload.subarray(offset, offset + 32)), Fn.create(delta));
  payload.set(numberToBytesBE(value, 32), offset);
  return payload;
}
function shiftPoint(payload: Uint8Array, offset: number): Uint8Array {
  payload.set(
    Point.fromBytes(payload.subarray(offset, offset + 33))
      .add(Point.BASE)
      .toBytes(true),
    offset,
  );
  return payload;
}

const digest = new Uint8Array(32).fill(0x5a);
const shares = dealKeyShares(1, [1, 2, 3], seededRandom('adversarial'));

/** Tampers with what party 2 sends party 1 in `round`, on the signing set [1, 2]. */
function signTampered(
  round: number,
  tamper: (payload: Uint8Array) => Uint8Array,
  signers: PartyId[] = [1, 2],
) {
  return runSigning({
    shares,
    signers,
    digest,
    driver: {
      intercept: (delivery: Delivery) =>
        delivery.round === round && delivery.from === 2 && delivery.to === 1
          ? tamper(delivery.payload)
          : delivery.payload,
    },
  });
}

function errorOf<Result>(
  outcomes: Map<PartyId, PartyOutcome<Result>>,
  party: PartyId,
): Dkls23Error {
  const outcome = outcomes.get(party);
  expect(outcome?.ok).toBe(false);
  const error = (outcome as { error: unknown }).error;
  expect(error).toBeInstanceOf(Dkls23Error);
  return error as Dkls23Error;
}

function expectNoSignature<Result>(outcomes: Map<PartyId, PartyOutcome<Result>>): void {
  for (const outcome of outcomes.values()) expect(outcome.ok).toBe(false);
}

describe('signing aborts', () => {
  const banRows: [
    string,
    number,
    (p: Uint8Array) => Uint8Array,
    new (...args: never[]) => Dkls23Error,
  ][] = [
    ['bit flipped in u', 0, (p) => flipBit(p, R0.u + 777), Dkls23OtExtensionCheckError],
    ['bit flipped in x̃', 0, (p) => flipBit(p, R0.xTilde + 5), Dkls23OtExtensionCheckError],
    ['bit flipped in t̃', 0, (p) => flipBit(p, R0.tTilde + 300), Dkls23OtExtensionCheckError],
    ['τ tampered', 1, (p) => addToScalar(p, R1.tau + 32 * 77, 1n), Dkls23RvoleCheckError],
    ['η tampered', 1, (p) => addToScalar(p, R1_ETA, 1n), Dkls23RvoleCheckError],
    ['μ tampered', 1, (p) => flipBit(p, R1_MU + 3), Dkls23RvoleCheckError],
    ['sender nonce tampered', 1, (p) => flipBit(p, R1.rvoleNonce), Dkls23RvoleCheckError],
    ['δ tampered', 1, (p) => addToScalar(p, R1_DELTA, 1n), Dkls23RvoleCheckError],
    ['Γu tampered', 1, (p) => shiftPoint(p, R1.gammaU), Dkls23GammaCheckError],
    ['Γv tampered', 1, (p) => shiftPoint(p, R1.gammaV), Dkls23GammaCheckError],
  ];
  for (const [name, round, tamper, errorClass] of banRows) {
    it(`${name}: ban the pair`, () => {
      const outcomes = signTampered(round, tamper);
      const error = errorOf(outcomes, 1);
      expect(error).toBeInstanceOf(errorClass);
      expect(error.banPair).toBe(true);
      expect(error.counterparty).toBe(2);
      expectNoSignature(outcomes);
    });
  }

  it('ψ tampered: the final verification fails at every party, nothing is released', () => {
    const outcomes = signTampered(1, (p) => addToScalar(p, R1.psi, 1n));
    for (const party of [1, 2]) {
      const error = errorOf(outcomes, party);
      expect(error).toBeInstanceOf(Dkls23InvalidSignatureError);
      expect(error.banPair).toBe(false);
    }
  });

  it('R_j opening does not match its commitment', () => {
    const outcomes = signTampered(1, (p) => shiftPoint(p, R1.R));
    const error = errorOf(outcomes, 1);
    expect(error).toBeInstanceOf(Dkls23CommitmentMismatchError);
    expect(error.counterparty).toBe(2);
    expectNoSignature(outcomes);
  });

  it('salt altered breaks the opening too', () => {
    expect(
      errorOf(
        signTampered(1, (p) => flipBit(p, R1.salt)),
        1,
      ),
    ).toBeInstanceOf(Dkls23CommitmentMismatchError);
  });

  it('pk_j altered alone is caught by the Γv check (ban)', () => {
    const error = errorOf(
      signTampered(1, (p) => shiftPoint(p, R1.pk)),
      1,
    );
    expect(error).toBeInstanceOf(Dkls23GammaCheckError);
    expect(error.banPair).toBe(true);
  });

  it('a signer using a wrong key share consistently: Σpk ≠ PK', () => {
    const honest = shares.get(2) as Dkls23KeyShare;
    const wrongSecret = Fn.add(bytesToNumberBE(honest.secretShare), 1n);
    const cheating: Dkls23KeyShare = { ...honest, secretShare: numberToBytesBE(wrongSecret, 32) };
    const outcomes = runSigning({
      shares: new Map([...shares, [2, cheating]]),
      signers: [1, 2],
      digest,
    });
    expect(errorOf(outcomes, 1)).toBeInstanceOf(Dkls23PublicKeyMismatchError);
    expectNoSignature(outcomes);
  });

  it('Σu = 0 aborts', () => {
    let ownU = 0n;
    const outcomes = runSigning({
      shares,
      signers: [1, 2],
      digest,
      driver: {
        intercept: (delivery) => {
          if (delivery.round !== 2) return delivery.payload;
          if (delivery.from === 1)
            ownU = bytesToNumberBE(delivery.payload.subarray(R2.u, R2.u + 32));
          if (delivery.from === 2) delivery.payload.set(numberToBytesBE(Fn.neg(ownU), 32), R2.u);
          return delivery.payload;
        },
      },
    });
    expect(errorOf(outcomes, 1)).toBeInstanceOf(Dkls23DegenerateNonceError);
  });

  it('u_j altered: final verification fails', () => {
    const outcomes = signTampered(2, (p) => addToScalar(p, R2.u, 1n));
    expect(errorOf(outcomes, 1)).toBeInstanceOf(Dkls23InvalidSignatureError);
  });

  it('a message replayed from an earlier session is rejected', () => {
    let recorded: Uint8Array | undefined;
    runSigning({
      shares,
      signers: [1, 2],
      digest,
      sessionId: new Uint8Array(32).fill(1),
      driver: {
        intercept: (d) => {
          if (d.round === 0 && d.from === 2 && d.to === 1) recorded = d.payload.slice();
          return d.payload;
        },
      },
    });
    const outcomes = runSigning({
      shares,
      signers: [1, 2],
      digest,
      sessionId: new Uint8Array(32).fill(2),
      driver: {
        intercept: (d) =>
          d.round === 0 && d.from === 2 && d.to === 1 ? (recorded as Uint8Array) : d.payload,
      },
    });
    const error = errorOf(outcomes, 1);
    expect(error).toBeInstanceOf(Dkls23ContextMismatchError);
    expect(error.counterparty).toBe(2);
  });

  it('a payload of another signer delivered under a different sender is rejected', () => {
    const three = dealKeyShares(2, [1, 2, 3], seededRandom('three'));
    let fromTwo: Uint8Array | undefined;
    const outcomes = runSigning({
      shares: three,
      signers: [1, 2, 3],
      digest,
      driver: {
        intercept: (d) => {
          if (d.round !== 0 || d.to !== 1) return d.payload;
          if (d.from === 2) fromTwo = d.payload.slice();
          return d.from === 3 ? (fromTwo as Uint8Array) : d.payload;
        },
      },
    });
    const error = errorOf(outcomes, 1);
    expect(error).toBeInstanceOf(Dkls23UnexpectedSenderError);
    expect(error.counterparty).toBe(3);
  });

  it('a sender outside the signer set, or a missing sender, is rejected', () => {
    const party = createDkls23SigningProtocol({
      share: shares.get(1) as Dkls23KeyShare,
      signers: [1, 2],
      sessionId: new Uint8Array(32),
      digest,
    });
    const sent = party.round(0, EMPTY_ROUND_INPUT);
    const payload = sent.direct?.get(2) as Uint8Array;
    expect(() =>
      party.round(1, {
        broadcast: new Map(),
        direct: new Map([
          [2, payload],
          [3, payload],
        ]),
      }),
    ).toThrow(Dkls23UnexpectedSenderError);
    const other = createDkls23SigningProtocol({
      share: shares.get(1) as Dkls23KeyShare,
      signers: [1, 2],
      sessionId: new Uint8Array(32),
      digest,
    });
    other.round(0, EMPTY_ROUND_INPUT);
    expect(() => other.round(1, EMPTY_ROUND_INPUT)).toThrow(Dkls23UnexpectedSenderError);
  });

  it('a non-canonical scalar is malformed', () => {
    const outcomes = signTampered(1, (p) => (p.fill(0xff, R1.psi, R1.psi + 32), p));
    expect(errorOf(outcomes, 1)).toBeInstanceOf(Dkls23MalformedMessageError);
  });

  it('an off-curve point is rejected', () => {
    const outcomes = signTampered(1, (p) => ((p[R1.gammaU] = 0x05), p));
    const error = errorOf(outcomes, 1);
    expect(error).toBeInstanceOf(Dkls23InvalidPointError);
    expect(error.counterparty).toBe(2);
  });

  it('an unknown version or kind is malformed', () => {
    expect(
      errorOf(
        signTampered(0, (p) => ((p[0] = 2), p)),
        1,
      ),
    ).toBeInstanceOf(Dkls23MalformedMessageError);
    expect(
      errorOf(
        signTampered(1, (p) => ((p[1] = 0x20), p)),
        1,
      ),
    ).toBeInstanceOf(Dkls23MalformedMessageError);
  });

  it('a wrong length is malformed', () => {
    const outcomes = signTampered(2, (p) => p.subarray(0, p.length - 1));
    expect(errorOf(outcomes, 1)).toBeInstanceOf(Dkls23MalformedMessageError);
  });
});

describe('key generation aborts', () => {
  const sessionId = new Uint8Array(32).fill(3);
  function keygenTampered(
    round: number,
    channel: 'broadcast' | 'direct',
    tamper: (p: Uint8Array) => Uint8Array,
  ) {
    return runKeygen(1, [1, 2], sessionId, undefined, {
      intercept: (d) =>
        d.round === round && d.from === 2 && d.to === 1 && d.channel === channel
          ? tamper(d.payload)
          : d.payload,
    });
  }

  it('a wrong share is blamed on its dealer', () => {
    const error = errorOf(
      keygenTampered(0, 'direct', (p) => addToScalar(p, H, 1n)),
      1,
    );
    expect(error).toBeInstanceOf(Dkls23InvalidDkgShareError);
    expect(error.counterparty).toBe(2);
  }, 30_000);

  it('a bad proof of knowledge', () => {
    const error = errorOf(
      keygenTampered(0, 'broadcast', (p) => addToScalar(p, H + 2 * 33 + 33, 1n)),
      1,
    );
    expect(error).toBeInstanceOf(Dkls23InvalidProofOfKnowledgeError);
    expect(error.counterparty).toBe(2);
  }, 30_000);

  it('an invalid commitment point', () => {
    const error = errorOf(
      keygenTampered(0, 'broadcast', (p) => ((p[H] = 0x07), p)),
      1,
    );
    expect(error).toBeInstanceOf(Dkls23InvalidPointError);
  }, 30_000);

  it('an equivocated round-0 broadcast is caught by the echo', () => {
    const alternative = createDkls23KeygenProtocol({
      self: 1,
      participants: [1, 2, 3],
      threshold: 1,
      sessionId,
      random: seededRandom('alt'),
    });
    const alternativeOutput = alternative.round(0, EMPTY_ROUND_INPUT);
    const outcomes = runKeygen(1, [1, 2, 3], sessionId, undefined, {
      intercept: (d) => {
        if (d.round !== 0 || d.from !== 1 || d.to !== 3) return d.payload;
        return d.channel === 'broadcast'
          ? (alternativeOutput.broadcast as Uint8Array)
          : (alternativeOutput.direct?.get(3) as Uint8Array);
      },
    });
    alternative.wipe();
    expect(errorOf(outcomes, 2)).toBeInstanceOf(Dkls23TranscriptMismatchError);
    expect(errorOf(outcomes, 3)).toBeInstanceOf(Dkls23TranscriptMismatchError);
  }, 60_000);

  it('a keygen message from another session is rejected', () => {
    let recorded: Uint8Array | undefined;
    const party = createDkls23KeygenProtocol({
      self: 2,
      participants: [1, 2],
      threshold: 1,
      sessionId: new Uint8Array(32).fill(8),
    });
    recorded = party.round(0, EMPTY_ROUND_INPUT).broadcast;
    party.wipe();
    const error = errorOf(
      keygenTampered(0, 'broadcast', () => recorded as Uint8Array),
      1,
    );
    expect(error).toBeInstanceOf(Dkls23ContextMismatchError);
    recorded = undefined;
  }, 30_000);
});
