/**
 * The encrypted, versioned key-share store (design §10): one sealed file per
 * (wallet id, key type, version) on the data volume, plus a sealed pointer naming the current
 * version, so a reshare can write v2 beside v1 and switch only once it is confirmed.
 *
 * Guarantees:
 * - Durability: every write is atomic and fsynced (see atomic-file.ts); after a crash a file
 *   holds the old or the new contents, temp files are ignored.
 * - Confidentiality and integrity: each version's record is sealed (AES-256-GCM) under its own
 *   random data key; the data key is sealed under a key derived from the KEK in a separate
 *   `v<version>.key` file. Both are bound to (wallet id, key type, version), so tampered or
 *   swapped files fail with `DataCorruptionError` (ERROR_DATA_CORRUPTION). A wrong KEK is
 *   detected at `open`.
 * - Crypto-shredding (security finding L2): a version stops being readable for good when it is
 *   retired — `setCurrentVersion` retires every older version, `deleteVersion` the one named.
 *   Its data key file is overwritten, unlinked and the directory fsynced before the share file
 *   is unlinked, so a copy of the share file taken later (a disk or volume snapshot) cannot be
 *   opened even with the KEK. Copies taken while the version was live (snapshots, backups)
 *   still hold both files: nothing can reach those.
 * - Recovery at `open`: work a crash interrupted is finished — versions older than the current
 *   one are retired, data keys without a share are destroyed — and share files written by the
 *   earlier format (sealed directly under the KEK-derived key, no data key) are re-sealed
 *   under a fresh data key. Only directories whose files are not exactly one paired version
 *   are inspected further, so a clean store costs one directory listing per (wallet, key type).
 * - Exclusivity: `open` takes a lock file that refuses a second live process and takes over
 *   the lock of a dead one (data-dir-lock.ts).
 * - Writes to one wallet are serialised in process; versions are immutable once written.
 *   `whileWalletUnchanged` joins that queue, so a reader sees one wallet's state between writes.
 * - In-memory copy (sealed-file-cache.ts): the pointer, share and data-key files that `get` and
 *   `currentVersion` read and authenticated are kept, sealed as on disk, until the wallet is
 *   next written (or the store closes), so a signing session costs no file I/O after the first.
 *   Consequence: a file changed on disk behind the store's back after it was authenticated is
 *   detected at the next write to that wallet or the next restart, not at the next read (the
 *   process keeps using the authentic copy meanwhile). Files that fail authentication are never
 *   kept. `cacheBytes: 0` restores a read per call.
 *
 * Plaintext returned by `get` belongs to the caller, who wipes it. The record passed to `put`
 * is not modified. Layout and naming: layout.ts.
 */
import { mkdir, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { wipeBytes } from '../crypto/wipe.ts';
import {
  destroyFile,
  ensureDirectory,
  errnoOf,
  exists,
  fsyncDirectory,
  readFileIfExists,
  writeFileAtomic,
} from './atomic-file.ts';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';
import { SealedFileCache } from './sealed-file-cache.ts';
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
  dataKeyFileName,
  isHashedDirName,
  KEK_CHECK_FILE,
  LOCK_FILE,
  POINTER_FILE,
  SHARE_KEY_TYPES,
  SHARES_DIR,
  TEMP_PREFIX,
  versionFileName,
  versionFromFileName,
  versionFromKeyFileName,
  WALLET_ID_FILE,
  walletDirName,
  walletIdBytes,
  walletIdFromHex,
  type ShareKeyType,
  type ShareRef,
} from './layout.ts';
import {
  DATA_KEY_LENGTH,
  deriveStoreKey,
  FORMAT_DATA_KEY,
  FORMAT_STORE_KEY,
  newDataKey,
  seal,
  sealedFormat,
  unseal,
  type ContextField,
} from './seal.ts';

/** Where the store reports recoveries (a pino logger fits). Never given secrets. */
export interface StoreLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ShareStoreOptions {
  /** The signer's data volume; created (mode 0700) if missing. */
  readonly dataDir: string;
  /** 32-byte key-encryption key. Not retained: the store keeps only a derived key. */
  readonly kek: Uint8Array;
  /** Receives stale-lock takeovers, migrations and crash recoveries done by `open`. */
  readonly log?: StoreLog;
  /**
   * Bytes of authenticated sealed files kept in memory between writes to their wallet
   * (sealed-file-cache.ts); 0 turns the copy off. Default 32 MiB.
   */
  readonly cacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

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
  readonly #log: StoreLog | undefined;
  #key: Uint8Array | undefined;
  /** Tail of the write queue per wallet directory. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Authenticated sealed files, per wallet directory, until the wallet is next written. */
  readonly #cache: SealedFileCache;

  private constructor(
    dataDir: string,
    key: Uint8Array,
    lock: DataDirLock,
    log: StoreLog | undefined,
    cacheBytes: number,
  ) {
    this.#dataDir = dataDir;
    this.#sharesDir = join(dataDir, SHARES_DIR);
    this.#key = key;
    this.#lock = lock;
    this.#log = log;
    this.#cache = new SealedFileCache(cacheBytes);
  }

  /**
   * Opens (creating if needed) the store in `dataDir`: takes the lock, checks the KEK
   * against the marker written on first open, and recovers (see the module comment). Throws
   * `StoreInitError` (ERROR_STORAGE_INIT) when locked by another live process, on a wrong KEK,
   * or when the directory is unusable.
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
    const log = options.log;
    const lock = await acquireDataDirLock(options.dataDir, LOCK_FILE, {
      onTakeover: (stale) => log?.warn({ ...stale }, 'took over the lock of a dead signer'),
    });
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
    const store = new ShareStore(
      options.dataDir,
      key,
      lock,
      log,
      options.cacheBytes ?? DEFAULT_CACHE_BYTES,
    );
    try {
      await store.#recover();
    } catch (error) {
      await store.close();
      throw new StoreInitError(`cannot recover ${options.dataDir}`, { cause: error });
    }
    return store;
  }

  /** The data directory this store was opened on. */
  get dataDir(): string {
    return this.#dataDir;
  }

  /**
   * Stores `record` as version `ref.version` under a fresh data key (key file first, then the
   * share). Throws `KeyAlreadyExistsError` if that version exists (versions are immutable),
   * `StoreWriteError` on I/O failure.
   */
  async put(ref: ShareRef, record: Uint8Array): Promise<void> {
    const wallet = this.#wallet(ref.walletId);
    const keyType = checkKeyType(ref.keyType);
    const version = checkVersion(ref.version);
    await this.#serialised(wallet.dir, async () => {
      const sharePath = join(wallet.dir, keyType, versionFileName(version));
      const keyPath = join(wallet.dir, keyType, dataKeyFileName(version));
      if (await this.#exists(sharePath)) {
        throw new KeyAlreadyExistsError(ref.walletId, keyType, version);
      }
      const { wrapped, sealed } = this.#sealNew(wallet, keyType, version, record);
      let placed: boolean;
      try {
        await this.#ensureWalletDir(wallet, keyType);
        // A key file without its share is what a crash mid-put leaves: it protects nothing.
        await destroyFile(keyPath);
        if (!(await writeFileAtomic(keyPath, wrapped, { overwrite: false }))) {
          throw new Error('a data key file appeared while writing it');
        }
        placed = await writeFileAtomic(sharePath, sealed, { overwrite: false });
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
    const sharePath = join(wallet.dir, keyType, versionFileName(version));
    const keyPath = join(wallet.dir, keyType, dataKeyFileName(version));
    const keyWhat = `data key of ${what}`;
    const generation = this.#cache.generation(wallet.dir);
    // Both files are read at once (one file-system round trip less per signature); the
    // share's outcome is looked at first, as when they were read one after the other.
    const [share, key] = await Promise.allSettled([
      this.#readThroughCache(sharePath, what),
      this.#readThroughCache(keyPath, keyWhat),
    ]);
    if (share.status === 'rejected') throw share.reason;
    const sealed = share.value;
    if (sealed === undefined) return undefined;
    const context = shareContext(wallet, keyType, version);
    // Written before data keys existed and not migrated yet (see #recover): store key.
    if (sealedFormat(sealed) === FORMAT_STORE_KEY) {
      return unseal(this.#storeKey(), context, sealed, what);
    }
    if (key.status === 'rejected') throw key.reason;
    const wrapped = key.value;
    if (wrapped === undefined) {
      if (!(await this.#exists(sharePath))) return undefined; // retired meanwhile
      throw new DataCorruptionError(
        `${what} has no data key: the version was retired (its key destroyed) or the key file was lost`,
      );
    }
    const dataKey = this.#unwrap(wallet, keyType, version, wrapped, keyWhat);
    try {
      const record = unseal(dataKey, context, sealed, what, FORMAT_DATA_KEY);
      // Both files authenticated: keep them until the wallet is next written.
      this.#cache.store(wallet.dir, sharePath, sealed, generation);
      this.#cache.store(wallet.dir, keyPath, wrapped, generation);
      return record;
    } finally {
      wipeBytes(dataKey);
    }
  }

  /** The current version of (wallet, key type), or undefined if none was set. */
  async currentVersion(walletId: string, keyType: ShareKeyType): Promise<number | undefined> {
    const wallet = this.#wallet(walletId);
    checkKeyType(keyType);
    const what = `current-version pointer of wallet ${JSON.stringify(walletId)} ${keyType}`;
    const path = join(wallet.dir, keyType, POINTER_FILE);
    const generation = this.#cache.generation(wallet.dir);
    const sealed = await this.#readThroughCache(path, what);
    if (sealed === undefined) return undefined;
    const plaintext = unseal(this.#storeKey(), pointerContext(wallet, keyType), sealed, what);
    if (plaintext.length !== 4) throw new DataCorruptionError(`${what} has a bad length`);
    this.#cache.store(wallet.dir, path, sealed, generation);
    return Buffer.from(plaintext).readUInt32BE(0);
  }

  /**
   * Atomically makes `version` current, then retires every older version of (wallet, key
   * type) for good (their data keys are destroyed; newer, staged versions are kept). Throws
   * `KeyNotFoundError` if that version, or its data key, is not stored. Replaces the previous
   * pointer in one rename: readers see the old or the new one. If retiring fails after the
   * switch, the error is a `StoreWriteError` and the next `open` finishes the retirement.
   */
  async setCurrentVersion(walletId: string, keyType: ShareKeyType, version: number): Promise<void> {
    const wallet = this.#wallet(walletId);
    checkKeyType(keyType);
    checkVersion(version);
    await this.#serialised(wallet.dir, async () => {
      const versionPath = join(wallet.dir, keyType, versionFileName(version));
      const keyPath = join(wallet.dir, keyType, dataKeyFileName(version));
      if (!(await this.#exists(versionPath)) || !(await this.#exists(keyPath))) {
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
      const keyTypeDir = join(wallet.dir, keyType);
      try {
        const older = [...(await this.#versionsOnDisk(keyTypeDir)).all].filter((v) => v < version);
        if (older.length > 0) await shred(keyTypeDir, older);
      } catch (error) {
        throw new StoreWriteError(
          `retiring the versions older than ${describe(walletId, keyType, version)}`,
          { cause: error },
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
      const walletId = await this.#walletIdOfDir(name);
      if (walletId !== undefined && (await this.hasWallet(walletId))) wallets.push(walletId);
    }
    return wallets.sort();
  }

  /**
   * Deletes a stored version for good (its data key is destroyed first, see the module
   * comment). Returns false if its share did not exist. Refuses (`StoreWriteError`) to delete
   * the current version.
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
        const removed = await shred(keyTypeDir, [version]);
        if (removed.any) await this.#removeIfEmpty(wallet, keyType);
        return removed.shares > 0;
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return false;
        throw new StoreWriteError(describe(ref.walletId, keyType, version), { cause: error });
      }
    });
  }

  /**
   * Runs `read` while no write to `walletId` runs: writes to that wallet queue behind it, and
   * it starts after the ones already queued. What `read` reads of that wallet (pointers,
   * versions, records) is therefore one consistent state, e.g. not a pointer to a version a
   * concurrent `setCurrentVersion` is retiring. Used by online backups (backup.ts). `read` must
   * not write to the same wallet (it would wait for itself).
   */
  async whileWalletUnchanged<T>(walletId: string, read: () => Promise<T>): Promise<T> {
    return this.#serialised(this.#wallet(walletId).dir, read);
  }

  /** Waits for pending writes, wipes the derived key and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#key === undefined) return;
    await Promise.allSettled([...this.#queues.values()]);
    this.#cache.clear();
    wipeBytes(this.#key);
    this.#key = undefined;
    await this.#lock.release();
  }

  /** The wallet id a directory under shares/ belongs to, or undefined for a foreign name. */
  async #walletIdOfDir(name: string): Promise<string | undefined> {
    if (!isHashedDirName(name)) return walletIdFromHex(name);
    const file = await this.#read(join(this.#sharesDir, name, WALLET_ID_FILE), 'wallet id');
    const walletId =
      file === undefined ? undefined : walletIdFromHex(file.toString('ascii').trim());
    if (walletId !== undefined && this.#wallet(walletId).dir !== join(this.#sharesDir, name)) {
      throw new DataCorruptionError(`wallet id file of directory ${name} does not match it`);
    }
    return walletId;
  }

  /** A fresh data key for one version: the wrapped key file and the sealed share. */
  #sealNew(
    wallet: WalletPaths,
    keyType: ShareKeyType,
    version: number,
    record: Uint8Array,
  ): { wrapped: Uint8Array; sealed: Uint8Array } {
    const dataKey = newDataKey();
    try {
      return {
        wrapped: seal(this.#storeKey(), dataKeyContext(wallet, keyType, version), dataKey),
        sealed: seal(dataKey, shareContext(wallet, keyType, version), record, FORMAT_DATA_KEY),
      };
    } finally {
      wipeBytes(dataKey);
    }
  }

  /** Opens a wrapped data key. The caller wipes the result. */
  #unwrap(
    wallet: WalletPaths,
    keyType: ShareKeyType,
    version: number,
    wrapped: Uint8Array,
    what: string,
  ): Uint8Array {
    const context = dataKeyContext(wallet, keyType, version);
    const dataKey = unseal(this.#storeKey(), context, wrapped, what);
    if (dataKey.length !== DATA_KEY_LENGTH) {
      wipeBytes(dataKey);
      throw new DataCorruptionError(`${what} has a bad length`);
    }
    return dataKey;
  }

  /** Versions in a key-type directory that have a share file, a key file, or either. */
  async #versionsOnDisk(
    keyTypeDir: string,
  ): Promise<{ shares: Set<number>; keys: Set<number>; all: Set<number> }> {
    const names = await this.#list(keyTypeDir);
    const shares = new Set<number>();
    const keys = new Set<number>();
    for (const name of names) {
      const share = versionFromFileName(name);
      if (share !== undefined) shares.add(share);
      const key = versionFromKeyFileName(name);
      if (key !== undefined) keys.add(key);
    }
    return { shares, keys, all: new Set([...shares, ...keys]) };
  }

  /** Finishes what a crash interrupted and migrates the earlier format (module comment). */
  async #recover(): Promise<void> {
    const totals = { migrated: 0, retired: 0, orphanKeys: 0 };
    for (const name of await this.#list(this.#sharesDir)) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      let walletId: string | undefined;
      try {
        walletId = await this.#walletIdOfDir(name);
      } catch (error) {
        // One damaged directory must not keep the signer from serving every other wallet.
        if (!(error instanceof DataCorruptionError)) throw error;
        this.#log?.warn({ directory: name }, 'share store: wallet directory not recognised');
      }
      if (walletId === undefined) continue;
      for (const keyType of SHARE_KEY_TYPES) {
        const done = await this.#recoverKeyType(this.#wallet(walletId), walletId, keyType);
        totals.migrated += done.migrated;
        totals.retired += done.retired;
        totals.orphanKeys += done.orphanKeys;
      }
    }
    if (totals.migrated + totals.retired + totals.orphanKeys > 0) {
      this.#log?.info(totals, 'share store recovered');
    }
  }

  async #recoverKeyType(
    wallet: WalletPaths,
    walletId: string,
    keyType: ShareKeyType,
  ): Promise<{ migrated: number; retired: number; orphanKeys: number }> {
    const done = { migrated: 0, retired: 0, orphanKeys: 0 };
    const keyTypeDir = join(wallet.dir, keyType);
    const { shares, keys, all } = await this.#versionsOnDisk(keyTypeDir);
    const paired = shares.size === keys.size && [...shares].every((v) => keys.has(v));
    if (paired && shares.size <= 1) return done;
    let current: number | undefined;
    try {
      current = await this.currentVersion(walletId, keyType);
    } catch (error) {
      if (!(error instanceof DataCorruptionError)) throw error;
      this.#log?.warn({ walletId, keyType }, 'share store: unreadable pointer, left as it is');
      return done;
    }
    const older = [...all].filter((v) => current !== undefined && v < current);
    const orphans = [...keys].filter((v) => !shares.has(v) && !older.includes(v));
    if (older.length + orphans.length > 0) {
      await shred(keyTypeDir, [...older, ...orphans]);
      done.retired = older.length;
      done.orphanKeys = orphans.length;
    }
    for (const version of shares) {
      if (keys.has(version) || older.includes(version)) continue;
      if (await this.#migrate(wallet, walletId, keyType, version)) done.migrated++;
    }
    if (older.length + orphans.length > 0) await this.#removeIfEmpty(wallet, keyType);
    return done;
  }

  /**
   * Re-seals a share of the earlier format (under the store key) under a fresh data key: the
   * key file first, then the share replaced in one rename. A crash in between leaves a
   * readable earlier-format share beside an unused key (still read, retired as usual).
   */
  async #migrate(
    wallet: WalletPaths,
    walletId: string,
    keyType: ShareKeyType,
    version: number,
  ): Promise<boolean> {
    const what = `share ${describe(walletId, keyType, version)}`;
    const sharePath = join(wallet.dir, keyType, versionFileName(version));
    const sealed = await this.#read(sharePath, what);
    if (sealed === undefined) return false;
    if (sealedFormat(sealed) !== FORMAT_STORE_KEY) {
      this.#log?.warn({ walletId, keyType, version }, 'share store: share without a data key');
      return false;
    }
    let record: Uint8Array;
    try {
      record = unseal(this.#storeKey(), shareContext(wallet, keyType, version), sealed, what);
    } catch (error) {
      if (!(error instanceof DataCorruptionError)) throw error;
      this.#log?.warn({ walletId, keyType, version }, 'share store: unreadable share not migrated');
      return false;
    }
    let files: { wrapped: Uint8Array; sealed: Uint8Array };
    try {
      files = this.#sealNew(wallet, keyType, version, record);
    } finally {
      wipeBytes(record);
    }
    const keyPath = join(wallet.dir, keyType, dataKeyFileName(version));
    await writeFileAtomic(keyPath, files.wrapped, { overwrite: true });
    await writeFileAtomic(sharePath, files.sealed, { overwrite: true });
    return true;
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

  /**
   * Runs `task` after the wallet's earlier queued tasks. Every write to a wallet runs here, so
   * the wallet's cached files are dropped when a task starts and again when it ends.
   */
  async #serialised<T>(queueKey: string, task: () => Promise<T>): Promise<T> {
    this.#storeKey();
    const previous = this.#queues.get(queueKey) ?? Promise.resolve();
    const guarded = async (): Promise<T> => {
      this.#cache.invalidate(queueKey);
      try {
        return await task();
      } finally {
        this.#cache.invalidate(queueKey);
      }
    };
    const run = previous.then(guarded, guarded);
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

  /** A sealed file from the cache or, if not there, from disk (not cached by this call). */
  async #readThroughCache(path: string, what: string): Promise<Uint8Array | undefined> {
    this.#storeKey();
    return this.#cache.get(path) ?? (await this.#read(path, what));
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
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw new StoreReadError(`listing ${directory}`, { cause: error });
    }
  }
}

function shareContext(wallet: WalletPaths, keyType: ShareKeyType, version: number): ContextField[] {
  return ['share', wallet.idBytes, keyType, version];
}

function dataKeyContext(
  wallet: WalletPaths,
  keyType: ShareKeyType,
  version: number,
): ContextField[] {
  return ['data-key', wallet.idBytes, keyType, version];
}

function pointerContext(wallet: WalletPaths, keyType: ShareKeyType): ContextField[] {
  return ['pointer', wallet.idBytes, keyType];
}

function describe(walletId: string, keyType: string, version: number): string {
  return `wallet ${JSON.stringify(walletId)} ${keyType} v${version}`;
}

/**
 * Retires versions for good: every data key is destroyed (overwritten, unlinked) and the
 * directory fsynced before any share file is unlinked, so no crash leaves a share of these
 * versions readable. Counts what existed.
 */
async function shred(
  keyTypeDir: string,
  versions: readonly number[],
): Promise<{ shares: number; keys: number; any: boolean }> {
  let keys = 0;
  for (const version of versions) {
    if (await destroyFile(join(keyTypeDir, dataKeyFileName(version)))) keys++;
  }
  if (keys > 0) await fsyncDirectory(keyTypeDir);
  let shares = 0;
  for (const version of versions) {
    try {
      await unlink(join(keyTypeDir, versionFileName(version)));
      shares++;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  if (shares > 0) await fsyncDirectory(keyTypeDir);
  return { shares, keys, any: shares + keys > 0 };
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
