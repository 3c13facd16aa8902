/**
 * Wallet records on top of the encrypted share store: the current version of each
 * (wallet, key type), written version by version so a reshare can stage a new version and
 * switch only once it is confirmed.
 */
import type { KeyType } from '../protocol/messages.ts';
import {
  decodeWalletRecord,
  encodeWalletRecord,
  type WalletMetadata,
  type WalletRecord,
} from './wallet-record.ts';
import { wipeBytes } from '../crypto/wipe.ts';

/** The subset of the share store this module needs. */
export interface ShareStorePort {
  put(
    ref: { walletId: string; keyType: KeyType; version: number },
    record: Uint8Array,
  ): Promise<void>;
  get(ref: {
    walletId: string;
    keyType: KeyType;
    version: number;
  }): Promise<Uint8Array | undefined>;
  currentVersion(walletId: string, keyType: KeyType): Promise<number | undefined>;
  setCurrentVersion(walletId: string, keyType: KeyType, version: number): Promise<void>;
  listVersions(walletId: string, keyType: KeyType): Promise<number[]>;
  deleteVersion(ref: { walletId: string; keyType: KeyType; version: number }): Promise<boolean>;
}

export class WalletRepository {
  constructor(private readonly store: ShareStorePort) {}

  /** The current record, or undefined. The caller wipes `record.share`. */
  async load(walletId: string, keyType: KeyType): Promise<WalletRecord | undefined> {
    const version = await this.store.currentVersion(walletId, keyType);
    if (version === undefined) return undefined;
    const bytes = await this.store.get({ walletId, keyType, version });
    if (bytes === undefined) return undefined;
    try {
      return decodeWalletRecord(bytes);
    } finally {
      wipeBytes(bytes);
    }
  }

  async exists(walletId: string, keyType: KeyType): Promise<boolean> {
    return (await this.store.currentVersion(walletId, keyType)) !== undefined;
  }

  /** The current version number, or undefined. */
  currentVersion(walletId: string, keyType: KeyType): Promise<number | undefined> {
    return this.store.currentVersion(walletId, keyType);
  }

  /**
   * Stores the record's version without making it current (a reshare's new share before the
   * commit). A leftover of an earlier, uncommitted attempt at the same version is replaced.
   */
  async stage(record: WalletRecord): Promise<void> {
    const { walletId, keyType, version } = record.metadata;
    if ((await this.store.currentVersion(walletId, keyType)) === version) {
      throw new RangeError(`version ${version} is already current`);
    }
    await this.store.deleteVersion({ walletId, keyType, version });
    const bytes = encodeWalletRecord(record);
    try {
      await this.store.put({ walletId, keyType, version }, bytes);
    } finally {
      wipeBytes(bytes);
    }
  }

  /**
   * Makes a staged version current and deletes every older version (the old shares are
   * retired only now, once the new ones are confirmed).
   */
  async activate(walletId: string, keyType: KeyType, version: number): Promise<void> {
    await this.store.setCurrentVersion(walletId, keyType, version);
    for (const older of await this.store.listVersions(walletId, keyType)) {
      if (older < version) await this.store.deleteVersion({ walletId, keyType, version: older });
    }
  }

  /**
   * After a reshare that moved the key away from this signer: a share-less tombstone at
   * `metadata.version` becomes current and every older version (the old share) is deleted.
   */
  async retire(metadata: WalletMetadata): Promise<void> {
    await this.stage({ metadata: { ...metadata, retired: true }, share: new Uint8Array(0) });
    await this.activate(metadata.walletId, metadata.keyType, metadata.version);
  }

  /** Writes the record's version and makes it current. */
  async save(record: WalletRecord): Promise<void> {
    const { walletId, keyType, version } = record.metadata;
    const bytes = encodeWalletRecord(record);
    try {
      await this.store.put({ walletId, keyType, version }, bytes);
      await this.store.setCurrentVersion(walletId, keyType, version);
    } finally {
      wipeBytes(bytes);
    }
  }
}
