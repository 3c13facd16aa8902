import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { rosterFromEntries } from '../identity/index.ts';
import { changedPins } from './roster-config-map.ts';

const key = (seedByte: number): Uint8Array =>
  ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));

describe('changedPins', () => {
  it('lists pins that appeared, changed or disappeared, sorted', () => {
    const before = rosterFromEntries({ a: key(1), b: key(2), c: key(3) });
    const after = rosterFromEntries({ a: key(1), b: key(9), d: key(4) });
    expect(changedPins(before, after)).toEqual(['b', 'c', 'd']);
  });

  it('is empty when nothing changed (no spurious onChange)', () => {
    const before = rosterFromEntries({ a: key(1), b: key(2) });
    expect(changedPins(before, rosterFromEntries({ b: key(2), a: key(1) }))).toEqual([]);
    expect(changedPins(rosterFromEntries([]), rosterFromEntries([]))).toEqual([]);
  });
});
