import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { encodeTranscript, taggedHash } from '../transcript.ts';
import {
  evaluatePolynomial,
  feldmanCommit,
  feldmanVerify,
  interpolatePoints,
  lagrangeCoefficient,
} from '../shamir.ts';
import { proveSchnorr, verifySchnorr } from '../schnorr-proof.ts';
import { gf128Multiply } from './gf128.ts';
import { transposeBits, transposeBitsNaive } from './bit-matrix.ts';
import { baseOtReceiverFinish, baseOtReceiverStart, baseOtSenderRespond } from './base-ot.ts';
import {
  buildReceiverMessage,
  otExtensionReceive,
  otExtensionSend,
  type OtExtensionMessage,
} from './ot-extension.ts';
import {
  rvoleReceiverFinish,
  rvoleReceiverStart,
  rvoleSenderRespond,
  type RvoleSenderMessage,
} from './rvole.ts';
import { zeroShare } from './zero-share.ts';
import { dealKeyShares, seededRandom } from './test-helpers.ts';
import { Fn, Point, randomScalar } from './group.ts';
import { BATCH, KAPPA, ROW_BYTES, SEED_BYTES } from './params.ts';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { Dkls23OtExtensionCheckError, Dkls23RvoleCheckError } from './errors.ts';
import type { Dkls23KeyShare } from './key-share.ts';

const sid = new Uint8Array(32).fill(9);

describe('transcript', () => {
  it('frames parts so that different splits never collide', () => {
    expect(encodeTranscript('d', ['ab', 'c'])).not.toEqual(encodeTranscript('d', ['a', 'bc']));
    expect(taggedHash('d1', 'x')).not.toEqual(taggedHash('d2', 'x'));
    expect(taggedHash('d', 1)).not.toEqual(taggedHash('d', new Uint8Array([0, 0, 0, 1, 0])));
    expect(encodeTranscript('d', [new Uint8Array([5])])).toEqual(
      new Uint8Array([0, 0, 0, 1, 100, 0, 0, 0, 1, 5]),
    );
  });
});

describe('shamir and schnorr', () => {
  it('any t+1 shares reconstruct and Feldman rejects a wrong share', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1000 }), (t, seed) => {
        const random = seededRandom(`shamir-${seed}`);
        const coefficients = Array.from({ length: t + 1 }, () => randomScalar(random));
        const ids = Array.from({ length: t + 1 }, (_, i) => BigInt(i * 3 + 1));
        let secret = 0n;
        for (const id of ids) {
          const share = evaluatePolynomial(Fn, coefficients, id);
          secret = Fn.add(secret, Fn.mul(lagrangeCoefficient(Fn, ids, id), share));
        }
        expect(secret).toBe(coefficients[0]);
        const commitments = feldmanCommit(Point, coefficients);
        const share = evaluatePolynomial(Fn, coefficients, 2n);
        expect(feldmanVerify(Point, commitments, 2n, share)).toBe(true);
        expect(feldmanVerify(Point, commitments, 2n, Fn.add(share, 1n))).toBe(false);
        const images = new Map(
          ids.map((id) => [id, Point.BASE.multiply(evaluatePolynomial(Fn, coefficients, id))]),
        );
        expect(
          interpolatePoints(Point, images).equals(commitments[0] as InstanceType<typeof Point>),
        ).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it('Schnorr proofs verify only for their statement and context', () => {
    const random = seededRandom('schnorr');
    const secret = randomScalar(random);
    const context = new Uint8Array([1, 2, 3]);
    const proof = proveSchnorr(Point, 'test', context, secret, randomScalar(random));
    const statement = Point.BASE.multiply(secret);
    expect(verifySchnorr(Point, 'test', context, statement, proof)).toBe(true);
    expect(verifySchnorr(Point, 'test', new Uint8Array([1, 2, 4]), statement, proof)).toBe(false);
    expect(verifySchnorr(Point, 'test', context, statement.add(Point.BASE), proof)).toBe(false);
    expect(
      verifySchnorr(Point, 'test', context, statement, {
        ...proof,
        response: Fn.add(proof.response, 1n),
      }),
    ).toBe(false);
  });
});

describe('GF(2^128)', () => {
  const element = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => v ^ (b[i] as number));
  it('is commutative, associative and distributive', () => {
    fc.assert(
      fc.property(element, element, element, (a, b, c) => {
        expect(gf128Multiply(a, b)).toEqual(gf128Multiply(b, a));
        expect(gf128Multiply(gf128Multiply(a, b), c)).toEqual(
          gf128Multiply(a, gf128Multiply(b, c)),
        );
        expect(gf128Multiply(a, xor(b, c))).toEqual(xor(gf128Multiply(a, b), gf128Multiply(a, c)));
      }),
      { numRuns: 50 },
    );
  });
  it('reduces x^128 to x^7 + x^2 + x + 1', () => {
    const x = new Uint8Array(16);
    x[0] = 2;
    const x127 = new Uint8Array(16);
    x127[15] = 0x80;
    const expected = new Uint8Array(16);
    expected[0] = 0x87;
    expect(gf128Multiply(x, x127)).toEqual(expected);
    const one = new Uint8Array(16);
    one[0] = 1;
    expect(gf128Multiply(one, x127)).toEqual(x127);
  });
});

describe('bit-matrix transpose', () => {
  it('matches the bitwise reference and is an involution', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 256 * 80, maxLength: 256 * 80 }), (matrix) => {
        const fast = transposeBits(matrix, 256, 80, 640);
        expect(fast).toEqual(transposeBitsNaive(matrix, 256, 80, 640));
        expect(transposeBits(fast, 640, 32, 256)).toEqual(matrix);
      }),
      { numRuns: 5 },
    );
  });
});

/** A correlated OT-extension setup as the base OTs would leave it. */
function otSetup(label: string) {
  const random = seededRandom(label);
  const delta = random(KAPPA / 8).slice();
  const seeds0 = random(KAPPA * SEED_BYTES).slice();
  const seeds1 = random(KAPPA * SEED_BYTES).slice();
  const seeds = new Uint8Array(KAPPA * SEED_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const bit = ((delta[l >> 3] as number) >> (l & 7)) & 1;
    seeds.set((bit ? seeds1 : seeds0).subarray(l * 32, l * 32 + 32), l * 32);
  }
  return { sender: { delta, seeds }, receiver: { seeds0, seeds1 }, random };
}

describe('base OT (endemic OT)', () => {
  it('the receiver learns exactly the key of its choice', () => {
    const random = seededRandom('base-ot');
    const choices = random(KAPPA / 8).slice();
    const start = baseOtReceiverStart(sid, choices, random);
    const answer = baseOtSenderRespond(sid, start.message, random, 2);
    const keys = baseOtReceiverFinish(sid, start.state, answer.message, 1);
    for (let l = 0; l < KAPPA; l++) {
      const bit = ((choices[l >> 3] as number) >> (l & 7)) & 1;
      const chosen = (bit ? answer.seeds1 : answer.seeds0).subarray(l * 32, l * 32 + 32);
      const other = (bit ? answer.seeds0 : answer.seeds1).subarray(l * 32, l * 32 + 32);
      expect(keys.subarray(l * 32, l * 32 + 32)).toEqual(chosen);
      expect(keys.subarray(l * 32, l * 32 + 32)).not.toEqual(other);
    }
  });
  it('rejects an off-curve receiver point', () => {
    const random = seededRandom('base-ot-bad');
    const start = baseOtReceiverStart(sid, random(32), random);
    const message = start.message.slice();
    message[0] = 0x05; // not a compressed-point prefix
    expect(() => baseOtSenderRespond(sid, message, random, 2)).toThrow(/not a valid curve point/);
  });
});

describe('base OT degenerate receiver messages', () => {
  it('rejects r_0 = r_1 (both keys would be equal)', () => {
    const random = seededRandom('base-ot-equal');
    const start = baseOtReceiverStart(sid, random(32), random);
    const message = start.message.slice();
    message.copyWithin(33, 0, 33); // r_1 := r_0 in the first OT
    expect(() => baseOtSenderRespond(sid, message, random, 2)).toThrow(
      /degenerate receiver points/,
    );
  });
});

describe('KOS OT extension', () => {
  it('q_j = t_j ⊕ x_j·Δ for every column', () => {
    const { sender, receiver, random } = otSetup('kos');
    const choice = random(BATCH / 8).slice();
    const { message, columns } = otExtensionReceive(receiver, sid, choice, random);
    const q = otExtensionSend(sender, sid, message, 2);
    for (let j = 0; j < BATCH; j++) {
      const bit = ((choice[j >> 3] as number) >> (j & 7)) & 1;
      for (let b = 0; b < 32; b++) {
        expect(q[j * 32 + b]).toBe(
          (columns[j * 32 + b] as number) ^ (bit ? (sender.delta[b] as number) : 0),
        );
      }
    }
  });

  const tamperings: [string, (m: OtExtensionMessage) => OtExtensionMessage][] = [
    ['u', (m) => ({ ...m, u: flip(m.u, 1234) })],
    ['x̃', (m) => ({ ...m, xTilde: flip(m.xTilde, 3) })],
    ['t̃', (m) => ({ ...m, tTilde: flip(m.tTilde, 77) })],
    ['nonce', (m) => ({ ...m, nonce: flip(m.nonce, 0) })],
  ];
  for (const [name, tamper] of tamperings) {
    it(`a flipped bit in ${name} fails the check with a ban`, () => {
      const { sender, receiver, random } = otSetup(`kos-${name}`);
      const { message } = otExtensionReceive(receiver, sid, random(BATCH / 8), random);
      let caught: unknown;
      try {
        otExtensionSend(sender, sid, tamper(message), 5);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Dkls23OtExtensionCheckError);
      expect(caught).toMatchObject({
        banPair: true,
        counterparty: 5,
        code: 'DKLS23_OT_EXTENSION_CHECK_FAILED',
      });
    });
  }
});

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index] = (out[index] as number) ^ 1;
  return out;
}

describe('RVOLE (Protocol 5.2)', () => {
  it('c + d = a·b', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const { sender, receiver, random } = otSetup(`rvole-${seed}`);
        const bob = rvoleReceiverStart(receiver, sid, random);
        const inputs = [randomScalar(random), randomScalar(random)];
        const alice = rvoleSenderRespond(sender, sid, bob.message, inputs, random, 2);
        const d = rvoleReceiverFinish(bob.state, sid, alice.message, 1);
        for (let i = 0; i < 2; i++) {
          expect(Fn.add(alice.outputs[i] as bigint, d[i] as bigint)).toBe(
            Fn.mul(inputs[i] as bigint, bob.state.input),
          );
        }
      }),
      { numRuns: 3 },
    );
  });

  const tamperings: [string, (m: RvoleSenderMessage) => RvoleSenderMessage][] = [
    ['τ', (m) => ({ ...m, tau: flip(m.tau, 32 * 100 + 31) })],
    ['η', (m) => ({ ...m, eta: Fn.add(m.eta, 1n) })],
    ['μ', (m) => ({ ...m, mu: flip(m.mu, 0) })],
    ['δ', (m) => ({ ...m, delta: [Fn.add(m.delta[0] as bigint, 1n), m.delta[1] as bigint] })],
  ];
  for (const [name, tamper] of tamperings) {
    it(`tampered ${name} fails the check with a ban`, () => {
      const { sender, receiver, random } = otSetup(`rvole-${name}`);
      const bob = rvoleReceiverStart(receiver, sid, random);
      const alice = rvoleSenderRespond(sender, sid, bob.message, [1n, 2n], random, 2);
      let caught: unknown;
      try {
        rvoleReceiverFinish(bob.state, sid, tamper(alice.message), 2);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Dkls23RvoleCheckError);
      expect(caught).toMatchObject({ banPair: true, counterparty: 2 });
    });
  }

  it('a sender using an inconsistent correlation in one column is caught (τ_j shifted)', () => {
    const { sender, receiver, random } = otSetup('rvole-inconsistent');
    const bob = rvoleReceiverStart(receiver, sid, random);
    const alice = rvoleSenderRespond(sender, sid, bob.message, [1n, 2n], random, 2);
    // Shift τ_{5,0} by one: Bob's output changes only if β_5 = 1, so a lucky guess could pass
    // without the check; the check must fail whenever it matters (β_5 = 1).
    const tau = alice.message.tau.slice();
    const j = 5;
    const offset = j * 3 * 32;
    const value = Fn.add(
      BigInt('0x' + Buffer.from(tau.subarray(offset, offset + 32)).toString('hex')),
      1n,
    );
    tau.set(Buffer.from(value.toString(16).padStart(64, '0'), 'hex'), offset);
    const bit = ((bob.state.choiceBits[j >> 3] as number) >> (j & 7)) & 1;
    // τ enters θ, so every change fails regardless of β.
    expect(() => rvoleReceiverFinish(bob.state, sid, { ...alice.message, tau }, 2)).toThrow(
      Dkls23RvoleCheckError,
    );
    expect(bit === 0 || bit === 1).toBe(true);
  });
});

describe('RVOLE under a reused session id', () => {
  it('a receiver replaying its PRG nonce learns a + a′ only if the sender adds no fresh nonce', () => {
    const { sender, receiver, random } = otSetup('rvole-replay');
    const nonce = random(32).slice();
    const x1 = random(ROW_BYTES).slice();
    const x2 = x1.slice();
    x2[0] = (x2[0] as number) ^ 1; // extended OT 0 gets the other choice bit
    const m1 = buildReceiverMessage(receiver, sid, nonce, x1, () => x1).message;
    const m2 = buildReceiverMessage(receiver, sid, nonce, x2, () => x2).message;
    const inputs = [randomScalar(random), randomScalar(random)];
    const scalarAt = (bytes: Uint8Array, k: number): bigint =>
      bytesToNumberBE(bytes.subarray(32 * k, 32 * k + 32));
    const attack = (a1: RvoleSenderMessage, a2: RvoleSenderMessage, i: number): bigint =>
      Fn.add(
        Fn.add(a1.delta[i] as bigint, a2.delta[i] as bigint),
        Fn.add(scalarAt(a1.tau, i), scalarAt(a2.tau, i)),
      );
    // Same sender randomness in both runs (same nonce): the attack recovers 2·a.
    const same1 = rvoleSenderRespond(sender, sid, m1, inputs, seededRandom('same'), 2).message;
    const same2 = rvoleSenderRespond(sender, sid, m2, inputs, seededRandom('same'), 2).message;
    expect(attack(same1, same2, 0)).toBe(Fn.mul(2n, inputs[0] as bigint));
    // A fresh sender nonce per run (the protocol): the combination is meaningless.
    const run1 = rvoleSenderRespond(sender, sid, m1, inputs, random, 2).message;
    const run2 = rvoleSenderRespond(sender, sid, m2, inputs, random, 2).message;
    for (let i = 0; i < 2; i++)
      expect(attack(run1, run2, i)).not.toBe(Fn.mul(2n, inputs[i] as bigint));
  });
});

describe('zero sharing', () => {
  it('the shares of any signer set sum to zero and differ per session', () => {
    const shares = dealKeyShares(3, [1, 2, 3, 4, 5], seededRandom('zero'));
    fc.assert(
      fc.property(
        fc.subarray([1, 2, 3, 4, 5], { minLength: 2 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (signers, context) => {
          let sum = 0n;
          const values: bigint[] = [];
          for (const self of signers) {
            const share = shares.get(self) as Dkls23KeyShare;
            const seeds = new Map([...share.pairs].map(([id, pair]) => [id, pair.zeroSeed]));
            const value = zeroShare(self, signers, seeds, context);
            values.push(value);
            sum = Fn.add(sum, value);
          }
          expect(sum).toBe(0n);
          expect(values.every((value) => value !== 0n)).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('noble interop sanity', () => {
  it('Point is secp256k1', () => {
    expect(Point).toBe(secp256k1.Point);
  });
});
