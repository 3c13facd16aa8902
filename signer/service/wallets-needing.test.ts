/**
 * `GET /wallets/needing` end to end on a real share store in a temp dir and a real HTTP
 * server, asked through the operator's own client (operator/controller/signer-wallets.ts):
 * committees of current records and of share-less tombstones count, other nodes' wallets do
 * not, the list is bounded while the count is not, malformed queries are refused, and no
 * share or public key leaves the signer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  httpSignerWalletQuery,
  parseWalletsNeeding,
} from '../../operator/controller/signer-wallets.ts';
import { startHttpServer } from '../observability/http-server.ts';
import { ShareStore } from '../store/index.ts';
import type { KeyType } from '../protocol/messages.ts';
import { WalletRepository } from './wallet-repository.ts';
import { walletsNeedingNode } from './wallets-needing.ts';

const PUBLIC_KEY = 'ab'.repeat(32);
const metadata = (walletId: string, keyType: KeyType, nodes: string[], version = 1) => ({
  walletId,
  keyType,
  version,
  threshold: 1,
  committee: nodes.map((nodeId, i) => ({ nodeId, partyId: i + 1 })),
  publicKey: PUBLIC_KEY,
});

describe('GET /wallets/needing', () => {
  let dir: string;
  let store: ShareStore;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  const target = { namespace: 'n', service: 's', pod: 'p' };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wallets-needing-'));
    store = await ShareStore.open({ dataDir: dir, kek: new Uint8Array(32).fill(9) });
    const wallets = new WalletRepository(store);
    await wallets.save({
      metadata: metadata('w1', 'ed25519', ['a', 'b']),
      share: Uint8Array.of(1),
    });
    await wallets.save({
      metadata: metadata('w2', 'secp256k1', ['a', 'c']),
      share: Uint8Array.of(2),
    });
    await wallets.save({
      metadata: metadata('w3', 'ed25519', ['a', 'c']),
      share: Uint8Array.of(3),
    });
    // w3 was reshared away from this signer to {b, c}: its tombstone names the new committee.
    await wallets.retire(metadata('w3', 'ed25519', ['b', 'c'], 2));
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      readiness: () => ({ ready: true, details: {} }),
      walletsNeeding: (node, limit) =>
        walletsNeedingNode(
          { listWallets: () => store.listWallets(), load: (id, type) => wallets.load(id, type) },
          node,
          limit,
        ),
    });
  });

  afterEach(async () => {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (query: string) => fetch(`http://127.0.0.1:${server.port}/wallets/needing?${query}`);

  it('lists wallet keys whose current committee (record or tombstone) includes the node', async () => {
    const query = httpSignerWalletQuery({ baseUrl: () => `http://127.0.0.1:${server.port}` });
    expect(await query.walletsNeeding(target, 'c')).toEqual({
      ok: true,
      count: 2,
      wallets: [
        { walletId: 'w2', keyType: 'secp256k1' },
        { walletId: 'w3', keyType: 'ed25519' },
      ],
    });
    // This signer left w3's committee: only w1 and w2 still need 'a'.
    expect(await query.walletsNeeding(target, 'a')).toMatchObject({ ok: true, count: 2 });
    expect(await query.walletsNeeding(target, 'd')).toEqual({ ok: true, count: 0, wallets: [] });
  });

  it('bounds the list but not the count, and never returns shares or public keys', async () => {
    const response = await get('node=c&limit=1');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      node: 'c',
      count: 2,
      wallets: [{ walletId: 'w2', keyType: 'secp256k1' }],
    });
    expect(text).not.toContain(PUBLIC_KEY);
    expect(text).not.toContain('share');
  });

  it('refuses a malformed node id or limit', async () => {
    for (const query of [
      '',
      'node=',
      'node=..%2Fx',
      `node=${'x'.repeat(65)}`,
      'node=a&limit=101',
      'node=a&limit=-1',
    ]) {
      const response = await get(query);
      expect(response.status, query).toBe(400);
      await response.body?.cancel();
    }
  });

  it('the operator client treats a signer without the endpoint or a wrong answer as no answer', async () => {
    const bare = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      readiness: () => ({ ready: true, details: {} }),
    });
    try {
      const query = httpSignerWalletQuery({ baseUrl: () => `http://127.0.0.1:${bare.port}` });
      expect(await query.walletsNeeding(target, 'c')).toEqual({ ok: false, error: 'HTTP 404' });
    } finally {
      await bare.close();
    }
    expect(parseWalletsNeeding('c', { node: 'a', count: 0, wallets: [] }).ok).toBe(false);
    expect(parseWalletsNeeding('c', { node: 'c', count: -1, wallets: [] }).ok).toBe(false);
    expect(parseWalletsNeeding('c', { node: 'c', count: 0, wallets: [{ walletId: 'w' }] }).ok).toBe(
      false,
    );
    expect(
      parseWalletsNeeding('c', {
        node: 'c',
        count: 0,
        wallets: [{ walletId: 'w', keyType: 'ed25519' }],
      }).ok,
    ).toBe(false);
  });
});
