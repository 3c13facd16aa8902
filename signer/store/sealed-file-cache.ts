/**
 * The share store's in-memory copy of sealed files it has read and authenticated (share-store.ts
 * `get` and `currentVersion`): every signing session reads a wallet's pointer, share and data
 * key files, twelve asynchronous file operations per party, ~10 % of a signer's CPU per
 * Ed25519 signature. Versions are immutable once written and every write to a wallet goes
 * through the store's per-wallet queue, so a copy stays right until that wallet is next written.
 *
 * Contract:
 * - Holds sealed bytes only, exactly as on disk (ciphertext under the data key or the store
 *   key): nothing here is secret beyond what the data volume already holds.
 * - `invalidate(wallet)` drops every entry of the wallet and advances its generation. The store
 *   calls it when a write to the wallet starts and when it ends, so a retired version's data key
 *   leaves memory in the same step that shreds it on disk.
 * - `store` keeps bytes only if the wallet's generation is still the one taken before the read
 *   (`generation`): a read that overlapped a write never puts the old state back.
 * - Bounded by bytes (least recently used first out); an entry larger than the bound is not kept.
 */
export class SealedFileCache {
  readonly #maxBytes: number;
  #bytes = 0;
  /** Path → bytes, in least-recently-used order. */
  readonly #entries = new Map<string, { readonly wallet: string; readonly bytes: Uint8Array }>();
  readonly #pathsOfWallet = new Map<string, Set<string>>();
  readonly #generations = new Map<string, number>();

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError('maxBytes must be a non-negative integer');
    }
    this.#maxBytes = maxBytes;
  }

  /** Bytes currently held (tests). */
  get size(): number {
    return this.#bytes;
  }

  /** The wallet's generation: take it before reading, pass it to `store`. */
  generation(wallet: string): number {
    return this.#generations.get(wallet) ?? 0;
  }

  /** The bytes kept for `path`, or undefined. The caller must not modify them. */
  get(path: string): Uint8Array | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    return entry.bytes;
  }

  /** Keeps `bytes` for `path` of `wallet` if the wallet was not written since `generation`. */
  store(wallet: string, path: string, bytes: Uint8Array, generation: number): void {
    if (this.generation(wallet) !== generation || bytes.length > this.#maxBytes) return;
    this.#remove(path);
    this.#entries.set(path, { wallet, bytes });
    this.#bytes += bytes.length;
    let paths = this.#pathsOfWallet.get(wallet);
    if (paths === undefined) {
      paths = new Set();
      this.#pathsOfWallet.set(wallet, paths);
    }
    paths.add(path);
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
  }

  /** Drops the wallet's entries and advances its generation. */
  invalidate(wallet: string): void {
    this.#generations.set(wallet, this.generation(wallet) + 1);
    for (const path of this.#pathsOfWallet.get(wallet) ?? []) this.#remove(path);
    this.#pathsOfWallet.delete(wallet);
  }

  /** Drops everything (the store closes). */
  clear(): void {
    this.#entries.clear();
    this.#pathsOfWallet.clear();
    this.#bytes = 0;
  }

  #remove(path: string): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) return;
    this.#entries.delete(path);
    this.#bytes -= entry.bytes.length;
    const paths = this.#pathsOfWallet.get(entry.wallet);
    paths?.delete(path);
    if (paths?.size === 0) this.#pathsOfWallet.delete(entry.wallet);
  }
}
