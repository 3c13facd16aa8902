/**
 * The signer's own Ed25519 identity (design §8): generated on first start in
 * `<dataDir>/identity/`, used to sign broadcasts and session messages, pinned by peers and
 * the operator through its public key. The private key never leaves this module: callers get
 * a `NodeIdentity` that can sign but not export.
 *
 * Files (directory mode 0700, files 0600, each written atomically and never overwritten):
 *   identity/node.key   the 32-byte Ed25519 seed (RFC 8032 private key), raw bytes
 *   identity/node.json  { "version": 1, "node_id": "...", "public_key": "<hex>" }
 * `node.json` binds the key to its node id: loading with another node id fails, so a data
 * volume attached to the wrong signer is refused instead of impersonating another node.
 *
 * One deliberate exception to "never leaves": an encrypted backup (store/backup.ts) carries
 * the seed under the backup key, so a restored volume keeps the key its peers and the
 * operator pinned (no repin). `readIdentitySeedForBackup` and `restoreIdentitySeed` are the
 * only ways in and out; both hand raw bytes that the caller wipes.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wipeBytes } from '../crypto/wipe.ts';
import { NODE_ID_PATTERN } from '../config/signer-config.ts';
import { ensureDirectory, readFileIfExists, writeFileAtomic } from '../store/atomic-file.ts';
import { IdentityFileError } from './errors.ts';

export const IDENTITY_DIR = 'identity';
const SEED_FILE = 'node.key';
const INFO_FILE = 'node.json';

/** A node's signing identity. `sign` is the only use of the private key. */
export interface NodeIdentity {
  readonly nodeId: string;
  /** 32-byte Ed25519 public key (RFC 8032 encoding). */
  readonly publicKey: Uint8Array;
  /** `fingerprintOf(publicKey)`: for logs, status and operator display. */
  readonly fingerprint: string;
  /** RFC 8032 Ed25519 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** Short identifier of a public key: the first 16 hex characters of SHA-256(publicKey). */
export function fingerprintOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

export interface IdentityLocation {
  /** The signer's data volume; the identity lives in `<dataDir>/identity/`. */
  readonly dataDir: string;
  readonly nodeId: string;
}

// PKCS#8 wrapping of an Ed25519 seed (RFC 8410): lets node:crypto import it without the seed
// ever becoming a JS string.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    wipeBytes(der);
  }
}

function publicKeyOf(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

function checkNodeId(nodeId: string): void {
  if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
    throw new IdentityFileError(`invalid node id ${JSON.stringify(nodeId)}`);
  }
}

/**
 * Loads this node's identity, generating it on first use. Idempotent and safe against a
 * concurrent first start (the first writer wins, the other loads its key). Throws
 * `IdentityFileError` if the files are damaged or belong to another node id.
 */
export async function loadOrCreateIdentity(location: IdentityLocation): Promise<NodeIdentity> {
  checkNodeId(location.nodeId);
  const directory = join(location.dataDir, IDENTITY_DIR);
  const seedPath = join(directory, SEED_FILE);
  const infoPath = join(directory, INFO_FILE);
  let seed: Uint8Array | undefined;
  try {
    await mkdir(location.dataDir, { recursive: true, mode: 0o700 });
    await ensureDirectory(location.dataDir, directory);
    let stored = await readFileIfExists(seedPath);
    if (stored === undefined) {
      const fresh = new Uint8Array(randomBytes(32));
      try {
        await writeFileAtomic(seedPath, fresh, { overwrite: false });
      } finally {
        wipeBytes(fresh);
      }
      stored = await readFileIfExists(seedPath);
    }
    if (stored === undefined || stored.length !== 32) {
      if (stored !== undefined) wipeBytes(stored);
      throw new IdentityFileError(`${seedPath} must hold exactly 32 bytes`);
    }
    seed = new Uint8Array(stored);
    wipeBytes(stored);
  } catch (error) {
    if (error instanceof IdentityFileError) throw error;
    throw new IdentityFileError(`cannot read or create ${seedPath}`, { cause: error });
  }

  const privateKey = privateKeyFromSeed(seed);
  wipeBytes(seed);
  const publicKey = publicKeyOf(privateKey);
  const publicKeyHex = Buffer.from(publicKey).toString('hex');
  await bindNodeId(infoPath, location.nodeId, publicKeyHex);

  const fingerprint = fingerprintOf(publicKey);
  return Object.freeze({
    nodeId: location.nodeId,
    get publicKey(): Uint8Array {
      return publicKey.slice();
    },
    fingerprint,
    sign(message: Uint8Array): Uint8Array {
      return new Uint8Array(sign(null, message, privateKey));
    },
  });
}

/** Writes node.json on first use; afterwards checks it names this node and this key. */
async function bindNodeId(infoPath: string, nodeId: string, publicKeyHex: string): Promise<void> {
  const info = { version: 1, node_id: nodeId, public_key: publicKeyHex };
  let existing: Buffer | undefined;
  try {
    existing = await readFileIfExists(infoPath);
    if (existing === undefined) {
      await writeFileAtomic(infoPath, Buffer.from(`${JSON.stringify(info, null, 2)}\n`), {
        overwrite: false,
      });
      existing = await readFileIfExists(infoPath);
    }
  } catch (error) {
    throw new IdentityFileError(`cannot read or create ${infoPath}`, { cause: error });
  }
  let parsed: { node_id?: unknown; public_key?: unknown } | undefined;
  try {
    parsed = JSON.parse(existing?.toString('utf8') ?? '') as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (parsed?.node_id !== nodeId) {
    throw new IdentityFileError(
      `${infoPath} belongs to node ${JSON.stringify(parsed?.node_id)}, not ${JSON.stringify(nodeId)}: ` +
        "this data directory is another signer's",
    );
  }
  if (parsed.public_key !== publicKeyHex) {
    throw new IdentityFileError(
      `${infoPath} names a different public key than the stored private key`,
    );
  }
}

/**
 * Creates the identity if needed and returns its public key as hex (the local launcher calls
 * this before first start to build the roster). Idempotent.
 */
export async function initIdentity(location: IdentityLocation): Promise<string> {
  const identity = await loadOrCreateIdentity(location);
  return Buffer.from(identity.publicKey).toString('hex');
}

/**
 * For backups only: this node's 32-byte identity seed, or undefined when no identity exists
 * yet. Checks that `node.json` names this node and this key. The caller wipes the result.
 */
export async function readIdentitySeedForBackup(
  location: IdentityLocation,
): Promise<Uint8Array | undefined> {
  checkNodeId(location.nodeId);
  const directory = join(location.dataDir, IDENTITY_DIR);
  const seedPath = join(directory, SEED_FILE);
  let stored: Buffer | undefined;
  try {
    stored = await readFileIfExists(seedPath);
  } catch (error) {
    throw new IdentityFileError(`cannot read ${seedPath}`, { cause: error });
  }
  if (stored === undefined) return undefined;
  if (stored.length !== 32) {
    wipeBytes(stored);
    throw new IdentityFileError(`${seedPath} must hold exactly 32 bytes`);
  }
  const seed = new Uint8Array(stored);
  wipeBytes(stored);
  try {
    const publicKeyHex = Buffer.from(publicKeyOf(privateKeyFromSeed(seed))).toString('hex');
    await bindNodeId(join(directory, INFO_FILE), location.nodeId, publicKeyHex);
  } catch (error) {
    wipeBytes(seed);
    throw error;
  }
  return seed;
}

/**
 * Restores an identity seed taken by `readIdentitySeedForBackup` into `location`. Idempotent
 * for the same key; throws `IdentityFileError` when the data directory already holds another
 * identity (a restore never replaces a key). Returns the public key as hex. `seed` is not
 * modified.
 */
export async function restoreIdentitySeed(
  location: IdentityLocation,
  seed: Uint8Array,
): Promise<string> {
  checkNodeId(location.nodeId);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new IdentityFileError('an identity seed must be 32 bytes');
  }
  const directory = join(location.dataDir, IDENTITY_DIR);
  const seedPath = join(directory, SEED_FILE);
  const publicKeyHex = Buffer.from(publicKeyOf(privateKeyFromSeed(seed))).toString('hex');
  let stored: Buffer | undefined;
  try {
    await mkdir(location.dataDir, { recursive: true, mode: 0o700 });
    await ensureDirectory(location.dataDir, directory);
    await writeFileAtomic(seedPath, seed, { overwrite: false });
    stored = await readFileIfExists(seedPath);
  } catch (error) {
    throw new IdentityFileError(`cannot restore ${seedPath}`, { cause: error });
  }
  const same = stored !== undefined && Buffer.from(stored).equals(seed);
  if (stored !== undefined) wipeBytes(stored);
  if (!same) {
    throw new IdentityFileError(
      `${seedPath} already holds another identity key: a restore never replaces one (restore into an empty data directory)`,
    );
  }
  await bindNodeId(join(directory, INFO_FILE), location.nodeId, publicKeyHex);
  return publicKeyHex;
}
