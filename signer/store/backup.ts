/**
 * Encrypted backup archive of a share store: one file holding every stored share version and
 * every current-version pointer, readable only with the backup key (independent of the KEK,
 * so a restore can target a data directory with a new KEK).
 *
 * Format 2 (format 1 is still read; all integers big-endian):
 *
 *   header  = "MPCBAK" ‖ format u8 = 2 ‖ salt (32 random bytes)
 *   frame_i = length u32 ‖ AES-256-GCM ciphertext ‖ tag (16), for i = 0, 1, …
 *
 * The archive key is HKDF-SHA256(backupKey, salt, "mpc-signer share backup v1"); frame i uses
 * nonce = 0u32 ‖ i u64 and additional data = header ‖ i u64 ‖ final u8, so frames cannot be
 * reordered, dropped, spliced from another archive or truncated (the last frame must be the
 * only one marked final, and nothing may follow it). Frame plaintexts:
 *
 *   origin  = 4 u8 ‖ nodeId (u32 len ‖ UTF-8) ‖ identity seed (u32 len ‖ 0 or 32 bytes)
 *             (format 2, optional, only as frame 0)
 *   bans    = 5 u8 ‖ peer-bans.json (u32 len ‖ bytes) (format 2, optional, at most once,
 *             before any share)
 *   share   = 1 u8 ‖ walletId (u32 len ‖ UTF-8) ‖ keyType (u32 len ‖ ASCII) ‖ version u32 ‖
 *             record (u32 len ‖ bytes)
 *   pointer = 2 u8 ‖ walletId ‖ keyType ‖ current version u32
 *   final   = 3 u8 ‖ share count u32 ‖ pointer count u32
 *
 * The origin frame names the signer the shares belong to (a share is one party's: restoring
 * it under another node id would make that node answer with a foreign share, so a restore
 * with `expectNodeId` refuses a mismatch) and may carry that signer's identity seed
 * (node-identity.ts), so a restored volume keeps the identity key its peers pinned and needs
 * no administrator repin. The seed is under the backup key like the shares, which are the
 * more valuable secret: whoever can open an archive already holds that signer's shares.
 * The bans frame carries the signer's peer bans (service/peer-bans.ts): a restore without
 * them would make pairs burned after a failed DKLs23 check usable again, giving a malicious
 * peer more sessions against the OT state it already probed.
 *
 * Consistency: `exportBackup` works on an open store, also a live one (online backups,
 * backup-agent.ts): each wallet is read while the store holds that wallet's write queue
 * (`ShareStore.whileWalletUnchanged`), so its pointers and records are one state between
 * writes (never a pointer to a version being retired). Wallets are captured one after another,
 * not at one instant: a wallet created during the export may be missing. The offline CLI
 * (`mpc-signer backup`) holds the store lock, which also excludes every writer.
 *
 * An archive carries share records, not the store's wrapped data keys: it is readable with
 * the backup key alone, and a restore seals every record under a fresh data key of the
 * target store (and its KEK). So retiring a version in a store (crypto-shredding, see
 * share-store.ts) cannot reach archives: an archive taken before a reshare keeps the old
 * committee's shares for as long as the archive and its backup key exist. Versions older
 * than the current one (retired, awaiting recovery after a crash) are not exported.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { wipeBytes } from '../crypto/wipe.ts';
import { fsyncDirectory, linkExclusive } from './atomic-file.ts';
import {
  DataCorruptionError,
  KeyAlreadyExistsError,
  StoreReadError,
  StoreWriteError,
} from './errors.ts';
import { checkKeyType, checkVersion, TEMP_PREFIX, type ShareKeyType } from './layout.ts';
import { ShareStore, type ShareStoreOptions } from './share-store.ts';

const MAGIC = Buffer.from('MPCBAK', 'ascii');
const FORMAT = 2;
const READABLE_FORMATS = new Set([1, 2]);
const SALT_LENGTH = 32;
const HEADER_LENGTH = MAGIC.length + 1 + SALT_LENGTH;
const TAG_LENGTH = 16;
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const FRAME_SHARE = 1;
const FRAME_POINTER = 2;
const FRAME_FINAL = 3;
const FRAME_ORIGIN = 4;
const FRAME_BANS = 5;
const SEED_LENGTH = 32;

export interface BackupSummary {
  readonly wallets: number;
  readonly shares: number;
  readonly pointers: number;
}

/** What an export wrote: the counts, the archive's size and SHA-256 (hex) for checking copies. */
export interface ExportSummary extends BackupSummary {
  readonly bytes: number;
  readonly sha256: string;
  /** Whether the archive carries the signer's identity seed. */
  readonly identity: boolean;
  /** Whether the archive carries the signer's peer bans. */
  readonly peerBans: boolean;
}

export interface ExportOptions {
  /** The signer the shares belong to (written to the origin frame). */
  readonly nodeId?: string;
  /** Its 32-byte identity seed, to carry in the archive (needs `nodeId`); not modified. */
  readonly identitySeed?: Uint8Array;
  /** The bytes of its `peer-bans.json`, when it has one (public data: node ids and epochs). */
  readonly peerBans?: Uint8Array;
}

export interface ImportOptions {
  /** Refuse an archive whose origin frame names another node (format 1 has none). */
  readonly expectNodeId?: string;
  /**
   * Receives the identity seed when the archive carries one, before any share is written
   * (node-identity.ts `restoreIdentitySeed`); the seed is wiped after it returns.
   */
  readonly restoreIdentity?: (nodeId: string, seed: Uint8Array) => Promise<void>;
  /**
   * Receives the archived `peer-bans.json` bytes, before any share is written
   * (peer-bans.ts `restorePeerBans`, which keeps the higher epoch of each peer).
   */
  readonly restorePeerBans?: (bytes: Uint8Array) => Promise<void>;
}

/** What a restore found and wrote. */
export interface ImportSummary extends BackupSummary {
  /** The node the archive names (format 2), if any. */
  readonly nodeId?: string;
  /** Whether an identity seed was restored. */
  readonly identity: boolean;
  /** Whether peer bans were restored. */
  readonly peerBans: boolean;
}

function archiveKey(backupKey: Uint8Array, salt: Uint8Array): Uint8Array {
  if (!(backupKey instanceof Uint8Array) || backupKey.length !== 32) {
    throw new RangeError('the backup key must be 32 bytes');
  }
  return new Uint8Array(hkdfSync('sha256', backupKey, salt, 'mpc-signer share backup v1', 32));
}

function frameNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function frameAad(header: Uint8Array, index: number, final: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index));
  tail[8] = final ? 1 : 0;
  return Buffer.concat([header, tail]);
}

/** Builds frame plaintexts. */
class FrameEncoder {
  readonly #parts: Buffer[] = [];

  u8(value: number): this {
    this.#parts.push(Buffer.of(value));
    return this;
  }

  u32(value: number): this {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    this.#parts.push(bytes);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.length);
    this.#parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  text(value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'));
  }

  /** The plaintext; wipe after use (it may hold a share). */
  finish(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.#parts));
  }
}

/** Reads frame plaintexts; any overrun is corruption (it passed authentication, so a bug). */
class FrameDecoder {
  #offset = 0;
  constructor(private readonly data: Uint8Array) {}

  #take(length: number): Uint8Array {
    if (this.#offset + length > this.data.length) {
      throw new DataCorruptionError('backup frame is truncated');
    }
    const slice = this.data.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }

  u8(): number {
    return this.#take(1)[0] as number;
  }

  u32(): number {
    return Buffer.from(this.#take(4)).readUInt32BE(0);
  }

  bytes(): Uint8Array {
    return this.#take(this.u32());
  }

  text(): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes());
    } catch {
      throw new DataCorruptionError('backup frame holds invalid UTF-8');
    }
  }

  end(): void {
    if (this.#offset !== this.data.length)
      throw new DataCorruptionError('backup frame has trailing bytes');
  }
}

/**
 * Writes every share and pointer of `store` to a new archive `outFile` (mode 0600; refuses
 * to overwrite). Written to a temp file in the same directory, fsynced, then linked into
 * place and the directory fsynced, so a failed export leaves nothing behind and a present
 * archive is complete. Works on a live store (see the module comment).
 */
export async function exportBackup(
  store: ShareStore,
  outFile: string,
  backupKey: Uint8Array,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  if (options.identitySeed !== undefined) {
    if (options.nodeId === undefined) throw new RangeError('an identity seed needs its nodeId');
    if (options.identitySeed.length !== SEED_LENGTH) {
      throw new RangeError('an identity seed must be 32 bytes');
    }
  }
  const salt = randomBytes(SALT_LENGTH);
  const header = Buffer.concat([MAGIC, Buffer.of(FORMAT), salt]);
  const key = archiveKey(backupKey, salt);
  const temp = join(dirname(outFile), `${TEMP_PREFIX}backup-${randomBytes(8).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600).catch((error: unknown) => {
    wipeBytes(key);
    throw new StoreWriteError(`cannot create a backup file next to ${outFile}`, { cause: error });
  });
  const digest = createHash('sha256');
  let bytes = 0;
  const write = async (data: Buffer): Promise<void> => {
    await handle.write(data);
    digest.update(data);
    bytes += data.length;
  };
  let index = 0;
  const writeFrame = async (plaintext: Uint8Array, final: boolean): Promise<void> => {
    const cipher = createCipheriv('aes-256-gcm', key, frameNonce(index), {
      authTagLength: TAG_LENGTH,
    });
    cipher.setAAD(frameAad(header, index, final));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    await write(Buffer.concat([length, body]));
    index++;
  };
  let shares = 0;
  let pointers = 0;
  let wallets = 0;
  let placed = false;
  try {
    try {
      await write(header);
      if (options.nodeId !== undefined) {
        const frame = new FrameEncoder()
          .u8(FRAME_ORIGIN)
          .text(options.nodeId)
          .bytes(options.identitySeed ?? new Uint8Array(0))
          .finish();
        try {
          await writeFrame(frame, false);
        } finally {
          wipeBytes(frame);
        }
      }
      if (options.peerBans !== undefined) {
        await writeFrame(new FrameEncoder().u8(FRAME_BANS).bytes(options.peerBans).finish(), false);
      }
      for (const walletId of await store.listWallets()) {
        // One wallet's pointers and records as one state between writes (module comment).
        const counted = await store.whileWalletUnchanged(walletId, async () => {
          let walletShares = 0;
          let walletPointers = 0;
          for (const keyType of ['ed25519', 'secp256k1'] as const) {
            const current = await store.currentVersion(walletId, keyType);
            for (const version of await store.listVersions(walletId, keyType)) {
              if (current !== undefined && version < current) continue; // retired
              const record = await store.get({ walletId, keyType, version });
              if (record === undefined) continue;
              const frame = new FrameEncoder()
                .u8(FRAME_SHARE)
                .text(walletId)
                .text(keyType)
                .u32(version)
                .bytes(record)
                .finish();
              wipeBytes(record);
              try {
                await writeFrame(frame, false);
              } finally {
                wipeBytes(frame);
              }
              walletShares++;
            }
            if (current !== undefined) {
              const frame = new FrameEncoder().u8(FRAME_POINTER).text(walletId).text(keyType);
              await writeFrame(frame.u32(current).finish(), false);
              walletPointers++;
            }
          }
          return { walletShares, walletPointers };
        });
        // Deleted between listing and reading: nothing of it was written.
        if (counted.walletShares + counted.walletPointers === 0) continue;
        wallets++;
        shares += counted.walletShares;
        pointers += counted.walletPointers;
      }
      await writeFrame(new FrameEncoder().u8(FRAME_FINAL).u32(shares).u32(pointers).finish(), true);
      await handle.sync();
    } finally {
      await handle.close();
    }
    placed = await linkExclusive(temp, outFile);
    if (!placed) throw new StoreWriteError(`backup file ${outFile} already exists`);
    await fsyncDirectory(dirname(outFile));
  } finally {
    wipeBytes(key);
    await unlink(temp).catch(() => undefined);
  }
  return {
    wallets,
    shares,
    pointers,
    bytes,
    sha256: digest.digest('hex'),
    identity: options.identitySeed !== undefined,
    peerBans: options.peerBans !== undefined,
  };
}

interface ShareEntry {
  readonly kind: 'share';
  readonly walletId: string;
  readonly keyType: ShareKeyType;
  readonly version: number;
  /** View into the frame plaintext: wiped with it. */
  readonly record: Uint8Array;
}
interface PointerEntry {
  readonly kind: 'pointer';
  readonly walletId: string;
  readonly keyType: ShareKeyType;
  readonly version: number;
}
interface BansEntry {
  readonly kind: 'bans';
  /** View into the frame plaintext: valid during the visit only. */
  readonly bytes: Uint8Array;
}
interface OriginEntry {
  readonly kind: 'origin';
  readonly nodeId: string;
  /** View into the frame plaintext (empty when no identity was included): wiped with it. */
  readonly seed: Uint8Array;
}

/** Authenticates and decodes the archive frame by frame, calling `visit` for each entry. */
async function readArchive(
  inFile: string,
  backupKey: Uint8Array,
  visit: (entry: ShareEntry | PointerEntry | OriginEntry | BansEntry) => Promise<void>,
): Promise<{ shares: number; pointers: number }> {
  const handle = await open(inFile, 'r').catch((error: unknown) => {
    throw new StoreReadError(`cannot open backup archive ${inFile}`, { cause: error });
  });
  let key: Uint8Array | undefined;
  try {
    const header = await readExactly(handle, HEADER_LENGTH, 'backup header');
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new DataCorruptionError(`${inFile} is not a share backup archive`);
    }
    const format = header[MAGIC.length] as number;
    if (!READABLE_FORMATS.has(format)) {
      throw new DataCorruptionError(`${inFile} has unknown backup format ${header[MAGIC.length]}`);
    }
    key = archiveKey(backupKey, header.subarray(MAGIC.length + 1));
    let shares = 0;
    let pointers = 0;
    let bans = false;
    for (let index = 0; ; index++) {
      const lengthBytes = await readExactly(handle, 4, 'backup frame length', true);
      if (lengthBytes === undefined)
        throw new DataCorruptionError('backup archive is truncated (no final frame)');
      const length = lengthBytes.readUInt32BE(0);
      if (length < TAG_LENGTH || length > MAX_FRAME_BYTES) {
        throw new DataCorruptionError(`backup frame ${index} has a bad length`);
      }
      const body = await readExactly(handle, length, `backup frame ${index}`);
      const plaintext = openFrame(key, header, index, body);
      try {
        const decoder = new FrameDecoder(plaintext.data);
        const type = decoder.u8();
        if (plaintext.final) {
          if (type !== FRAME_FINAL)
            throw new DataCorruptionError('backup final frame has a bad type');
          const expectedShares = decoder.u32();
          const expectedPointers = decoder.u32();
          decoder.end();
          if (expectedShares !== shares || expectedPointers !== pointers) {
            throw new DataCorruptionError('backup archive counts do not match its contents');
          }
          if ((await readExactly(handle, 1, 'end of archive', true)) !== undefined) {
            throw new DataCorruptionError('backup archive has data after its final frame');
          }
          return { shares, pointers };
        }
        if (type === FRAME_ORIGIN && format >= 2 && index === 0) {
          const nodeId = decoder.text();
          const seed = decoder.bytes();
          decoder.end();
          if (seed.length !== 0 && seed.length !== SEED_LENGTH) {
            throw new DataCorruptionError('backup origin frame has a bad identity seed length');
          }
          await visit({ kind: 'origin', nodeId, seed });
          continue;
        }
        if (type === FRAME_BANS && format >= 2 && !bans && shares + pointers === 0) {
          const bytes = decoder.bytes();
          decoder.end();
          bans = true;
          await visit({ kind: 'bans', bytes });
          continue;
        }
        if (type !== FRAME_SHARE && type !== FRAME_POINTER) {
          throw new DataCorruptionError(`backup frame ${index} has unknown type ${type}`);
        }
        const walletId = decoder.text();
        const keyType = checkKeyType(decoder.text());
        const version = checkVersion(decoder.u32());
        if (type === FRAME_SHARE) {
          const record = decoder.bytes();
          decoder.end();
          await visit({ kind: 'share', walletId, keyType, version, record });
          shares++;
        } else {
          decoder.end();
          await visit({ kind: 'pointer', walletId, keyType, version });
          pointers++;
        }
      } finally {
        wipeBytes(plaintext.data);
      }
    }
  } finally {
    if (key !== undefined) wipeBytes(key);
    await handle.close();
  }
}

function openFrame(
  key: Uint8Array,
  header: Uint8Array,
  index: number,
  body: Buffer,
): { data: Uint8Array; final: boolean } {
  const ciphertext = body.subarray(0, body.length - TAG_LENGTH);
  const tag = body.subarray(body.length - TAG_LENGTH);
  // The final flag is authenticated: try "not final" first, then "final".
  for (const final of [false, true]) {
    const decipher = createDecipheriv('aes-256-gcm', key, frameNonce(index), {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAAD(frameAad(header, index, final));
    decipher.setAuthTag(tag);
    const data = new Uint8Array(decipher.update(ciphertext));
    try {
      decipher.final();
      return { data, final };
    } catch {
      wipeBytes(data);
    }
  }
  throw new DataCorruptionError(
    `backup frame ${index} failed authentication (wrong backup key, or the archive was modified)`,
  );
}

async function readExactly(
  handle: FileHandle,
  length: number,
  what: string,
  allowEndOfFile?: false,
): Promise<Buffer>;
async function readExactly(
  handle: FileHandle,
  length: number,
  what: string,
  allowEndOfFile: true,
): Promise<Buffer | undefined>;
async function readExactly(
  handle: FileHandle,
  length: number,
  what: string,
  allowEndOfFile = false,
): Promise<Buffer | undefined> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, null);
    if (bytesRead === 0) {
      if (filled === 0 && allowEndOfFile) return undefined;
      throw new DataCorruptionError(`${what} is truncated`);
    }
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Restores an archive into a store: an open `ShareStore`, or `{ dataDir, kek }` to open (and
 * close) one, which needs the signer stopped. The whole archive is authenticated first, so a damaged
 * or wrong-key archive writes nothing; so is an archive of another node (`expectNodeId`).
 * The identity seed, when carried and `restoreIdentity` is given, is restored before any
 * share. Versions already present with identical contents are skipped (a re-run is
 * harmless); a present version with different contents is a `KeyAlreadyExistsError`.
 * Pointers are set after all shares are written.
 */
export async function importBackup(
  inFile: string,
  target: ShareStore | ShareStoreOptions,
  backupKey: Uint8Array,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  if (target instanceof ShareStore) return importInto(inFile, target, backupKey, options);
  const store = await ShareStore.open(target);
  try {
    return await importInto(inFile, store, backupKey, options);
  } finally {
    await store.close();
  }
}

async function importInto(
  inFile: string,
  store: ShareStore,
  backupKey: Uint8Array,
  options: ImportOptions,
): Promise<ImportSummary> {
  let origin: string | undefined;
  await readArchive(inFile, backupKey, async (entry) => {
    if (entry.kind === 'origin') origin = entry.nodeId;
  });
  if (
    options.expectNodeId !== undefined &&
    origin !== undefined &&
    origin !== options.expectNodeId
  ) {
    throw new StoreWriteError(
      `refusing to restore: the archive holds the shares of node ${JSON.stringify(origin)}, not ${JSON.stringify(options.expectNodeId)}`,
    );
  }
  const pointers: PointerEntry[] = [];
  const wallets = new Set<string>();
  let identity = false;
  let peerBans = false;
  const { shares } = await readArchive(inFile, backupKey, async (entry) => {
    if (entry.kind === 'origin') {
      if (entry.seed.length > 0 && options.restoreIdentity !== undefined) {
        await options.restoreIdentity(entry.nodeId, entry.seed);
        identity = true;
      }
      return;
    }
    if (entry.kind === 'bans') {
      if (options.restorePeerBans !== undefined) {
        await options.restorePeerBans(entry.bytes.slice());
        peerBans = true;
      }
      return;
    }
    wallets.add(entry.walletId);
    if (entry.kind === 'pointer') {
      pointers.push(entry);
      return;
    }
    try {
      await store.put(entry, entry.record);
    } catch (error) {
      if (!(error instanceof KeyAlreadyExistsError)) throw error;
      const existing = await store.get(entry);
      const same = existing !== undefined && Buffer.from(existing).equals(entry.record);
      wipeBytes(existing);
      if (!same) throw error;
    }
  });
  for (const pointer of pointers) {
    await store.setCurrentVersion(pointer.walletId, pointer.keyType, pointer.version);
  }
  return {
    wallets: wallets.size,
    shares,
    pointers: pointers.length,
    ...(origin === undefined ? {} : { nodeId: origin }),
    identity,
    peerBans,
  };
}
