import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuthorizerPolicy } from '../protocol/authorizers.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { createInitiatorVerifier } from '../protocol/initiator.ts';
import { derivationPathRaw, encodeSignTxMessage, signTxRaw } from '../protocol/messages.ts';
import { RequestAuthenticator } from './request-authenticator.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const initiatorSign = (bytes: Uint8Array): Uint8Array =>
  new Uint8Array(sign(null, bytes, privateKey));
const authenticator = new RequestAuthenticator(
  createInitiatorVerifier({
    algorithm: 'ed25519',
    publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString(
      'hex',
    ),
  }),
  createAuthorizerPolicy({ enabled: false, requiredAuthorizers: [], authorizerPublicKeys: {} }),
);

const fields = {
  keyType: 'secp256k1' as const,
  walletId: 'w1',
  networkInternalCode: 'eth',
  txId: 't1',
  tx: new Uint8Array(32).fill(7),
};

function body(derivationPath: number[] | null, pathSignedFor?: number[]) {
  const signature = initiatorSign(signTxRaw(fields));
  const derivationPathSignature =
    pathSignedFor === undefined
      ? undefined
      : initiatorSign(derivationPathRaw({ ...fields, derivationPath: pathSignedFor }));
  return encodeSignTxMessage({
    ...fields,
    signature,
    derivationPath,
    ...(derivationPathSignature === undefined ? {} : { derivationPathSignature }),
    authorizerSignatures: [],
  });
}

describe('RequestAuthenticator: derivation path binding (our extension)', () => {
  it('accepts a path signed by the initiator', () => {
    const { message } = authenticator.sign(body([44, 60, 0, 0, 1], [44, 60, 0, 0, 1]));
    expect(message.derivationPath).toEqual([44, 60, 0, 0, 1]);
  });

  it('accepts an unsigned path, as mpcium clients send it', () => {
    expect(authenticator.sign(body([44, 60, 0, 0, 1])).message.derivationPath).toEqual([
      44, 60, 0, 0, 1,
    ]);
  });

  it('rejects a path that differs from the one the initiator signed', () => {
    expect(() => authenticator.sign(body([44, 60, 0, 0, 2], [44, 60, 0, 0, 1]))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInitiatorSignature }),
    );
  });
});

describe('RequestAuthenticator: require_signed_derivation_path (security review H1)', () => {
  const strict = new RequestAuthenticator(
    createInitiatorVerifier({
      algorithm: 'ed25519',
      publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString(
        'hex',
      ),
    }),
    createAuthorizerPolicy({ enabled: false, requiredAuthorizers: [], authorizerPublicKeys: {} }),
    { requireSignedDerivationPath: true },
  );

  it('refuses requests without a path signature, the empty path included', () => {
    for (const path of [null, [], [44, 60, 0, 0, 1]]) {
      expect(() => strict.sign(body(path))).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidInitiatorSignature }),
      );
    }
  });

  it('accepts a signed path, and a signed empty path for the master key', () => {
    expect(strict.sign(body([1, 2], [1, 2])).message.derivationPath).toEqual([1, 2]);
    expect(strict.sign(body(null, [])).message.derivationPath ?? []).toEqual([]);
  });

  it('refuses a path added to a request signed for the master key', () => {
    expect(() => strict.sign(body([7], []))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInitiatorSignature }),
    );
    expect(() => authenticator.sign(body([7], []))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInitiatorSignature }),
    );
  });
});
