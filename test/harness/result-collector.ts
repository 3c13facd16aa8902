/**
 * Reads results the way a real client does: from a durable pull consumer on the WorkQueue
 * stream `mpc`, acking each (JetStream then deletes it). Every delivery is kept with its
 * stream sequence, so "exactly one result per operation" is counted as distinct stream
 * messages, not de-duplicated by the test. `settled()` tells when every result stored so far
 * has been delivered and acked.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';

export interface CollectedResult {
  readonly streamSeq: number;
  readonly subject: string;
  readonly messageId: string;
  readonly body: Record<string, unknown>;
}

export class ResultCollector {
  readonly results: CollectedResult[] = [];
  private readonly seen = new Set<number>();
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly durable: string,
    private readonly stream = 'mpc',
  ) {}

  /** Consumes (and re-attaches after a NATS restart) until `stop()`. */
  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const consumer = await jetstream(this.nc).consumers.get(this.stream, this.durable);
          this.messages = await consumer.consume({ max_messages: 256 });
          for await (const msg of this.messages) {
            if (!this.seen.has(msg.seq)) {
              this.seen.add(msg.seq);
              this.results.push({
                streamSeq: msg.seq,
                subject: msg.subject,
                messageId: msg.headers?.get('Nats-Msg-Id') ?? '',
                body: msg.json<Record<string, unknown>>(),
              });
            }
            await msg.ackAck().catch(() => false);
          }
        } catch {
          // server restarting: attach again
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
  }

  /** True when the durable has nothing left to deliver and nothing awaiting an ack. */
  async settled(): Promise<boolean> {
    try {
      const info = await (
        await jetstreamManager(this.nc)
      ).consumers.info(this.stream, this.durable);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    } catch {
      return false;
    }
  }

  /** Results whose body has `field` equal to `value`. */
  matching(field: string, value: string): CollectedResult[] {
    return this.results.filter((result) => result.body[field] === value);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}

/** True when a request durable has handed out and seen acked every request stored. */
export async function requestsSettled(
  nc: NatsConnection,
  stream: string,
  durable: string,
): Promise<boolean> {
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  } catch {
    return false;
  }
}
