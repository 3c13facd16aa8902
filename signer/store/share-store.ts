/**
 * The encrypted, versioned key-share store (design §10): one sealed file per
 * (wallet id, key type, version) on the data volume, plus a sealed pointer naming the current
 * version, so a reshare can write v2 beside v1 and switch only once it is confirmed.
 *
 * Guarantees:
 * - Durability: every write is atomic and fsynced (see atomic-file.ts); after a crash a file
 *   holds the old or the new contents, temp files are ignored.
 * - Confidentiality and integrity: AES-256-GCM under a key derived from the KEK, bound to
 *   (wallet id, key type, version), so tampered or swapped files fail with
 *   `DataCorruptionError` (ERROR_DATA_CORRUPTION). A wrong KEK is detected at `open`.
 * - Exclusivity: `open` takes a lock file that refuses a second process (data-dir-lock.ts).
 * - Writes to one wallet are serialised in process; versions are immutable once written.
 *
 * Plaintext returned by `get` belongs to the caller, who wipes it. The record passed to `put`
 * is not modified. Layout and naming: layout.ts.
 */
import { mkdir, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { wipeBytes } from '../crypto/wipe.ts';
import {
  ensureDirectory,
  errnoOf,
  exists,
  fsyncDirectory,
  readFileIfExists,
  writeFileAtomic,
} from './atomic-file.ts';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';
import {
  DataCorruptionError,
  KeyAlreadyExistsError,
  KeyNotFoundError,
  StoreInitError,
  StoreReadError,
  StoreWriteError,
} from './errors.ts';
import {
  checkKeyType,
  checkVersion,
  isHashedDirName,
  KEK_CHECK_FILE,
  LOCK_FILE,
  POINTER_FILE,
  SHARE_KEY_TYPES,
  SHARES_DIR,
  versionFileName,
  versionFromFileName,
  WALLET_ID_FILE,
  walletDirName,
  walletIdBytes,
  walletIdFromHex,
  type ShareKeyType,
  type ShareRef,
} from './layout.ts';
import { deriveStoreKey, seal, unseal, type ContextField } from './seal.ts';

export interface ShareStoreOptions {
  /** The signer's data volume; created (mode 0700) if missing. */
  readonly dataDir: string;
  /** 32-byte key-encryption key. Not retained: the store keeps only a derived key. */
  readonly kek: Uint8Array;
}

const KEK_CHECK_PLAINTEXT = new TextEncoder().encode('mpc-signer share store');

/** Resolved paths of one wallet. */
interface WalletPaths {
  readonly idBytes: Uint8Array;
  readonly dir: string;
  readonly hashed: boolean;
}

export class ShareStore {
  readonly #dataDir: string;
  readonly #sharesDir: string;
  readonly #lock: DataDirLock;
  #key: Uint8Array | undefined;
  /** Tail of the write queue per wallet directory. */
  readonly #queues = new Map<string, Promise<unknown>>();

  private constructor(dataDir: string, key: Uint8Array, lock: DataDirLock) {
    this.#dataDir = dataDir;
    this.#sharesDir = join(dataDir, SHARES_DIR);
    this.#key = key;
    this.#lock = lock;
  }

  /**
   * Opens (creating if needed) the store in `dataDir`: takes the lock and checks the KEK
   * against the marker written on first open. Throws `StoreInitError` (ERROR_STORAGE_INIT)
   * when locked by another process, on a wrong KEK, or when the directory is unusable.
   */
  static async open(options: ShareStoreOptions): Promise<ShareStore> {
    if (!(options.kek instanceof Uint8Array) || options.kek.length !== 32) {
      throw new StoreInitError('the KEK must be 32 bytes');
    }
    try {
      await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new StoreInitError(`cannot create data directory ${options.dataDir}`, { cause: error });
    }
    const lock = await acquireDataDirLock(options.dataDir, LOCK_FILE);
    const key = deriveStoreKey(options.kek);
    try {
      await checkKek(options.dataDir, key);
      await ensureDirectory(options.dataDir, join(options.dataDir, SHARES_DIR));
    } catch (error) {
      wipeBytes(key);
      await lock.release();
      if (error instanceof StoreInitError) throw error;
      throw new StoreInitError(`cannot initialise ${options.dataDir}`, { cause: error });
    }
    return new ShareStore(options.dataDir, key, lock);
  }

  /** The data directory this store was opened on. */
  get dataDir(): string {
    return this.#dataDir;
  }

  /**
   * Stores `record` as version `ref.version`. Throws `KeyAlreadyExistsError` if that version
   * exists (versions are immutable), `StoreWriteError` on I/O failure.
   */
  async put(ref: ShareRef, record: Uint8Array): Promise<void> {
    const wallet = this.#wallet(ref.walletId);
    const keyType = checkKeyType(ref.keyType);
    const version = checkVersion(ref.version);
    await this.#serialised(wallet.dir, async () => {
      const sealed = seal(this.#storeKey(), shareContext(wallet, keyType, version), record);
      let placed: boolean;
      try {
        await this.#ensureWalletDir(wallet, keyType);
        placed = await writeFileAtomic(
          join(wallet.dir, keyType, versionFileName(version)),
          sealed,
          { overwrite: false },
        );
      } catch (error) {
        throw new StoreWriteError(describe(ref.walletId, keyType, version), { cause: error });
      }
      if (!placed) throw new KeyAlreadyExistsError(ref.walletId, keyType, version);
    });
  }

  /**
   * The plaintext record of `ref`, or undefined if that version was never stored. Throws
   * `DataCorruptionError` when the file fails authentication. The caller wipes the result.
   */
  async get(ref: ShareRef): Promise<Uint8Array | undefined> {
    const wallet = this.#wallet(ref.walletId);
    const keyType = checkKeyType(ref.keyType);
    const version = checkVersion(ref.version);
    const what = `share ${describe(ref.walletId, keyType, version)}`;
    const sealed = await this.#read(join(wallet.dir, keyType, versionFileName(version)), what);
    if (sealed === undefined) return undefined;
    return unseal(this.#storeKey(), shareContext(wallet, keyType, version), sealed, what);
  }

  /** The current version of (wallet, key type), or undefined if none was set. */
  async currentVersion(walletId: string, keyType: ShareKeyType): Promise<number | undefined> {
    const wallet = this.#wallet(walletId);
    checkKeyType(keyType);
    const what = `current-version pointer of wallet ${JSON.stringify(walletId)} ${keyType}`;
    const sealed = await this.#read(join(wallet.dir, keyType, POINTER_FILE), what);
    if (sealed === undefined) return undefined;
    const plaintext = unseal(this.#storeKey(), pointerContext(wallet, keyType), sealed, what);
    if (plaintext.length !== 4) throw new DataCorruptionError(`${what} has a bad length`);
    return Buffer.from(plaintext).readUInt32BE(0);
  }

  /**
   * Atomically makes `version` current. Throws `KeyNotFoundError` if that version is not
   * stored. Replaces the previous pointer in one rename: readers see the old or the new one.
   */
  async setCurrentVersion(walletId: string, keyType: ShareKeyType, version: number): Promise<void> {
    const wallet = this.#wallet(walletId);
    checkKeyType(keyType);
    checkVersion(version);
    await this.#serialised(wallet.dir, async () => {
      const versionPath = join(wallet.dir, keyType, versionFileName(version));
      if (!(await this.#exists(versionPath))) {
        throw new KeyNotFoundError(walletId, keyType, version);
      }
      const plaintext = Buffer.alloc(4);
      plaintext.writeUInt32BE(version);
      const sealed = seal(this.#storeKey(), pointerContext(wallet, keyType), plaintext);
      try {
        await writeFileAtomic(join(wallet.dir, keyType, POINTER_FILE), sealed, {
          overwrite: true,
        });
      } catch (error) {
        throw new StoreWriteError(
          `current-version pointer of ${describe(walletId, keyType, version)}`,
          {
            cause: error,
          },
        );
      }
    });
  }

  /** Stored versions of (wallet, key type), ascending. */
  async listVersions(walletId: string, keyType: ShareKeyType): Promise<number[]> {
    const wallet = this.#wallet(walletId);
    checkKeyType(keyType);
    const names = await this.#list(join(wallet.dir, keyType));
    return names
      .map(versionFromFileName)
      .filter((version): version is number => version !== undefined)
      .sort((a, b) => a - b);
  }

  /** True when any key type of the wallet has at least one stored version. */
  async hasWallet(walletId: string): Promise<boolean> {
    for (const keyType of SHARE_KEY_TYPES) {
      if ((await this.listVersions(walletId, keyType)).length > 0) return true;
    }
    return false;
  }

  /** Every wallet id with at least one stored version, sorted (UTF-16 code unit order). */
  async listWallets(): Promise<string[]> {
    const wallets: string[] = [];
    for (const name of await this.#list(this.#sharesDir)) {
      let walletId: string | undefined;
      if (isHashedDirName(name)) {
        const file = await this.#read(join(this.#sharesDir, name, WALLET_ID_FILE), 'wallet id');
        walletId = file === undefined ? undefined : walletIdFromHex(file.toString('ascii').trim());
        if (walletId !== undefined && this.#wallet(walletId).dir !== join(this.#sharesDir, name)) {
          throw new DataCorruptionError(`wallet id file of directory ${name} does not match it`);
        }
      } else {
        walletId = walletIdFromHex(name);
      }
      if (walletId !== undefined && (await this.hasWallet(walletId))) wallets.push(walletId);
    }
    return wallets.sort();
  }

  /**
   * Deletes a stored version (retiring old shares after a reshare). Returns false if it did
   * not exist. Refuses (`StoreWriteError`) to delete the current version.
   */
  async deleteVersion(ref: ShareRef): Promise<boolean> {
    const wallet = this.#wallet(ref.walletId);
    const keyType = checkKeyType(ref.keyType);
    const version = checkVersion(ref.version);
    return this.#serialised(wallet.dir, async () => {
      if ((await this.currentVersion(ref.walletId, keyType)) === version) {
        throw new StoreWriteError(
          `refusing to delete the current version ${describe(ref.walletId, keyType, version)}`,
        );
      }
      const keyTypeDir = join(wallet.dir, keyType);
      try {
        await unlink(join(keyTypeDir, versionFileName(version)));
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return false;
        throw new StoreWriteError(describe(ref.walletId, keyType, version), { cause: error });
      }
      try {
        await fsyncDirectory(keyTypeDir);
        await this.#removeIfEmpty(wallet, keyType);
      } catch (error) {
        throw new StoreWriteError(describe(ref.walletId, keyType, version), { cause: error });
      }
      return true;
    });
  }

  /** Waits for pending writes, wipes the derived key and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#key === undefined) return;
    await Promise.allSettled([...this.#queues.values()]);
    wipeBytes(this.#key);
    this.#key = undefined;
    await this.#lock.release();
  }

  #storeKey(): Uint8Array {
    if (this.#key === undefined) throw new StoreInitError('the store is closed');
    return this.#key;
  }

  #wallet(walletId: string): WalletPaths {
    const idBytes = walletIdBytes(walletId);
    const { name, hashed } = walletDirName(idBytes);
    return { idBytes, dir: join(this.#sharesDir, name), hashed };
  }

  async #serialised<T>(queueKey: string, task: () => Promise<T>): Promise<T> {
    this.#storeKey();
    const previous = this.#queues.get(queueKey) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.#queues.set(queueKey, tail);
    void tail.then(() => {
      if (this.#queues.get(queueKey) === tail) this.#queues.delete(queueKey);
    });
    return run;
  }

  async #ensureWalletDir(wallet: WalletPaths, keyType: ShareKeyType): Promise<void> {
    await ensureDirectory(this.#dataDir, wallet.dir);
    if (wallet.hashed) {
      await writeFileAtomic(
        join(wallet.dir, WALLET_ID_FILE),
        Buffer.from(`${Buffer.from(wallet.idBytes).toString('hex')}\n`, 'ascii'),
        { overwrite: false },
      );
    }
    await ensureDirectory(this.#dataDir, join(wallet.dir, keyType));
  }

  async #removeIfEmpty(wallet: WalletPaths, keyType: ShareKeyType): Promise<void> {
    if (!(await removeDirectoryIfEmpty(join(wallet.dir, keyType)))) return;
    if (wallet.hashed) {
      const entries = await readdir(wallet.dir);
      if (entries.length !== 1 || entries[0] !== WALLET_ID_FILE) return;
      await unlink(join(wallet.dir, WALLET_ID_FILE));
    }
    if (await removeDirectoryIfEmpty(wallet.dir)) await fsyncDirectory(this.#sharesDir);
  }

  async #read(path: string, what: string): Promise<Buffer | undefined> {
    this.#storeKey();
    try {
      return await readFileIfExists(path);
    } catch (error) {
      if (error instanceof RangeError) throw new DataCorruptionError(`${what}: ${error.message}`);
      throw new StoreReadError(what, { cause: error });
    }
  }

  async #exists(path: string): Promise<boolean> {
    try {
      return await exists(path);
    } catch (error) {
      throw new StoreReadError(path, { cause: error });
    }
  }

  async #list(directory: string): Promise<string[]> {
    this.#storeKey();
    try {
      return await readdir(directory);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw new StoreReadError(`listing ${directory}`, { cause: error });
    }
  }
}

function shareContext(wallet: WalletPaths, keyType: ShareKeyType, version: number): ContextField[] {
  return ['share', wallet.idBytes, keyType, version];
}

function pointerContext(wallet: WalletPaths, keyType: ShareKeyType): ContextField[] {
  return ['pointer', wallet.idBytes, keyType];
}

function describe(walletId: string, keyType: string, version: number): string {
  return `wallet ${JSON.stringify(walletId)} ${keyType} v${version}`;
}

async function removeDirectoryIfEmpty(directory: string): Promise<boolean> {
  try {
    await rmdir(directory);
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes the KEK marker on first open; on later opens, proves the KEK is the same one. */
async function checkKek(dataDir: string, key: Uint8Array): Promise<void> {
  const path = join(dataDir, KEK_CHECK_FILE);
  const sealed = await readFileIfExists(path);
  if (sealed === undefined) {
    await writeFileAtomic(path, seal(key, ['kek-check'], KEK_CHECK_PLAINTEXT), {
      overwrite: false,
    });
    return;
  }
  try {
    wipeBytes(unseal(key, ['kek-check'], sealed, KEK_CHECK_FILE));
  } catch (error) {
    throw new StoreInitError(
      `the KEK does not open ${path}: it differs from the KEK this data directory was created with (or the file is damaged)`,
      { cause: error },
    );
  }
}
