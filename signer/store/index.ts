/**
 * Encrypted, versioned key-share store (design §10). See share-store.ts for guarantees,
 * layout.ts for the on-disk layout, seal.ts and backup.ts for the file formats.
 */
export { exportBackup, importBackup, type BackupSummary } from './backup.ts';
export {
  DataCorruptionError,
  KeyAlreadyExistsError,
  KeyNotFoundError,
  StoreInitError,
  StoreReadError,
  StoreWriteError,
} from './errors.ts';
export { MAX_WALLET_ID_BYTES, type ShareKeyType, type ShareRef } from './layout.ts';
export { ShareStore, type ShareStoreOptions, type StoreLog } from './share-store.ts';
