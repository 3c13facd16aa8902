import { generateKeyPairSync, sign } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { RepinError } from './errors.ts';
import { fingerprintOf } from './node-identity.ts';
import {
  decodeRepinToken,
  encodeRepinToken,
  newRepinNonce,
  repinSigningBytes,
  signRepin,
  verifyRepin,
  type RepinStatement,
  type SignedRepin,
} from './repin.ts';

const key = (seedByte: number): Uint8Array =>
  ed25519.getPublicKey(new Uint8Array(32).fill(seedByte));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function adminKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
  return { raw, sign: (message: Uint8Array) => new Uint8Array(sign(null, message, privateKey)) };
}

const NOW_MS = 1_800_000_000_000;
const admin = adminKeyPair();
const oldKey = key(1);
const newKey = key(2);

function statement(overrides: Partial<RepinStatement> = {}): RepinStatement {
  return {
    cluster: 'prod/vault',
    nodeId: 'vault-signer-2',
    oldFingerprint: fingerprintOf(oldKey),
    newKey: hex(newKey),
    nonce: newRepinNonce(),
    expiresAt: NOW_MS / 1000 + 3600,
    ...overrides,
  };
}

const expectation = {
  administratorKey: admin.raw,
  cluster: 'prod/vault',
  nodeId: 'vault-signer-2',
  oldKey,
  newKey,
  nowMs: NOW_MS,
};

function failure(signed: SignedRepin, overrides: Partial<typeof expectation> = {}): string {
  try {
    verifyRepin(signed, { ...expectation, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(RepinError);
    return (error as RepinError).field;
  }
  return 'accepted';
}

describe('repin statements', () => {
  it('an administrator-signed statement survives the token round trip and verifies', () => {
    const signed = signRepin(statement(), admin.sign);
    const decoded = decodeRepinToken(encodeRepinToken(signed));
    expect(decoded.statement).toEqual(signed.statement);
    expect(failure(decoded)).toBe('accepted');
    expect(encodeRepinToken(signed)).not.toContain(',');
  });

  it('signed bytes are domain separated and length prefixed (no field can bleed into the next)', () => {
    const bytes = Buffer.from(repinSigningBytes(statement({ nonce: '0'.repeat(32) })));
    expect(bytes.subarray(4, 4 + 25).toString()).toBe('mpc-platform.dev/repin/v1');
    const a = repinSigningBytes(statement({ cluster: 'ab', nodeId: 'c', nonce: '1'.repeat(32) }));
    const b = repinSigningBytes(statement({ cluster: 'a', nodeId: 'bc', nonce: '1'.repeat(32) }));
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it('a statement signed by any other key is a forgery', () => {
    const mallory = adminKeyPair();
    expect(failure(signRepin(statement(), mallory.sign))).toBe('signature');
  });

  it('a tampered field breaks the signature', () => {
    const signed = signRepin(statement(), admin.sign);
    const tampered = {
      ...signed,
      statement: { ...signed.statement, expiresAt: NOW_MS / 1000 + 10 ** 6 },
    };
    expect(failure(tampered)).toBe('signature');
  });

  it('is bound to the node, the old key, the new key and the cluster', () => {
    const signed = signRepin(statement(), admin.sign);
    expect(failure(signed, { nodeId: 'vault-signer-1' })).toBe('node_id');
    expect(failure(signed, { oldKey: key(3) })).toBe('old_fingerprint');
    expect(failure(signed, { newKey: key(4) })).toBe('new_key');
    // The same statement replayed in another cluster (another namespace, same names).
    expect(failure(signed, { cluster: 'staging/vault' })).toBe('cluster');
  });

  it('expires by the verifier clock', () => {
    const signed = signRepin(statement({ expiresAt: NOW_MS / 1000 }), admin.sign);
    expect(failure(signed)).toBe('expires_at');
    expect(failure(signed, { nowMs: NOW_MS - 1 })).toBe('accepted');
  });

  it('refuses malformed tokens naming the field', () => {
    const signed = signRepin(statement(), admin.sign);
    const json = JSON.parse(
      Buffer.from(encodeRepinToken(signed), 'base64url').toString(),
    ) as Record<string, unknown>;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const field = (token: string) => {
      try {
        decodeRepinToken(token);
      } catch (error) {
        return (error as RepinError).field;
      }
      return 'accepted';
    };
    expect(field(encode({ ...json, v: 2 }))).toBe('v');
    expect(field(encode({ ...json, signature: 'ab' }))).toBe('signature');
    expect(field(encode({ ...json, new_key: '00'.repeat(32) }))).toBe('new_key'); // small order
    expect(field(encode({ ...json, old_fingerprint: 'x' }))).toBe('old_fingerprint');
    expect(field(encode({ ...json, cluster: 'a b' }))).toBe('cluster');
    expect(field('not base64url!')).toBe('token');
    expect(field('a'.repeat(3000))).toBe('token');
  });
});
