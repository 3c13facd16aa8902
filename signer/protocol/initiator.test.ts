import { createPrivateKey, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.ts';
import { InvalidInitiatorSignatureError, createInitiatorVerifier } from './initiator.ts';
import { PublicKeyConfigError } from './public-keys.ts';
import { hexToBytes, loadMpciumVectors, utf8 } from '../../test/vectors/mpcium/load.ts';

interface Vectors {
  ed25519Seed: string;
  ed25519PublicKey: string;
  signTx: { raw: string; ed25519Signature: string };
  generateKey: { raw: string; ed25519Signature: string };
}
const vectors = loadMpciumVectors<Vectors>('initiator-raw.json');

function p256KeyPair(): { spkiHex: string; sign: (message: Uint8Array) => Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    spkiHex: publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
    sign: (message) => nodeSign('sha256', message, { key: privateKey, dsaEncoding: 'der' }),
  };
}

function expectInvalid(action: () => void): void {
  expect(action).toThrow(InvalidInitiatorSignatureError);
  try {
    action();
  } catch (error) {
    expect((error as InvalidInitiatorSignatureError).code).toBe(
      ErrorCode.InvalidInitiatorSignature,
    );
  }
}

describe('Ed25519 initiator (contract §3.1 vectors)', () => {
  const verifier = createInitiatorVerifier({
    algorithm: 'ed25519',
    publicKey: vectors.ed25519PublicKey,
  });

  it('accepts the published signatures over Raw()', () => {
    verifier.verify(utf8(vectors.signTx.raw), hexToBytes(vectors.signTx.ed25519Signature));
    verifier.verify(
      utf8(vectors.generateKey.raw),
      hexToBytes(vectors.generateKey.ed25519Signature),
    );
  });

  it('rejects tampered, truncated, empty and swapped signatures', () => {
    const signature = hexToBytes(vectors.signTx.ed25519Signature);
    const tampered = Uint8Array.from(signature);
    tampered[5] = (tampered[5] ?? 0) ^ 1;
    expectInvalid(() => verifier.verify(utf8(vectors.signTx.raw), tampered));
    expectInvalid(() => verifier.verify(utf8(vectors.signTx.raw), signature.subarray(0, 63)));
    expectInvalid(() => verifier.verify(utf8(vectors.signTx.raw), new Uint8Array(0)));
    expectInvalid(() => verifier.verify(utf8(vectors.generateKey.raw), signature));
    expectInvalid(() => verifier.verify(utf8(`${vectors.signTx.raw} `), signature));
  });

  it('accepts upper-case hex keys like Go hex.DecodeString', () => {
    createInitiatorVerifier({
      algorithm: 'ed25519',
      publicKey: vectors.ed25519PublicKey.toUpperCase(),
    }).verify(utf8(vectors.signTx.raw), hexToBytes(vectors.signTx.ed25519Signature));
  });
});

describe('P-256 initiator (keys and signatures made by node:crypto)', () => {
  const pair = p256KeyPair();
  const raw = utf8(vectors.signTx.raw);

  it('accepts hex, 0x-hex and base64 PKIX DER keys', () => {
    const signature = pair.sign(raw);
    for (const publicKey of [
      pair.spkiHex,
      `0x${pair.spkiHex}`,
      Buffer.from(pair.spkiHex, 'hex').toString('base64'),
    ]) {
      createInitiatorVerifier({ algorithm: 'p256', publicKey }).verify(raw, signature);
    }
  });

  it('rejects wrong keys, wrong messages, raw r||s and empty signatures', () => {
    const verifier = createInitiatorVerifier({ algorithm: 'p256', publicKey: pair.spkiHex });
    const signature = pair.sign(raw);
    expectInvalid(() => verifier.verify(utf8('other'), signature));
    expectInvalid(() => verifier.verify(raw, p256KeyPair().sign(raw)));
    expectInvalid(() => verifier.verify(raw, new Uint8Array(0)));
    expectInvalid(() => verifier.verify(raw, new Uint8Array(64).fill(1)));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const p1363 = nodeSign('sha256', raw, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expectInvalid(() => verifier.verify(raw, p1363));
  });
});

describe('configuration errors name the field', () => {
  const cases: [string, string][] = [
    ['ed25519', ''],
    ['ed25519', 'zz'],
    ['ed25519', '00'.repeat(31)],
    ['p256', 'not a key'],
    ['p256', `04${'11'.repeat(64)}`],
  ];
  for (const [algorithm, publicKey] of cases) {
    it(`${algorithm} ${JSON.stringify(publicKey.slice(0, 12))}`, () => {
      try {
        createInitiatorVerifier({ algorithm: algorithm as 'ed25519' | 'p256', publicKey });
        throw new Error('expected a configuration error');
      } catch (error) {
        expect(error).toBeInstanceOf(PublicKeyConfigError);
        expect((error as PublicKeyConfigError).field).toBe('initiator.public_key');
        expect((error as PublicKeyConfigError).code).toBe(ErrorCode.InvalidConfiguration);
      }
    });
  }

  it('rejects a P-256 key that is on another curve', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
    expect(() => createInitiatorVerifier({ algorithm: 'p256', publicKey: der })).toThrow(/P-256/);
  });

  it('rejects an unknown algorithm naming initiator.algorithm', () => {
    expect(() => createInitiatorVerifier({ algorithm: 'rsa' as 'p256', publicKey: 'ab' })).toThrow(
      /initiator\.algorithm/,
    );
  });

  it('does not confuse an Ed25519 seed file for a public key (sanity: derived key verifies)', () => {
    const seed = Buffer.from(vectors.ed25519Seed, 'hex');
    const key = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const signature = nodeSign(null, utf8('x'), key);
    createInitiatorVerifier({ algorithm: 'ed25519', publicKey: vectors.ed25519PublicKey }).verify(
      utf8('x'),
      signature,
    );
  });
});
