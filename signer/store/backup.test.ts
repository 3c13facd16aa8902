import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import {
  DataCorruptionError,
  exportBackup,
  importBackup,
  KeyAlreadyExistsError,
  ShareStore,
  StoreReadError,
  StoreWriteError,
} from './index.ts';
import { FORMAT_DATA_KEY } from './seal.ts';
import {
  loadOrCreateIdentity,
  readIdentitySeedForBackup,
  restoreIdentitySeed,
} from '../identity/node-identity.ts';
import { IdentityFileError } from '../identity/errors.ts';
import {
  PeerBans,
  PeerBansFileError,
  readPeerBansForBackup,
  restorePeerBans,
} from '../service/peer-bans.ts';

let dir: string;
const stores: ShareStore[] = [];
const backupKey = new Uint8Array(randomBytes(32));
const record = (text: string): Uint8Array => new TextEncoder().encode(text);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'share-backup-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function openStore(name: string): Promise<ShareStore> {
  const store = await ShareStore.open({
    dataDir: join(dir, name),
    kek: new Uint8Array(randomBytes(32)),
  });
  stores.push(store);
  return store;
}

async function populatedStore(): Promise<ShareStore> {
  const store = await openStore('source');
  await store.put({ walletId: 'w1', keyType: 'ed25519', version: 1 }, record('w1-ed-1'));
  await store.setCurrentVersion('w1', 'ed25519', 1);
  // Staged (a reshare not yet committed): newer than the current version, so exported.
  await store.put({ walletId: 'w1', keyType: 'ed25519', version: 2 }, record('w1-ed-2'));
  await store.put({ walletId: 'w1', keyType: 'secp256k1', version: 1 }, randomBytes(5000));
  await store.setCurrentVersion('w1', 'secp256k1', 1);
  await store.put({ walletId: '../ü'.repeat(20), keyType: 'ed25519', version: 0 }, record('odd'));
  return store;
}

async function snapshot(store: ShareStore): Promise<unknown> {
  const result: Record<string, unknown> = {};
  for (const walletId of await store.listWallets()) {
    for (const keyType of ['ed25519', 'secp256k1'] as const) {
      for (const version of await store.listVersions(walletId, keyType)) {
        const bytes = await store.get({ walletId, keyType, version });
        result[`${walletId}/${keyType}/${version}`] = Buffer.from(bytes!).toString('hex');
      }
      result[`${walletId}/${keyType}/current`] = await store.currentVersion(walletId, keyType);
    }
  }
  return result;
}

describe('backup archive', () => {
  it('reports unusable paths with typed errors', async () => {
    const source = await populatedStore();
    await expect(exportBackup(source, join(dir, 'missing', 'b'), backupKey)).rejects.toThrow(
      StoreWriteError,
    );
    await expect(importBackup(join(dir, 'absent'), source, backupKey)).rejects.toThrow(
      StoreReadError,
    );
  });

  it('restores every share and pointer into a store with another KEK', async () => {
    const source = await populatedStore();
    const archive = join(dir, 'backup.mpcbak');
    const exported = await exportBackup(source, archive, backupKey);
    expect(exported).toMatchObject({ wallets: 2, shares: 4, pointers: 2, identity: false });
    const bytes = await readFile(archive);
    expect(exported.bytes).toBe(bytes.length);
    expect(exported.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect((await stat(archive)).mode & 0o777).toBe(0o600);
    expect((await readFile(archive)).includes(Buffer.from('w1-ed-1'))).toBe(false);
    const target = await openStore('target');
    expect(await importBackup(archive, target, backupKey)).toEqual({
      wallets: 2,
      shares: 4,
      pointers: 2,
      identity: false,
      peerBans: false,
    });
    expect(await snapshot(target)).toEqual(await snapshot(source));
    // Re-importing the same archive is harmless.
    await importBackup(archive, target, backupKey);
    expect(await snapshot(target)).toEqual(await snapshot(source));
  });

  it('restores into a data directory given as { dataDir, kek }, releasing its lock', async () => {
    const source = await populatedStore();
    const archive = join(dir, 'backup.mpcbak');
    await exportBackup(source, archive, backupKey);
    const kek = new Uint8Array(randomBytes(32));
    const dataDir = join(dir, 'restored');
    expect(await importBackup(archive, { dataDir, kek }, backupKey)).toMatchObject({ shares: 4 });
    const restored = await ShareStore.open({ dataDir, kek });
    stores.push(restored);
    expect(await snapshot(restored)).toEqual(await snapshot(source));
  });

  it('backup, reshare, restore, load: archives hold no retired version, and are re-sealed', async () => {
    const source = await openStore('source');
    const w = { walletId: 'w', keyType: 'secp256k1' } as const;
    await source.put({ ...w, version: 1 }, record('old-committee'));
    await source.setCurrentVersion('w', 'secp256k1', 1);
    const before = join(dir, 'before-reshare.mpcbak');
    await exportBackup(source, before, backupKey);
    const sourceDir = join(dir, 'source', 'shares', Buffer.from('w').toString('hex'), w.keyType);
    const v1 = await Promise.all(['v1.share', 'v1.key'].map((f) => readFile(join(sourceDir, f))));
    await source.put({ ...w, version: 2 }, record('new-committee'));
    await source.setCurrentVersion('w', 'secp256k1', 2);
    // Even a retired version left whole (a crash before its retirement) is not exported.
    await writeFile(join(sourceDir, 'v1.share'), v1[0]!);
    await writeFile(join(sourceDir, 'v1.key'), v1[1]!);
    const after = join(dir, 'after-reshare.mpcbak');
    expect(await exportBackup(source, after, backupKey)).toMatchObject({
      wallets: 1,
      shares: 1,
      pointers: 1,
    });

    const restored = await openStore('restored');
    expect(await importBackup(after, restored, backupKey)).toMatchObject({ shares: 1 });
    expect(await restored.listVersions('w', 'secp256k1')).toEqual([2]);
    expect(await restored.currentVersion('w', 'secp256k1')).toBe(2);
    expect(await restored.get({ ...w, version: 2 })).toEqual(record('new-committee'));
    // Sealed under a data key of the restored store, not carried over from the source.
    const keyTypeDir = join(dir, 'restored', 'shares', Buffer.from('w').toString('hex'), w.keyType);
    expect((await readdir(keyTypeDir)).sort()).toEqual(['current', 'v2.key', 'v2.share']);
    expect((await readFile(join(keyTypeDir, 'v2.share')))[4]).toBe(FORMAT_DATA_KEY);

    // The archive from before the reshare still holds the old committee's share (README).
    const old = await openStore('old');
    await importBackup(before, old, backupKey);
    expect(await old.get({ ...w, version: 1 })).toEqual(record('old-committee'));
    // Restoring the newer archive over it retires that share for good.
    await importBackup(after, old, backupKey);
    expect(await old.listVersions('w', 'secp256k1')).toEqual([2]);
    expect(await old.get({ ...w, version: 1 })).toBeUndefined();
  });

  it('refuses to overwrite an existing archive and leaves no temp file', async () => {
    const source = await populatedStore();
    const archive = join(dir, 'backup.mpcbak');
    await writeFile(archive, 'existing');
    await expect(exportBackup(source, archive, backupKey)).rejects.toThrow(StoreWriteError);
    expect(await readFile(archive, 'utf8')).toBe('existing');
    expect((await readdir(dir)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('writes nothing when the archive fails authentication anywhere', async () => {
    const source = await populatedStore();
    const archive = join(dir, 'backup.mpcbak');
    await exportBackup(source, archive, backupKey);
    const original = await readFile(archive);
    const target = await openStore('target');

    const wrongKey = await importBackup(archive, target, new Uint8Array(randomBytes(32))).catch(
      (e: unknown) => e,
    );
    expect(wrongKey).toBeInstanceOf(DataCorruptionError);
    expect((wrongKey as DataCorruptionError).code).toBe(ErrorCode.DataCorruption);

    const variants: Record<string, Buffer> = {
      'last byte flipped': Buffer.concat([
        original.subarray(0, -1),
        Buffer.of(original.at(-1)! ^ 1),
      ]),
      'salt flipped': Buffer.concat([
        original.subarray(0, 10),
        Buffer.of(original[10]! ^ 1),
        original.subarray(11),
      ]),
      'final frame cut off': original.subarray(0, original.length - (4 + 9 + 16)),
      'truncated mid-frame': original.subarray(0, original.length - 3),
      'trailing data': Buffer.concat([original, Buffer.of(0)]),
      'not an archive': Buffer.from('hello world, definitely not a backup archive'),
    };
    for (const [name, bytes] of Object.entries(variants)) {
      await writeFile(archive, bytes);
      const error = await importBackup(archive, target, backupKey).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(DataCorruptionError);
    }
    expect(await target.listWallets()).toEqual([]);
  });

  it('refuses to replace a different share already present in the target', async () => {
    const source = await populatedStore();
    const archive = join(dir, 'backup.mpcbak');
    await exportBackup(source, archive, backupKey);
    const target = await openStore('target');
    await target.put({ walletId: 'w1', keyType: 'ed25519', version: 1 }, record('different'));
    await expect(importBackup(archive, target, backupKey)).rejects.toThrow(KeyAlreadyExistsError);
    expect(await target.get({ walletId: 'w1', keyType: 'ed25519', version: 1 })).toEqual(
      record('different'),
    );
  });
});

describe('origin, identity and online exports (format 2)', () => {
  it('carries the node id and identity seed; a restore keeps the identity key and refuses another node', async () => {
    const source = await populatedStore();
    const identity = await loadOrCreateIdentity({ dataDir: join(dir, 'source'), nodeId: 'n-1' });
    const seed = await readIdentitySeedForBackup({ dataDir: join(dir, 'source'), nodeId: 'n-1' });
    const archive = join(dir, 'n-1.mpcbak');
    expect(
      await exportBackup(source, archive, backupKey, { nodeId: 'n-1', identitySeed: seed! }),
    ).toMatchObject({ identity: true, shares: 4 });
    // The seed is encrypted like the shares.
    expect((await readFile(archive)).includes(Buffer.from(seed!))).toBe(false);

    // Another node's archive is refused before anything is written.
    const other = await openStore('other');
    const refused = await importBackup(archive, other, backupKey, { expectNodeId: 'n-2' }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StoreWriteError);
    expect(String(refused)).toContain('"n-1"');
    expect(await other.listWallets()).toEqual([]);

    const target = await openStore('target');
    const restoredTo = { dataDir: join(dir, 'target'), nodeId: 'n-1' };
    expect(
      await importBackup(archive, target, backupKey, {
        expectNodeId: 'n-1',
        restoreIdentity: async (nodeId, bytes) => {
          await restoreIdentitySeed({ ...restoredTo, nodeId }, bytes);
        },
      }),
    ).toMatchObject({ nodeId: 'n-1', identity: true, shares: 4 });
    const restored = await loadOrCreateIdentity(restoredTo);
    expect(restored.publicKey).toEqual(identity.publicKey);
    expect(await snapshot(target)).toEqual(await snapshot(source));
  });

  it('carries the peer bans; a restore keeps the higher epoch of each peer and never lowers one', async () => {
    const source = await populatedStore();
    const sourceBans = await PeerBans.load(join(dir, 'source'));
    await sourceBans.ban('mallory', 'DKLS23_OTE_CHECK_FAILED');
    await sourceBans.ban('mallory', 'DKLS23_OTE_CHECK_FAILED');
    await sourceBans.ban('eve', 'DKLS23_OTE_CHECK_FAILED');
    const peerBans = await readPeerBansForBackup(join(dir, 'source'));
    const archive = join(dir, 'bans.mpcbak');
    expect(
      await exportBackup(source, archive, backupKey, { nodeId: 'n-1', peerBans: peerBans! }),
    ).toMatchObject({ peerBans: true, shares: 4 });

    // The target already banned eve twice (after the backup) and never saw mallory.
    const target = await openStore('target');
    const targetBans = await PeerBans.load(join(dir, 'target'));
    await targetBans.ban('eve', 'DKLS23_OTE_CHECK_FAILED');
    await targetBans.ban('eve', 'DKLS23_OTE_CHECK_FAILED');
    expect(
      await importBackup(archive, target, backupKey, {
        restorePeerBans: (bytes) => restorePeerBans(join(dir, 'target'), bytes).then(() => {}),
      }),
    ).toMatchObject({ peerBans: true, shares: 4 });
    const restored = await PeerBans.load(join(dir, 'target'));
    expect(restored.epochOf('mallory')).toBe(2);
    expect(restored.epochOf('eve')).toBe(2);
    // A restore without the callback (or an archive without bans) writes no bans.
    const plain = await openStore('plain');
    expect(await importBackup(archive, plain, backupKey)).toMatchObject({ peerBans: false });
    expect((await PeerBans.load(join(dir, 'plain'))).list()).toEqual([]);
    // Unreadable archived bans are refused, and the file already there stays.
    await expect(
      restorePeerBans(join(dir, 'target'), new TextEncoder().encode('{"version":2,"bans":[]}')),
    ).rejects.toBeInstanceOf(PeerBansFileError);
    expect((await PeerBans.load(join(dir, 'target'))).epochOf('mallory')).toBe(2);
  });

  it('never replaces an identity key the target already has', async () => {
    const location = { dataDir: join(dir, 'victim'), nodeId: 'n-1' };
    const existing = await loadOrCreateIdentity(location);
    const error = await restoreIdentitySeed(location, new Uint8Array(randomBytes(32))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdentityFileError);
    expect((await loadOrCreateIdentity(location)).publicKey).toEqual(existing.publicKey);
    // The same key again is harmless (a re-run of a restore).
    const seed = await readIdentitySeedForBackup(location);
    expect(await restoreIdentitySeed(location, seed!)).toBe(
      Buffer.from(existing.publicKey).toString('hex'),
    );
  });

  it('reads one consistent state of a wallet while a reshare switches versions during the export', async () => {
    const source = await openStore('live');
    const w = { walletId: 'w', keyType: 'secp256k1' as const };
    await source.put({ ...w, version: 1 }, record('v1'));
    await source.setCurrentVersion('w', 'secp256k1', 1);
    // A reshare of the wallet starts right after the export read its pointer: it must wait
    // until the wallet is exported, not retire v1 under the export's feet.
    let reshare: Promise<void> | undefined;
    const currentVersion = source.currentVersion.bind(source);
    source.currentVersion = async (walletId, keyType) => {
      const current = await currentVersion(walletId, keyType);
      if (walletId === 'w' && keyType === 'secp256k1' && reshare === undefined) {
        reshare = (async () => {
          await source.put({ ...w, version: 2 }, record('v2'));
          await source.setCurrentVersion('w', 'secp256k1', 2);
        })();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return current;
    };
    const archive = join(dir, 'live.mpcbak');
    await exportBackup(source, archive, backupKey);
    await reshare;
    expect(await currentVersion('w', 'secp256k1')).toBe(2);
    const target = await openStore('restored');
    await importBackup(archive, target, backupKey);
    expect(await target.currentVersion('w', 'secp256k1')).toBe(1);
    expect(await target.get({ ...w, version: 1 })).toEqual(record('v1'));
  });
});
