/**
 * Consumes one result durable of stream `mpc` and fans each decoded result out to listeners
 * (user callbacks and per-request waiters). The pull loop starts with the first listener and
 * stops with the last.
 *
 * Acknowledgement (the durable is shared by every client instance with the same routing, on a
 * WorkQueue stream, so an ack removes the result for all of them):
 * - a result that some listener handled is acked once every listener's promise settled;
 *   if a user callback throws, the message is NAKed (redelivered, at most 3 deliveries);
 * - a result nobody claimed (no user callback, no matching waiter) is NAKed with a delay so that
 *   another instance sharing the durable can take it, and dropped (acked) on its last delivery;
 * - a body that does not decode is reported to `onError` and dropped (acked): it can never
 *   succeed, and a terminated message would stay in the WorkQueue stream on nats-server 2.9.
 */
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { RESULT_CONSUMER_MAX_DELIVER } from '../transport/streams.ts';

/** Handles one result; returns true when it claimed it (waiters), void for callbacks. */
export type ResultListener<T> = (event: T) => boolean | void | Promise<boolean | void>;

export interface ResultDispatcherOptions<T> {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly durable: string;
  /** Decodes a result; `subject` is where it was published (reshare: its session ID). */
  readonly decode: (body: Uint8Array, subject: string) => T;
  /** Called with errors of the pull loop and of listeners (never with result contents). */
  readonly onError: (error: unknown) => void;
  /** Delay before an unclaimed result is offered again. */
  readonly unclaimedRedeliveryMs?: number;
}

interface Registration<T> {
  readonly listener: ResultListener<T>;
  /** Callbacks always count as handling the result; waiters only when they match. */
  readonly isCallback: boolean;
}

export class ResultDispatcher<T> {
  private readonly registrations = new Set<Registration<T>>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: ResultDispatcherOptions<T>) {}

  /** Adds a listener; resolves once the pull loop runs. Returns its removal function. */
  async add(listener: ResultListener<T>, isCallback: boolean): Promise<() => Promise<void>> {
    const registration: Registration<T> = { listener, isCallback };
    this.registrations.add(registration);
    try {
      await this.ensureRunning();
    } catch (error) {
      this.registrations.delete(registration);
      throw error;
    }
    return async () => {
      this.registrations.delete(registration);
      if (this.registrations.size === 0) await this.stop();
    };
  }

  /** Stops the pull loop (listeners stay registered but receive nothing). */
  async stop(): Promise<void> {
    const messages = this.messages;
    this.messages = undefined;
    this.starting = undefined;
    if (messages !== undefined) await messages.close();
    await this.loop;
    this.loop = undefined;
  }

  private ensureRunning(): Promise<void> {
    this.starting ??= this.start().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const consumer: Consumer = await this.options.js.consumers.get(
      this.options.stream,
      this.options.durable,
    );
    const messages = await consumer.consume({ max_messages: 16 });
    this.messages = messages;
    this.loop = (async () => {
      try {
        for await (const message of messages) await this.dispatch(message);
      } catch (error) {
        this.options.onError(error);
      }
    })();
  }

  private async dispatch(message: JsMsg): Promise<void> {
    let event: T;
    try {
      event = this.options.decode(message.data, message.subject);
    } catch (error) {
      this.options.onError(error);
      // Ack, not term: nats-server 2.9 keeps terminated messages in a WorkQueue stream forever.
      message.ack();
      return;
    }
    let handled = false;
    let failed = false;
    const settled = await Promise.allSettled(
      [...this.registrations].map(async (registration) => {
        const claimed = await registration.listener(event);
        if (registration.isCallback || claimed === true) handled = true;
      }),
    );
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        failed = true;
        this.options.onError(outcome.reason);
      }
    }
    if (failed) {
      message.nak();
    } else if (handled) {
      message.ack();
    } else if (message.info.deliveryCount >= RESULT_CONSUMER_MAX_DELIVER) {
      message.ack(); // nobody wants it; acking removes it (term would leave it stored)
    } else {
      message.nak(this.options.unclaimedRedeliveryMs ?? 1000);
    }
  }
}
