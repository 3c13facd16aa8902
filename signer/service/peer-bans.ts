/**
 * Burned DKLs23 pairs (design §6, crypto.md §1.4 item 1, security review M1). A failed
 * OT-extension, RVOLE or Γ check is what a cheating counterparty causes while probing the
 * pairwise OT secrets: each outcome can tell it one bit of this signer's Δ for that pair. So a
 * ban does not pause the peer, it BURNS the pair's OT state in every wallet record of this
 * signer: that state never signs again; only a pairwise refresh (fresh base OTs, see
 * `crypto/dkls23/pair-refresh-protocol.ts`) makes the pair usable again.
 *
 * Burning is an epoch per peer, so a ban costs one small file write however many wallets exist:
 * - `<data_dir>/peer-bans.json` holds, per banned peer, its ban epoch (1 after the first ban,
 *   +1 on every later ban), when and why;
 * - every secp256k1 wallet record stamps, per peer, the peer's ban epoch at the moment its pair
 *   state was created (keygen, reshare, pairwise refresh): `WalletMetadata.pairEpochs`;
 * - a pair is usable iff its stamp ≥ the peer's current epoch, i.e. the state was created after
 *   the peer's last ban (`isPairUsable`). Records without a stamp count as epoch 0 (created
 *   before any ban), so every pre-existing pair with a banned peer is burned.
 *
 * There is deliberately no way to un-ban: editing the file is tampering with the signer's
 * security state (like editing the share store). A pairwise refresh stamps the new state with
 * the current epoch; the burned state is deleted with the old share version.
 *
 * Durability: `ban()` updates the in-memory state synchronously (every later check sees it at
 * once), then writes the whole file atomically (temp file, fsync, rename, fsync dir); the
 * promise resolves when the ban is durable. Writes are serialised; a failed write rejects
 * (the in-memory ban stays) and the next ban rewrites the full state. An unreadable or corrupt
 * file stops the signer at start (`PeerBansFileError`, naming the file): starting without the
 * bans would sign again on leaked Δ.
 *
 * File format (version 2; version 1 files — entries without `epoch` — load as epoch 1):
 *   { "version": 2, "bans": { "<nodeId>": { "epoch": 1, "since": "<ISO time>", "reason": "<code>" } } }
 */
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../store/atomic-file.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';

export const PEER_BANS_FILE = 'peer-bans.json';
const FILE_VERSION = 2;

/** A session needs a pair whose OT state this signer burned (the peer failed a check). */
export class BannedPeerError extends MpcError {
  readonly peer: string;

  constructor(peer: string, walletId?: string) {
    super(
      ErrorCode.IncompatiblePeerIds,
      walletId === undefined
        ? `peer ${peer} is banned for ECDSA sessions after a failed consistency check`
        : `the DKLs23 pair with peer ${peer} of wallet ${walletId} is burned after a failed ` +
            `consistency check; an administrator must run a pairwise refresh ` +
            `(mpc refresh-pair --wallet-id ${walletId} --peer ${peer})`,
    );
    this.peer = peer;
  }
}

/** The ban file cannot be read or parsed: the signer must not start. */
export class PeerBansFileError extends MpcError {
  readonly file: string;

  constructor(file: string, why: string, cause?: unknown) {
    super(
      ErrorCode.StorageInit,
      `peer ban file ${file} is unreadable (${why}); refusing to start: without it burned ` +
        `DKLs23 pairs would sign again. Restore it from a backup`,
      cause === undefined ? undefined : { cause },
    );
    this.file = file;
  }
}

/** What a wallet record carries per peer: the ban epoch its pair state was created under. */
export interface PairStateMarker {
  /** Node id → the peer's ban epoch when this record's pair state with it was created. */
  readonly pairEpochs?: Readonly<Record<string, number>>;
  /** For error messages only. */
  readonly walletId?: string;
}

export interface BanEntry {
  readonly epoch: number;
  readonly since: string;
  readonly reason: string;
}

function parseBanFile(file: string, text: string): Map<string, BanEntry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PeerBansFileError(file, 'not valid JSON', error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PeerBansFileError(file, 'not a JSON object');
  }
  const { version, bans } = parsed as { version?: unknown; bans?: unknown };
  if (version !== 1 && version !== FILE_VERSION) {
    throw new PeerBansFileError(file, `unknown version ${JSON.stringify(version)}`);
  }
  if (typeof bans !== 'object' || bans === null || Array.isArray(bans)) {
    throw new PeerBansFileError(file, '"bans" is not an object');
  }
  const entries = new Map<string, BanEntry>();
  for (const [peer, value] of Object.entries(bans as Record<string, unknown>)) {
    const entry = value as { epoch?: unknown; since?: unknown; reason?: unknown } | null;
    if (typeof entry !== 'object' || entry === null || peer === '') {
      throw new PeerBansFileError(file, `entry ${JSON.stringify(peer)} is not an object`);
    }
    const epoch = version === 1 && entry.epoch === undefined ? 1 : entry.epoch;
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
      throw new PeerBansFileError(file, `entry ${JSON.stringify(peer)}: epoch must be >= 1`);
    }
    if (typeof entry.since !== 'string' || typeof entry.reason !== 'string') {
      throw new PeerBansFileError(file, `entry ${JSON.stringify(peer)}: since/reason missing`);
    }
    entries.set(peer, { epoch, since: entry.since, reason: entry.reason });
  }
  return entries;
}

/** Reads and checks a ban file (absent: no bans). Throws `PeerBansFileError`. */
async function readBanFile(file: string): Promise<Map<string, BanEntry>> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readFileIfExists(file);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    throw new PeerBansFileError(file, typeof code === 'string' ? code : 'read failed', error);
  }
  return bytes === undefined ? new Map() : decodeBanFile(file, bytes);
}

/** Checks a ban file's bytes (`file` names them in errors). Throws `PeerBansFileError`. */
function decodeBanFile(file: string, bytes: Uint8Array): Map<string, BanEntry> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new PeerBansFileError(file, 'not UTF-8', error);
  }
  return parseBanFile(file, text);
}

/** Writes the ban file durably (atomic replace, fsync). */
async function writeBanFile(file: string, entries: ReadonlyMap<string, BanEntry>): Promise<void> {
  const body = JSON.stringify(
    { version: FILE_VERSION, bans: Object.fromEntries(entries) },
    null,
    2,
  );
  await writeFileAtomic(file, new TextEncoder().encode(body), { overwrite: true });
}

export class PeerBans {
  /** The last scheduled write; each write stores the whole in-memory state at its start. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, BanEntry>,
  ) {}

  /** Loads `<dataDir>/peer-bans.json` (absent: no bans). Throws `PeerBansFileError`. */
  static async load(dataDir: string): Promise<PeerBans> {
    const file = join(dataDir, PEER_BANS_FILE);
    return new PeerBans(file, await readBanFile(file));
  }

  /** The peer's ban epoch: 0 if never banned. New pair state is stamped with this. */
  epochOf(peer: string): number {
    return this.entries.get(peer)?.epoch ?? 0;
  }

  /** Stamps for new pair state with each of `peers` (keygen, reshare, refresh). */
  pairEpochsFor(peers: readonly string[]): Record<string, number> {
    return Object.fromEntries(peers.map((peer) => [peer, this.epochOf(peer)]));
  }

  /**
   * True once the peer has been banned: some pair state with it (every one created before its
   * last ban) is burned. Stays true; it does not know which wallets were refreshed since (that
   * would need every sealed record read). Gate signing with `isPairUsable`, not with this.
   */
  isBanned(peer: string): boolean {
    return this.entries.has(peer);
  }

  /** Whether the record's pair state with `peer` was created after the peer's last ban. */
  isPairUsable(peer: string, record: PairStateMarker): boolean {
    const epoch = this.entries.get(peer)?.epoch;
    if (epoch === undefined) return true;
    const stamp = record.pairEpochs?.[peer];
    return typeof stamp === 'number' && stamp >= epoch;
  }

  /** Throws `BannedPeerError` for the first of `peers` whose pair state in `record` is burned. */
  assertPairsUsable(peers: readonly string[], record: PairStateMarker): void {
    for (const peer of peers) {
      if (!this.isPairUsable(peer, record)) throw new BannedPeerError(peer, record.walletId);
    }
  }

  /** Banned peers (for status and tests). */
  list(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Burns every pair with `peer`: the in-memory epoch moves on before this returns (so every
   * later check refuses the old state), and the promise resolves once the file is durable.
   * `reason` is an error code, never secret material.
   */
  ban(peer: string, reason: string): Promise<void> {
    const epoch = this.epochOf(peer) + 1;
    this.entries.set(peer, { epoch, since: new Date().toISOString(), reason });
    const write = this.writes.catch(() => undefined).then(() => this.writeFile());
    this.writes = write;
    return write;
  }

  private async writeFile(): Promise<void> {
    await writeBanFile(this.file, this.entries);
  }
}

/** The bytes of `<dataDir>/peer-bans.json` for a backup archive (undefined: no bans). */
export async function readPeerBansForBackup(dataDir: string): Promise<Uint8Array | undefined> {
  const bytes = await readFileIfExists(join(dataDir, PEER_BANS_FILE));
  return bytes === undefined ? undefined : new Uint8Array(bytes);
}

/**
 * Restores archived bans (a backup's `peer-bans.json`, store/backup.ts) into `dataDir`: per
 * peer the higher epoch of the archive and of any file already there, so a restore never
 * lowers a ban. The archive's bytes are checked like the file itself; unreadable bytes are a
 * `PeerBansFileError` and nothing is written. Durable (atomic write, fsync) when it returns.
 */
export async function restorePeerBans(dataDir: string, archived: Uint8Array): Promise<number> {
  const file = join(dataDir, PEER_BANS_FILE);
  const restored = decodeBanFile(`${file} (from the backup)`, archived);
  const merged = await readBanFile(file);
  for (const [peer, entry] of restored) {
    if ((merged.get(peer)?.epoch ?? 0) < entry.epoch) merged.set(peer, entry);
  }
  await writeBanFile(file, merged);
  return restored.size;
}

/** True when a session failure carries a DKLs23 "ban the pair" verdict (in-process or from a worker). */
export function isPairBanVerdict(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 4; depth++) {
    if ((current as { banPair?: unknown } | null)?.banPair === true) return true;
    current = (current as { cause?: unknown } | null)?.cause;
  }
  return false;
}
