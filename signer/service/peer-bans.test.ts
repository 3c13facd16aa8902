import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolViolationError } from '../session/errors.ts';
import { BannedPeerError, PeerBans, isPairBanVerdict } from './peer-bans.ts';

describe('PeerBans', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('persists bans across loads and refuses sessions with a banned peer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bans-'));
    dirs.push(dir);
    const bans = await PeerBans.load(dir);
    expect(bans.isBanned('b')).toBe(false);
    expect(() => bans.assertUsable(['a', 'b'])).not.toThrow();
    await bans.ban('b', 'DKLS23_OTE_CHECK_FAILED');
    expect(() => bans.assertUsable(['a', 'b'])).toThrow(BannedPeerError);
    const reloaded = await PeerBans.load(dir);
    expect(reloaded.list()).toEqual(['b']);
    expect(readFileSync(join(dir, 'peer-bans.json'), 'utf8')).toContain('DKLS23_OTE_CHECK_FAILED');
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
