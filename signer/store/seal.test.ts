import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataCorruptionError } from './errors.ts';
import {
  deriveStoreKey,
  encodeContext,
  FORMAT_DATA_KEY,
  FORMAT_STORE_KEY,
  newDataKey,
  seal,
  SEAL_OVERHEAD,
  sealedFormat,
  unseal,
} from './seal.ts';

describe('seal', () => {
  it('encodes context fields unambiguously (equal bytes only for equal field lists)', () => {
    const field = fc.oneof(fc.string({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }));
    const asHex = (fields: readonly (string | Uint8Array)[]): string[] =>
      fields.map((f) => Buffer.from(typeof f === 'string' ? Buffer.from(f) : f).toString('hex'));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 4 }), fc.array(field, { maxLength: 4 }), (a, b) => {
        const sameBytes = Buffer.from(encodeContext(a)).equals(Buffer.from(encodeContext(b)));
        expect(sameBytes).toBe(JSON.stringify(asHex(a)) === JSON.stringify(asHex(b)));
      }),
      { numRuns: 500 },
    );
    expect(encodeContext(['ab', 'c'])).not.toEqual(encodeContext(['a', 'bc']));
    expect(encodeContext(['a', ''])).not.toEqual(encodeContext(['a']));
    expect(encodeContext([7])).toEqual(Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 7));
  });

  it('round-trips, adds a fixed overhead and rejects another context or key', () => {
    const key = deriveStoreKey(new Uint8Array(randomBytes(32)));
    const plaintext = new Uint8Array(randomBytes(100));
    const sealed = seal(key, ['share', 'w', 1], plaintext);
    expect(sealed.length).toBe(plaintext.length + SEAL_OVERHEAD);
    expect(unseal(key, ['share', 'w', 1], sealed, 'test')).toEqual(plaintext);
    expect(() => unseal(key, ['share', 'w', 2], sealed, 'test')).toThrow(DataCorruptionError);
    const otherKey = deriveStoreKey(new Uint8Array(randomBytes(32)));
    expect(() => unseal(otherKey, ['share', 'w', 1], sealed, 'test')).toThrow(DataCorruptionError);
    expect(seal(key, ['x'], plaintext)).not.toEqual(seal(key, ['x'], plaintext)); // fresh nonces
  });

  it('binds the format byte: a file opens only as the format it was sealed with', () => {
    const key = newDataKey();
    const sealed = seal(key, ['share', 'w', 1], Uint8Array.of(1, 2, 3), FORMAT_DATA_KEY);
    expect(sealedFormat(sealed)).toBe(FORMAT_DATA_KEY);
    expect(unseal(key, ['share', 'w', 1], sealed, 't', FORMAT_DATA_KEY)).toEqual(
      Uint8Array.of(1, 2, 3),
    );
    expect(() => unseal(key, ['share', 'w', 1], sealed, 't')).toThrow(/unknown format 2/);
    const relabelled = Uint8Array.from(sealed);
    relabelled[4] = FORMAT_STORE_KEY;
    expect(() => unseal(key, ['share', 'w', 1], relabelled, 't')).toThrow(/authentication/);
    expect(sealedFormat(Uint8Array.of(1, 2))).toBeUndefined();
  });
});
