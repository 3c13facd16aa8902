import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { GROUP_ORDER, Point, encodeScalar } from './ed25519-group.ts';
import { FrostError, FrostErrorCode } from './errors.ts';
import {
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  validateFrostKeyShare,
  type FrostKeyShare,
} from './key-share.ts';
import { generateKeyShares, range } from './test-helpers.ts';

const shares = generateKeyShares(range(3), 1);
const share = shares.get(2) as FrostKeyShare;
const encoded = encodeFrostKeyShare(share);
// Layout offsets for n = 3.
const PARTICIPANTS = 7;
const GROUP_KEY = PARTICIPANTS + 6;
const VERIFYING = GROUP_KEY + 32;
const SECRET = VERIFYING + 96;

function decodeError(bytes: Uint8Array): string | undefined {
  try {
    decodeFrostKeyShare(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(FrostError);
    return (error as FrostError).code;
  }
  return undefined;
}

function edited(offset: number, bytes: Uint8Array | number[]): Uint8Array {
  const copy = encoded.slice();
  copy.set(bytes, offset);
  return copy;
}

describe('FrostKeyShare codec', () => {
  it('has the documented layout and round-trips', () => {
    expect(encoded.length).toBe(SECRET + 32);
    expect([...encoded.subarray(0, 7)]).toEqual([1, 0x46, 0, 2, 0, 1, 3]);
    expect(bytesToHex(encoded.subarray(GROUP_KEY, VERIFYING))).toBe(bytesToHex(share.publicKey));
    expect(bytesToHex(encodeFrostKeyShare(decodeFrostKeyShare(encoded)))).toBe(bytesToHex(encoded));
  });

  it('rejects every structural defect', () => {
    const bad = FrostErrorCode.InvalidKeyShare;
    expect(decodeError(encoded.subarray(0, encoded.length - 1))).toBe(bad);
    expect(decodeError(Uint8Array.from([...encoded, 0]))).toBe(bad);
    expect(decodeError(edited(0, [2]))).toBe(bad);
    expect(decodeError(edited(1, [0x45]))).toBe(bad);
    expect(decodeError(edited(2, [0, 4]))).toBe(bad); // self not a participant
    expect(decodeError(edited(4, [0, 3]))).toBe(bad); // threshold = n
    expect(decodeError(edited(4, [0, 0]))).toBe(bad); // threshold 0
    expect(decodeError(edited(PARTICIPANTS, [0, 2, 0, 1]))).toBe(bad); // not ascending
    expect(decodeError(new Uint8Array(3))).toBe(bad);
  });

  it('rejects bad points and inconsistent keys', () => {
    const bad = FrostErrorCode.InvalidKeyShare;
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(decodeError(edited(GROUP_KEY, identity))).toBe(bad);
    expect(decodeError(edited(GROUP_KEY, Point.BASE.toBytes()))).toBe(bad); // wrong group key
    expect(decodeError(edited(VERIFYING, Point.BASE.toBytes()))).toBe(bad); // party 1 off-polynomial
    expect(decodeError(edited(VERIFYING + 32, Point.BASE.toBytes()))).toBe(bad); // own share
  });

  it('rejects a mismatched secret share after the genuine share was decoded (validation memo)', () => {
    decodeFrostKeyShare(encoded);
    decodeFrostKeyShare(encoded); // the second decode skips the secret check (same bytes)
    let secret = 0n;
    for (let index = 31; index >= 0; index--) {
      secret = (secret << 8n) | BigInt(encoded[SECRET + index] as number);
    }
    const other = edited(SECRET, encodeScalar((secret + 1n) % GROUP_ORDER));
    expect(decodeError(other)).toBe(FrostErrorCode.InvalidKeyShare);
    expect(decodeError(edited(SECRET, new Uint8Array(32)))).toBe(FrostErrorCode.InvalidKeyShare);
    expect(decodeError(encoded)).toBeUndefined();
  });

  it('rejects non-canonical, zero and mismatched secret shares', () => {
    const bad = FrostErrorCode.InvalidKeyShare;
    let secret = 0n;
    for (let index = 31; index >= 0; index--) {
      secret = (secret << 8n) | BigInt(encoded[SECRET + index] as number);
    }
    if (secret + GROUP_ORDER < 2n ** 256n) {
      expect(decodeError(edited(SECRET, encodeScalar(secret + GROUP_ORDER)))).toBe(bad);
    }
    expect(decodeError(edited(SECRET, new Uint8Array(32)))).toBe(bad);
    expect(decodeError(edited(SECRET, encodeScalar((secret + 1n) % GROUP_ORDER)))).toBe(bad);
    const tooBig = new Uint8Array(32).fill(0xff);
    expect(decodeError(edited(SECRET, tooBig))).toBe(bad);
  });

  it('validates hand-built share objects', () => {
    expect(() =>
      validateFrostKeyShare({ ...share, verifyingShares: new Map() } as FrostKeyShare),
    ).toThrow(FrostError);
    expect(() => validateFrostKeyShare({ ...share, threshold: 5 })).toThrow(FrostError);
  });
});
