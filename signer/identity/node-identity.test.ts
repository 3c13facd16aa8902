import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { fingerprintOf, IdentityFileError, initIdentity, loadOrCreateIdentity } from './index.ts';

interface Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
const vectors = (
  JSON.parse(
    readFileSync(new URL('./test-vectors/rfc8032-ed25519.json', import.meta.url), 'utf8'),
  ) as { vectors: Vector[] }
).vectors;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'identity-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('loadOrCreateIdentity', () => {
  it('generates the key on first start with private file modes, then reloads the same key', async () => {
    const first = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' });
    expect(first.nodeId).toBe('node0');
    expect(first.publicKey).toHaveLength(32);
    expect((await stat(join(dataDir, 'identity'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'identity', 'node.key'))).mode & 0o777).toBe(0o600);
    const info = JSON.parse(await readFile(join(dataDir, 'identity', 'node.json'), 'utf8'));
    expect(info).toEqual({ version: 1, node_id: 'node0', public_key: hex(first.publicKey) });

    const second = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' });
    expect(hex(second.publicKey)).toBe(hex(first.publicKey));
    expect(await initIdentity({ dataDir, nodeId: 'node0' })).toBe(hex(first.publicKey));
  });

  it('creates exactly one key under concurrent first starts', async () => {
    const keys = await Promise.all(
      Array.from({ length: 6 }, () => initIdentity({ dataDir, nodeId: 'node0' })),
    );
    expect(new Set(keys).size).toBe(1);
  });

  it.each(vectors)('signs RFC 8032 $name byte for byte', async (vector) => {
    await mkdir(join(dataDir, 'identity'), { recursive: true });
    await writeFile(join(dataDir, 'identity', 'node.key'), Buffer.from(vector.secretKey, 'hex'));
    const identity = await loadOrCreateIdentity({ dataDir, nodeId: 'n' });
    expect(hex(identity.publicKey)).toBe(vector.publicKey);
    expect(hex(identity.sign(Buffer.from(vector.message, 'hex')))).toBe(vector.signature);
  });

  it('produces signatures an independent implementation verifies', async () => {
    const identity = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' });
    const message = new TextEncoder().encode('session 1 round 2');
    const signature = identity.sign(message);
    expect(ed25519.verify(signature, message, identity.publicKey)).toBe(true);
    expect(ed25519.verify(signature, new TextEncoder().encode('other'), identity.publicKey)).toBe(
      false,
    );
  });

  it('exposes no private key material and hands out copies of the public key', async () => {
    const identity = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' });
    const seedHex = hex(await readFile(join(dataDir, 'identity', 'node.key')));
    expect(Object.keys(identity).sort()).toEqual(['fingerprint', 'nodeId', 'publicKey', 'sign']);
    expect(JSON.stringify(identity)).not.toContain(seedHex);
    expect(Object.isFrozen(identity)).toBe(true);
    const copy = identity.publicKey;
    copy.fill(0);
    expect(hex(identity.publicKey)).not.toBe('00'.repeat(32));
  });

  it('fingerprints are the first 16 hex characters of SHA-256(public key)', async () => {
    const identity = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' });
    const expected = createHash('sha256').update(identity.publicKey).digest('hex').slice(0, 16);
    expect(identity.fingerprint).toBe(expected);
    expect(fingerprintOf(identity.publicKey)).toBe(expected);
  });

  it('refuses a data directory that belongs to another node id', async () => {
    await initIdentity({ dataDir, nodeId: 'node0' });
    const error = await loadOrCreateIdentity({ dataDir, nodeId: 'node1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityFileError);
    expect((error as IdentityFileError).code).toBe(ErrorCode.StorageInit);
    expect((error as Error).message).toContain('node0');
  });

  it('refuses a damaged key file and a node.json naming another key, without echoing the key', async () => {
    await initIdentity({ dataDir, nodeId: 'node0' });
    const keyPath = join(dataDir, 'identity', 'node.key');
    const seed = await readFile(keyPath);
    await writeFile(keyPath, seed.subarray(0, 31));
    const short = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' }).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(IdentityFileError);
    expect((short as Error).message).not.toContain(hex(seed.subarray(0, 31)));

    const other = Buffer.from(seed);
    other[0]! ^= 1;
    await writeFile(keyPath, other);
    const swapped = await loadOrCreateIdentity({ dataDir, nodeId: 'node0' }).catch(
      (e: unknown) => e,
    );
    expect(swapped).toBeInstanceOf(IdentityFileError);
    expect((swapped as Error).message).toContain('different public key');
  });

  it('rejects invalid node ids', async () => {
    for (const nodeId of ['', '../x', 'a/b', 'x'.repeat(65)]) {
      await expect(loadOrCreateIdentity({ dataDir, nodeId })).rejects.toThrow(IdentityFileError);
    }
  });
});
