/**
 * Sealed-file format shared by share records, data keys, pointers and the KEK check. Pure.
 *
 *   "MPCS" (4 bytes) ‖ format (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16)
 *
 * AES-256-GCM. Format 1 (`FORMAT_STORE_KEY`) is sealed under the store key, derived from the
 * KEK with HKDF-SHA256 (so the KEK itself encrypts nothing directly): pointers, the KEK check,
 * wrapped data keys, and share records written before per-version data keys existed.
 * Format 2 (`FORMAT_DATA_KEY`) is a share record sealed under its own random 32-byte data key,
 * which is stored wrapped (format 1) in a separate file and destroyed when the version is
 * retired (crypto-shredding, see share-store.ts).
 *
 * The GCM additional data is the 5-byte header (so the format byte cannot be changed)
 * followed by the caller's context fields, each length-prefixed (u32 big-endian length ‖
 * bytes) so that no two different field lists produce the same bytes. Share records use
 * ("share", walletId UTF-8, keyType, version u32) and data keys ("data-key", walletId UTF-8,
 * keyType, version u32), so a file moved to another wallet, key type or version fails to open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { wipeBytes } from '../crypto/wipe.ts';
import { DataCorruptionError } from './errors.ts';

const MAGIC = Buffer.from('MPCS', 'ascii');
/** Sealed directly under the store key. */
export const FORMAT_STORE_KEY = 1;
/** A share record sealed under its own data key. */
export const FORMAT_DATA_KEY = 2;
export const DATA_KEY_LENGTH = 32;
const HEADER_LENGTH = MAGIC.length + 1;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
export const SEAL_OVERHEAD = HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH;

/** Derives the 32-byte AES key of the store from the KEK. The caller wipes the result. */
export function deriveStoreKey(kek: Uint8Array): Uint8Array {
  if (kek.length !== 32) throw new RangeError('the KEK must be 32 bytes');
  return new Uint8Array(hkdfSync('sha256', kek, 'mpc-signer share store', 'aes-256-gcm v1', 32));
}

/** A context field: text (UTF-8), bytes, or an unsigned 32-bit integer. */
export type ContextField = string | Uint8Array | number;

/** Length-prefixed encoding of the context fields. */
export function encodeContext(fields: readonly ContextField[]): Uint8Array {
  const parts = fields.map((field) => {
    if (typeof field === 'number') {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(field);
      return bytes;
    }
    return typeof field === 'string' ? Buffer.from(field, 'utf8') : Buffer.from(field);
  });
  const out = Buffer.alloc(parts.reduce((sum, part) => sum + 4 + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    offset = out.writeUInt32BE(part.length, offset);
    offset += part.copy(out, offset);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** A fresh random data key for one share version. The caller wipes it. */
export function newDataKey(): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_LENGTH));
}

/** The format byte of a sealed file, or undefined when it is not one (too short, no magic). */
export function sealedFormat(sealed: Uint8Array): number | undefined {
  const file = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (file.length < SEAL_OVERHEAD || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    return undefined;
  }
  return file[MAGIC.length];
}

/** Seals `plaintext` with the given format byte (default: store key); the result is the whole file. */
export function seal(
  key: Uint8Array,
  context: readonly ContextField[],
  plaintext: Uint8Array,
  format: number = FORMAT_STORE_KEY,
): Uint8Array {
  const head = Buffer.concat([MAGIC, Buffer.of(format)]);
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.concat([head, encodeContext(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([head, nonce, body, cipher.getAuthTag()]));
}

/**
 * Opens a sealed file of the given format; throws `DataCorruptionError` (naming `what`) when
 * it is malformed, of another format, or fails authentication. The caller wipes the result.
 */
export function unseal(
  key: Uint8Array,
  context: readonly ContextField[],
  sealed: Uint8Array,
  what: string,
  format: number = FORMAT_STORE_KEY,
): Uint8Array {
  const file = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (file.length < SEAL_OVERHEAD || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DataCorruptionError(`${what} is not a sealed store file`);
  }
  if (file[MAGIC.length] !== format) {
    throw new DataCorruptionError(`${what} has unknown format ${file[MAGIC.length]}`);
  }
  const nonce = file.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH);
  const tag = file.subarray(file.length - TAG_LENGTH);
  const body = file.subarray(HEADER_LENGTH + NONCE_LENGTH, file.length - TAG_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(Buffer.concat([file.subarray(0, HEADER_LENGTH), encodeContext(context)]));
  decipher.setAuthTag(tag);
  const plaintext = new Uint8Array(body.length);
  const first = decipher.update(body);
  plaintext.set(first);
  wipeBytes(first);
  try {
    decipher.final();
  } catch (error) {
    wipeBytes(plaintext);
    throw new DataCorruptionError(
      `${what} failed authentication (tampered, moved from another wallet/version, or sealed under another KEK)`,
      { cause: error },
    );
  }
  return plaintext;
}
