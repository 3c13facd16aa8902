import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuthorizerPolicy } from '../protocol/authorizers.ts';
import { createInitiatorVerifier } from '../protocol/initiator.ts';
import { generateKeyRaw } from '../protocol/messages.ts';
import {
  InitiatorKeyError,
  generateInitiatorKey,
  initiatorSignerFromKeyText,
  loadInitiatorSigner,
  signAsAuthorizer,
} from './initiator-keys.ts';

const directory = mkdtempSync(join(tmpdir(), 'mpc-keys-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('initiator keys in mpcium formats', () => {
  it('derives the contract §3.1 public key from the 000102…1f seed', () => {
    const seed = Buffer.from(Array.from({ length: 32 }, (_, index) => index)).toString('hex');
    const signer = initiatorSignerFromKeyText(`${seed}\n`);
    expect(signer.algorithm).toBe('ed25519');
    expect(signer.publicKey).toBe(
      '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
    );
    expect(Buffer.from(signer.sign(generateKeyRaw({ walletId: 'wallet-1' }))).toString('hex')).toBe(
      'b93b85284f989a7211d6d1389bc9aabfae4d953bae740191df3af3ef57ff05e4320a8210e1cc12bff9e905ef8ea456e0494367aba88dac86df2a3f4c60d5b30f',
    );
  });

  for (const algorithm of ['ed25519', 'p256'] as const) {
    it(`generates, writes, loads and signs with ${algorithm} keys the signer accepts`, async () => {
      const generated = generateInitiatorKey(algorithm);
      const path = join(directory, `${algorithm}.key`);
      writeFileSync(path, generated.keyFileText, { mode: 0o600 });
      const signer = await loadInitiatorSigner(path);
      expect(signer.algorithm).toBe(algorithm);
      expect(signer.publicKey).toBe(generated.publicKey);
      const raw = generateKeyRaw({ walletId: 'w-1' });
      createInitiatorVerifier({ algorithm, publicKey: signer.publicKey }).verify(
        raw,
        signer.sign(raw),
      );
    });
  }

  it('accepts 0x-prefixed P-256 SEC1 hex and PKCS#8', () => {
    const generated = generateInitiatorKey('p256');
    const fromPrefixed = initiatorSignerFromKeyText(`0x${generated.keyFileText.trim()}`, 'p256');
    expect(fromPrefixed.publicKey).toBe(generated.publicKey);
  });

  it('reports unusable key files without echoing their content', async () => {
    expect(() => initiatorSignerFromKeyText('zz')).toThrow(InitiatorKeyError);
    expect(() => initiatorSignerFromKeyText('00'.repeat(31), 'ed25519')).toThrow(/32-byte seed/);
    expect(() => initiatorSignerFromKeyText('ab'.repeat(40))).toThrow(/P-256/);
    await expect(loadInitiatorSigner(join(directory, 'missing.key'))).rejects.toThrow(/ENOENT/);
    await expect(loadInitiatorSigner('x.key.age')).rejects.toThrow(/age/);
    try {
      initiatorSignerFromKeyText('secretsecret');
    } catch (error) {
      expect((error as Error).message).not.toContain('secretsecret');
    }
  });

  it('computes authorizer signatures the signer policy accepts', () => {
    const initiator = initiatorSignerFromKeyText(generateInitiatorKey('ed25519').keyFileText);
    const authorizerA = initiatorSignerFromKeyText(generateInitiatorKey('ed25519').keyFileText);
    const authorizerB = initiatorSignerFromKeyText(generateInitiatorKey('p256').keyFileText);
    const raw = generateKeyRaw({ walletId: 'w-2' });
    const context = { initiatorId: 'w-2', raw, initiatorSignature: initiator.sign(raw) };
    const policy = createAuthorizerPolicy({
      enabled: true,
      requiredAuthorizers: ['a', 'b'],
      authorizerPublicKeys: {
        a: { algorithm: 'ed25519', publicKey: authorizerA.publicKey },
        b: { algorithm: 'p256', publicKey: authorizerB.publicKey },
      },
    });
    policy.authorize({
      initiatorId: 'w-2',
      raw,
      signature: context.initiatorSignature,
      authorizerSignatures: [
        signAsAuthorizer('a', authorizerA, context),
        signAsAuthorizer('b', authorizerB, context),
      ],
    });
  });
});
