/**
 * A second, deliberately naive secp256k1 implementation for tests: affine BigInt arithmetic
 * straight from SEC 1 (§2.2.1 point addition, §4.1.4 ECDSA verification) and BIP32 CKDpub
 * with node:crypto's HMAC-SHA512. It shares no code with @noble/curves or the signer's HD
 * module, so a signature that passes both this and noble was not accepted by a shared bug.
 *
 * Slow (double-and-add, one modular inversion per step; ~tens of ms per verification) and not
 * constant-time: public data only, tests only.
 */
import { createHmac } from 'node:crypto';

const P = 2n ** 256n - 2n ** 32n - 977n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G: Point = {
  x: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  y: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
};

/** An affine point; `null` is the point at infinity. */
export type Point = { readonly x: bigint; readonly y: bigint } | null;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm (m prime, a ≠ 0 mod m). */
function invert(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return mod(oldS, m);
}

function add(a: Point, b: Point): Point {
  if (a === null) return b;
  if (b === null) return a;
  if (a.x === b.x && mod(a.y + b.y, P) === 0n) return null;
  const slope =
    a.x === b.x && a.y === b.y
      ? mod(3n * a.x * a.x * invert(2n * a.y, P), P)
      : mod((b.y - a.y) * invert(b.x - a.x, P), P);
  const x = mod(slope * slope - a.x - b.x, P);
  return { x, y: mod(slope * (a.x - x) - a.y, P) };
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let rest = k; rest > 0n; rest >>= 1n) {
    if ((rest & 1n) === 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

function onCurve(point: Point): boolean {
  return point !== null && mod(point.y * point.y - point.x ** 3n - 7n, P) === 0n;
}

export function bytesToInteger(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function integerTo32(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}

/** The point of a 64-byte X‖Y key (mpcium's keygen encoding). */
export function pointFromXY(xy: Uint8Array): Point {
  if (xy.length !== 64) throw new Error('expected 64 bytes X‖Y');
  const point = { x: bytesToInteger(xy.subarray(0, 32)), y: bytesToInteger(xy.subarray(32)) };
  if (!onCurve(point)) throw new Error('not on secp256k1');
  return point;
}

function compressed(point: Point): Buffer {
  if (point === null) throw new Error('infinity');
  return Buffer.concat([Buffer.of(point.y % 2n === 0n ? 2 : 3), integerTo32(point.x)]);
}

/** BIP32 CKDpub along a non-hardened `path` (IL ≥ n never occurs in practice; rejected). */
export function deriveChild(master: Point, chainCode: Uint8Array, path: readonly number[]): Point {
  let point = master;
  let chain = Buffer.from(chainCode);
  for (const index of path) {
    const data = Buffer.alloc(37);
    compressed(point).copy(data, 0);
    data.writeUInt32BE(index, 33);
    const digest = createHmac('sha512', chain).update(data).digest();
    const il = bytesToInteger(digest.subarray(0, 32));
    if (il === 0n || il >= N) throw new Error('invalid child');
    point = add(point, multiply(il, G));
    chain = digest.subarray(32);
  }
  return point;
}

/**
 * ECDSA verification of (r, s) for the message integer `z` (the digest as an integer, no
 * hashing, reduced mod n as SEC 1 does) under `publicKey`.
 */
export function verifyEcdsa(z: bigint, r: bigint, s: bigint, publicKey: Point): boolean {
  if (!onCurve(publicKey)) return false;
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const w = invert(s, N);
  const sum = add(multiply(mod(z * w, N), G), multiply(mod(r * w, N), publicKey));
  return sum !== null && mod(sum.x, N) === r;
}
