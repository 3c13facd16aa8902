import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdentityFileError } from './errors.ts';
import { fingerprintOf } from './node-identity.ts';
import { PinStore, gateRoster, type PinState } from './pin-store.ts';
import { newRepinNonce, signRepin, type SignedRepin } from './repin.ts';
import { LiveRoster, rosterFromEntries, type Roster } from './roster.ts';

const key = (seedByte: number): Uint8Array =>
  ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const ADMIN = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
const adminSign = (message: Uint8Array) => new Uint8Array(sign(null, message, privateKey));
const CLUSTER = 'prod/vault';
const NOW_MS = 1_800_000_000_000;

function repin(
  node: string,
  from: Uint8Array,
  to: Uint8Array,
  nonce = newRepinNonce(),
): SignedRepin {
  return signRepin(
    {
      cluster: CLUSTER,
      nodeId: node,
      oldFingerprint: fingerprintOf(from),
      newKey: hex(to),
      nonce,
      expiresAt: NOW_MS / 1000 + 600,
    },
    adminSign,
  );
}

function state(pins: Record<string, Uint8Array>, usedNonces: string[] = []): PinState {
  return {
    administratorKey: hex(ADMIN),
    pins: new Map(Object.entries(pins).map(([node, k]) => [node, hex(k)])),
    usedNonces: new Set(usedNonces),
  };
}

function gate(current: PinState, proposed: Roster, authorizations: SignedRepin[] = []) {
  return gateRoster({ state: current, proposed, authorizations, cluster: CLUSTER, nowMs: NOW_MS });
}

const pinnedHex = (roster: Roster, node: string) => {
  const k = roster.get(node);
  return k === undefined ? undefined : hex(k);
};

describe('gateRoster: the ConfigMap proposes, the signer decides', () => {
  it('pins unknown node ids on first sight', () => {
    const decision = gate(state({}), rosterFromEntries({ a: key(1), b: key(2) }));
    expect(decision.firstPins).toEqual(['a', 'b']);
    expect(decision.stateChanged).toBe(true);
    expect(pinnedHex(decision.roster, 'b')).toBe(hex(key(2)));
  });

  it('refuses an unsigned replacement: the remembered key stays in force', () => {
    const decision = gate(
      state({ a: key(1), b: key(2) }),
      rosterFromEntries({ a: key(1), b: key(9) }),
    );
    expect(decision.refused).toMatchObject([
      {
        nodeId: 'b',
        pinnedFingerprint: fingerprintOf(key(2)),
        proposedFingerprint: fingerprintOf(key(9)),
      },
    ]);
    expect(pinnedHex(decision.roster, 'b')).toBe(hex(key(2)));
    expect(decision.stateChanged).toBe(false);

    // The live roster readers hold never sees the swapped key.
    const live = new LiveRoster();
    live.replace(decision.roster);
    expect(hex(live.get('b') as Uint8Array)).toBe(hex(key(2)));
  });

  it('accepts a replacement with the administrator statement for exactly that change, once', () => {
    const statement = repin('b', key(2), key(9));
    const decision = gate(
      state({ a: key(1), b: key(2) }),
      rosterFromEntries({ a: key(1), b: key(9) }),
      [statement],
    );
    expect(decision.repinned).toEqual(['b']);
    expect(pinnedHex(decision.roster, 'b')).toBe(hex(key(9)));
    expect(decision.state.pins.get('b')).toBe(hex(key(9)));
    expect(decision.state.usedNonces.has(statement.statement.nonce)).toBe(true);

    // Replayed later to swap back an attacker's way (b: 9 → 2 is not what it says) or reused
    // after the admin moved b back to key 2: the nonce is spent.
    const back = gate(
      state({ a: key(1), b: key(2) }, [statement.statement.nonce]),
      rosterFromEntries({ a: key(1), b: key(9) }),
      [statement],
    );
    expect(back.refused[0]?.reason).toMatch(/nonce/);
    expect(pinnedHex(back.roster, 'b')).toBe(hex(key(2)));
  });

  it('refuses statements for another node, another old key, or a forged signature', () => {
    const current = state({ a: key(1), b: key(2) });
    const proposed = rosterFromEntries({ a: key(1), b: key(9) });
    const forAnotherNode = {
      ...repin('a', key(2), key(9)),
      statement: { ...repin('a', key(2), key(9)).statement },
    };
    expect(gate(current, proposed, [forAnotherNode]).refused).toHaveLength(1);
    expect(gate(current, proposed, [repin('b', key(3), key(9))]).refused[0]?.reason).toMatch(
      /old_fingerprint/,
    );
    const forged = repin('b', key(2), key(9));
    const bad = {
      ...forged,
      signature: forged.signature.map((byte, i) => (i === 0 ? byte ^ 1 : byte)),
    };
    expect(gate(current, proposed, [bad]).refused[0]?.reason).toMatch(/signature/);
  });

  it('without an administrator key no replacement is possible', () => {
    const current = { ...state({ b: key(2) }), administratorKey: undefined };
    const decision = gate(current, rosterFromEntries({ b: key(9) }), [repin('b', key(2), key(9))]);
    expect(decision.refused[0]?.reason).toMatch(/administrator/);
  });

  it('a removed node is dropped but cannot come back under another key unsigned', () => {
    const removed = gate(state({ a: key(1), b: key(2) }), rosterFromEntries({ a: key(1) }));
    expect(removed.roster.has('b')).toBe(false);
    expect(removed.state.pins.get('b')).toBe(hex(key(2)));

    const resurrected = gate(removed.state, rosterFromEntries({ a: key(1), b: key(9) }));
    expect(resurrected.refused.map((r) => r.nodeId)).toEqual(['b']);
    expect(pinnedHex(resurrected.roster, 'b')).toBe(hex(key(2)));
    // With its old key it simply comes back.
    const back = gate(removed.state, rosterFromEntries({ a: key(1), b: key(2) }));
    expect(back.refused).toEqual([]);
    expect(pinnedHex(back.roster, 'b')).toBe(hex(key(2)));
  });

  it('a new node id cannot take a key pinned for another node (even a removed one)', () => {
    const decision = gate(
      state({ a: key(1), b: key(2) }),
      rosterFromEntries({ a: key(1), c: key(2) }),
    );
    expect(decision.refused.map((r) => r.nodeId)).toEqual(['c']);
    expect(decision.roster.has('c')).toBe(false);
  });
});

describe('PinStore on the data volume', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mpc-pins-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('remembers accepted pins across restarts, so a rewrite while down is still refused', async () => {
    const store = await PinStore.open(dataDir, hex(ADMIN));
    const first = gate(store.state, rosterFromEntries({ a: key(1), b: key(2) }));
    await store.save(first.state);

    const reopened = await PinStore.open(dataDir, hex(ADMIN));
    const decision = gate(reopened.state, rosterFromEntries({ a: key(1), b: key(9) }));
    expect(decision.refused.map((r) => r.nodeId)).toEqual(['b']);
  });

  it('pins the administrator key: a different one configured later refuses to start', async () => {
    await PinStore.open(dataDir, hex(ADMIN));
    await expect(PinStore.open(dataDir, hex(key(7)))).rejects.toThrow(IdentityFileError);
    // Left out of the configuration, the remembered key stays in force.
    expect((await PinStore.open(dataDir, undefined)).state.administratorKey).toBe(hex(ADMIN));
  });

  it('a damaged file stops the signer instead of forgetting the pins', async () => {
    await PinStore.open(dataDir, undefined);
    const path = join(dataDir, 'identity', 'pins.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 1, pins: {} });
    await writeFile(path, '{"version":1,"pins":');
    await expect(PinStore.open(dataDir, undefined)).rejects.toThrow(/damaged/);
  });
});
