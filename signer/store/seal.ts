/**
 * Sealed-file format shared by share records, pointers and the KEK check. Pure.
 *
 *   "MPCS" (4 bytes) ‖ format = 1 (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16)
 *
 * AES-256-GCM under a store key derived from the KEK with HKDF-SHA256 (so the KEK itself
 * encrypts nothing directly). The GCM additional data is the 5-byte header followed by the
 * caller's context fields, each length-prefixed (u32 big-endian length ‖ bytes) so that no
 * two different field lists produce the same bytes. Share records use the fields
 * ("share", walletId UTF-8, keyType, version u32), so a file moved to another wallet, key
 * type or version fails to open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { wipeBytes } from '../crypto/wipe.ts';
import { DataCorruptionError } from './errors.ts';

const MAGIC = Buffer.from('MPCS', 'ascii');
const FORMAT = 1;
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

function header(): Buffer {
  return Buffer.concat([MAGIC, Buffer.of(FORMAT)]);
}

/** Seals `plaintext`; the result is the whole file. */
export function seal(
  key: Uint8Array,
  context: readonly ContextField[],
  plaintext: Uint8Array,
): Uint8Array {
  const head = header();
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.concat([head, encodeContext(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([head, nonce, body, cipher.getAuthTag()]));
}

/**
 * Opens a sealed file; throws `DataCorruptionError` (naming `what`) when it is malformed or
 * fails authentication. The caller wipes the result.
 */
export function unseal(
  key: Uint8Array,
  context: readonly ContextField[],
  sealed: Uint8Array,
  what: string,
): Uint8Array {
  const file = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (file.length < SEAL_OVERHEAD || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DataCorruptionError(`${what} is not a sealed store file`);
  }
  if (file[MAGIC.length] !== FORMAT) {
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
