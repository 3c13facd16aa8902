import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolViolationError } from '../session/errors.ts';
import {
  BannedPeerError,
  PEER_BANS_FILE,
  PeerBans,
  PeerBansFileError,
  isPairBanVerdict,
} from './peer-bans.ts';

describe('PeerBans', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'bans-'));
    dirs.push(dir);
    return dir;
  };

  it('burns every pair with the peer created before its last ban; fresh state is usable', async () => {
    const dir = tempDir();
    const bans = await PeerBans.load(dir);
    const old = { walletId: 'w1', pairEpochs: { b: 0, c: 0 } };
    const unstamped = { walletId: 'w2' };
    expect(bans.isPairUsable('b', old)).toBe(true);
    expect(bans.isPairUsable('b', unstamped)).toBe(true);
    await bans.ban('b', 'DKLS23_OTE_CHECK_FAILED');
    expect(bans.isBanned('b')).toBe(true);
    expect(bans.isPairUsable('b', old)).toBe(false);
    expect(bans.isPairUsable('b', unstamped)).toBe(false);
    expect(bans.isPairUsable('c', old)).toBe(true);
    expect(() => bans.assertPairsUsable(['c', 'b'], old)).toThrow(BannedPeerError);
    expect(() => bans.assertPairsUsable(['c', 'b'], old)).toThrow(/wallet w1 is burned.*refresh/);
    // A refresh stamps the new state with the current epoch.
    const refreshed = { walletId: 'w1', pairEpochs: bans.pairEpochsFor(['b', 'c']) };
    expect(refreshed.pairEpochs).toEqual({ b: 1, c: 0 });
    expect(() => bans.assertPairsUsable(['b', 'c'], refreshed)).not.toThrow();
    // A second ban burns the refreshed state too.
    await bans.ban('b', 'DKLS23_GAMMA_CHECK_FAILED');
    expect(bans.isPairUsable('b', refreshed)).toBe(false);
    const reloaded = await PeerBans.load(dir);
    expect(reloaded.list()).toEqual(['b']);
    expect(reloaded.epochOf('b')).toBe(2);
    expect(reloaded.isPairUsable('b', refreshed)).toBe(false);
    expect(readFileSync(join(dir, PEER_BANS_FILE), 'utf8')).toContain('DKLS23_GAMMA_CHECK_FAILED');
  });

  it('applies a ban synchronously, before the file write resolves', async () => {
    const dir = tempDir();
    const bans = await PeerBans.load(dir);
    const record = { pairEpochs: { b: 0 } };
    const durable = bans.ban('b', 'X');
    // No await yet: every later check already refuses the pair.
    expect(bans.isBanned('b')).toBe(true);
    expect(bans.isPairUsable('b', record)).toBe(false);
    await durable;
    expect((await PeerBans.load(dir)).epochOf('b')).toBe(1);
  });

  it('resolves only once durable: a failed write rejects, the ban stays, the next ban persists both', async () => {
    const dir = tempDir();
    const bans = await PeerBans.load(dir);
    rmSync(dir, { recursive: true }); // the temp file cannot be created (works as root too)
    const failed = bans.ban('b', 'X');
    await expect(failed).rejects.toMatchObject({ code: 'ENOENT' });
    expect(bans.isPairUsable('b', {})).toBe(false);
    mkdirSync(dir);
    await bans.ban('c', 'Y');
    const reloaded = await PeerBans.load(dir);
    expect(reloaded.list().sort()).toEqual(['b', 'c']);
  });

  it('serialises concurrent bans: the file ends with every ban', async () => {
    const dir = tempDir();
    const bans = await PeerBans.load(dir);
    await Promise.all(['a', 'b', 'c', 'a'].map((peer) => bans.ban(peer, 'X')));
    const reloaded = await PeerBans.load(dir);
    expect(reloaded.epochOf('a')).toBe(2);
    expect(reloaded.epochOf('b')).toBe(1);
    expect(reloaded.epochOf('c')).toBe(1);
  });

  it('loads version-1 files (no epochs) as epoch 1', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, PEER_BANS_FILE),
      JSON.stringify({ version: 1, bans: { b: { since: '2026-12-01T00:00:00Z', reason: 'X' } } }),
    );
    const bans = await PeerBans.load(dir);
    expect(bans.epochOf('b')).toBe(1);
    expect(bans.isPairUsable('b', {})).toBe(false);
    expect(bans.isPairUsable('b', { pairEpochs: { b: 1 } })).toBe(true);
  });

  it.each([
    ['truncated JSON', '{"version":2,"bans":{"b":{"epoch":1'],
    ['not an object', '[]'],
    ['unknown version', '{"version":7,"bans":{}}'],
    ['bans not an object', '{"version":2,"bans":[]}'],
    ['epoch missing', '{"version":2,"bans":{"b":{"since":"x","reason":"y"}}}'],
    ['epoch zero', '{"version":2,"bans":{"b":{"epoch":0,"since":"x","reason":"y"}}}'],
    ['reason missing', '{"version":2,"bans":{"b":{"epoch":1,"since":"x"}}}'],
    ['empty file', ''],
  ])('refuses to load a corrupt file (%s), naming it', async (_name, text) => {
    const dir = tempDir();
    writeFileSync(join(dir, PEER_BANS_FILE), text);
    const loading = PeerBans.load(dir);
    await expect(loading).rejects.toBeInstanceOf(PeerBansFileError);
    await expect(loading).rejects.toThrow(join(dir, PEER_BANS_FILE));
    await expect(loading).rejects.toMatchObject({ code: 'ERROR_STORAGE_INIT' });
  });

  it('refuses to load an unreadable file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, PEER_BANS_FILE)); // a directory where the file should be: EISDIR
    await expect(PeerBans.load(dir)).rejects.toBeInstanceOf(PeerBansFileError);
  });

  it('recognises a ban verdict in the error or its causes, and nothing else', () => {
    const verdict = Object.assign(new Error('gamma check failed'), {
      banPair: true,
      counterparty: 2,
    });
    expect(isPairBanVerdict(verdict)).toBe(true);
    expect(isPairBanVerdict(new ProtocolViolationError('x', 'b', { cause: verdict }))).toBe(true);
    expect(isPairBanVerdict(Object.assign(new Error('bad proof'), { banPair: false }))).toBe(false);
    expect(isPairBanVerdict(new ProtocolViolationError('x', 'b'))).toBe(false);
    expect(isPairBanVerdict(undefined)).toBe(false);
  });
});
