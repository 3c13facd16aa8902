import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportBackup, importBackup } from '../store/backup.ts';
import { ShareStore } from '../store/share-store.ts';
import {
  BACKUP_NAME_PATTERN,
  BackupAgent,
  MAX_REPORTS,
  backupDirectory,
  parseReports,
  planBackupWork,
  selectRestoreRequest,
  serialiseReports,
  signReports,
  verifyReports,
  type BackupReport,
  type ObservedBackup,
} from './backup-agent.ts';

const silent = { info: () => {}, warn: () => {} };
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const publicKeyHex = Buffer.from(
  publicKey.export({ format: 'der', type: 'spki' }).subarray(-32),
).toString('hex');
const identity = {
  cluster: 'ns/wallet',
  sign: (message: Uint8Array) => new Uint8Array(sign(null, message, privateKey)),
};
/** The reports of an annotation value, verified like the operator does. */
const verified = (value: string | undefined) =>
  parseReports(
    verifyReports(value, {
      cluster: 'ns/wallet',
      nodeId: 'wallet-signer-1',
      publicKey: publicKeyHex,
    }),
  );

describe('planBackupWork', () => {
  const backups: ObservedBackup[] = [
    { name: 'b-late', clusterName: 'wallet', creationTimestamp: '2026-01-02T00:00:00Z' },
    { name: 'b-early', clusterName: 'wallet', creationTimestamp: '2026-01-01T00:00:00Z' },
    { name: 'other', clusterName: 'other-cluster', creationTimestamp: '2025-01-01T00:00:00Z' },
    { name: 'nightly', clusterName: 'wallet', schedule: '0 2 * * *' },
    { name: 'done', clusterName: 'wallet', phase: 'Succeeded' },
    { name: 'failed', clusterName: 'wallet', phase: 'Failed' },
    { name: 'reported', clusterName: 'wallet', uid: 'u-r' },
    {
      name: 'recreated',
      clusterName: 'wallet',
      uid: 'u-new',
      creationTimestamp: '2026-01-03T00:00:00Z',
    },
    { name: 'Not.A.Label', clusterName: 'wallet' },
  ];

  it('exports the oldest pending one-off of this cluster, once', () => {
    const plan = planBackupWork({
      backups,
      cluster: 'wallet',
      reports: {
        reported: { uid: 'u-r', completedAt: 'x' },
        gone: { completedAt: 'x' },
        // A report of an earlier object of the same name does not count.
        recreated: { uid: 'u-old', completedAt: 'x' },
      },
      archives: ['reported', 'gone', 'done'],
    });
    expect(plan).toEqual({
      next: 'b-early',
      pending: 3,
      dropReports: ['gone'],
      deleteArchives: ['gone'],
    });
  });

  it('has nothing to do when everything is reported', () => {
    const plan = planBackupWork({
      backups: backups.slice(0, 2),
      cluster: 'wallet',
      reports: { 'b-early': { completedAt: 'x' }, 'b-late': { completedAt: 'y' } },
      archives: [],
    });
    expect(plan).toEqual({ pending: 0, dropReports: [], deleteArchives: [] });
  });
});

describe('backupDirectory (a backup name is a path component)', () => {
  it.each(['..', '.', '../x', 'a/b', '/abs', 'A', '', 'a..b', 'x'.repeat(64), '-a', 'a-', 'a\0b'])(
    'refuses %j',
    (name) => {
      expect(backupDirectory('/backups', name)).toBeUndefined();
      expect(BACKUP_NAME_PATTERN.test(name)).toBe(false);
    },
  );

  it('accepts a DNS label directly inside the backup directory', () => {
    expect(backupDirectory('/backups/', 'nightly-202612062200')).toBe(
      '/backups/nightly-202612062200',
    );
  });
});

describe('reports', () => {
  it('keeps at most MAX_REPORTS, newest first, and ignores malformed input', () => {
    const many: Record<string, BackupReport> = {};
    for (let i = 0; i < MAX_REPORTS + 10; i++) {
      many[`b-${String(i).padStart(3, '0')}`] = {
        completedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
        error: 'x',
      };
    }
    const kept = parseReports(serialiseReports(many));
    expect(Object.keys(kept)).toHaveLength(MAX_REPORTS);
    expect(kept['b-000']).toBeUndefined();
    expect(kept[`b-${String(MAX_REPORTS + 9).padStart(3, '0')}`]).toBeDefined();
    expect(parseReports('not json')).toEqual({});
    expect(parseReports('[1]')).toEqual({});
    expect(parseReports('{"../x":{"completedAt":"t"},"ok":{"completedAt":"t"}}')).toEqual({
      ok: { completedAt: 't' },
    });
  });
});

describe('signed reports', () => {
  it('verify only under the pinned key, for this cluster and node, unaltered', () => {
    const json = serialiseReports({ b1: { uid: 'u', completedAt: 't', sha256: 'ab'.repeat(32) } });
    const value = signReports(json, { ...identity, nodeId: 'wallet-signer-1' });
    const expected = { cluster: 'ns/wallet', nodeId: 'wallet-signer-1', publicKey: publicKeyHex };
    expect(verifyReports(value, expected)).toBe(json);
    // Another signer cannot pass its own signed reports off as this one's.
    expect(verifyReports(value, { ...expected, nodeId: 'wallet-signer-2' })).toBeUndefined();
    expect(verifyReports(value, { ...expected, cluster: 'ns/other' })).toBeUndefined();
    expect(verifyReports(value.replace('"u"', '"v"'), expected)).toBeUndefined();
    expect(verifyReports(json, expected)).toBeUndefined();
    expect(verifyReports(value, { ...expected, publicKey: 'cd'.repeat(32) })).toBeUndefined();
    expect(verifyReports(value, { ...expected, publicKey: undefined })).toBeUndefined();
  });
});

describe('selectRestoreRequest', () => {
  const base = { clusterName: 'wallet', phase: 'Succeeded' };
  it('finds the one backup naming this node, refuses ambiguity and unfinished backups', () => {
    expect(selectRestoreRequest([{ name: 'a', ...base }], 'wallet', 'wallet-signer-2')).toBe(
      undefined,
    );
    const asked = { name: 'a', ...base, restoreNodes: ['wallet-signer-2'] };
    expect(selectRestoreRequest([asked], 'wallet', 'wallet-signer-2')).toBe('a');
    expect(selectRestoreRequest([asked], 'other', 'wallet-signer-2')).toBe(undefined);
    expect(() =>
      selectRestoreRequest([asked, { ...asked, name: 'b' }], 'wallet', 'wallet-signer-2'),
    ).toThrow(/several/);
    expect(() =>
      selectRestoreRequest([{ ...asked, phase: 'Failed' }], 'wallet', 'wallet-signer-2'),
    ).toThrow(/Failed/);
  });
});

describe('BackupAgent on a real store', () => {
  let root: string;
  let store: ShareStore;
  const backupKey = new Uint8Array(randomBytes(32));

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'backup-agent-'));
    store = await ShareStore.open({
      dataDir: join(root, 'data'),
      kek: new Uint8Array(randomBytes(32)),
    });
    await store.put({ walletId: 'w1', keyType: 'ed25519', version: 1 }, randomBytes(100));
    await store.setCurrentVersion('w1', 'ed25519', 1);
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  function agent(backups: () => ObservedBackup[], maxArchives = 4, initial?: string) {
    const published: string[] = [];
    let current: string | undefined = initial;
    const instance = new BackupAgent({
      nodeId: 'wallet-signer-1',
      cluster: 'wallet',
      config: {
        dir: join(root, 'backups'),
        keyFile: '/nonexistent',
        pollIntervalMs: 1000,
        maxArchives,
      },
      listBackups: async () => backups(),
      currentReports: () => current,
      publishReports: async (value) => {
        published.push(value);
        current = value;
      },
      exportArchive: (outFile, key) => exportBackup(store, outFile, key, { nodeId: 'n' }),
      readBackupKey: () => backupKey.slice(),
      identity,
      log: silent,
    });
    return { instance, published, reports: () => verified(current) };
  }

  it('writes <dir>/<backup>/<node>.mpcbak, reports its sha256 once, deletes it with its object', async () => {
    let list: ObservedBackup[] = [{ name: 'b1', clusterName: 'wallet', uid: 'u1' }];
    const { instance, published, reports } = agent(() => list);
    expect(await instance.pollOnce()).toEqual({ exported: 'b1', pending: 1 });
    const file = join(root, 'backups', 'b1', 'wallet-signer-1.mpcbak');
    const bytes = await readFile(file);
    expect(reports()['b1']).toMatchObject({
      uid: 'u1',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      wallets: 1,
      shares: 1,
    });
    // The archive restores.
    const target = await ShareStore.open({
      dataDir: join(root, 'restored'),
      kek: new Uint8Array(randomBytes(32)),
    });
    await importBackup(file, target, backupKey);
    expect(await target.listWallets()).toEqual(['w1']);
    await target.close();

    expect(await instance.pollOnce()).toEqual({ pending: 0 });
    expect(published).toHaveLength(1);
    // A restarted signer resumes from the reports on its Lease: no second export.
    const restarted = agent(() => list, 4, published[0]);
    expect(await restarted.instance.pollOnce()).toEqual({ pending: 0 });
    expect(restarted.published).toEqual([]);

    list = [];
    await instance.pollOnce();
    expect(await readdir(join(root, 'backups'))).toEqual([]);
    expect(reports()).toEqual({});
  });

  it('bounds the archives it keeps: a backup beyond backup.max_archives fails without writing', async () => {
    const list: ObservedBackup[] = ['a', 'b', 'c'].map((name, i) => ({
      name,
      clusterName: 'wallet',
      creationTimestamp: `2026-01-0${i + 1}T00:00:00Z`,
    }));
    const { instance, reports } = agent(() => list, 2);
    for (let i = 0; i < 3; i++) await instance.pollOnce();
    expect(reports()['a']?.sha256).toBeDefined();
    expect(reports()['b']?.sha256).toBeDefined();
    expect(reports()['c']?.error).toMatch(/max_archives 2/);
    expect((await readdir(join(root, 'backups'))).sort()).toEqual(['a', 'b']);
  });

  it('never writes outside the backup directory, whatever name the API returns', async () => {
    const evil = ['..', '../escape', 'a/../../escape', '/tmp/escape', 'UPPER'];
    const { instance, published } = agent(() =>
      evil.map((name) => ({ name, clusterName: 'wallet' })),
    );
    expect(await instance.pollOnce()).toEqual({ pending: 0 });
    expect(published).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(['data']);
  });

  it('reports a failed export (no backup key) without a secret and writes nothing', async () => {
    await writeFile(join(root, 'key'), 'short');
    const published: string[] = [];
    const instance = new BackupAgent({
      nodeId: 'wallet-signer-1',
      cluster: 'wallet',
      config: {
        dir: join(root, 'backups'),
        keyFile: join(root, 'key'),
        pollIntervalMs: 1000,
        maxArchives: 4,
      },
      listBackups: async () => [{ name: 'b1', clusterName: 'wallet' }],
      currentReports: () => undefined,
      publishReports: async (value) => {
        published.push(value);
      },
      exportArchive: (outFile, key) => exportBackup(store, outFile, key),
      identity,
      log: silent,
    });
    await instance.pollOnce();
    expect(verified(published[0])['b1']?.error).toMatch(/backup\.key_file/);
    expect(await readdir(join(root, 'backups', 'b1'))).toEqual([]);
  });
});
