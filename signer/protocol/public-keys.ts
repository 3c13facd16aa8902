/**
 * Public keys and signatures of initiators and authorizers (reference `mpcium-contract.md`
 * §3.2, §3.4), verified with node:crypto:
 * - Ed25519: key = hex of the 32-byte public key; signature = 64 raw bytes over the message.
 * - P-256: key = hex (optional `0x`) of the PKIX/SubjectPublicKeyInfo DER, or (initiator only,
 *   as mpcium's `loadP256InitiatorKey`) base64 of the same DER; signature = ASN.1 DER ECDSA over
 *   SHA-256(message). Raw `04‖X‖Y` points are refused, as in mpcium.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ErrorCode, MpcError } from './errors.ts';

/** Key algorithms of initiators and authorizers (`EventInitiatorKeyType`). */
export type SignatureAlgorithm = 'ed25519' | 'p256';

/** A configured public key is unusable. `field` names the configuration field. */
export class PublicKeyConfigError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.InvalidConfiguration, `invalid configuration: ${field}: ${message}`);
    this.field = field;
  }
}

/** Verifies `signature` over `message`; false on any mismatch or malformed signature. */
export type SignatureCheck = (message: Uint8Array, signature: Uint8Array) => boolean;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function decodeHex(text: string): Buffer | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Parses an Ed25519 public key given as hex of 32 bytes. */
export function parseEd25519PublicKey(text: string, field: string): KeyObject {
  const bytes = decodeHex(text.trim());
  if (bytes === undefined || bytes.length !== 32) {
    throw new PublicKeyConfigError(field, 'expected the hex of a 32-byte Ed25519 public key');
  }
  try {
    return createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new PublicKeyConfigError(field, 'not a valid Ed25519 public key');
  }
}

/** Parses a P-256 public key: hex (optional `0x`) PKIX DER, or base64 DER when allowed. */
export function parseP256PublicKey(
  text: string,
  field: string,
  options: { allowBase64: boolean },
): KeyObject {
  const trimmed = text.trim();
  const withoutPrefix = /^0x/i.test(trimmed) ? trimmed.slice(2) : trimmed;
  let der = decodeHex(withoutPrefix);
  if (der === undefined && options.allowBase64) der = decodeBase64Strict(trimmed);
  const expected = options.allowBase64
    ? 'expected hex (optional 0x) or base64 of a PKIX DER P-256 public key'
    : 'expected hex (optional 0x) of a PKIX DER P-256 public key';
  if (der === undefined || der.length === 0) throw new PublicKeyConfigError(field, expected);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new PublicKeyConfigError(field, `${expected} (DER did not parse)`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PublicKeyConfigError(field, 'the key is not on the P-256 curve');
  }
  return key;
}

/** Builds the signature check of a configured key (throws `PublicKeyConfigError`). */
export function createSignatureCheck(
  algorithm: SignatureAlgorithm,
  publicKey: string,
  field: string,
  options: { allowBase64P256: boolean },
): SignatureCheck {
  if (typeof publicKey !== 'string' || publicKey.trim() === '') {
    throw new PublicKeyConfigError(field, 'the public key is required');
  }
  switch (algorithm) {
    case 'ed25519': {
      const key = parseEd25519PublicKey(publicKey, field);
      return (message, signature) => {
        if (signature.length !== 64) return false;
        try {
          return verify(null, message, key, signature);
        } catch {
          return false;
        }
      };
    }
    case 'p256': {
      const key = parseP256PublicKey(publicKey, field, { allowBase64: options.allowBase64P256 });
      return (message, signature) => {
        if (signature.length === 0) return false;
        try {
          return verify('sha256', message, { key, dsaEncoding: 'der' }, signature);
        } catch {
          return false;
        }
      };
    }
    default:
      throw new PublicKeyConfigError(
        field.replace(/public_?key$/i, 'algorithm'),
        `unsupported algorithm ${JSON.stringify(algorithm)} (expected "ed25519" or "p256")`,
      );
  }
}
