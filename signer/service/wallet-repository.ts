/**
 * Wallet records on top of the encrypted share store: the current version of each
 * (wallet, key type), written version by version so a reshare can stage a new version and
 * switch only once it is confirmed.
 */
import type { KeyType } from '../protocol/messages.ts';
import { decodeWalletRecord, encodeWalletRecord, type WalletRecord } from './wallet-record.ts';
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
