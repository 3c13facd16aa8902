import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import {
  encodeRoster,
  fingerprintOf,
  IdentityMismatchError,
  loadRosterFile,
  RosterError,
  rosterFromEntries,
  UnknownPeerError,
  verifyPeer,
} from './index.ts';

const key = (seedByte: number): Uint8Array =>
  ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const SMALL_ORDER = `01${'00'.repeat(31)}`; // the identity point

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roster-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rosterFile(contents: unknown): Promise<string> {
  const path = join(dir, 'roster.json');
  await writeFile(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return path;
}

describe('roster', () => {
  it('loads a roster file and round-trips through encodeRoster', async () => {
    const path = await rosterFile({
      version: 1,
      nodes: { node1: hex(key(2)), node0: hex(key(1)) },
    });
    const roster = await loadRosterFile(path);
    expect([...roster.keys()].sort()).toEqual(['node0', 'node1']);
    expect(roster.get('node0')).toEqual(key(1));
    await writeFile(path, encodeRoster(roster));
    const again = await loadRosterFile(path);
    expect(encodeRoster(again)).toBe(encodeRoster(roster));
    expect(JSON.parse(encodeRoster(roster))).toEqual({
      version: 1,
      nodes: { node0: hex(key(1)), node1: hex(key(2)) },
    });
  });

  it('accepts a peer with its pinned key and rejects unknown peers and other keys', () => {
    const roster = rosterFromEntries({ node0: key(1), node1: hex(key(2)) });
    verifyPeer(roster, 'node0', key(1));
    verifyPeer(roster, 'node1', key(2));

    expect(() => verifyPeer(roster, 'node2', key(3))).toThrow(UnknownPeerError);
    try {
      verifyPeer(roster, 'node0', key(2));
      throw new Error('expected a mismatch');
    } catch (error) {
      expect(error).toBeInstanceOf(IdentityMismatchError);
      expect((error as IdentityMismatchError).code).toBe(ErrorCode.MessageVerification);
      expect((error as Error).message).toContain(fingerprintOf(key(1)));
      expect((error as Error).message).toContain(fingerprintOf(key(2)));
    }
    expect(() => verifyPeer(roster, 'node0', key(1).subarray(0, 31))).toThrow(
      IdentityMismatchError,
    );
  });

  it('is immutable and hands out copies of keys', () => {
    const roster = rosterFromEntries([['node0', key(1)]]);
    expect(() => (roster as Map<string, Uint8Array>).set('evil', key(9))).toThrow(TypeError);
    expect(() => (roster as Map<string, Uint8Array>).delete('node0')).toThrow(TypeError);
    roster.get('node0')!.fill(0);
    verifyPeer(roster, 'node0', key(1));
  });

  it.each([
    ['a bad node id', { '../x': hex(key(1)) }, 'nodes.../x'],
    ['short hex', { n: 'abcd' }, 'nodes.n'],
    ['non-hex', { n: 'zz'.repeat(32) }, 'nodes.n'],
    ['a small-order point', { n: SMALL_ORDER }, 'nodes.n'],
    ['a key shared by two nodes', { a: hex(key(1)), b: hex(key(1)) }, 'nodes.b'],
  ])('rejects %s naming the entry', (_name, nodes, field) => {
    try {
      rosterFromEntries(nodes);
      throw new Error('expected a RosterError');
    } catch (error) {
      expect(error).toBeInstanceOf(RosterError);
      expect((error as RosterError).field).toBe(field);
      expect((error as RosterError).code).toBe(ErrorCode.InvalidConfiguration);
    }
  });

  it.each([
    ['not JSON', 'nodes: {}'],
    ['a list', '[]'],
    ['another version', { version: 2, nodes: {} }],
    ['an unknown field', { version: 1, nodes: {}, extra: 1 }],
    ['nodes not an object', { version: 1, nodes: [] }],
    ['a non-string key', { version: 1, nodes: { n: 5 } }],
  ])('rejects a roster file with %s', async (_name, contents) => {
    await expect(loadRosterFile(await rosterFile(contents))).rejects.toThrow(RosterError);
  });

  it('names a missing roster file', async () => {
    await expect(loadRosterFile(join(dir, 'absent.json'))).rejects.toThrow(/cannot read/);
  });
});
