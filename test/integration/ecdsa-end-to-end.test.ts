/**
 * Both key types end to end (issue 5): one keygen request yields an Ed25519 and a secp256k1
 * key; signing works for both, with and without HD derivation paths; every signature is
 * checked with independent code against keys derived client-side (@noble/curves, node:crypto).
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deriveEd25519Child, deriveSecp256k1Child } from '../../signer/crypto/hd/index.ts';
import { MpcClient } from '../../signer/client/index.ts';
import { RawClient, keygenBody, signBody, type ResultWatcher } from '../harness/raw-client.ts';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';

const b64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

describe('ECDSA and Ed25519 wallets with HD derivation (3 signers, threshold 1)', () => {
  let test: TestCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygens: ResultWatcher;
  let signings: ResultWatcher;
  const walletId = `wallet-${randomUUID()}`;
  let ecdsaKey: Uint8Array; // 33-byte compressed
  let eddsaKey: Uint8Array;

  beforeAll(async () => {
    test = await startTestCluster(inject('natsUrl'));
    nc = await connect({ servers: inject('natsUrl') });
    client = new RawClient(nc);
    keygens = client.watchResults('mpc.mpc_keygen_result.*');
    signings = client.watchResults('mpc.mpc_signing_result.complete');
  });

  afterAll(async () => {
    keygens?.stop();
    signings?.stop();
    await nc?.close();
    await test?.stop();
  });

  async function sign(keyType: 'ed25519' | 'secp256k1', tx: Uint8Array, derivationPath?: number[]) {
    const txId = randomUUID();
    await client.publishSign(
      signBody(test.initiator, {
        keyType,
        walletId,
        networkInternalCode: 'test',
        txId,
        tx,
        ...(derivationPath === undefined ? {} : { derivationPath }),
      }),
      txId,
    );
    return signings.waitFor((r) => r['tx_id'] === txId, 60_000);
  }

  it('keygen yields both keys (ECDSA as 64-byte X‖Y)', async () => {
    await client.publishKeygen(keygenBody(test.initiator, walletId), walletId);
    const result = await keygens.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(result).toMatchObject({ result_type: 'success', error_code: '' });
    const xy = b64(result['ecdsa_pub_key'] as string);
    expect(xy).toHaveLength(64);
    ecdsaKey = secp256k1.Point.fromBytes(Uint8Array.of(4, ...xy)).toBytes(true);
    eddsaKey = b64(result['eddsa_pub_key'] as string);
    expect(eddsaKey).toHaveLength(32);
  });

  it('signs a 32-byte digest with secp256k1: low-S, recovery id recovers the key', async () => {
    const digest = sha256(new TextEncoder().encode('pay 1 ETH'));
    const result = await sign('secp256k1', digest);
    expect(result, JSON.stringify(result)).toMatchObject({
      result_type: 'success',
      signature: null,
    });
    const r = b64(result['r'] as string);
    const s = b64(result['s'] as string);
    const recovery = b64(result['signature_recovery'] as string);
    expect([r.length, s.length, recovery.length]).toEqual([32, 32, 1]);
    const compact = Uint8Array.of(...r, ...s);
    expect(secp256k1.verify(compact, digest, ecdsaKey, { prehash: false, lowS: true })).toBe(true);
    const recovered = secp256k1.Signature.fromBytes(compact, 'compact')
      .addRecoveryBit(recovery[0] as number)
      .recoverPublicKey(digest)
      .toBytes(true);
    expect(recovered).toEqual(ecdsaKey);
  });

  it('signs under HD-derived keys for both key types (keys derived client-side)', async () => {
    const chainCode = new Uint8Array(Buffer.from(test.cluster.chainCodeHex, 'hex'));
    const digest = sha256(new TextEncoder().encode('derived'));
    const ecdsaPath = [44, 60, 0, 0, 7];
    const ecdsaResult = await sign('secp256k1', digest, ecdsaPath);
    expect(ecdsaResult['result_type']).toBe('success');
    const childEcdsa = deriveSecp256k1Child(ecdsaKey, chainCode, ecdsaPath).publicKey;
    const compact = Uint8Array.of(
      ...b64(ecdsaResult['r'] as string),
      ...b64(ecdsaResult['s'] as string),
    );
    expect(secp256k1.verify(compact, digest, childEcdsa, { prehash: false, lowS: true })).toBe(
      true,
    );
    expect(secp256k1.verify(compact, digest, ecdsaKey, { prehash: false, lowS: true })).toBe(false);

    const message = new TextEncoder().encode('solana transfer');
    const eddsaPath = [44, 501, 3, 0];
    const eddsaResult = await sign('ed25519', message, eddsaPath);
    expect(eddsaResult['result_type']).toBe('success');
    const childEddsa = deriveEd25519Child(eddsaKey, chainCode, eddsaPath).publicKey;
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(childEddsa).toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, message, key, b64(eddsaResult['signature'] as string))).toBe(true);
  });

  it('signs under a path of the full BIP32 depth (255 levels, as mpcium allows)', async () => {
    const chainCode = new Uint8Array(Buffer.from(test.cluster.chainCodeHex, 'hex'));
    const digest = sha256(new TextEncoder().encode('deep'));
    const path = Array.from({ length: 255 }, (_, index) => (index * 7919) % 0x8000_0000);
    const result = await sign('secp256k1', digest, path);
    expect(result, JSON.stringify(result)).toMatchObject({ result_type: 'success' });
    const child = deriveSecp256k1Child(ecdsaKey, chainCode, path).publicKey;
    const compact = Uint8Array.of(...b64(result['r'] as string), ...b64(result['s'] as string));
    expect(secp256k1.verify(compact, digest, child, { prehash: false, lowS: true })).toBe(true);
    const tooDeep = await sign('secp256k1', digest, [...path, 0]);
    expect(tooDeep).toMatchObject({ result_type: 'error', error_code: 'ERROR_MSG_VALIDATION' });
  });

  it('our SDK binds the derivation path to the request and the signers accept it', async () => {
    const sdk = await MpcClient.create({
      nc,
      signer: {
        algorithm: 'ed25519',
        publicKey: test.initiator.publicKeyHex,
        sign: (bytes) => test.initiator.sign(bytes),
      },
      clientId: 'hd-sdk',
    });
    try {
      const chainCode = new Uint8Array(Buffer.from(test.cluster.chainCodeHex, 'hex'));
      const path = [44, 60, 1, 0, 3];
      const digest = sha256(new TextEncoder().encode('sdk derived'));
      const result = await sdk.signAndWait(
        { walletId, keyType: 'secp256k1', tx: digest, derivationPath: path },
        { timeoutMs: 60_000 },
      );
      expect(result.result_type, JSON.stringify(result)).toBe('success');
      const compact = Uint8Array.of(...b64(result.r as string), ...b64(result.s as string));
      const child = deriveSecp256k1Child(ecdsaKey, chainCode, path).publicKey;
      expect(secp256k1.verify(compact, digest, child, { prehash: false, lowS: true })).toBe(true);
    } finally {
      await sdk.close();
    }
  });

  it('rejects a secp256k1 tx that is empty or longer than a 32-byte digest', async () => {
    for (const tx of [new Uint8Array(0), new Uint8Array(33).fill(1)]) {
      const result = await sign('secp256k1', tx);
      expect(result).toMatchObject({ result_type: 'error', error_code: 'ERROR_MSG_VALIDATION' });
      expect(String(result['error_reason'])).toContain('tx');
    }
  });
});
