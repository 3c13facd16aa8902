/* eslint-disable no-control-regex -- the tests filter control characters on purpose */
import { sign as nodeSign, createPrivateKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidationError } from './errors.ts';
import { ErrorCode, MpcError } from './errors.ts';
import { MalformedMessageError } from './go-decode.ts';
import { toGoDecodedString } from './go-json.ts';
import {
  MAX_DERIVATION_PATH_LENGTH,
  MAX_EDDSA_MESSAGE_BYTES,
  MAX_REQUEST_BODY_BYTES,
  UnsupportedKeyTypeError,
  decodeKeygenResultEvent,
  decodeResharingResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeKeygenResult,
  encodeResharingMessage,
  encodeResharingResult,
  encodeSignTxMessage,
  encodeSigningResult,
  generateKeyRaw,
  parseGenerateKeyMessage,
  parseResharingMessage,
  parseSignTxMessage,
  resharingRaw,
  salvageRequestIds,
  ecdsaSigningDigest,
  signTxRaw,
  type SignTxMessage,
} from './messages.ts';
import { hexToBytes, loadMpciumVectors, utf8 } from '../../test/vectors/mpcium/load.ts';

interface Vectors {
  ed25519Seed: string;
  signTx: {
    message: {
      key_type: 'secp256k1';
      wallet_id: string;
      network_internal_code: string;
      tx_id: string;
      txHex: string;
    };
    raw: string;
    ed25519Signature: string;
  };
  generateKey: { walletId: string; raw: string; ed25519Signature: string };
}

const vectors = loadMpciumVectors<Vectors>('initiator-raw.json');
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const digest = new Uint8Array(32).fill(7);

function ed25519Sign(seedHex: string, message: Uint8Array): string {
  const key = createPrivateKey({
    key: Buffer.concat([
      Buffer.from('302e020100300506032b657004220420', 'hex'),
      Buffer.from(seedHex, 'hex'),
    ]),
    format: 'der',
    type: 'pkcs8',
  });
  return nodeSign(null, message, key).toString('hex');
}

function expectCode(action: () => unknown, code: string, field?: string): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MpcError);
    expect((error as MpcError).code).toBe(code);
    if (field !== undefined) expect((error as ValidationError).field).toBe(field);
    return;
  }
  throw new Error('expected an error');
}

const signBody = (overrides: Record<string, unknown> = {}): Uint8Array =>
  utf8(
    JSON.stringify({
      key_type: 'secp256k1',
      wallet_id: 'w1',
      network_internal_code: 'ethereum-mainnet',
      tx_id: 't1',
      tx: b64(digest),
      signature: b64(new Uint8Array(64).fill(1)),
      derivation_path: [44, 60, 0, 0, 0],
      ...overrides,
    }),
  );

describe('Raw() bytes (contract §3.1 vectors)', () => {
  it('SignTxMessage.Raw() and its Ed25519 signature', () => {
    const { message } = vectors.signTx;
    const raw = signTxRaw({
      keyType: message.key_type,
      walletId: message.wallet_id,
      networkInternalCode: message.network_internal_code,
      txId: message.tx_id,
      tx: hexToBytes(message.txHex),
    });
    expect(text(raw)).toBe(vectors.signTx.raw);
    expect(ed25519Sign(vectors.ed25519Seed, raw)).toBe(vectors.signTx.ed25519Signature);
  });

  it('GenerateKeyMessage.Raw() is the wallet id bytes', () => {
    const raw = generateKeyRaw({ walletId: vectors.generateKey.walletId });
    expect(text(raw)).toBe(vectors.generateKey.raw);
    expect(ed25519Sign(vectors.ed25519Seed, raw)).toBe(vectors.generateKey.ed25519Signature);
  });

  it('ResharingMessage.Raw() has exactly five fields, null node_ids when nil', () => {
    expect(
      text(
        resharingRaw({
          sessionId: 's1',
          nodeIds: ['n1', 'n2'],
          newThreshold: 1,
          keyType: 'ed25519',
          walletId: 'w1',
        }),
      ),
    ).toBe(
      '{"session_id":"s1","node_ids":["n1","n2"],"new_threshold":1,"key_type":"ed25519","wallet_id":"w1"}',
    );
    expect(
      text(
        resharingRaw({
          sessionId: 's1',
          nodeIds: null,
          newThreshold: 0,
          keyType: 'ed25519',
          walletId: '',
        }),
      ),
    ).toBe(
      '{"session_id":"s1","node_ids":null,"new_threshold":0,"key_type":"ed25519","wallet_id":""}',
    );
  });

  it('signTxRaw agrees with the TS client JSON.stringify when no Go-specific escape applies', () => {
    const idChars = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => !/[<>&\u2028\u2029\u0000-\u001f]/.test(s));
    fc.assert(
      fc.property(
        idChars,
        idChars,
        idChars,
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (walletId, code, txId, tx) => {
          const viaTs = JSON.stringify({
            key_type: 'ed25519',
            wallet_id: walletId,
            network_internal_code: code,
            tx_id: txId,
            tx: Buffer.from(tx).toString('base64'),
          });
          expect(
            text(signTxRaw({ keyType: 'ed25519', walletId, networkInternalCode: code, txId, tx })),
          ).toBe(viaTs);
        },
      ),
    );
  });

  it('differs from JSON.stringify exactly where Go escapes HTML characters', () => {
    const raw = text(
      signTxRaw({
        keyType: 'ed25519',
        walletId: 'w',
        networkInternalCode: 'a<b&c>',
        txId: 't',
        tx: Uint8Array.of(1),
      }),
    );
    expect(raw).toContain('"network_internal_code":"a\\u003cb\\u0026c\\u003e"');
  });
});

describe('parseSignTxMessage', () => {
  it('parses a Go client body and re-encodes it byte for byte', () => {
    const message: SignTxMessage = {
      keyType: 'secp256k1',
      walletId: 'w1',
      networkInternalCode: 'ethereum-mainnet',
      txId: 't1',
      tx: digest,
      signature: new Uint8Array(64).fill(2),
      derivationPath: [44, 60, 0, 0, 0],
      authorizerSignatures: [
        { authorizerId: 'authorizer1', signature: new Uint8Array(64).fill(3) },
      ],
    };
    const body = encodeSignTxMessage(message);
    expect(
      text(body).startsWith(
        '{"key_type":"secp256k1","wallet_id":"w1","network_internal_code":"ethereum-mainnet","tx_id":"t1","tx":"',
      ),
    ).toBe(true);
    expect(text(body)).toContain(
      '"derivation_path":[44,60,0,0,0],"authorizer_signatures":[{"authorizer_id":"authorizer1","signature":"',
    );
    const parsed = parseSignTxMessage(body);
    expect(parsed).toEqual(message);
    expect(encodeSignTxMessage(parsed)).toEqual(body);
  });

  it('matches field names case-insensitively and ignores unknown fields', () => {
    const parsed = parseSignTxMessage(
      utf8(
        `{"KEY_TYPE":"ed25519","Wallet_Id":"w","TX_ID":"t","tx":"${b64(utf8('hi'))}","\u017fignature":null,"extra":{"x":1}}`,
      ),
    );
    expect(parsed.keyType).toBe('ed25519');
    expect(parsed.walletId).toBe('w');
    expect(parsed.txId).toBe('t');
    expect(text(parsed.tx)).toBe('hi');
    expect(parsed.signature.length).toBe(0);
    expect(parsed.derivationPath).toBeNull();
    expect(parsed.authorizerSignatures).toEqual([]);
    expect(parsed.networkInternalCode).toBe('');
  });

  it('re-encodes non-canonical base64 canonically in Raw()', () => {
    const parsed = parseSignTxMessage(signBody({ key_type: 'ed25519', tx: '3q2+7x==' }));
    expect(text(signTxRaw(parsed))).toContain('"tx":"3q2+7w=="');
  });

  it('replaces lone surrogate escapes by U+FFFD like Go', () => {
    const parsed = parseSignTxMessage(signBody({ network_internal_code: '\ud800x' }));
    expect(parsed.networkInternalCode).toBe('\ufffdx');
    expect(text(signTxRaw(parsed))).toContain('"network_internal_code":"\ufffdx"');
  });

  it('rejects malformed bodies with ERROR_UNMARSHAL_FAILURE', () => {
    for (const body of ['', 'not json', '[1]', 'null', '"x"', '{"wallet_id":']) {
      expectCode(() => parseSignTxMessage(utf8(body)), ErrorCode.UnmarshalFailure);
    }
    expect(() => parseSignTxMessage(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow(
      MalformedMessageError,
    );
  });

  it('rejects each bad field with a ValidationError naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ wallet_id: '' }, 'wallet_id'],
      [{ wallet_id: 5 }, 'wallet_id'],
      [{ wallet_id: 'a.b' }, 'wallet_id'],
      [{ wallet_id: 'a b' }, 'wallet_id'],
      [{ wallet_id: '*' }, 'wallet_id'],
      [{ wallet_id: 'x'.repeat(257) }, 'wallet_id'],
      [{ tx_id: '' }, 'tx_id'],
      [{ tx_id: 'a>' }, 'tx_id'],
      [{ key_type: '' }, 'key_type'],
      [{ tx: null }, 'tx'],
      [{ tx: '' }, 'tx'],
      [{ tx: 'not base64!' }, 'tx'],
      [{ tx: b64(new Uint8Array(33)) }, 'tx'],
      [{ tx: b64(new Uint8Array(64)) }, 'tx'],
      [{ key_type: 'ed25519', tx: b64(new Uint8Array(MAX_EDDSA_MESSAGE_BYTES + 1)) }, 'tx'],
      [{ signature: 12 }, 'signature'],
      [{ signature: b64(new Uint8Array(513)) }, 'signature'],
      [{ derivation_path: [1.5] }, 'derivation_path[0]'],
      [{ derivation_path: [-1] }, 'derivation_path[0]'],
      [{ derivation_path: [0x80000000] }, 'derivation_path[0]'],
      [{ derivation_path: ['1'] }, 'derivation_path[0]'],
      [{ derivation_path: 'm/44' }, 'derivation_path'],
      [{ derivation_path: new Array(MAX_DERIVATION_PATH_LENGTH + 1).fill(0) }, 'derivation_path'],
      [{ network_internal_code: 'x'.repeat(257) }, 'network_internal_code'],
      [
        { authorizer_signatures: [{ authorizer_id: '', signature: 'AA==' }] },
        'authorizer_signatures[0].authorizer_id',
      ],
      [
        { authorizer_signatures: [{ authorizer_id: 'a', signature: '!' }] },
        'authorizer_signatures[0].signature',
      ],
      [{ authorizer_signatures: ['x'] }, 'authorizer_signatures[0]'],
      [
        { authorizer_signatures: new Array(17).fill({ authorizer_id: 'a', signature: 'AA==' }) },
        'authorizer_signatures',
      ],
      [{ Wallet_ID: 'w2' }, 'wallet_id'],
    ];
    for (const [overrides, field] of cases) {
      expectCode(() => parseSignTxMessage(signBody(overrides)), ErrorCode.MsgValidation, field);
    }
  });

  it('accepts a secp256k1 tx of 1..32 bytes as sent, and signs its left-padded digest', () => {
    for (const length of [1, 17, 31, 32]) {
      const tx = Uint8Array.from({ length }, (_, i) => 0x80 + i);
      const parsed = parseSignTxMessage(signBody({ tx: b64(tx) }));
      // The parsed tx is what the initiator signed: never padded in place.
      expect(parsed.tx).toEqual(tx);
      expect(text(signTxRaw(parsed))).toContain(`"tx":"${b64(tx)}"`);
      const signed = ecdsaSigningDigest(parsed.tx);
      expect(signed).toHaveLength(32);
      expect(signed.subarray(0, 32 - length).every((byte) => byte === 0)).toBe(true);
      expect(signed.subarray(32 - length)).toEqual(tx);
      // The same big-endian integer (mpcium signs big.Int(tx)).
      expect(BigInt(`0x${Buffer.from(signed).toString('hex')}`)).toBe(
        BigInt(`0x${Buffer.from(tx).toString('hex')}`),
      );
      expect(signed).not.toBe(parsed.tx);
    }
    // Leading zero bytes are part of the integer's padding, not dropped or doubled.
    expect(ecdsaSigningDigest(Uint8Array.of(0, 0, 5))).toEqual(
      Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 5 : 0)),
    );
    // The parser accepts a path of the full BIP32 depth (mpcium's limit).
    const deep = new Array<number>(MAX_DERIVATION_PATH_LENGTH).fill(7);
    expect(MAX_DERIVATION_PATH_LENGTH).toBe(255);
    expect(parseSignTxMessage(signBody({ derivation_path: deep })).derivationPath).toEqual(deep);
  });

  it('refuses to pad an empty or over-long secp256k1 tx', () => {
    expectCode(() => ecdsaSigningDigest(new Uint8Array(0)), ErrorCode.MsgValidation, 'tx');
    expectCode(() => ecdsaSigningDigest(new Uint8Array(33)), ErrorCode.MsgValidation, 'tx');
    expectCode(
      () => parseSignTxMessage(signBody({ tx: b64(new Uint8Array(33)) })),
      ErrorCode.MsgValidation,
      'tx',
    );
  });

  it('has a dedicated error for unsupported key types', () => {
    expect(() => parseSignTxMessage(signBody({ key_type: 'p256' }))).toThrow(
      UnsupportedKeyTypeError,
    );
    expectCode(
      () => parseSignTxMessage(signBody({ key_type: 'ECDSA' })),
      ErrorCode.MsgValidation,
      'key_type',
    );
  });

  it('caps the body size', () => {
    const big = utf8(`{"pad":"${'x'.repeat(MAX_REQUEST_BODY_BYTES)}"}`);
    expectCode(() => parseSignTxMessage(big), ErrorCode.MsgValidation, 'body');
  });

  it('never throws anything but MpcError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.json().map(utf8)), (body) => {
        try {
          parseSignTxMessage(body);
        } catch (error) {
          expect(error).toBeInstanceOf(MpcError);
        }
      }),
    );
  });

  it('salvages identifiers of a rejected request for error routing', () => {
    expect(salvageRequestIds(signBody({ tx: 'bad' }))).toEqual({
      walletId: 'w1',
      txId: 't1',
      sessionId: '',
      networkInternalCode: 'ethereum-mainnet',
      keyType: 'secp256k1',
    });
    expect(salvageRequestIds(utf8('garbage')).walletId).toBe('');
    expect(salvageRequestIds(signBody({ wallet_id: 'a.b' })).walletId).toBe('');
  });
});

describe('parseGenerateKeyMessage', () => {
  it('parses Go and TS client bodies', () => {
    const body = encodeGenerateKeyMessage({
      walletId: 'wallet-1',
      signature: hexToBytes(vectors.generateKey.ed25519Signature),
      authorizerSignatures: [],
    });
    expect(text(body)).toBe(
      `{"wallet_id":"wallet-1","signature":"${b64(hexToBytes(vectors.generateKey.ed25519Signature))}"}`,
    );
    expect(parseGenerateKeyMessage(body).walletId).toBe('wallet-1');
    const tsBody = utf8(JSON.stringify({ wallet_id: 'abc', signature: 'AAAA' }));
    expect(parseGenerateKeyMessage(tsBody)).toEqual({
      walletId: 'abc',
      signature: new Uint8Array(3),
      authorizerSignatures: [],
    });
  });

  it('rejects an empty or missing wallet id', () => {
    expectCode(
      () => parseGenerateKeyMessage(utf8('{"signature":"AA=="}')),
      ErrorCode.MsgValidation,
      'wallet_id',
    );
  });
});

describe('parseResharingMessage', () => {
  const body = (overrides: Record<string, unknown> = {}): Uint8Array =>
    utf8(
      JSON.stringify({
        session_id: 's1',
        node_ids: ['n1', 'n2', 'n3'],
        new_threshold: 1,
        key_type: 'ed25519',
        wallet_id: 'w1',
        signature: 'AA==',
        ...overrides,
      }),
    );

  it('parses and round-trips the Go encoding', () => {
    const parsed = parseResharingMessage(body());
    expect(parsed.nodeIds).toEqual(['n1', 'n2', 'n3']);
    expect(text(encodeResharingMessage(parsed))).toBe(
      '{"session_id":"s1","node_ids":["n1","n2","n3"],"new_threshold":1,"key_type":"ed25519","wallet_id":"w1","signature":"AA=="}',
    );
    expect(text(resharingRaw(parsed))).toBe(
      '{"session_id":"s1","node_ids":["n1","n2","n3"],"new_threshold":1,"key_type":"ed25519","wallet_id":"w1"}',
    );
  });

  it('validates session id, committee and threshold', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ session_id: '' }, 'session_id'],
      [{ node_ids: null }, 'node_ids'],
      [{ node_ids: [] }, 'node_ids'],
      [{ node_ids: ['n1', 'n1'] }, 'node_ids'],
      [{ node_ids: ['n1', 7] }, 'node_ids[1]'],
      [{ new_threshold: 0 }, 'new_threshold'],
      [{ new_threshold: 1.5 }, 'new_threshold'],
      [{ new_threshold: 3 }, 'new_threshold'],
    ];
    for (const [overrides, field] of cases) {
      expectCode(() => parseResharingMessage(body(overrides)), ErrorCode.MsgValidation, field);
    }
    expect(() => parseResharingMessage(body({ key_type: 'rsa' }))).toThrow(UnsupportedKeyTypeError);
  });
});

describe('result encoders (§2.2 field order and encodings)', () => {
  it('keygen success and error', () => {
    const ecdsa = new Uint8Array(64).fill(1);
    const eddsa = new Uint8Array(32).fill(2);
    expect(
      text(
        encodeKeygenResult({
          resultType: 'success',
          walletId: 'w1',
          ecdsaPublicKey: ecdsa,
          eddsaPublicKey: eddsa,
        }),
      ),
    ).toBe(
      `{"wallet_id":"w1","ecdsa_pub_key":"${b64(ecdsa)}","eddsa_pub_key":"${b64(eddsa)}","result_type":"success","error_reason":"","error_code":""}`,
    );
    expect(
      text(
        encodeKeygenResult({
          resultType: 'success',
          walletId: 'w1',
          ecdsaPublicKey: null,
          eddsaPublicKey: eddsa,
        }),
      ),
    ).toContain('"ecdsa_pub_key":null');
    expect(
      text(
        encodeKeygenResult({
          resultType: 'error',
          walletId: 'w1',
          errorCode: ErrorCode.KeyAlreadyExists,
          errorReason: 'wallet w1 exists',
        }),
      ),
    ).toBe(
      '{"wallet_id":"w1","ecdsa_pub_key":null,"eddsa_pub_key":null,"result_type":"error","error_reason":"wallet w1 exists","error_code":"ERROR_KEY_ALREADY_EXISTS"}',
    );
    expect(() =>
      encodeKeygenResult({
        resultType: 'success',
        walletId: 'w',
        ecdsaPublicKey: new Uint8Array(65),
        eddsaPublicKey: null,
      }),
    ).toThrow(RangeError);
  });

  it('signing ECDSA, EdDSA and error results', () => {
    const r = new Uint8Array(32).fill(0x11);
    const s = new Uint8Array(32).fill(0x22);
    expect(
      text(
        encodeSigningResult({
          resultType: 'success',
          keyType: 'secp256k1',
          walletId: 'w',
          txId: 't',
          networkInternalCode: 'n',
          r,
          s,
          recoveryId: 1,
        }),
      ),
    ).toBe(
      `{"result_type":"success","error_code":"","error_reason":"","is_timeout":false,"network_internal_code":"n","wallet_id":"w","tx_id":"t","r":"${b64(r)}","s":"${b64(s)}","signature_recovery":"AQ==","signature":null}`,
    );
    const signature = new Uint8Array(64).fill(9);
    expect(
      text(
        encodeSigningResult({
          resultType: 'success',
          keyType: 'ed25519',
          walletId: 'w',
          txId: 't',
          networkInternalCode: 'n',
          signature,
        }),
      ),
    ).toBe(
      `{"result_type":"success","error_code":"","error_reason":"","is_timeout":false,"network_internal_code":"n","wallet_id":"w","tx_id":"t","r":null,"s":null,"signature_recovery":null,"signature":"${b64(signature)}"}`,
    );
    expect(
      text(
        encodeSigningResult({
          resultType: 'error',
          walletId: 'w',
          txId: 't',
          networkInternalCode: 'n',
          errorCode: ErrorCode.PeerUnavailable,
          errorReason: 'failed to send direct message to node2',
        }),
      ),
    ).toBe(
      '{"result_type":"error","error_code":"ERROR_PEER_UNAVAILABLE","error_reason":"failed to send direct message to node2","is_timeout":false,"network_internal_code":"n","wallet_id":"w","tx_id":"t","r":null,"s":null,"signature_recovery":null,"signature":null}',
    );
    expect(
      text(
        encodeSigningResult({
          resultType: 'error',
          walletId: 'w',
          txId: 't',
          networkInternalCode: '',
          errorCode: ErrorCode.SessionTimeout,
          errorReason: 'x',
          isTimeout: true,
        }),
      ),
    ).toContain('"is_timeout":true');
    const highS = new Uint8Array(32).fill(0xff);
    expect(() =>
      encodeSigningResult({
        resultType: 'success',
        keyType: 'secp256k1',
        walletId: 'w',
        txId: 't',
        networkInternalCode: '',
        r,
        s: highS,
        recoveryId: 0,
      }),
    ).toThrow(RangeError);
    expect(() =>
      encodeSigningResult({
        resultType: 'success',
        keyType: 'secp256k1',
        walletId: 'w',
        txId: 't',
        networkInternalCode: '',
        r,
        s,
        recoveryId: 4,
      }),
    ).toThrow(RangeError);
    expect(() =>
      encodeSigningResult({
        resultType: 'success',
        keyType: 'ed25519',
        walletId: 'w',
        txId: 't',
        networkInternalCode: '',
        signature: new Uint8Array(63),
      }),
    ).toThrow(RangeError);
  });

  it('resharing success and error', () => {
    const key = new Uint8Array(32).fill(5);
    expect(
      text(
        encodeResharingResult({
          resultType: 'success',
          walletId: 'w',
          newThreshold: 2,
          keyType: 'ed25519',
          publicKey: key,
        }),
      ),
    ).toBe(
      `{"wallet_id":"w","new_threshold":2,"key_type":"ed25519","pub_key":"${b64(key)}","result_type":"success","error_reason":"","error_code":""}`,
    );
    expect(
      text(
        encodeResharingResult({
          resultType: 'error',
          walletId: 'w',
          newThreshold: 2,
          keyType: 'x<y',
          errorCode: ErrorCode.MsgValidation,
          errorReason: 'r',
        }),
      ),
    ).toBe(
      '{"wallet_id":"w","new_threshold":2,"key_type":"x\\u003cy","pub_key":null,"result_type":"error","error_reason":"r","error_code":"ERROR_MSG_VALIDATION"}',
    );
  });

  it('decoders read what encoders write', () => {
    const eddsa = new Uint8Array(32).fill(2);
    expect(
      decodeKeygenResultEvent(
        encodeKeygenResult({
          resultType: 'success',
          walletId: 'w1',
          ecdsaPublicKey: null,
          eddsaPublicKey: eddsa,
        }),
      ),
    ).toEqual({
      wallet_id: 'w1',
      ecdsa_pub_key: null,
      eddsa_pub_key: b64(eddsa),
      result_type: 'success',
      error_reason: '',
      error_code: '',
    });
    const signing = decodeSigningResultEvent(
      encodeSigningResult({
        resultType: 'error',
        walletId: 'w',
        txId: 't',
        networkInternalCode: 'n',
        errorCode: ErrorCode.MaxDeliveryAttempts,
        errorReason: 'x',
        isTimeout: true,
      }),
    );
    expect(signing.is_timeout).toBe(true);
    expect(signing.error_code).toBe('ERROR_MAX_DELIVERY_ATTEMPTS');
    expect(
      decodeResharingResultEvent(
        encodeResharingResult({
          resultType: 'success',
          walletId: 'w',
          newThreshold: 1,
          keyType: 'ed25519',
          publicKey: eddsa,
        }),
      ).pub_key,
    ).toBe(b64(eddsa));
    expectCode(
      () => decodeSigningResultEvent(utf8('{"result_type":1}')),
      ErrorCode.MsgValidation,
      'result_type',
    );
  });
});

describe('request encode/parse round trip (property)', () => {
  const id = fc
    .string({ minLength: 1, maxLength: 40 })
    .filter(
      (s) => !/[\s.*>\u0000-\u001f\u007f\ufffd\u2028\u2029]/u.test(s) && !/[\ud800-\udfff]/.test(s),
    );
  const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  const authorizers = fc.array(fc.record({ authorizerId: id, signature: bytes(1, 72) }), {
    maxLength: 3,
  });

  it('parseSignTxMessage(encodeSignTxMessage(m)) = m and Raw() is stable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('secp256k1' as const, 'ed25519' as const),
        id,
        id,
        fc.string({ maxLength: 30 }),
        bytes(1, 200),
        bytes(0, 80),
        fc.option(fc.array(fc.nat(0x7fffffff), { maxLength: 6 }), { nil: null }),
        authorizers,
        (
          keyType,
          walletId,
          txId,
          code,
          message,
          signature,
          derivationPath,
          authorizerSignatures,
        ) => {
          const tx = keyType === 'secp256k1' ? new Uint8Array(32).fill(message[0] ?? 0) : message;
          const original: SignTxMessage = {
            keyType,
            walletId,
            networkInternalCode: code,
            txId,
            tx,
            signature,
            derivationPath,
            authorizerSignatures,
          };
          const parsed = parseSignTxMessage(encodeSignTxMessage(original));
          expect(parsed).toEqual({ ...original, networkInternalCode: toGoDecodedString(code) });
          expect(signTxRaw(parsed)).toEqual(
            signTxRaw({ ...original, networkInternalCode: toGoDecodedString(code) }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
