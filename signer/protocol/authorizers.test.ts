import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidAuthorizerSignatureError,
  MissingAuthorizerSignatureError,
  authorizerPayload,
  createAuthorizerPolicy,
} from './authorizers.ts';
import { ErrorCode } from './errors.ts';
import { PublicKeyConfigError } from './public-keys.ts';
import { hexToBytes, loadMpciumVectors, utf8 } from '../../test/vectors/mpcium/load.ts';

interface Vectors {
  generateKey: {
    walletId: string;
    raw: string;
    ed25519Signature: string;
    authorizerPayload: string;
  };
}
const vectors = loadMpciumVectors<Vectors>('initiator-raw.json');
const raw = utf8(vectors.generateKey.raw);
const initiatorSignature = hexToBytes(vectors.generateKey.ed25519Signature);
const payload = authorizerPayload(vectors.generateKey.walletId, raw, initiatorSignature);

function ed25519Authorizer(seedByte: number): {
  publicKey: string;
  sign: (m: Uint8Array) => Uint8Array;
} {
  const privateKey = createPrivateKey({
    key: Buffer.concat([
      Buffer.from('302e020100300506032b657004220420', 'hex'),
      Buffer.alloc(32, seedByte),
    ]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: spki.subarray(-32).toString('hex'),
    sign: (m) => nodeSign(null, m, privateKey),
  };
}

function p256Authorizer(): { publicKey: string; sign: (m: Uint8Array) => Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
    sign: (m) => nodeSign('sha256', m, { key: privateKey, dsaEncoding: 'der' }),
  };
}

const first = ed25519Authorizer(1);
const second = p256Authorizer();
const stranger = ed25519Authorizer(9);

const policy = createAuthorizerPolicy({
  enabled: true,
  requiredAuthorizers: ['authorizer1', 'authorizer2'],
  authorizerPublicKeys: {
    authorizer1: { publicKey: first.publicKey, algorithm: 'ed25519' },
    authorizer2: { publicKey: second.publicKey, algorithm: 'p256' },
    optional: { publicKey: stranger.publicKey, algorithm: 'ed25519' },
  },
});

const request = (authorizerSignatures: { authorizerId: string; signature: Uint8Array }[]) => ({
  initiatorId: vectors.generateKey.walletId,
  raw,
  signature: initiatorSignature,
  authorizerSignatures,
});

function expectCode(
  action: () => void,
  errorClass: new (...args: never[]) => Error,
  code: string,
): void {
  expect(action).toThrow(errorClass);
  try {
    action();
  } catch (error) {
    expect((error as { code: string }).code).toBe(code);
  }
}

describe('authorizer payload (contract §3.4 example)', () => {
  it('is byte-exact', () => {
    expect(new TextDecoder().decode(payload)).toBe(vectors.generateKey.authorizerPayload);
  });
});

describe('authorizer policy', () => {
  const good = [
    { authorizerId: 'authorizer1', signature: first.sign(payload) },
    { authorizerId: 'authorizer2', signature: second.sign(payload) },
  ];

  it('accepts all required signatures, plus a valid optional one', () => {
    policy.authorize(request(good));
    policy.authorize(
      request([...good, { authorizerId: 'optional', signature: stranger.sign(payload) }]),
    );
  });

  it('reports a missing required authorizer', () => {
    expectCode(
      () => policy.authorize(request([good[0]!])),
      MissingAuthorizerSignatureError,
      ErrorCode.MissingAuthorizerSignature,
    );
    expectCode(
      () => policy.authorize(request([])),
      MissingAuthorizerSignatureError,
      ErrorCode.MissingAuthorizerSignature,
    );
  });

  it('reports bad, empty, unknown and cross-request signatures', () => {
    const bad: { authorizerId: string; signature: Uint8Array }[][] = [
      [good[0]!, { authorizerId: 'authorizer2', signature: first.sign(payload) }],
      [good[0]!, { authorizerId: 'authorizer2', signature: new Uint8Array(0) }],
      [...good, { authorizerId: 'nobody', signature: first.sign(payload) }],
      [
        good[0]!,
        {
          authorizerId: 'authorizer2',
          signature: second.sign(authorizerPayload('other', raw, initiatorSignature)),
        },
      ],
    ];
    for (const signatures of bad) {
      expectCode(
        () => policy.authorize(request(signatures)),
        InvalidAuthorizerSignatureError,
        ErrorCode.InvalidAuthorizerSignature,
      );
    }
  });

  it('binds the initiator signature: a changed initiator signature invalidates authorizers', () => {
    const changed = Uint8Array.from(initiatorSignature);
    changed[0] = (changed[0] ?? 0) ^ 1;
    expectCode(
      () => policy.authorize({ ...request(good), signature: changed }),
      InvalidAuthorizerSignatureError,
      ErrorCode.InvalidAuthorizerSignature,
    );
  });

  it('accepts anything when disabled, and accepts no signatures when none are required', () => {
    createAuthorizerPolicy({
      enabled: false,
      requiredAuthorizers: ['x'],
      authorizerPublicKeys: {},
    }).authorize(request([]));
    const optionalOnly = createAuthorizerPolicy({
      enabled: true,
      requiredAuthorizers: [],
      authorizerPublicKeys: { a: { publicKey: first.publicKey, algorithm: 'ed25519' } },
    });
    optionalOnly.authorize(request([]));
    expectCode(
      () =>
        optionalOnly.authorize(request([{ authorizerId: 'a', signature: stranger.sign(payload) }])),
      InvalidAuthorizerSignatureError,
      ErrorCode.InvalidAuthorizerSignature,
    );
  });

  it('rejects unusable configuration at creation, naming the field', () => {
    expect(() =>
      createAuthorizerPolicy({
        enabled: true,
        requiredAuthorizers: ['ghost'],
        authorizerPublicKeys: {},
      }),
    ).toThrow(/authorization\.required_authorizers/);
    try {
      createAuthorizerPolicy({
        enabled: true,
        requiredAuthorizers: [],
        authorizerPublicKeys: {
          a: {
            publicKey: Buffer.from(second.publicKey, 'hex').toString('base64'),
            algorithm: 'p256',
          },
        },
      });
      throw new Error('expected failure');
    } catch (error) {
      expect(error).toBeInstanceOf(PublicKeyConfigError);
      expect((error as PublicKeyConfigError).field).toBe(
        'authorization.authorizer_public_keys.a.public_key',
      );
    }
  });
});
