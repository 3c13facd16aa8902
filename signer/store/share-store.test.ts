import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFile,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, MpcError, ValidationError } from '../protocol/errors.ts';
import {
  DataCorruptionError,
  KeyAlreadyExistsError,
  KeyNotFoundError,
  ShareStore,
  StoreInitError,
  StoreWriteError,
  type ShareRef,
} from './index.ts';
import { exists } from './atomic-file.ts';
import { walletDirName, walletIdBytes } from './layout.ts';
import { deriveStoreKey, FORMAT_DATA_KEY, FORMAT_STORE_KEY, seal, unseal } from './seal.ts';

let parent: string;
let dataDir: string;
let kek: Uint8Array;
const open: ShareStore[] = [];

beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'share-store-'));
  dataDir = join(parent, 'data');
  kek = new Uint8Array(randomBytes(32));
});
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await rm(parent, { recursive: true, force: true });
});

async function openStore(
  options: { kek?: Uint8Array; cacheBytes?: number } = {},
): Promise<ShareStore> {
  const store = await ShareStore.open({
    dataDir,
    kek: options.kek ?? kek,
    ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }),
  });
  open.push(store);
  return store;
}

function shareFile(walletId: string, keyType: string, version: number): string {
  return join(
    dataDir,
    'shares',
    walletDirName(walletIdBytes(walletId)).name,
    keyType,
    `v${version}.share`,
  );
}

async function rejection(promise: Promise<unknown>): Promise<MpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MpcError);
    return error as MpcError;
  }
  throw new Error('expected a rejection');
}

const record = (text: string): Uint8Array => new TextEncoder().encode(text);
const ref = (
  walletId: string,
  version = 1,
  keyType: ShareRef['keyType'] = 'ed25519',
): ShareRef => ({
  walletId,
  keyType,
  version,
});

describe('ShareStore', () => {
  it('round-trips records per (wallet, key type, version) and leaves the input intact', async () => {
    const store = await openStore();
    const input = record('share-a-v1');
    await store.put(ref('a'), input);
    await store.put(ref('a', 2), record('share-a-v2'));
    await store.put(ref('a', 1, 'secp256k1'), record('share-a-ecdsa'));
    expect(input).toEqual(record('share-a-v1'));
    expect(await store.get(ref('a'))).toEqual(record('share-a-v1'));
    expect(await store.get(ref('a', 2))).toEqual(record('share-a-v2'));
    expect(await store.get(ref('a', 1, 'secp256k1'))).toEqual(record('share-a-ecdsa'));
    expect(await store.get(ref('a', 3))).toBeUndefined();
    expect(await store.get(ref('b'))).toBeUndefined();
    await store.put(ref('empty'), new Uint8Array(0));
    expect(await store.get(ref('empty'))).toEqual(new Uint8Array(0));
  });

  it('survives close and reopen, and stores nothing in plaintext', async () => {
    const store = await openStore();
    await store.put(ref('w'), record('secret-share-bytes'));
    await store.setCurrentVersion('w', 'ed25519', 1);
    await store.close();
    const file = await readFile(shareFile('w', 'ed25519', 1));
    expect(file.includes(Buffer.from('secret-share-bytes'))).toBe(false);
    expect((await stat(shareFile('w', 'ed25519', 1))).mode & 0o777).toBe(0o600);
    const again = await openStore();
    expect(await again.get(ref('w'))).toEqual(record('secret-share-bytes'));
    expect(await again.currentVersion('w', 'ed25519')).toBe(1);
  });

  it('refuses to overwrite a stored version', async () => {
    const store = await openStore();
    await store.put(ref('a'), record('first'));
    const error = await rejection(store.put(ref('a'), record('second')));
    expect(error).toBeInstanceOf(KeyAlreadyExistsError);
    expect(error.code).toBe(ErrorCode.KeyAlreadyExists);
    expect(await store.get(ref('a'))).toEqual(record('first'));
  });

  it('lets exactly one of many concurrent writers of one version win', async () => {
    const store = await openStore();
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => store.put(ref('race'), record(`writer-${i}`))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(KeyAlreadyExistsError);
    }
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.put(ref('many', i + 1), record(`v${i + 1}`))),
    );
    expect(await store.listVersions('many', 'ed25519')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Concurrent switches: whichever lands last is current, and no version older than it stays.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.setCurrentVersion('many', 'ed25519', i + 1)),
    );
    const current = (await store.currentVersion('many', 'ed25519'))!;
    const left = await store.listVersions('many', 'ed25519');
    expect(left[0]).toBe(current);
    for (const version of left) {
      expect(await store.get(ref('many', version))).toEqual(record(`v${version}`));
    }
  });

  it('keeps a current-version pointer that only points at stored versions', async () => {
    const store = await openStore();
    expect(await store.currentVersion('w', 'ed25519')).toBeUndefined();
    const missing = await rejection(store.setCurrentVersion('w', 'ed25519', 1));
    expect(missing).toBeInstanceOf(KeyNotFoundError);
    expect(missing.code).toBe(ErrorCode.KeyNotFound);
    await store.put(ref('w', 1), record('v1'));
    await store.put(ref('w', 2), record('v2'));
    await store.setCurrentVersion('w', 'ed25519', 1);
    expect(await store.currentVersion('w', 'ed25519')).toBe(1);
    expect(await store.currentVersion('w', 'secp256k1')).toBeUndefined();
    await store.setCurrentVersion('w', 'ed25519', 2);
    expect(await store.currentVersion('w', 'ed25519')).toBe(2);
  });

  it('ignores temp files left by a crash mid-write (pointer stays at the old version)', async () => {
    const store = await openStore();
    await store.put(ref('w', 1), record('v1'));
    await store.setCurrentVersion('w', 'ed25519', 1);
    const keyTypeDir = join(dataDir, 'shares', walletDirName(walletIdBytes('w')).name, 'ed25519');
    // What a crash between "write temp" and "rename" leaves behind: a partial temp file.
    await writeFile(join(keyTypeDir, '.tmp-0123456789abcdef'), Buffer.from('MPCS\x01partial'));
    await writeFile(join(dataDir, 'shares', '.tmp-fedcba9876543210'), 'x');
    expect(await store.currentVersion('w', 'ed25519')).toBe(1);
    expect(await store.listVersions('w', 'ed25519')).toEqual([1]);
    expect(await store.listWallets()).toEqual(['w']);
    await store.put(ref('w', 2), record('v2'));
    await store.setCurrentVersion('w', 'ed25519', 2);
    expect(await store.currentVersion('w', 'ed25519')).toBe(2);
  });

  describe('wallet ids', () => {
    const weird = [
      '../x',
      '../../etc/passwd',
      '.',
      '..',
      'a/b\\c',
      'naïve-wället-🚀',
      '\u0000nul',
      'x'.repeat(120),
      'y'.repeat(121),
      'é'.repeat(128), // 256 UTF-8 bytes
      'Wallet',
      'wallet', // distinct on case-insensitive file systems too
    ];

    it('maps any valid id to a file inside the store, reversibly', async () => {
      const store = await openStore();
      for (const [index, walletId] of weird.entries()) {
        await store.put(ref(walletId), record(`share-${index}`));
      }
      for (const [index, walletId] of weird.entries()) {
        expect(await store.get(ref(walletId))).toEqual(record(`share-${index}`));
        expect(await store.hasWallet(walletId)).toBe(true);
      }
      expect(await store.listWallets()).toEqual([...weird].sort());
      expect(await readdir(parent)).toEqual(['data']);
      expect((await readdir(dataDir)).sort()).toEqual(['shares', 'store.kek-check', 'store.lock']);
    });

    it.each([
      ['empty', ''],
      ['257 UTF-8 bytes', `${'é'.repeat(128)}x`],
      ['an unpaired surrogate', 'a\uD800b'],
    ])('rejects %s with a ValidationError', async (_name, walletId) => {
      const store = await openStore();
      const error = await rejection(store.put(ref(walletId), record('x')));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('wallet_id');
    });

    it('rejects bad key types and versions', async () => {
      const store = await openStore();
      await expect(
        store.put({ walletId: 'a', keyType: 'rsa' as 'ed25519', version: 1 }, record('x')),
      ).rejects.toThrow(ValidationError);
      for (const version of [-1, 1.5, 2 ** 32, Number.NaN]) {
        await expect(store.put(ref('a', version), record('x'))).rejects.toThrow(ValidationError);
      }
    });
  });

  describe('authenticated encryption', () => {
    it('binds each file to its wallet, key type and version (swapped files fail)', async () => {
      const store = await openStore();
      await store.put(ref('alice', 1), record('alice-v1'));
      await store.put(ref('alice', 2), record('alice-v2'));
      await store.put(ref('bob', 1), record('bob-v1'));
      await store.put(ref('alice', 1, 'secp256k1'), record('alice-ecdsa'));

      await copyFile(shareFile('alice', 'ed25519', 1), shareFile('bob', 'ed25519', 1));
      expect(await rejection(store.get(ref('bob', 1)))).toBeInstanceOf(DataCorruptionError);

      await copyFile(shareFile('alice', 'ed25519', 1), shareFile('alice', 'ed25519', 2));
      expect(await rejection(store.get(ref('alice', 2)))).toBeInstanceOf(DataCorruptionError);

      await copyFile(shareFile('alice', 'ed25519', 1), shareFile('alice', 'secp256k1', 1));
      const error = await rejection(store.get(ref('alice', 1, 'secp256k1')));
      expect(error.code).toBe(ErrorCode.DataCorruption);

      expect(await store.get(ref('alice', 1))).toEqual(record('alice-v1'));
    });

    it('binds pointers to their wallet and key type', async () => {
      const store = await openStore();
      for (const walletId of ['alice', 'bob']) {
        await store.put(ref(walletId, 1), record('1'));
        await store.put(ref(walletId, 2), record('2'));
      }
      await store.setCurrentVersion('alice', 'ed25519', 1);
      await store.setCurrentVersion('bob', 'ed25519', 2);
      const pointer = (walletId: string): string =>
        join(dataDir, 'shares', walletDirName(walletIdBytes(walletId)).name, 'ed25519', 'current');
      await copyFile(pointer('alice'), pointer('bob'));
      expect(await rejection(store.currentVersion('bob', 'ed25519'))).toBeInstanceOf(
        DataCorruptionError,
      );
    });

    it('detects a change of any single byte of a share file', async () => {
      const store = await openStore();
      await store.put(ref('t'), record('a share record of some length'));
      const path = shareFile('t', 'ed25519', 1);
      const original = await readFile(path);
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: original.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          async (position, xor) => {
            const tampered = Buffer.from(original);
            tampered[position]! ^= xor;
            await writeFile(path, tampered);
            const error = await rejection(store.get(ref('t')));
            expect(error.code).toBe(ErrorCode.DataCorruption);
          },
        ),
        { numRuns: 60 },
      );
      for (const length of [0, 5, 20, original.length - 1]) {
        await writeFile(path, original.subarray(0, length));
        expect(await rejection(store.get(ref('t')))).toBeInstanceOf(DataCorruptionError);
      }
      await writeFile(path, original);
      expect(await store.get(ref('t'))).toEqual(record('a share record of some length'));
    });

    it('refuses to open with a different KEK', async () => {
      const store = await openStore();
      await store.put(ref('w'), record('x'));
      await store.close();
      const error = await rejection(
        ShareStore.open({ dataDir, kek: new Uint8Array(randomBytes(32)) }),
      );
      expect(error).toBeInstanceOf(StoreInitError);
      expect(error.message).toContain('KEK');
      await openStore(); // the failed open released the lock
    });
  });

  describe('lock', () => {
    it('refuses a second open while the first is open, and allows it after close', async () => {
      const store = await openStore();
      const error = await rejection(ShareStore.open({ dataDir, kek }));
      expect(error).toBeInstanceOf(StoreInitError);
      expect(error.code).toBe(ErrorCode.StorageInit);
      await store.close();
      await store.close(); // idempotent
      await openStore();
    });

    it('refuses a lock held by another live process and takes it over once that process is dead', async () => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
        stdio: 'ignore',
      });
      try {
        const pid = child.pid!;
        const start = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined))
          ?.slice(0, undefined)
          .split(') ')[1]
          ?.split(' ')[19];
        await rm(dataDir, { recursive: true, force: true });
        await (await import('node:fs/promises')).mkdir(dataDir, { recursive: true });
        const owner = { pid, host: hostname(), ...(start === undefined ? {} : { start }) };
        await writeFile(join(dataDir, 'store.lock'), JSON.stringify(owner));
        const error = await rejection(ShareStore.open({ dataDir, kek }));
        expect(error).toBeInstanceOf(StoreInitError);
        expect(error.message).toContain(String(pid));
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await openStore();
      expect(JSON.parse(await readFile(join(dataDir, 'store.lock'), 'utf8'))).toMatchObject({
        pid: process.pid,
      });
    });

    it('takes over a lock left by an earlier incarnation with the same pid (container restart)', async () => {
      await (await import('node:fs/promises')).mkdir(dataDir, { recursive: true });
      await writeFile(
        join(dataDir, 'store.lock'),
        JSON.stringify({ pid: process.pid, host: hostname(), start: '1' }),
      );
      await openStore();
    });

    it('never takes over a lock written on another host', async () => {
      await (await import('node:fs/promises')).mkdir(dataDir, { recursive: true });
      await writeFile(
        join(dataDir, 'store.lock'),
        JSON.stringify({ pid: 999999, host: `${hostname()}-other` }),
      );
      expect(await rejection(ShareStore.open({ dataDir, kek }))).toBeInstanceOf(StoreInitError);
    });
  });

  describe('crypto-shredding of retired versions', () => {
    const keyFile = (walletId: string, version: number): string =>
      shareFile(walletId, 'ed25519', version).replace(/\.share$/, '.key');

    /** Every way the KEK could open a sealed share: its store key, and every data key left. */
    async function openWithAnyKey(sealed: Uint8Array, walletId: string, version: number) {
      const context = ['share', walletIdBytes(walletId), 'ed25519', version];
      const storeKey = deriveStoreKey(kek);
      const dataKeys: Uint8Array[] = [];
      for (const name of await readdir(join(shareFile(walletId, 'ed25519', 0), '..'))) {
        const match = /^v(\d+)\.key$/.exec(name);
        if (match === null) continue;
        const wrapped = await readFile(join(shareFile(walletId, 'ed25519', 0), '..', name));
        const keyContext = ['data-key', walletIdBytes(walletId), 'ed25519', Number(match[1])];
        dataKeys.push(unseal(storeKey, keyContext, wrapped, 'key'));
      }
      const opened: Uint8Array[] = [];
      for (const [key, format] of [
        [storeKey, FORMAT_STORE_KEY],
        ...dataKeys.map((k) => [k, FORMAT_DATA_KEY] as const),
      ] as const) {
        try {
          opened.push(unseal(key, context, sealed, 'share', format));
        } catch (error) {
          expect(error).toBeInstanceOf(DataCorruptionError);
        }
      }
      return { opened, dataKeys: dataKeys.length };
    }

    it('a superseded version cannot be opened from a later copy of its file, even with the KEK', async () => {
      const store = await openStore();
      await store.put(ref('w', 1), record('old-committee-share'));
      await store.setCurrentVersion('w', 'ed25519', 1);
      // A snapshot copy of v1's share, and a hard link to its key file (same blocks on disk).
      const snapshot = await readFile(shareFile('w', 'ed25519', 1));
      const keyBlocks = join(parent, 'key-blocks');
      await link(keyFile('w', 1), keyBlocks);
      const wrappedBefore = await readFile(keyBlocks);

      await store.put(ref('w', 2), record('new-committee-share'));
      await store.setCurrentVersion('w', 'ed25519', 2);

      expect(await store.listVersions('w', 'ed25519')).toEqual([2]);
      expect(await exists(keyFile('w', 1))).toBe(false);
      // The key's bytes were overwritten in place before the unlink.
      const wrappedAfter = await readFile(keyBlocks);
      expect(wrappedAfter.length).toBe(wrappedBefore.length);
      expect(wrappedAfter.equals(wrappedBefore)).toBe(false);
      expect(() =>
        unseal(
          deriveStoreKey(kek),
          ['data-key', walletIdBytes('w'), 'ed25519', 1],
          wrappedAfter,
          'k',
        ),
      ).toThrow(DataCorruptionError);
      // The share file put back where it was, as a snapshot taken after retirement has it.
      await writeFile(shareFile('w', 'ed25519', 1), snapshot);
      const error = await rejection(store.get(ref('w', 1)));
      expect(error).toBeInstanceOf(DataCorruptionError);
      expect(error.message).toContain('no data key');
      const attempt = await openWithAnyKey(snapshot, 'w', 1);
      expect(attempt.dataKeys).toBe(1); // v2's key was tried too
      expect(attempt.opened).toEqual([]);
      // The current version still opens, before and after a reopen.
      expect(await store.get(ref('w', 2))).toEqual(record('new-committee-share'));
      await store.close();
      const again = await openStore();
      expect(await again.get(ref('w', 2))).toEqual(record('new-committee-share'));
    });

    it('a deleted (retired) version is shredded the same way; newer staged versions are kept', async () => {
      const store = await openStore();
      for (const version of [1, 2, 3]) await store.put(ref('w', version), record(`v${version}`));
      await store.setCurrentVersion('w', 'ed25519', 2);
      expect(await store.listVersions('w', 'ed25519')).toEqual([2, 3]);
      const staged = await readFile(shareFile('w', 'ed25519', 3));
      expect(await store.deleteVersion(ref('w', 3))).toBe(true);
      expect(await exists(keyFile('w', 3))).toBe(false);
      await writeFile(shareFile('w', 'ed25519', 3), staged);
      expect(await rejection(store.get(ref('w', 3)))).toBeInstanceOf(DataCorruptionError);
      expect((await openWithAnyKey(staged, 'w', 3)).opened).toEqual([]);
      // A retired version cannot be made current again.
      expect(await rejection(store.setCurrentVersion('w', 'ed25519', 3))).toBeInstanceOf(
        KeyNotFoundError,
      );
      expect(await store.get(ref('w', 2))).toEqual(record('v2'));
    });

    it('seals each version under its own data key, in a file apart from the share', async () => {
      const store = await openStore();
      await store.put(ref('w', 1), record('same'));
      await store.put(ref('w', 2), record('same'));
      const share = await readFile(shareFile('w', 'ed25519', 1));
      expect(share[4]).toBe(FORMAT_DATA_KEY);
      expect(() =>
        unseal(deriveStoreKey(kek), ['share', walletIdBytes('w'), 'ed25519', 1], share, 's'),
      ).toThrow(DataCorruptionError);
      // Swapping the key files of two versions makes both fail: keys are bound to versions.
      const [k1, k2] = [await readFile(keyFile('w', 1)), await readFile(keyFile('w', 2))];
      await writeFile(keyFile('w', 1), k2);
      await writeFile(keyFile('w', 2), k1);
      expect(await rejection(store.get(ref('w', 1)))).toBeInstanceOf(DataCorruptionError);
      expect(await rejection(store.get(ref('w', 2)))).toBeInstanceOf(DataCorruptionError);
    });

    it('finishes a retirement a crash interrupted, and destroys keys without shares, at open', async () => {
      const store = await openStore();
      await store.put(ref('w', 1), record('v1'));
      await store.setCurrentVersion('w', 'ed25519', 1);
      const v1 = [await readFile(shareFile('w', 'ed25519', 1)), await readFile(keyFile('w', 1))];
      await store.put(ref('w', 2), record('v2'));
      await store.setCurrentVersion('w', 'ed25519', 2);
      await store.close();
      // The state a crash right after the pointer switch leaves: v1 complete, v2 current; plus
      // the key file a crash in the middle of a put leaves.
      await writeFile(shareFile('w', 'ed25519', 1), v1[0]!);
      await writeFile(keyFile('w', 1), v1[1]!);
      await writeFile(keyFile('w', 7), v1[1]!);
      const logged: unknown[] = [];
      const log = { info: (fields: object) => logged.push(fields), warn: () => undefined };
      const again = await ShareStore.open({ dataDir, kek, log });
      open.push(again);
      expect(logged).toEqual([{ migrated: 0, retired: 1, orphanKeys: 1 }]);
      expect(await again.listVersions('w', 'ed25519')).toEqual([2]);
      for (const version of [1, 7]) expect(await exists(keyFile('w', version))).toBe(false);
      expect(await again.get(ref('w', 2))).toEqual(record('v2'));
    });

    it('opens a store written by the earlier format (shares under the KEK) and migrates it', async () => {
      const fixture = JSON.parse(
        await readFile(join(import.meta.dirname, 'testdata', 'legacy-store-v1.json'), 'utf8'),
      ) as { kek: string; files: Record<string, string> };
      for (const [path, base64] of Object.entries(fixture.files)) {
        await mkdir(join(dataDir, path, '..'), { recursive: true });
        await writeFile(join(dataDir, path), Buffer.from(base64, 'base64'));
      }
      kek = new Uint8Array(Buffer.from(fixture.kek, 'hex'));
      const long = 'w'.repeat(150);
      const legacyShare = await readFile(shareFile('legacy-wallet', 'ed25519', 2));
      expect(legacyShare[4]).toBe(FORMAT_STORE_KEY);
      const logged: unknown[] = [];
      const log = { info: (fields: object) => logged.push(fields), warn: () => undefined };
      const store = await ShareStore.open({ dataDir, kek, log });
      open.push(store);
      // Four live versions migrated; v1, older than the current v2, was retired.
      expect(logged).toEqual([{ migrated: 4, retired: 1, orphanKeys: 0 }]);
      expect(await store.listWallets()).toEqual(['legacy-wallet', 'staged-only', long].sort());
      expect(await store.currentVersion('legacy-wallet', 'ed25519')).toBe(2);
      expect(await store.get(ref('legacy-wallet', 2))).toEqual(record('ed-v2'));
      expect(await store.get(ref('legacy-wallet', 1))).toBeUndefined();
      expect(await store.get(ref('legacy-wallet', 1, 'secp256k1'))).toEqual(record('ecdsa-v1'));
      expect(await store.currentVersion(long, 'ed25519')).toBe(0);
      expect(await store.get(ref(long, 0))).toEqual(record('long-v0'));
      expect(await store.currentVersion('staged-only', 'secp256k1')).toBeUndefined();
      expect(await store.get(ref('staged-only', 3, 'secp256k1'))).toEqual(record('staged-v3'));
      for (const [walletId, version] of [
        ['legacy-wallet', 2],
        [long, 0],
      ] as const) {
        expect((await readFile(shareFile(walletId, 'ed25519', version)))[4]).toBe(FORMAT_DATA_KEY);
      }
      // Migrated versions are shredded like any other: the next version retires v2 for good.
      const migrated = await readFile(shareFile('legacy-wallet', 'ed25519', 2));
      await store.put(ref('legacy-wallet', 3), record('ed-v3'));
      await store.setCurrentVersion('legacy-wallet', 'ed25519', 3);
      await writeFile(shareFile('legacy-wallet', 'ed25519', 2), migrated);
      expect(await rejection(store.get(ref('legacy-wallet', 2)))).toBeInstanceOf(
        DataCorruptionError,
      );
      expect((await openWithAnyKey(migrated, 'legacy-wallet', 2)).opened).toEqual([]);
      await store.deleteVersion(ref('legacy-wallet', 2));
      // A clean store reopens without any recovery work.
      await store.close();
      logged.length = 0;
      open.push(await ShareStore.open({ dataDir, kek, log }));
      expect(logged).toEqual([]);
    });

    it('opens despite foreign or damaged entries under shares/, reporting them', async () => {
      const store = await openStore();
      await store.put(ref('w', 1), record('v1'));
      await store.setCurrentVersion('w', 'ed25519', 1);
      await store.close();
      await writeFile(join(dataDir, 'shares', 'abcd'), 'a file where a directory belongs');
      const hashed = join(dataDir, 'shares', `h${'0'.repeat(64)}`);
      await mkdir(hashed);
      await writeFile(join(hashed, 'wallet-id'), `${Buffer.from('not this').toString('hex')}\n`);
      const warned: unknown[] = [];
      const log = { info: () => undefined, warn: (fields: object) => warned.push(fields) };
      const again = await ShareStore.open({ dataDir, kek, log });
      open.push(again);
      expect(warned).toEqual([{ directory: `h${'0'.repeat(64)}` }]);
      expect(await again.get(ref('w', 1))).toEqual(record('v1'));
    });

    it('still reads an earlier-format share that was not migrated (crash mid-migration)', async () => {
      const store = await openStore();
      await store.put(ref('w', 1), record('v1'));
      await store.setCurrentVersion('w', 'ed25519', 1);
      // What the earlier code wrote for v1, beside the key file a migration wrote first.
      const earlier = seal(
        deriveStoreKey(kek),
        ['share', walletIdBytes('w'), 'ed25519', 1],
        record('v1'),
      );
      await writeFile(shareFile('w', 'ed25519', 1), earlier);
      expect(await store.get(ref('w', 1))).toEqual(record('v1'));
    });
  });

  describe('listing and deleting', () => {
    it('lists versions, wallets and retires old versions but never the current one', async () => {
      const store = await openStore();
      const long = 'z'.repeat(200); // hashed directory
      for (const walletId of ['a', long]) {
        await store.put(ref(walletId, 1), record('1'));
        await store.put(ref(walletId, 2), record('2'));
        await store.setCurrentVersion(walletId, 'ed25519', 1);
      }
      expect(await store.listWallets()).toEqual(['a', long]);
      expect(await store.listVersions('a', 'ed25519')).toEqual([1, 2]);
      expect(await store.listVersions('a', 'secp256k1')).toEqual([]);
      expect(await store.hasWallet('nope')).toBe(false);

      const refused = await rejection(store.deleteVersion(ref('a', 1)));
      expect(refused).toBeInstanceOf(StoreWriteError);
      expect(await store.deleteVersion(ref('a', 2))).toBe(true);
      expect(await store.deleteVersion(ref('a', 2))).toBe(false);
      expect(await store.listVersions('a', 'ed25519')).toEqual([1]);
      expect(await store.get(ref('a', 2))).toBeUndefined();

      // A wallet without pointer whose last version goes disappears entirely, hashed or not.
      for (const walletId of ['gone', 'g'.repeat(150)]) {
        await store.put(ref(walletId, 1, 'secp256k1'), record('x'));
        expect(await store.hasWallet(walletId)).toBe(true);
        expect(await store.deleteVersion(ref(walletId, 1, 'secp256k1'))).toBe(true);
        expect(await store.hasWallet(walletId)).toBe(false);
      }
      expect(await store.listWallets()).toEqual(['a', long]);
      expect((await readdir(join(dataDir, 'shares'))).length).toBe(2);
    });

    it('rejects every operation after close', async () => {
      const store = await openStore();
      await store.close();
      expect(await rejection(store.get(ref('a')))).toBeInstanceOf(StoreInitError);
      expect(await rejection(store.put(ref('a'), record('x')))).toBeInstanceOf(StoreInitError);
      expect(await rejection(store.listWallets())).toBeInstanceOf(StoreInitError);
    });
  });
});

describe('ShareStore: the in-memory copy of authenticated files', () => {
  it('serves repeated reads of an authenticated version from memory until the wallet is written', async () => {
    const store = await openStore();
    await store.put(ref('w', 1), record('v1'));
    await store.setCurrentVersion('w', 'ed25519', 1);
    expect(await store.currentVersion('w', 'ed25519')).toBe(1);
    expect(await store.get(ref('w', 1))).toEqual(record('v1'));
    // A change on disk after the files were authenticated is not seen by this process…
    const path = shareFile('w', 'ed25519', 1);
    const original = await readFile(path);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 1;
    await writeFile(path, tampered);
    expect(await store.get(ref('w', 1))).toEqual(record('v1'));
    // …until the wallet is written: then the files are read and checked again.
    await store.put(ref('w', 2), record('v2'));
    expect(await rejection(store.get(ref('w', 1)))).toBeInstanceOf(DataCorruptionError);
    await writeFile(path, original);
    expect(await store.get(ref('w', 1))).toEqual(record('v1'));
    // …and a reopened store reads from disk.
    await writeFile(path, tampered);
    await store.close();
    const again = await openStore();
    expect(await rejection(again.get(ref('w', 1)))).toBeInstanceOf(DataCorruptionError);
  });

  it('never serves a retired version or a stale pointer from memory', async () => {
    const store = await openStore();
    await store.put(ref('w', 1), record('old'));
    await store.setCurrentVersion('w', 'ed25519', 1);
    expect(await store.get(ref('w', 1))).toEqual(record('old'));
    expect(await store.currentVersion('w', 'ed25519')).toBe(1);
    await store.put(ref('w', 2), record('new'));
    await store.setCurrentVersion('w', 'ed25519', 2);
    expect(await store.currentVersion('w', 'ed25519')).toBe(2);
    // v1's data key was destroyed on disk; its cached copy went with the same write.
    expect(await store.get(ref('w', 1))).toBeUndefined();
    await store.put(ref('w', 3), record('staged'));
    expect(await store.get(ref('w', 3))).toEqual(record('staged'));
    expect(await store.deleteVersion(ref('w', 3))).toBe(true);
    expect(await store.get(ref('w', 3))).toBeUndefined();
  });

  it('does not keep files that failed authentication, and keeps nothing with cacheBytes 0', async () => {
    const cached = await openStore();
    await cached.put(ref('w', 1), record('v1'));
    const path = shareFile('w', 'ed25519', 1);
    const original = await readFile(path);
    const tampered = Buffer.from(original);
    tampered[10]! ^= 1;
    await writeFile(path, tampered);
    expect(await rejection(cached.get(ref('w', 1)))).toBeInstanceOf(DataCorruptionError);
    await writeFile(path, original);
    expect(await cached.get(ref('w', 1))).toEqual(record('v1'));
    await cached.close();
    const uncached = await openStore({ cacheBytes: 0 });
    expect(await uncached.get(ref('w', 1))).toEqual(record('v1'));
    await writeFile(path, tampered);
    expect(await rejection(uncached.get(ref('w', 1)))).toBeInstanceOf(DataCorruptionError);
  });
});
