/**
 * On-disk layout of the share store and validation of share references. Pure.
 *
 *   <dataDir>/store.lock                          lock file (owner record, data-dir-lock.ts)
 *   <dataDir>/store.kek-check                     sealed marker: detects a wrong KEK at open
 *   <dataDir>/shares/<wallet dir>/<key type>/v<version>.share    share record, sealed under
 *                                                 the version's data key
 *   <dataDir>/shares/<wallet dir>/<key type>/v<version>.key      that data key, wrapped
 *                                                 under the KEK; destroyed on retirement
 *   <dataDir>/shares/<wallet dir>/<key type>/current             sealed current-version pointer
 *   <dataDir>/shares/<wallet dir>/wallet-id       only for hashed wallet dirs (see below)
 *
 * Wallet ids are arbitrary client strings of 1 to 256 UTF-8 bytes. The wallet directory is
 * the lower-case hex of the UTF-8 bytes, which is reversible and cannot contain a path
 * separator, `.` or `..`, and is safe on case-insensitive file systems. Hex of ids longer than
 * 120 bytes would exceed common 255-byte name limits, so those directories are named
 * `h` + hex(SHA-256(id)) and hold a `wallet-id` file with the id's hex (the mapping stays
 * reversible through that file). Files starting with `.tmp-` are incomplete writes: ignored.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../protocol/errors.ts';

export type ShareKeyType = 'ed25519' | 'secp256k1';
export const SHARE_KEY_TYPES: readonly ShareKeyType[] = ['ed25519', 'secp256k1'];

/** Identifies one stored share record. */
export interface ShareRef {
  /** Client wallet id: 1 to 256 UTF-8 bytes, well-formed Unicode. */
  readonly walletId: string;
  readonly keyType: ShareKeyType;
  /** Share version: integer 0 to 2^32 - 1 (0 = mpcium's legacy unversioned key). */
  readonly version: number;
}

export const MAX_WALLET_ID_BYTES = 256;
export const MAX_VERSION = 0xffff_ffff;
const MAX_HEX_DIR_BYTES = 120;

export const SHARES_DIR = 'shares';
export const LOCK_FILE = 'store.lock';
export const KEK_CHECK_FILE = 'store.kek-check';
export const POINTER_FILE = 'current';
export const WALLET_ID_FILE = 'wallet-id';
export const TEMP_PREFIX = '.tmp-';

/** UTF-8 bytes of a valid wallet id; throws `ValidationError` (field `wallet_id`). */
export function walletIdBytes(walletId: string): Uint8Array {
  if (typeof walletId !== 'string' || walletId.length === 0) {
    throw new ValidationError('wallet_id', 'expected a non-empty string');
  }
  if (/\p{Cs}/u.test(walletId)) {
    throw new ValidationError('wallet_id', 'contains an unpaired UTF-16 surrogate');
  }
  const bytes = Buffer.from(walletId, 'utf8');
  if (bytes.length > MAX_WALLET_ID_BYTES) {
    throw new ValidationError(
      'wallet_id',
      `is ${bytes.length} UTF-8 bytes, at most ${MAX_WALLET_ID_BYTES} allowed`,
    );
  }
  return new Uint8Array(bytes);
}

export function checkKeyType(keyType: string): ShareKeyType {
  if (!(SHARE_KEY_TYPES as readonly string[]).includes(keyType)) {
    throw new ValidationError('key_type', `expected ed25519 or secp256k1`);
  }
  return keyType as ShareKeyType;
}

export function checkVersion(version: number): number {
  if (!Number.isInteger(version) || version < 0 || version > MAX_VERSION) {
    throw new ValidationError('version', `expected an integer from 0 to ${MAX_VERSION}`);
  }
  return version;
}

/** The wallet's directory name; `hashed` means a `wallet-id` file must accompany it. */
export function walletDirName(idBytes: Uint8Array): { name: string; hashed: boolean } {
  if (idBytes.length <= MAX_HEX_DIR_BYTES) {
    return { name: Buffer.from(idBytes).toString('hex'), hashed: false };
  }
  return { name: `h${createHash('sha256').update(idBytes).digest('hex')}`, hashed: true };
}

/**
 * Decodes a hex-named wallet directory (or the hex contents of a `wallet-id` file) back to
 * the wallet id; undefined when the name is not a valid encoding.
 */
export function walletIdFromHex(hex: string): string | undefined {
  if (!/^(?:[0-9a-f]{2})+$/.test(hex) || hex.length > 2 * MAX_WALLET_ID_BYTES) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      Buffer.from(hex, 'hex'),
    );
  } catch {
    return undefined;
  }
}

export function isHashedDirName(name: string): boolean {
  return /^h[0-9a-f]{64}$/.test(name);
}

export function versionFileName(version: number): string {
  return `v${version}.share`;
}

export function dataKeyFileName(version: number): string {
  return `v${version}.key`;
}

/** The version of a share file name, or undefined for anything else (temp files, pointer). */
export function versionFromFileName(name: string): number | undefined {
  return versionFromName(name, 'share');
}

/** The version of a data-key file name, or undefined for anything else. */
export function versionFromKeyFileName(name: string): number | undefined {
  return versionFromName(name, 'key');
}

function versionFromName(name: string, extension: 'share' | 'key'): number | undefined {
  const match = /^v(0|[1-9][0-9]{0,9})\.([a-z]+)$/.exec(name);
  if (match === null || match[2] !== extension) return undefined;
  const version = Number(match[1]);
  return version <= MAX_VERSION ? version : undefined;
}
