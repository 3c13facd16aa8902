/**
 * A deliberately minimal mpcium client written straight against the wire contract (contract
 * §1–3), independent of our SDK: it signs requests the way the Go and TS clients do, publishes
 * them to the request streams and reads results from the `mpc` stream with its own ordered
 * consumer. Tests use it to check the signers, not the SDK.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';

export interface Ed25519Initiator {
  readonly privateKey: KeyObject;
  /** Hex of the 32-byte public key (the signer config's `initiator.public_key`). */
  readonly publicKeyHex: string;
  sign(bytes: Uint8Array): Uint8Array;
}

export function newEd25519Initiator(): Ed25519Initiator {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return fromKeys(privateKey, publicKey);
}

export function ed25519InitiatorFromSeed(seed: Uint8Array): Ed25519Initiator {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return fromKeys(privateKey, createPublicKey(privateKey));
}

function fromKeys(privateKey: KeyObject, publicKey: KeyObject): Ed25519Initiator {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  return {
    privateKey,
    publicKeyHex: raw.toString('hex'),
    sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
  };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export function keygenBody(initiator: Ed25519Initiator, walletId: string): Uint8Array {
  const signature = initiator.sign(new TextEncoder().encode(walletId));
  return new TextEncoder().encode(
    JSON.stringify({ wallet_id: walletId, signature: b64(signature) }),
  );
}

export interface SignFields {
  readonly keyType: 'ed25519' | 'secp256k1';
  readonly walletId: string;
  readonly networkInternalCode: string;
  readonly txId: string;
  readonly tx: Uint8Array;
  readonly derivationPath?: readonly number[];
  /** Also sign the derivation path (our extension, `derivation_path_signature`). */
  readonly signPath?: boolean;
}

/** Raw() exactly as the TS client computes it (JSON.stringify in Go's field order). */
export function signRaw(fields: SignFields): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      key_type: fields.keyType,
      wallet_id: fields.walletId,
      network_internal_code: fields.networkInternalCode,
      tx_id: fields.txId,
      tx: b64(fields.tx),
    }),
  );
}

export function signBody(initiator: Ed25519Initiator, fields: SignFields): Uint8Array {
  const signature = initiator.sign(signRaw(fields));
  return new TextEncoder().encode(
    JSON.stringify({
      key_type: fields.keyType,
      wallet_id: fields.walletId,
      network_internal_code: fields.networkInternalCode,
      tx_id: fields.txId,
      tx: b64(fields.tx),
      signature: b64(signature),
      derivation_path: fields.derivationPath ?? null,
      ...(fields.signPath === true
        ? {
            derivation_path_signature: b64(
              initiator.sign(
                // Our extension's signed bytes: domain, Raw(), then the path as JSON.
                Buffer.concat([
                  Buffer.from('mpc-derivation-path-v1\n'),
                  signRaw(fields),
                  Buffer.from(`\n${JSON.stringify(fields.derivationPath ?? [])}`),
                ]),
              ),
            ),
          }
        : {}),
    }),
  );
}

/** What differs between the requests of a burst (`RawClient.publishSignBurst`). */
export type BurstRequest = Pick<SignFields, 'txId' | 'tx' | 'derivationPath' | 'signPath'>;

export class RawClient {
  private readonly js: JetStreamClient;
  constructor(
    private readonly nc: NatsConnection,
    private readonly clientId = '',
  ) {
    this.js = jetstream(nc);
  }

  private requestHeaders() {
    if (this.clientId === '') return undefined;
    const h = headers();
    h.set('ClientID', this.clientId);
    return h;
  }

  async publishKeygen(body: Uint8Array, walletId: string): Promise<void> {
    const h = this.requestHeaders();
    await this.js.publish(
      `mpc.keygen_request.${walletId}`,
      body,
      h === undefined ? {} : { headers: h },
    );
  }

  /**
   * Publishes a signing request. With `retryUntilMs`, a publish that times out (e.g. while
   * JetStream recovers after a server restart) is retried with the same Nats-Msg-Id, so the
   * stream keeps one copy.
   */
  async publishSign(body: Uint8Array, txId = 'x', retryUntilMs = 0): Promise<void> {
    const h = this.requestHeaders();
    const deadline = Date.now() + retryUntilMs;
    for (;;) {
      try {
        await this.js.publish(`mpc.signing_request.${txId}`, body, {
          ...(retryUntilMs > 0 ? { msgID: `request-${txId}` } : {}),
          ...(h === undefined ? {} : { headers: h }),
        });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /**
   * Collects results published on `subject` from now on with a core NATS subscription (it
   * sees every result JetStream stores, without consuming from the WorkQueue stream, so it
   * never competes with real clients).
   */
  /** Publishes one signing request per entry of `requests`, all at once, signed by `initiator`. */
  async publishSignBurst(
    initiator: Ed25519Initiator,
    common: Omit<SignFields, keyof BurstRequest>,
    requests: readonly BurstRequest[],
  ): Promise<void> {
    await Promise.all(
      requests.map((request) =>
        this.publishSign(signBody(initiator, { ...common, ...request }), request.txId),
      ),
    );
  }

  watchResults(subject: string): ResultWatcher {
    const subscription = this.nc.subscribe(subject);
    const received: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    void (async () => {
      for await (const msg of subscription) {
        const result = msg.json<Record<string, unknown>>();
        // The subject, for results whose body lacks an id (reshare: the session id).
        Object.defineProperty(result, '__subject', { value: msg.subject, enumerable: false });
        received.push(result);
        for (const waiter of waiters.splice(0)) waiter();
      }
    })();
    return {
      received,
      async waitFor(predicate, timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = received.find(predicate);
          if (found !== undefined) return found;
          const remaining = deadline - Date.now();
          if (remaining <= 0) throw new Error(`no matching result within ${timeoutMs} ms`);
          await new Promise<void>((resolve) => {
            waiters.push(resolve);
            setTimeout(resolve, Math.min(remaining, 200));
          });
        }
      },
      stop: () => subscription.unsubscribe(),
    };
  }

  /** Every result still stored in the `mpc` stream on `subject` (read with direct gets). */
  async storedResults(subject: string): Promise<Record<string, unknown>[]> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info('mpc');
    const results: Record<string, unknown>[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage('mpc', { seq }).catch(() => null);
      if (stored !== null && stored.subject === subject)
        results.push(stored.json<Record<string, unknown>>());
    }
    return results;
  }
}

export interface ResultWatcher {
  readonly received: Record<string, unknown>[];
  waitFor(
    predicate: (result: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): void;
}
