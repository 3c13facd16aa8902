/**
 * Administrator-signed re-pin statements (security review M2). A signer pins a peer's identity
 * key on first sight; replacing a key it already pinned (a wiped data volume, a rebuilt node)
 * needs a statement signed by the administrator key configured on every signer
 * (`administrator.public_key`). Whoever can write the roster ConfigMap cannot make one.
 *
 * Statement (all fields signed):
 *   cluster          the cluster's name as the signers know it (`cluster_name`, the operator
 *                    sets `<namespace>/<MpcCluster name>`): a statement for one cluster is
 *                    worthless in another
 *   node_id          the node whose pin changes
 *   old_fingerprint  fingerprint (fingerprintOf) of the key being replaced: the statement
 *                    applies only to a signer that pinned exactly that key
 *   new_key          the replacement Ed25519 public key (64 hex)
 *   nonce            16 random bytes (32 hex); a signer accepts each nonce once
 *   expires_at       unix seconds; refused afterwards (by the verifying signer's wall clock)
 * Signed bytes: the ASCII domain `mpc-platform.dev/repin/v1` followed by each field as a 4-byte
 * big-endian length and its UTF-8 bytes, in the order above (`expires_at` in decimal). The
 * signature is Ed25519 (RFC 8032) by the administrator key.
 *
 * Transport form (a "repin token", what `mpc admin sign-repin` prints and the operator carries
 * from annotation `mpc-platform.dev/repin` into ConfigMap `<cluster>-roster` key `repins.json`):
 * base64url (no padding) of the JSON object with the fields above plus `signature` (128 hex).
 * Tokens contain no commas, so several can be listed comma-separated.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { NODE_ID_PATTERN } from '../config/signer-config.ts';
import { RepinError } from './errors.ts';
import { fingerprintOf } from './node-identity.ts';

export const REPIN_DOMAIN = 'mpc-platform.dev/repin/v1';

/** Longest validity `mpc admin sign-repin` issues (a statement should be used at once). */
export const MAX_REPIN_VALIDITY_SECONDS = 30 * 24 * 3600;

export interface RepinStatement {
  readonly cluster: string;
  readonly nodeId: string;
  /** 16 lowercase hex characters: `fingerprintOf(old key)`. */
  readonly oldFingerprint: string;
  /** 64 lowercase hex characters. */
  readonly newKey: string;
  /** 32 lowercase hex characters. */
  readonly nonce: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export interface SignedRepin {
  readonly statement: RepinStatement;
  /** 64-byte Ed25519 signature by the administrator key. */
  readonly signature: Uint8Array;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
/** Cluster names: `<namespace>/<name>` in Kubernetes, any short printable name elsewhere. */
export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9._/-]{1,253}$/;

/** Checks every field's shape; throws `RepinError` naming the field. */
export function checkStatement(statement: RepinStatement): RepinStatement {
  if (typeof statement.cluster !== 'string' || !CLUSTER_NAME_PATTERN.test(statement.cluster)) {
    throw new RepinError('cluster', 'expected 1 to 253 characters from [A-Za-z0-9._/-]');
  }
  if (typeof statement.nodeId !== 'string' || !NODE_ID_PATTERN.test(statement.nodeId)) {
    throw new RepinError('node_id', 'expected a node id (1 to 64 characters [A-Za-z0-9._-])');
  }
  if (typeof statement.oldFingerprint !== 'string' || !HEX16.test(statement.oldFingerprint)) {
    throw new RepinError('old_fingerprint', 'expected 16 lowercase hex characters');
  }
  if (typeof statement.newKey !== 'string' || !HEX64.test(statement.newKey)) {
    throw new RepinError('new_key', 'expected 64 lowercase hex characters');
  }
  try {
    if (ed25519.Point.fromHex(statement.newKey).isSmallOrder()) throw new Error('small order');
  } catch (error) {
    throw new RepinError('new_key', 'not a valid Ed25519 public key', { cause: error });
  }
  if (typeof statement.nonce !== 'string' || !HEX32.test(statement.nonce)) {
    throw new RepinError('nonce', 'expected 32 lowercase hex characters');
  }
  if (!Number.isSafeInteger(statement.expiresAt) || statement.expiresAt <= 0) {
    throw new RepinError('expires_at', 'expected unix seconds');
  }
  return statement;
}

/** The exact bytes the administrator signs. */
export function repinSigningBytes(statement: RepinStatement): Uint8Array {
  const fields = [
    REPIN_DOMAIN,
    statement.cluster,
    statement.nodeId,
    statement.oldFingerprint,
    statement.newKey,
    statement.nonce,
    String(statement.expiresAt),
  ];
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** A fresh 16-byte nonce as hex. */
export function newRepinNonce(): string {
  return randomBytes(16).toString('hex');
}

/** Signs a statement with `signer` (the administrator's Ed25519 `sign`). */
export function signRepin(
  statement: RepinStatement,
  signer: (message: Uint8Array) => Uint8Array,
): SignedRepin {
  checkStatement(statement);
  return { statement, signature: signer(repinSigningBytes(statement)) };
}

/** The token form (base64url JSON). */
export function encodeRepinToken(signed: SignedRepin): string {
  const { statement } = signed;
  const json = JSON.stringify({
    v: 1,
    cluster: statement.cluster,
    node_id: statement.nodeId,
    old_fingerprint: statement.oldFingerprint,
    new_key: statement.newKey,
    nonce: statement.nonce,
    expires_at: statement.expiresAt,
    signature: Buffer.from(signed.signature).toString('hex'),
  });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** Longest token accepted (a valid one is about 500 characters). */
const MAX_TOKEN_LENGTH = 2048;

/** Parses a token; checks shapes, not the signature. Throws `RepinError`. */
export function decodeRepinToken(token: string): SignedRepin {
  if (
    typeof token !== 'string' ||
    token.length > MAX_TOKEN_LENGTH ||
    !/^[A-Za-z0-9_-]+$/.test(token)
  ) {
    throw new RepinError('token', 'expected base64url text of at most 2048 characters');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (error) {
    throw new RepinError('token', 'not base64url JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RepinError('token', 'expected a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  if (record['v'] !== 1)
    throw new RepinError('v', `expected 1, got ${JSON.stringify(record['v'])}`);
  const signature = record['signature'];
  if (typeof signature !== 'string' || !HEX128.test(signature)) {
    throw new RepinError('signature', 'expected 128 lowercase hex characters');
  }
  const statement = checkStatement({
    cluster: record['cluster'] as string,
    nodeId: record['node_id'] as string,
    oldFingerprint: record['old_fingerprint'] as string,
    newKey: record['new_key'] as string,
    nonce: record['nonce'] as string,
    expiresAt: record['expires_at'] as number,
  });
  return { statement, signature: new Uint8Array(Buffer.from(signature, 'hex')) };
}

/** node:crypto key object of a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** What a verifier expects of a statement. */
export interface RepinExpectation {
  readonly administratorKey: Uint8Array;
  readonly cluster: string;
  readonly nodeId: string;
  /** The key this verifier has pinned for the node (the one being replaced). */
  readonly oldKey: Uint8Array;
  /** The key the roster now presents for the node. */
  readonly newKey: Uint8Array;
  /** Unix milliseconds (the verifier's wall clock). */
  readonly nowMs: number;
}

/**
 * Verifies `signed` against what the verifier knows; throws `RepinError` naming the first
 * field that does not hold. Nonce reuse is the caller's check (it needs durable state).
 */
export function verifyRepin(signed: SignedRepin, expected: RepinExpectation): void {
  const statement = checkStatement(signed.statement);
  if (statement.cluster !== expected.cluster) {
    throw new RepinError(
      'cluster',
      `statement is for cluster ${JSON.stringify(statement.cluster)}`,
    );
  }
  if (statement.nodeId !== expected.nodeId) {
    throw new RepinError('node_id', `statement is for node ${JSON.stringify(statement.nodeId)}`);
  }
  if (statement.oldFingerprint !== fingerprintOf(expected.oldKey)) {
    throw new RepinError(
      'old_fingerprint',
      `statement replaces key ${statement.oldFingerprint}, this signer pinned ${fingerprintOf(expected.oldKey)}`,
    );
  }
  if (statement.newKey !== Buffer.from(expected.newKey).toString('hex')) {
    throw new RepinError('new_key', 'statement names another new key than the roster');
  }
  if (statement.expiresAt * 1000 <= expected.nowMs) {
    throw new RepinError(
      'expires_at',
      `statement expired at ${new Date(statement.expiresAt * 1000).toISOString()}`,
    );
  }
  if (expected.administratorKey.length !== 32 || signed.signature.length !== 64) {
    throw new RepinError('signature', 'not an Ed25519 signature by a 32-byte key');
  }
  const valid = verify(
    null,
    repinSigningBytes(statement),
    ed25519PublicKeyObject(expected.administratorKey),
    signed.signature,
  );
  if (!valid) throw new RepinError('signature', 'not signed by the administrator key');
}
