/**
 * Requests built exactly as the unmodified mpcium TS client builds them (fystack/mpcium-client-ts
 * src/client.ts + src/utils.ts: JSON.stringify of the same objects in the same order, Ed25519
 * over the UTF-8 bytes) must parse and verify with our protocol code; its ClientID durable
 * names must equal ours.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInitiatorVerifier } from './initiator.ts';
import {
  generateKeyRaw,
  parseGenerateKeyMessage,
  parseResharingMessage,
  parseSignTxMessage,
  resharingRaw,
  signTxRaw,
} from './messages.ts';
import { resultConsumerDurableName } from './subjects.ts';

const seed = new Uint8Array(32).fill(42);
const verifier = createInitiatorVerifier({
  algorithm: 'ed25519',
  publicKey: Buffer.from(ed25519.getPublicKey(seed)).toString('hex'),
});
const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const tsSign = (text: string): string =>
  Buffer.from(ed25519.sign(Buffer.from(text), seed)).toString('base64');

/** The TS client's consumer-name sanitisation for a ClientID (client.ts getConsumerName). */
function tsConsumerName(base: string, clientId: string): string {
  let name = `${base}.${clientId}`
    .replace(/[.\s:-]/g, '_')
    .replace(/>/g, 'all')
    .replace(/\*/g, 'any');
  if (name.length > 0 && !/^[A-Za-z_]/.test(name)) name = `_${name}`;
  return name;
}

describe('mpcium TS client requests', () => {
  it('createWallet', () => {
    const msg: Record<string, string> = { wallet_id: 'c0ffee00-1111-4222-8333-444455556666' };
    msg['signature'] = tsSign(msg['wallet_id'] ?? '');
    const parsed = parseGenerateKeyMessage(encode(msg));
    verifier.verify(generateKeyRaw(parsed), parsed.signature);
  });

  it('signTransaction, with and without derivationPath', () => {
    const idText = fc
      .string({ minLength: 1, maxLength: 24 })
      .filter((s) => /^[A-Za-z0-9_:-]+$/.test(s));
    fc.assert(
      fc.property(
        idText,
        fc.string({ maxLength: 24 }).filter((s) => !/[<>&\u2028\u2029]/.test(s)),
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.option(fc.array(fc.nat(0x7fffffff), { maxLength: 5 }), { nil: undefined }),
        (walletId, networkInternalCode, tx, derivationPath) => {
          const msg: Record<string, unknown> = {
            key_type: 'ed25519',
            wallet_id: walletId,
            network_internal_code: networkInternalCode,
            tx_id: 'a3e1c7d2-0000-4000-8000-000000000001',
            tx: Buffer.from(tx).toString('base64'),
            derivation_path: derivationPath,
          };
          msg['signature'] = tsSign(
            JSON.stringify({
              key_type: msg['key_type'],
              wallet_id: msg['wallet_id'],
              network_internal_code: msg['network_internal_code'],
              tx_id: msg['tx_id'],
              tx: msg['tx'],
            }),
          );
          const parsed = parseSignTxMessage(encode(msg));
          verifier.verify(signTxRaw(parsed), parsed.signature);
          expect(parsed.derivationPath).toEqual(derivationPath ?? null);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('reshareKeys', () => {
    const msg: Record<string, unknown> = {
      session_id: 's-1',
      wallet_id: 'w-1',
      node_ids: ['node-a', 'node-b', 'node-c'],
      new_threshold: 1,
      key_type: 'secp256k1',
    };
    msg['signature'] = tsSign(
      JSON.stringify({
        session_id: msg['session_id'],
        node_ids: msg['node_ids'],
        new_threshold: msg['new_threshold'],
        key_type: msg['key_type'],
        wallet_id: msg['wallet_id'],
      }),
    );
    const parsed = parseResharingMessage(encode(msg));
    verifier.verify(resharingRaw(parsed), parsed.signature);
  });

  it('ClientID durable names agree with ours', () => {
    for (const clientId of ['svc-a', 'svc_a', 'a:b', '9lives', 'Ünïcode']) {
      for (const base of ['mpc_keygen_result', 'mpc_signing_result', 'mpc_reshare_result']) {
        expect(resultConsumerDurableName(base, clientId)).toBe(tsConsumerName(base, clientId));
      }
    }
  });
});
