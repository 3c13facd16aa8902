/**
 * Initiator (and authorizer) signing keys for clients, in mpcium's file formats (reference
 * `mpcium-contract.md` §3.2):
 * - Ed25519 key file: hex of the 32-byte seed (`mpcium-cli generate-initiator`); public key in
 *   the node config: hex of the 32-byte public key.
 * - P-256 key file: hex (optional `0x`) of SEC1 `EC PRIVATE KEY` DER (`x509.MarshalECPrivateKey`),
 *   PKCS#8 DER also accepted; public key in the node config: hex of the PKIX DER. Signatures are
 *   ASN.1 DER ECDSA over SHA-256.
 * Age-encrypted `.age` key files are not supported: decrypt them first.
 *
 * Private keys live in node:crypto `KeyObject`s; the hex text of a key file is only held long
 * enough to parse it and never appears in errors.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { authorizerPayload } from '../protocol/authorizers.ts';
import type { AuthorizerSignature } from '../protocol/messages.ts';
import type { SignatureAlgorithm } from '../protocol/public-keys.ts';
import { wipeBytes } from '../crypto/wipe.ts';

export type InitiatorAlgorithm = SignatureAlgorithm;

/** Signs request `Raw()` bytes (Go `pkg/client` `Signer`). */
export interface InitiatorSigner {
  readonly algorithm: InitiatorAlgorithm;
  /** The public key exactly as the signer configuration expects it (`initiator.public_key`). */
  readonly publicKey: string;
  sign(data: Uint8Array): Uint8Array;
}

/** A key file or key text is unusable. Never contains key material. */
export class InitiatorKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitiatorKeyError';
  }
}

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function hexToBuffer(text: string, what: string): Buffer {
  const trimmed = text.trim().replace(/^0x/i, '');
  if (trimmed.length === 0 || trimmed.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(trimmed)) {
    throw new InitiatorKeyError(`${what} must be hex text`);
  }
  return Buffer.from(trimmed, 'hex');
}

/** Ed25519 signer from a 32-byte seed. The caller may wipe `seed` afterwards. */
export function ed25519SignerFromSeed(seed: Uint8Array): InitiatorSigner {
  if (seed.length !== 32) throw new InitiatorKeyError('an Ed25519 key file holds a 32-byte seed');
  const pkcs8 = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  wipeBytes(pkcs8);
  const publicKey = createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .subarray(-32)
    .toString('hex');
  return {
    algorithm: 'ed25519',
    publicKey,
    sign: (data) => new Uint8Array(nodeSign(null, data, privateKey)),
  };
}

/** P-256 signer from SEC1 or PKCS#8 DER. */
export function p256SignerFromDer(der: Uint8Array): InitiatorSigner {
  let privateKey: KeyObject | undefined;
  for (const type of ['sec1', 'pkcs8'] as const) {
    try {
      privateKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type });
      break;
    } catch {
      // try the next encoding
    }
  }
  if (privateKey?.asymmetricKeyType !== 'ec') {
    throw new InitiatorKeyError('a P-256 key file holds hex of SEC1 or PKCS#8 DER');
  }
  if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InitiatorKeyError('the EC key is not on the P-256 curve');
  }
  const key = privateKey;
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('hex');
  return {
    algorithm: 'p256',
    publicKey,
    sign: (data) => new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'der' })),
  };
}

/**
 * Parses key-file text. Without `algorithm`, a 32-byte value is Ed25519 and anything else is
 * tried as P-256 DER.
 */
export function initiatorSignerFromKeyText(
  text: string,
  algorithm?: InitiatorAlgorithm,
): InitiatorSigner {
  const bytes = hexToBuffer(text, 'the key file');
  try {
    const chosen = algorithm ?? (bytes.length === 32 ? 'ed25519' : 'p256');
    return chosen === 'ed25519' ? ed25519SignerFromSeed(bytes) : p256SignerFromDer(bytes);
  } finally {
    wipeBytes(bytes);
  }
}

/** Reads a key file (mpcium format) and returns its signer. */
export async function loadInitiatorSigner(
  path: string,
  algorithm?: InitiatorAlgorithm,
): Promise<InitiatorSigner> {
  if (path.endsWith('.age')) {
    throw new InitiatorKeyError(`${path}: age-encrypted key files are not supported, decrypt it`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new InitiatorKeyError(`cannot read key file ${path}: ${code}`);
  }
  try {
    return initiatorSignerFromKeyText(text, algorithm);
  } catch (error) {
    if (error instanceof InitiatorKeyError) {
      throw new InitiatorKeyError(`${path}: ${error.message}`);
    }
    throw error;
  }
}

/** A new key: the key-file text (hex + newline) and the public key for the node config. */
export interface GeneratedInitiatorKey {
  readonly algorithm: InitiatorAlgorithm;
  readonly keyFileText: string;
  readonly publicKey: string;
}

/** Generates an initiator (or authorizer) key in mpcium's formats. */
export function generateInitiatorKey(algorithm: InitiatorAlgorithm): GeneratedInitiatorKey {
  if (algorithm === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const seedHex = pkcs8.subarray(-32).toString('hex');
    wipeBytes(pkcs8);
    return {
      algorithm,
      keyFileText: `${seedHex}\n`,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    };
  }
  if (algorithm === 'p256') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sec1 = privateKey.export({ format: 'der', type: 'sec1' });
    const text = `${sec1.toString('hex')}\n`;
    wipeBytes(sec1);
    return {
      algorithm,
      keyFileText: text,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
    };
  }
  throw new InitiatorKeyError(`unsupported algorithm ${JSON.stringify(algorithm)}`);
}

/** What an authorizer signs over: the initiator's ID, signed bytes and signature. */
export interface AuthorizerContext {
  readonly initiatorId: string;
  readonly raw: Uint8Array;
  readonly initiatorSignature: Uint8Array;
}

/**
 * One authorizer co-signature (contract §3.4): `signer` signs the Go-marshalled
 * `{"initiator_id","initiator_raw","initiator_sig"}` payload.
 */
export function signAsAuthorizer(
  authorizerId: string,
  signer: Pick<InitiatorSigner, 'sign'>,
  context: AuthorizerContext,
): AuthorizerSignature {
  return {
    authorizerId,
    signature: signer.sign(
      authorizerPayload(context.initiatorId, context.raw, context.initiatorSignature),
    ),
  };
}
