/**
 * ECDSA verification over secp256k1 for a 32-byte prehashed digest (SEC 1 §4.1.4), low-S
 * only, on the WebAssembly arithmetic of scalar-multiply.ts: the DKLs23 protocol's own check
 * of the signature it assembled (signing-protocol.ts finish), ~3× cheaper than noble's verify.
 * It is not the release check: the request coordinator verifies every signature again with
 * noble (an implementation independent of this one) before anything is published. Accepts
 * exactly what noble's `verify(sig, digest, key, { prehash: false, lowS: true })` accepts
 * (tested on valid, tampered, high-S and out-of-range signatures).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { multiplyBase, multiplyPoint } from './scalar-multiply.ts';

const Point = secp256k1.Point;
type CurvePoint = InstanceType<typeof Point>;
const Fn = Point.Fn;
const ORDER = Fn.ORDER;

/** True iff (r, s) is a valid low-S signature of `digest` under `publicKey`. */
export function verifyPrehashed(
  digest: Uint8Array,
  r: bigint,
  s: bigint,
  publicKey: CurvePoint,
): boolean {
  if (digest.length !== 32 || publicKey.is0()) return false;
  if (r <= 0n || r >= ORDER || s <= 0n || s > ORDER >> 1n) return false;
  const z = Fn.create(BigInt('0x' + Buffer.from(digest).toString('hex')));
  const w = Fn.inv(s);
  const u1 = Fn.mul(z, w);
  const u2 = Fn.mul(r, w);
  const keyTerm = multiplyPoint(publicKey, u2);
  const sum = u1 === 0n ? keyTerm : multiplyBase(u1).add(keyTerm);
  if (sum.is0()) return false;
  return Fn.create(sum.toAffine().x) === r;
}
