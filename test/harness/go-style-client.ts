/**
 * A client that does on the wire what mpcium's Go client (`pkg/client`, v0.3.5) does, written
 * from the contract (shared/reference/mpcium-contract.md §1.2, §1.4, §1.5, §1.9, §2) and
 * independent of our protocol module: every subject, stream and consumer setting below is
 * spelled out literally, so a regression in our own constants shows up here.
 *
 * `init()` repeats `NewMPCClient`: JetStream `CreateOrUpdateStream` (update, then create when
 * the stream does not exist) for `mpc-signing`, `mpc-keygen` and `mpc`, with exactly the fields
 * the Go client sets and the zero values nats.go's JSON carries for the rest; then
 * `CreateOrUpdateConsumer` for the three result durables of its routing scope, with
 * `filter_subjects` (multi-filter; nats-server ≥ 2.10), name = durable = the sanitised logical
 * name. JetStream API errors are thrown as `JetStreamApiCallError` with the server's code.
 *
 * Requests go where the Go client sends them: the literal subjects `mpc.keygen_request.*` and
 * `mpc.signing_request.*`, with a `ClientID` header when the scope is not legacy. Results are
 * read by pull-consuming those durables (the Go client's `Consume`), acked after a JSON decode.
 */
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { keygenBody, signBody, type Ed25519Initiator, type SignFields } from './raw-client.ts';

const NANOS_PER_SECOND = 1_000_000_000;

/** A JetStream API request the server refused. */
export class JetStreamApiCallError extends Error {
  constructor(
    readonly subject: string,
    readonly code: number,
    description: string,
  ) {
    super(`${subject}: ${description} (err_code=${code})`);
  }
}

/** `sanitizeConsumerName` of the contract (§1.2). */
export function goSanitizeConsumerName(name: string): string {
  const replaced = name
    .replaceAll('.', '_')
    .replaceAll(':', '_')
    .replaceAll(' ', '_')
    .replaceAll('-', '_')
    .replaceAll('>', 'all')
    .replaceAll('*', 'any');
  return /^[A-Za-z_]/.test(replaced) ? replaced : `_${replaced}`;
}

/** Zero values of the nats.go StreamConfig fields mpcium leaves unset. */
const GO_STREAM_ZERO_VALUES = {
  max_consumers: 0,
  max_msgs: 0,
  discard: 'old',
  max_age: 0,
  max_msgs_per_subject: 0,
  max_msg_size: 0,
  num_replicas: 0,
  allow_direct: false,
  mirror_direct: false,
  compression: 'none',
};

/** The request streams as `NewJetStreamBroker` sends them (§1.2). */
export function goRequestStreamConfig(name: 'mpc-keygen' | 'mpc-signing'): Record<string, unknown> {
  return {
    ...GO_STREAM_ZERO_VALUES,
    name,
    description: `Stream for ${name}`,
    subjects: [name === 'mpc-keygen' ? 'mpc.keygen_request.*' : 'mpc.signing_request.*'],
    retention: 'limits',
    max_bytes: 100_000_000,
    max_age: 7 * 24 * 3600 * NANOS_PER_SECOND,
    storage: 'file',
  };
}

/** The result stream as `NewNATsMessageQueueManager` sends it (§1.4). */
export function goResultStreamConfig(): Record<string, unknown> {
  return {
    ...GO_STREAM_ZERO_VALUES,
    name: 'mpc',
    description: 'Stream for mpc',
    subjects: ['mpc.mpc_keygen_result.>', 'mpc.mpc_signing_result.>', 'mpc.mpc_reshare_result.>'],
    retention: 'workqueue',
    max_bytes: 100_000_000,
    storage: 'file',
  };
}

export type ResultKind = 'keygen' | 'signing' | 'reshare';

/** The three result durables of a routing scope ('' = legacy) with their filters (§1.4, §1.5). */
export function goResultConsumers(
  clientId: string,
): { kind: ResultKind; durable: string; filter: string }[] {
  const scope = clientId === '' ? '' : `.${clientId}`;
  return [
    { kind: 'keygen', base: 'mpc_keygen_result', filter: `mpc.mpc_keygen_result${scope}.*` },
    {
      kind: 'signing',
      base: 'mpc_signing_result',
      filter: `mpc.mpc_signing_result${scope}.complete`,
    },
    { kind: 'reshare', base: 'mpc_reshare_result', filter: `mpc.mpc_reshare_result${scope}.*` },
  ].map(({ kind, base, filter }) => ({
    kind: kind as ResultKind,
    durable: goSanitizeConsumerName(`${base}${scope}`),
    filter,
  }));
}

/** The consumer config `NewMessageQueue` sends, as nats.go marshals it. */
export function goResultConsumerConfig(durable: string, filter: string): Record<string, unknown> {
  return {
    name: durable,
    durable_name: durable,
    deliver_policy: 'all',
    ack_policy: 'explicit',
    ack_wait: 30 * NANOS_PER_SECOND,
    max_deliver: 3,
    replay_policy: 'instant',
    max_ack_pending: 1000,
    num_replicas: 0,
    filter_subjects: [filter],
  };
}

export interface ReceivedResult {
  readonly kind: ResultKind;
  readonly subject: string;
  readonly body: Record<string, unknown>;
}

export class GoStyleClient {
  readonly received: ReceivedResult[] = [];
  private readonly consumers: ConsumerMessages[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    readonly clientId: string,
  ) {}

  private async api(subject: string, body: unknown): Promise<Record<string, unknown>> {
    const reply = await this.nc.request(subject, JSON.stringify(body), { timeout: 10_000 });
    const parsed = reply.json<Record<string, unknown> & { error?: Record<string, unknown> }>();
    if (parsed.error !== undefined) {
      throw new JetStreamApiCallError(
        subject,
        Number(parsed.error['err_code']),
        String(parsed.error['description']),
      );
    }
    return parsed;
  }

  /** nats.go `CreateOrUpdateStream`: update; create if the stream does not exist (10059). */
  async createOrUpdateStream(config: Record<string, unknown>): Promise<Record<string, unknown>> {
    const name = String(config['name']);
    try {
      return await this.api(`$JS.API.STREAM.UPDATE.${name}`, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiCallError) || error.code !== 10059) throw error;
      return this.api(`$JS.API.STREAM.CREATE.${name}`, config);
    }
  }

  /** nats.go `CreateOrUpdateConsumer` with a multi-filter config (no filter in the subject). */
  async createOrUpdateConsumer(
    stream: string,
    config: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    return this.api(`$JS.API.CONSUMER.CREATE.${stream}.${String(config['name'])}`, {
      stream_name: stream,
      config,
      action: '',
    });
  }

  /** What `NewMPCClient` does before returning: streams, then this scope's result durables. */
  async init(): Promise<void> {
    await this.createOrUpdateStream(goRequestStreamConfig('mpc-signing'));
    await this.createOrUpdateStream(goRequestStreamConfig('mpc-keygen'));
    await this.createOrUpdateStream(goResultStreamConfig());
    for (const { durable, filter } of goResultConsumers(this.clientId)) {
      await this.createOrUpdateConsumer('mpc', goResultConsumerConfig(durable, filter));
    }
  }

  /** `OnWalletCreationResult` + `OnSignResult` + `OnResharingResult`: consume all three. */
  async consumeResults(): Promise<void> {
    const js = jetstream(this.nc);
    for (const { kind, durable } of goResultConsumers(this.clientId)) {
      const messages = await (await js.consumers.get('mpc', durable)).consume();
      this.consumers.push(messages);
      void (async () => {
        for await (const message of messages) {
          let body: Record<string, unknown>;
          try {
            body = message.json<Record<string, unknown>>();
          } catch {
            message.nak();
            continue;
          }
          await message.ackAck();
          this.received.push({ kind, subject: message.subject, body });
          for (const wake of this.waiters.splice(0)) wake();
        }
      })();
    }
  }

  private requestHeaders(): { headers?: ReturnType<typeof headers> } {
    if (this.clientId === '') return {};
    const h = headers();
    h.set('ClientID', this.clientId);
    return { headers: h };
  }

  /** `CreateWallet`: keygen request on the literal subject `mpc.keygen_request.*`. */
  async createWallet(initiator: Ed25519Initiator, walletId: string): Promise<void> {
    await jetstream(this.nc).publish(
      'mpc.keygen_request.*',
      keygenBody(initiator, walletId),
      this.requestHeaders(),
    );
  }

  /** `SignTransaction`: signing request on the literal subject `mpc.signing_request.*`. */
  async signTransaction(initiator: Ed25519Initiator, fields: SignFields): Promise<void> {
    await jetstream(this.nc).publish(
      'mpc.signing_request.*',
      signBody(initiator, fields),
      this.requestHeaders(),
    );
  }

  /** The first received result of `kind` matching `predicate`, within `timeoutMs`. */
  async waitFor(
    kind: ResultKind,
    predicate: (body: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ): Promise<ReceivedResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((r) => r.kind === kind && predicate(r.body));
      if (found !== undefined) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`client "${this.clientId}": no matching ${kind} result in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.min(remaining, 200));
      });
    }
  }

  async stop(): Promise<void> {
    for (const messages of this.consumers.splice(0)) await messages.close();
  }
}
