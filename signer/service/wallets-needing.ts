/**
 * Which wallets still need a node (issue 14 item 3): the operator asks every signer that stays
 * before a scale-down removes a signer (operator/controller/signer-wallets.ts, over `GET
 * /wallets/needing`). A wallet key needs node X when this signer's current record for it,
 * current share or share-less tombstone (both name the wallet's current committee), lists X in
 * its committee. Read-only; each record's share is wiped as soon as it is decoded. Only ids and
 * key types leave this module, never shares or public keys. Cost: one decrypt per wallet key.
 */
import { KEY_TYPES, type KeyType } from '../protocol/messages.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import type { WalletRecord } from './wallet-record.ts';

export interface WalletsNeedingSources {
  listWallets(): Promise<string[]>;
  load(walletId: string, keyType: KeyType): Promise<WalletRecord | undefined>;
}

export interface WalletsNeeding {
  /** Wallet keys whose committee includes the node (all of them, not only those listed). */
  readonly count: number;
  /** The first `limit` of them, sorted by wallet id then key type. */
  readonly wallets: ReadonlyArray<{ readonly walletId: string; readonly keyType: KeyType }>;
}

export async function walletsNeedingNode(
  sources: WalletsNeedingSources,
  node: string,
  limit: number,
): Promise<WalletsNeeding> {
  const found: Array<{ walletId: string; keyType: KeyType }> = [];
  for (const walletId of [...(await sources.listWallets())].sort()) {
    for (const keyType of KEY_TYPES) {
      const record = await sources.load(walletId, keyType);
      if (record === undefined) continue;
      wipeBytes(record.share);
      if (record.metadata.committee.some((member) => member.nodeId === node))
        found.push({ walletId, keyType });
    }
  }
  return { count: found.length, wallets: found.slice(0, Math.max(0, limit)) };
}
