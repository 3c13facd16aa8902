/**
 * mpcium-compatible non-hardened child key derivation (mpcium-contract.md §6; fystack/mpcium
 * `pkg/ckdutil/child_derivation.go`, fystack/tss-lib `crypto/ckd/child_key_derivation.go`).
 *
 * Per path index i, with P the current public key and c the current chain code:
 *   ser(P) = (0x02 | (affine y mod 2)) ‖ affine x as 32-byte big-endian   (33 bytes)
 *   I      = HMAC-SHA512(key = c, data = ser(P) ‖ uint32_be(i))
 *   IL     = int_be(I[0..32]) mod N (N = curve order; IL = 0 is rejected)
 *   P'     = P + IL·G,  c' = I[32..64],  tweak += IL (mod N)
 *
 * For secp256k1 this is BIP32 CKDpub, except that IL ≥ n is reduced instead of skipped (the
 * tss-lib fork's behaviour, which differs from BIP32 with probability ≈ 2^-128). For Ed25519 the
 * same formula is applied to the *Edwards affine coordinates* (not the RFC 8032 encoding), with
 * N = ℓ; the child key is returned in RFC 8032 form. Signing under the child key: every party
 * adds `tweak` to its share (child key = master + tweak·G).
 */
import { createHmac } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { multiplyBase as multiplySecp256k1Base } from '../dkls23/scalar-multiply.ts';
import { multiplyBase as multiplyEd25519Base } from '../frost/base-multiply.ts';
import { encodeScalar } from '../frost/ed25519-group.ts';
import { validateDerivationPath } from './derivation-path.ts';
import { HdDerivationError, HdErrorCode } from './errors.ts';

export const CHAIN_CODE_BYTES = 32;

export interface ChildKey {
  /** Child public key: 33-byte compressed (secp256k1) or 32-byte RFC 8032 (Ed25519). */
  readonly publicKey: Uint8Array;
  /** Σ IL mod N over the path: child = master + tweak·G. 0n for the empty path. */
  readonly tweak: bigint;
  /** Chain code after the last step (the input chain code for the empty path). */
  readonly chainCode: Uint8Array;
}

interface AffinePointLike<P> {
  add(other: P): P;
  is0(): boolean;
  toAffine(): { x: bigint; y: bigint };
}

interface CurveOps<P extends AffinePointLike<P>> {
  readonly order: bigint;
  readonly multiplyBase: (scalar: bigint) => P;
}

function bytesToIntegerBE(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function integerTo32BE(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let rest = value;
  for (let index = 31; index >= 0; index--) {
    out[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/** mpcium's 33-byte secp-style serialisation of an affine point. */
function serializeCompressed(point: AffinePointLike<unknown>): Uint8Array {
  const { x, y } = point.toAffine();
  const out = new Uint8Array(33);
  out[0] = 0x02 | Number(y & 1n);
  out.set(integerTo32BE(x), 1);
  return out;
}

function checkChainCode(chainCode: Uint8Array): void {
  if (!(chainCode instanceof Uint8Array) || chainCode.length !== CHAIN_CODE_BYTES) {
    throw new HdDerivationError(HdErrorCode.InvalidChainCode, 'chainCode', 'must be 32 bytes');
  }
}

function deriveSteps<P extends AffinePointLike<P>>(
  curve: CurveOps<P>,
  master: P,
  chainCode: Uint8Array,
  path: readonly number[],
): { point: P; tweak: bigint; chainCode: Uint8Array } {
  const indices = validateDerivationPath(path);
  checkChainCode(chainCode);
  let point = master;
  let chain = chainCode.slice();
  let tweak = 0n;
  const data = new Uint8Array(37);
  const dataView = new DataView(data.buffer);
  indices.forEach((childIndex, position) => {
    data.set(serializeCompressed(point), 0);
    dataView.setUint32(33, childIndex);
    const digest = new Uint8Array(createHmac('sha512', chain).update(data).digest());
    const il = bytesToIntegerBE(digest.subarray(0, 32)) % curve.order;
    if (il === 0n) {
      throw new HdDerivationError(HdErrorCode.InvalidChild, 'path', 'IL is zero', position);
    }
    point = point.add(curve.multiplyBase(il));
    if (point.is0()) {
      throw new HdDerivationError(
        HdErrorCode.InvalidChild,
        'path',
        'child is the identity',
        position,
      );
    }
    chain = digest.slice(32, 64);
    digest.fill(0);
    tweak = (tweak + il) % curve.order;
  });
  return { point, tweak, chainCode: chain };
}

// IL·G on the WebAssembly arithmetic of the signing protocols (~4× cheaper than noble's
// multiplyUnsafe); IL is public here, and IL ∈ [1, N) is checked before the call.
const secp256k1Ops: CurveOps<InstanceType<typeof secp256k1.Point>> = {
  order: secp256k1.Point.Fn.ORDER,
  multiplyBase: (scalar) => multiplySecp256k1Base(scalar),
};

const ed25519Ops: CurveOps<InstanceType<typeof ed25519.Point>> = {
  order: ed25519.Point.Fn.ORDER,
  multiplyBase: (scalar) => multiplyEd25519Base(encodeScalar(scalar)).point,
};

/**
 * BIP32-style CKDpub on secp256k1 from a master key in 33-byte compressed, 65-byte
 * uncompressed (0x04 ‖ X ‖ Y) or 64-byte raw X ‖ Y form (mpcium's keygen ECDSA key format).
 */
export function deriveSecp256k1Child(
  masterPublicKey: Uint8Array,
  chainCode: Uint8Array,
  path: readonly number[],
): ChildKey {
  if (!(masterPublicKey instanceof Uint8Array)) {
    throw new HdDerivationError(HdErrorCode.InvalidPublicKey, 'masterPublicKey', 'must be bytes');
  }
  let encoded = masterPublicKey;
  if (masterPublicKey.length === 64) {
    encoded = new Uint8Array(65);
    encoded[0] = 0x04;
    encoded.set(masterPublicKey, 1);
  } else if (masterPublicKey.length !== 33 && masterPublicKey.length !== 65) {
    throw new HdDerivationError(
      HdErrorCode.InvalidPublicKey,
      'masterPublicKey',
      'expected 33, 64 or 65 bytes',
    );
  }
  let master: InstanceType<typeof secp256k1.Point>;
  try {
    master = secp256k1.Point.fromBytes(encoded);
    master.assertValidity();
  } catch {
    throw new HdDerivationError(
      HdErrorCode.InvalidPublicKey,
      'masterPublicKey',
      'not a curve point',
    );
  }
  const result = deriveSteps(secp256k1Ops, master, chainCode, path);
  return {
    publicKey: result.point.toBytes(true),
    tweak: result.tweak,
    chainCode: result.chainCode,
  };
}

/**
 * Subgroup check of Ed25519 master keys (≈ 0.7 ms), memoised for keys that passed: every
 * signing request of a wallet derives from the same master key. Public data only; bounded.
 */
const TORSION_FREE_MEMO_LIMIT = 4096;
const torsionFreeMasters = new Set<string>();

function isTorsionFreeMemoised(
  encoded: Uint8Array,
  point: InstanceType<typeof ed25519.Point>,
): boolean {
  const key = bytesToHex(encoded);
  if (torsionFreeMasters.has(key)) return true;
  if (!point.isTorsionFree()) return false;
  if (torsionFreeMasters.size >= TORSION_FREE_MEMO_LIMIT) {
    const oldest = torsionFreeMasters.values().next().value;
    if (oldest !== undefined) torsionFreeMasters.delete(oldest);
  }
  torsionFreeMasters.add(key);
  return true;
}

/** mpcium's Ed25519 variant from a 32-byte RFC 8032 master key; returns an RFC 8032 child. */
export function deriveEd25519Child(
  masterPublicKey: Uint8Array,
  chainCode: Uint8Array,
  path: readonly number[],
): ChildKey {
  if (!(masterPublicKey instanceof Uint8Array) || masterPublicKey.length !== 32) {
    throw new HdDerivationError(
      HdErrorCode.InvalidPublicKey,
      'masterPublicKey',
      'expected 32 bytes',
    );
  }
  let master: InstanceType<typeof ed25519.Point>;
  try {
    master = ed25519.Point.fromBytes(masterPublicKey, false);
    master.assertValidity();
  } catch {
    throw new HdDerivationError(
      HdErrorCode.InvalidPublicKey,
      'masterPublicKey',
      'not a curve point',
    );
  }
  if (master.is0() || !isTorsionFreeMemoised(masterPublicKey, master)) {
    throw new HdDerivationError(
      HdErrorCode.InvalidPublicKey,
      'masterPublicKey',
      'identity or not in the prime-order subgroup',
    );
  }
  const result = deriveSteps(ed25519Ops, master, chainCode, path);
  return {
    publicKey: result.point.toBytes(),
    tweak: result.tweak,
    chainCode: result.chainCode,
  };
}
