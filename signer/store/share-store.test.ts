import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, copyFile } from 'node:fs/promises';
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
import { walletDirName, walletIdBytes } from './layout.ts';

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

async function openStore(options: { kek?: Uint8Array } = {}): Promise<ShareStore> {
  const store = await ShareStore.open({ dataDir, kek: options.kek ?? kek });
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
      Array.from({ length: 10 }, (_, i) =>
        store
          .put(ref('many', i + 1), record(`v${i + 1}`))
          .then(() => store.setCurrentVersion('many', 'ed25519', i + 1)),
      ),
    );
    expect(await store.listVersions('many', 'ed25519')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
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

  describe('listing and deleting', () => {
    it('lists versions, wallets and retires old versions but never the current one', async () => {
      const store = await openStore();
      const long = 'z'.repeat(200); // hashed directory
      for (const walletId of ['a', long]) {
        await store.put(ref(walletId, 1), record('1'));
        await store.put(ref(walletId, 2), record('2'));
        await store.setCurrentVersion(walletId, 'ed25519', 2);
      }
      expect(await store.listWallets()).toEqual(['a', long]);
      expect(await store.listVersions('a', 'ed25519')).toEqual([1, 2]);
      expect(await store.listVersions('a', 'secp256k1')).toEqual([]);
      expect(await store.hasWallet('nope')).toBe(false);

      const refused = await rejection(store.deleteVersion(ref('a', 2)));
      expect(refused).toBeInstanceOf(StoreWriteError);
      expect(await store.deleteVersion(ref('a', 1))).toBe(true);
      expect(await store.deleteVersion(ref('a', 1))).toBe(false);
      expect(await store.listVersions('a', 'ed25519')).toEqual([2]);
      expect(await store.get(ref('a', 1))).toBeUndefined();

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
