/**
 * Peers this signer refuses to run DKLs23 with (design §6, crypto.md §6.2 "ban"). A failed
 * OT-extension, RVOLE or Γ check is what a cheating counterparty would cause while probing
 * the pairwise OT secrets: every retry could leak another bit of the key, so the pair is
 * never used again until an administrator clears the ban (delete the entry from
 * `<data_dir>/peer-bans.json` with the signer stopped). Bans survive restarts.
 */
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../store/atomic-file.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';

export const PEER_BANS_FILE = 'peer-bans.json';

/** A session needs a peer this signer has banned. */
export class BannedPeerError extends MpcError {
  readonly peer: string;

  constructor(peer: string) {
    super(
      ErrorCode.IncompatiblePeerIds,
      `peer ${peer} is banned for ECDSA sessions after a failed consistency check`,
    );
    this.peer = peer;
  }
}

interface BanEntry {
  readonly since: string;
  readonly reason: string;
}

export class PeerBans {
  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, BanEntry>,
  ) {}

  static async load(dataDir: string): Promise<PeerBans> {
    const file = join(dataDir, PEER_BANS_FILE);
    const bytes = await readFileIfExists(file);
    const entries = new Map<string, BanEntry>();
    if (bytes !== undefined) {
      const parsed = JSON.parse(bytes.toString('utf8')) as { bans?: Record<string, BanEntry> };
      for (const [peer, entry] of Object.entries(parsed.bans ?? {})) entries.set(peer, entry);
    }
    return new PeerBans(file, entries);
  }

  isBanned(peer: string): boolean {
    return this.entries.has(peer);
  }

  /** Throws `BannedPeerError` for the first banned peer among `peers`. */
  assertUsable(peers: readonly string[]): void {
    for (const peer of peers) if (this.entries.has(peer)) throw new BannedPeerError(peer);
  }

  list(): string[] {
    return [...this.entries.keys()];
  }

  /** Records the ban durably; `reason` is an error code, never secret material. */
  async ban(peer: string, reason: string): Promise<void> {
    if (this.entries.has(peer)) return;
    this.entries.set(peer, { since: new Date().toISOString(), reason });
    const body = JSON.stringify({ version: 1, bans: Object.fromEntries(this.entries) }, null, 2);
    await writeFileAtomic(this.file, new TextEncoder().encode(body), { overwrite: true });
  }
}

/** True when a session failure carries a DKLs23 "ban the pair" verdict (in-process or from a worker). */
export function isPairBanVerdict(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 4; depth++) {
    if ((current as { banPair?: unknown } | null)?.banPair === true) return true;
    current = (current as { cause?: unknown } | null)?.cause;
  }
  return false;
}
