/**
 * Typed errors of the share store. Messages carry identifiers and versions only, never
 * share contents or key material.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';

/** `put` found the version already written; versions are immutable once stored. */
export class KeyAlreadyExistsError extends MpcError {
  constructor(walletId: string, keyType: string, version: number) {
    super(
      ErrorCode.KeyAlreadyExists,
      `key share already exists: wallet ${JSON.stringify(walletId)} ${keyType} v${version}`,
    );
  }
}

/** The referenced version (for example a new current version) does not exist. */
export class KeyNotFoundError extends MpcError {
  constructor(walletId: string, keyType: string, version: number) {
    super(
      ErrorCode.KeyNotFound,
      `key share not found: wallet ${JSON.stringify(walletId)} ${keyType} v${version}`,
    );
  }
}

/**
 * A sealed file (share, pointer, backup archive) failed authentication or is malformed:
 * tampered, truncated, moved to another wallet/version, or sealed under another key.
 */
export class DataCorruptionError extends MpcError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(ErrorCode.DataCorruption, `data corruption: ${what}`, options);
  }
}

/** The store could not be opened: locked by another process, wrong KEK, unusable directory. */
export class StoreInitError extends MpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StorageInit, `share store: ${message}`, options);
  }
}

/** A file-system read failed (other than "not found"). */
export class StoreReadError extends MpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StorageRead, `share store read failed: ${message}`, options);
  }
}

/** A file-system write failed, or a write was refused (deleting the current version). */
export class StoreWriteError extends MpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.StorageWrite, `share store write failed: ${message}`, options);
  }
}
