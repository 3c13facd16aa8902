import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  IdentityMismatchError,
  LiveRoster,
  parseRoster,
  RosterError,
  rosterFromEntries,
  selfPinState,
  UnknownPeerError,
  verifyPeer,
} from './index.ts';

const key = (seedByte: number): Uint8Array =>
  ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('LiveRoster', () => {
  it('starts empty: accepts nobody', () => {
    const roster = new LiveRoster();
    expect(roster.size).toBe(0);
    expect(() => verifyPeer(roster, 'node0', key(1))).toThrow(UnknownPeerError);
  });

  it('readers holding the live roster see each replacement at check time', () => {
    const roster = new LiveRoster();
    const heldByConsumer: ReadonlyMap<string, Uint8Array> = roster;
    roster.replace(rosterFromEntries({ node0: key(1) }));
    verifyPeer(heldByConsumer, 'node0', key(1));
    expect(() => verifyPeer(heldByConsumer, 'node1', key(2))).toThrow(UnknownPeerError);

    // A pin appears (operator saw node1's Lease).
    roster.replace(rosterFromEntries({ node0: key(1), node1: key(2) }));
    verifyPeer(heldByConsumer, 'node1', key(2));
    expect([...heldByConsumer.keys()].sort()).toEqual(['node0', 'node1']);

    // An administrator unpinned node1 and the operator pinned a new key.
    roster.replace(rosterFromEntries({ node0: key(1), node1: key(3) }));
    expect(() => verifyPeer(heldByConsumer, 'node1', key(2))).toThrow(IdentityMismatchError);
    verifyPeer(heldByConsumer, 'node1', key(3));

    const seen: string[] = [];
    heldByConsumer.forEach((_value, nodeId, map) => {
      expect(map).toBe(heldByConsumer);
      seen.push(nodeId);
    });
    expect(seen.sort()).toEqual(['node0', 'node1']);
  });
});

describe('selfPinState', () => {
  it('tells pinned, unpinned and mismatch apart', () => {
    const roster = rosterFromEntries({ node0: key(1) });
    expect(selfPinState(roster, 'node0', key(1))).toBe('pinned');
    expect(selfPinState(roster, 'node1', key(1))).toBe('unpinned');
    expect(selfPinState(roster, 'node0', key(2))).toBe('mismatch');
    expect(selfPinState(roster, 'node0', key(1).subarray(0, 31))).toBe('mismatch');
  });
});

describe('parseRoster (ConfigMap roster.json)', () => {
  it('parses the operator document and names bad fields', () => {
    const roster = parseRoster(
      JSON.stringify({ version: 1, nodes: { 'c-signer-0': hex(key(1)) } }),
      'configmap/c-roster',
    );
    expect(roster.get('c-signer-0')).toEqual(key(1));
    expect(parseRoster('{"version":1,"nodes":{}}', 'x').size).toBe(0);

    const cases: [string, string][] = [
      ['not json', 'configmap/c-roster'],
      ['[]', 'configmap/c-roster'],
      ['{"version":2,"nodes":{}}', 'version'],
      ['{"version":1,"nodes":{},"extra":1}', 'extra'],
      ['{"version":1,"nodes":[]}', 'nodes'],
      ['{"version":1,"nodes":{"n":5}}', 'nodes.n'],
      ['{"version":1,"nodes":{"n":"zz"}}', 'nodes.n'],
      ['{"version":1,"nodes":{"bad id":"00"}}', 'nodes.bad id'],
    ];
    for (const [text, field] of cases) {
      let caught: unknown;
      try {
        parseRoster(text, 'configmap/c-roster');
      } catch (error) {
        caught = error;
      }
      expect(caught, text).toBeInstanceOf(RosterError);
      expect((caught as Error).message, text).toContain(field);
    }
  });
});
