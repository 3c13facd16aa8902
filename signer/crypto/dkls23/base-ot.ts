/**
 * Batch of κ base OTs: Masny–Rindal endemic OT (eprint 2019/706, Fig. 8) on validated
 * secp256k1 points with RFC 9380 hash-to-curve as the random oracle onto the group
 * (hash-to-curve.ts: noble's result, computed faster).
 *
 *   receiver (choice c): r_{1−c} = β·G for a fresh random β (a uniform group element),
 *                        r_c = α·G − H(r_{1−c}); sends (r_0, r_1)
 *   sender:              checks both points, z = s·G (fresh s per OT);
 *                        k_0 = K(z, x(s·(r_0 + H(r_1)))), k_1 = K(z, x(s·(r_1 + H(r_0))));
 *                        sends z
 *   receiver:            k_c = K(z, x(α·z))
 *
 * H and K are bound to the pair session id and the OT index; x(P) is P's x-coordinate (the
 * ECDH shared secret, as in every ECDH key derivation).
 *
 * Every multiplication by a secret scalar (α, β, s) runs in constant time on the WebAssembly
 * arithmetic of scalar-multiply.ts (~0.11 ms for k·G, ~0.28 ms for k·P; OpenSSL's generic
 * secp256k1 ECDH through node:crypto took ~0.6 and ~1.6 ms here, and bounded keygen time).
 * The shared x-coordinate leaves WebAssembly as a BigInt and is encoded at once, then hashed.
 * r_{1−c} only has to be uniform (MR19 Fig. 8): knowing β = DL(r_{1−c}) gives the receiver
 * nothing towards k_{1−c}, which needs DL(r_{1−c} + H(r_c)) = β + DL(H(r_c)), and H is a random
 * oracle. The choice bit selects encodings with a byte mask, not a branch.
 */
import {
  decodePoint,
  type Point,
  randomScalar,
  scalarToBytes,
  type RandomSource,
} from './group.ts';
import { Dkls23InvalidPointError } from './errors.ts';
import { hashToCurve } from './hash-to-curve.ts';
import { KAPPA, POINT_BYTES, SEED_BYTES } from './params.ts';
import { multiplyBase, multiplyPoint } from './scalar-multiply.ts';
import { encodeTranscript, taggedHash } from '../transcript.ts';
import type { PartyId } from '../round-protocol.ts';

export const BASE_OT_RECEIVER_MESSAGE_BYTES = KAPPA * 2 * POINT_BYTES;
export const BASE_OT_SENDER_MESSAGE_BYTES = KAPPA * POINT_BYTES;

function hashToPoint(
  purpose: string,
  pairSessionId: Uint8Array,
  index: number,
  data: Uint8Array,
): Point {
  return hashToCurve(
    encodeTranscript(purpose, [pairSessionId, index, data]),
    'DKLs23-v1-base-ot-secp256k1_XMD:SHA-256_SSWU_RO_',
  );
}

function deriveKey(
  pairSessionId: Uint8Array,
  index: number,
  z: Uint8Array,
  sharedX: Uint8Array,
): Uint8Array {
  return taggedHash('DKLs23/v2/base-ot/key', pairSessionId, index, z, sharedX);
}

/** x(k·P) as 32 big-endian bytes (the ECDH shared secret) for a secret k. */
function sharedX(scalar: bigint, point: Point): Uint8Array {
  return scalarToBytes(multiplyPoint(point, scalar).toAffine().x);
}

/** k·G compressed, for a secret k. */
function publicOf(scalar: bigint): Uint8Array {
  return multiplyBase(scalar).toBytes(true);
}

/** Receiver's secret state: α per OT. */
export interface BaseOtReceiverState {
  readonly alphas: bigint[];
}

/** Receiver, step 1. `choices` holds κ bits. */
export function baseOtReceiverStart(
  pairSessionId: Uint8Array,
  choices: Uint8Array,
  random: RandomSource,
): { message: Uint8Array; state: BaseOtReceiverState } {
  const message = new Uint8Array(BASE_OT_RECEIVER_MESSAGE_BYTES);
  const alphas: bigint[] = [];
  for (let l = 0; l < KAPPA; l++) {
    const otherBytes = publicOf(randomScalar(random));
    const alpha = randomScalar(random);
    alphas.push(alpha);
    const chosenBytes = multiplyBase(alpha)
      .subtract(hashToPoint('DKLs23/v1/base-ot/h', pairSessionId, l, otherBytes))
      .toBytes(true);
    // r_0 = c ? other : chosen, r_1 = c ? chosen : other, selected with a mask.
    const mask = -(((choices[l >> 3] as number) >> (l & 7)) & 1) & 0xff;
    const offset = l * 2 * POINT_BYTES;
    for (let b = 0; b < POINT_BYTES; b++) {
      const swap = ((chosenBytes[b] as number) ^ (otherBytes[b] as number)) & mask;
      message[offset + b] = (chosenBytes[b] as number) ^ swap;
      message[offset + POINT_BYTES + b] = (otherBytes[b] as number) ^ swap;
    }
  }
  return { message, state: { alphas } };
}

/** Sender: validates (r_0, r_1), answers with z per OT; returns both keys per OT. */
export function baseOtSenderRespond(
  pairSessionId: Uint8Array,
  receiverMessage: Uint8Array,
  random: RandomSource,
  counterparty: PartyId,
): { message: Uint8Array; seeds0: Uint8Array; seeds1: Uint8Array } {
  const message = new Uint8Array(BASE_OT_SENDER_MESSAGE_BYTES);
  const seeds0 = new Uint8Array(KAPPA * SEED_BYTES);
  const seeds1 = new Uint8Array(KAPPA * SEED_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const offset = l * 2 * POINT_BYTES;
    const r0Bytes = receiverMessage.subarray(offset, offset + POINT_BYTES);
    const r1Bytes = receiverMessage.subarray(offset + POINT_BYTES, offset + 2 * POINT_BYTES);
    const r0 = decodePoint(r0Bytes, { field: `baseOt.r0[${l}]`, counterparty });
    const r1 = decodePoint(r1Bytes, { field: `baseOt.r1[${l}]`, counterparty });
    const p0 = r0.add(hashToPoint('DKLs23/v1/base-ot/h', pairSessionId, l, r1Bytes));
    const p1 = r1.add(hashToPoint('DKLs23/v1/base-ot/h', pairSessionId, l, r0Bytes));
    // r_0 = r_1 would make both keys equal (k_0 = k_1): the receiver would learn both, and
    // the extension built on them would reveal the other side's choice bits. Reject it, and
    // p_0 = −p_1 too, since keys derive from x-coordinates only (x(P) = x(−P)).
    if (p0.is0() || p1.is0() || p0.equals(p1) || p0.equals(p1.negate())) {
      throw new Dkls23InvalidPointError(`base OT ${l}: degenerate receiver points`, {
        field: 'baseOt',
        counterparty,
      });
    }
    const s = randomScalar(random);
    const zBytes = publicOf(s);
    message.set(zBytes, l * POINT_BYTES);
    const shared0 = sharedX(s, p0);
    const shared1 = sharedX(s, p1);
    seeds0.set(deriveKey(pairSessionId, l, zBytes, shared0), l * SEED_BYTES);
    seeds1.set(deriveKey(pairSessionId, l, zBytes, shared1), l * SEED_BYTES);
    shared0.fill(0);
    shared1.fill(0);
  }
  return { message, seeds0, seeds1 };
}

/** Receiver, step 2: k_c per OT. */
export function baseOtReceiverFinish(
  pairSessionId: Uint8Array,
  state: BaseOtReceiverState,
  senderMessage: Uint8Array,
  counterparty: PartyId,
): Uint8Array {
  const seeds = new Uint8Array(KAPPA * SEED_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const zBytes = senderMessage.subarray(l * POINT_BYTES, (l + 1) * POINT_BYTES);
    const z = decodePoint(zBytes, { field: `baseOt.z[${l}]`, counterparty });
    const shared = sharedX(state.alphas[l] as bigint, z);
    seeds.set(deriveKey(pairSessionId, l, zBytes, shared), l * SEED_BYTES);
    shared.fill(0);
  }
  return seeds;
}

/** Drops the receiver's α values (bigints cannot be overwritten; the array is emptied). */
export function wipeBaseOtReceiverState(state: BaseOtReceiverState): void {
  state.alphas.fill(0n);
}
