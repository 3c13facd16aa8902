/**
 * Drives wallets on a test cluster through the raw wire client: creates a wallet, sends
 * signing requests and collects every result per tx id (to check "exactly one").
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  RawClient,
  keygenBody,
  signBody,
  type Ed25519Initiator,
  type ResultWatcher,
} from './raw-client.ts';

export class WalletDriver {
  private constructor(
    readonly client: RawClient,
    readonly initiator: Ed25519Initiator,
    readonly keygenResults: ResultWatcher,
    readonly signingResults: ResultWatcher,
  ) {}

  static async create(nc: NatsConnection, initiator: Ed25519Initiator): Promise<WalletDriver> {
    const client = new RawClient(nc);
    return new WalletDriver(
      client,
      initiator,
      client.watchResults('mpc.mpc_keygen_result.*'),
      client.watchResults('mpc.mpc_signing_result.complete'),
    );
  }

  /** Creates a wallet and returns its Ed25519 public key (32 bytes). */
  async createWallet(timeoutMs = 90_000): Promise<{ walletId: string; publicKey: Uint8Array }> {
    const walletId = `wallet-${randomUUID()}`;
    await this.client.publishKeygen(keygenBody(this.initiator, walletId), walletId);
    const result = await this.keygenResults.waitFor((r) => r['wallet_id'] === walletId, timeoutMs);
    if (result['result_type'] !== 'success') {
      throw new Error(
        `keygen failed: ${String(result['error_code'])} ${String(result['error_reason'])}`,
      );
    }
    return {
      walletId,
      publicKey: new Uint8Array(Buffer.from(result['eddsa_pub_key'] as string, 'base64')),
    };
  }

  /** Publishes a signing request; returns its tx id and message. */
  async requestSignature(
    walletId: string,
    retryUntilMs = 0,
  ): Promise<{ txId: string; message: Uint8Array }> {
    const txId = randomUUID();
    const message = new TextEncoder().encode(`message ${txId}`);
    await this.client.publishSign(
      signBody(this.initiator, {
        keyType: 'ed25519',
        walletId,
        networkInternalCode: 'test',
        txId,
        tx: message,
      }),
      txId,
      retryUntilMs,
    );
    return { txId, message };
  }

  waitForResult(txId: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return this.signingResults.waitFor((r) => r['tx_id'] === txId, timeoutMs);
  }

  resultsFor(txId: string): Record<string, unknown>[] {
    return this.signingResults.received.filter((r) => r['tx_id'] === txId);
  }

  stop(): void {
    this.keygenResults.stop();
    this.signingResults.stop();
  }
}

export function verifiesEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signatureBase64: string,
): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, Buffer.from(signatureBase64, 'base64'));
}

/** Polls `condition` every 50 ms until true or the bound passes (then throws `what`). */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
