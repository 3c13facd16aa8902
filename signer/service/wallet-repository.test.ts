/**
 * Versioned wallet records for resharing, on a real share store in a temp dir: a staged
 * version is not current until activated; activation retires older versions; a leaving member
 * keeps only a share-less tombstone; a leftover staged version is replaced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ShareStore } from '../store/index.ts';
import type { WalletMetadata } from './wallet-record.ts';
import { WalletRepository } from './wallet-repository.ts';

const metadata = (version: number): WalletMetadata => ({
  walletId: 'wallet-1',
  keyType: 'ed25519',
  version,
  threshold: 1,
  committee: [
    { nodeId: 'a', partyId: 1 },
    { nodeId: 'b', partyId: 2 },
  ],
  publicKey: '11'.repeat(32),
});

describe('WalletRepository versions', () => {
  let dir: string;
  let store: ShareStore;
  let wallets: WalletRepository;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wallets-'));
    store = await ShareStore.open({ dataDir: dir, kek: new Uint8Array(32).fill(9) });
    wallets = new WalletRepository(store);
    await wallets.save({ metadata: metadata(1), share: Uint8Array.of(1, 1) });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a staged version stays invisible until activated; activation deletes older versions', async () => {
    await wallets.stage({ metadata: metadata(2), share: Uint8Array.of(2, 2) });
    expect((await wallets.load('wallet-1', 'ed25519'))?.metadata.version).toBe(1);
    await wallets.activate('wallet-1', 'ed25519', 2);
    const current = await wallets.load('wallet-1', 'ed25519');
    expect(current?.metadata.version).toBe(2);
    expect([...(current?.share ?? [])]).toEqual([2, 2]);
    expect(await store.listVersions('wallet-1', 'ed25519')).toEqual([2]);
  });

  it('replaces a leftover staged version and refuses to stage over the current one', async () => {
    await wallets.stage({ metadata: metadata(2), share: Uint8Array.of(7) });
    await wallets.stage({ metadata: metadata(2), share: Uint8Array.of(8) });
    await wallets.activate('wallet-1', 'ed25519', 2);
    expect([...((await wallets.load('wallet-1', 'ed25519'))?.share ?? [])]).toEqual([8]);
    await expect(wallets.stage({ metadata: metadata(2), share: Uint8Array.of(9) })).rejects.toThrow(
      /already current/,
    );
  });

  it('retiring leaves a share-less tombstone and deletes the old share', async () => {
    await wallets.retire(metadata(2));
    const tombstone = await wallets.load('wallet-1', 'ed25519');
    expect(tombstone?.metadata).toMatchObject({ version: 2, retired: true });
    expect(tombstone?.share.length).toBe(0);
    expect(await store.listVersions('wallet-1', 'ed25519')).toEqual([2]);
  });
});
