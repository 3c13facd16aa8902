/**
 * Node-to-node messaging over core NATS (design §5, §6.1, §8).
 *
 * Each signer listens on two subjects for its whole life:
 *   `mpcnode.<node>.invite`   request/reply: a signed `SessionInvite`, answered with a signed
 *                             `SessionHello` (or `{ error: { code, message } }`);
 *   `mpcnode.<node>.session`  request/reply: session frames, each answered with one status
 *                             byte once the frame has been accepted.
 * Session frames: `0x01 ‖ envelope` (protocol message), `0x02 ‖ JSON SignedControl`
 * (start/abort/done), `0x03 ‖ sessionId` (probe), `0x04 ‖ batch` (several envelope and
 * control frames, frame-batch.ts). Replies: `0x00` accepted, `0x02` the recipient has no such
 * session (it already ended it), `0x03` rejected; a batch is answered with one status per
 * inner frame.
 *
 * Coalescing (issue 15): envelope and control frames are queued per peer and flushed once per
 * event-loop turn (`setImmediate`): a frame that is alone goes out exactly as before, several
 * go as one batch request. Each queued send still settles on its own frame's status, so one
 * session's refused frame fails that session only. A peer that refuses a batch whole (it
 * predates batches, or the batch was malformed) gets the frames one by one, and no batches for
 * `BATCH_FALLBACK_MS`. A transport failure of a batch fails every send in it, as it would have
 * failed each of them alone.
 *
 * Every send is a NATS request, so delivery is acknowledged by the recipient process. NATS
 * answers "no responders" at once when the recipient's connection is gone (killed process);
 * that is reported as `PeerUnavailableError` without retrying. A request that times out is
 * retried up to `sendAttempts` times before it too becomes `PeerUnavailableError`.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { RequestError, TimeoutError } from '@nats-io/transport-node';
import { ErrorCode } from '../protocol/errors.ts';
import { PeerUnavailableError, SessionAbortedError } from '../session/errors.ts';
import type { SignedControl } from './control-messages.ts';
import {
  BATCH_FRAME_TYPE,
  DEFAULT_BATCH_LIMITS,
  decodeBatchReply,
  decodeFrameBatch,
  encodeBatchReply,
  encodeFrameBatch,
  groupForBatches,
  type BatchLimits,
} from './frame-batch.ts';
import { concatBytes, decodeEnvelope, encodeEnvelope, type Envelope } from './secure-channel.ts';

export const FrameType = {
  Envelope: 0x01,
  Control: 0x02,
  Probe: 0x03,
  Batch: BATCH_FRAME_TYPE,
} as const;
export const FrameReply = { Accepted: 0x00, UnknownSession: 0x02, Rejected: 0x03 } as const;
export type FrameReply = (typeof FrameReply)[keyof typeof FrameReply];

const MAX_FRAME_BYTES = 2 * 1024 * 1024;
/** Lower bound of one invite attempt's wait (the participant prepares its party first). */
const INVITE_MIN_TIMEOUT_MS = 2000;
/** How long a peer that refused a batch gets frames one by one. */
const BATCH_FALLBACK_MS = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Subject-safe token for a node id (node ids are validated as [A-Za-z0-9._-]). */
export function nodeSubjectToken(nodeId: string): string {
  return /^[A-Za-z0-9_-]+$/.test(nodeId) ? nodeId : `x${Buffer.from(nodeId).toString('hex')}`;
}

export function inviteSubject(nodeId: string): string {
  return `mpcnode.${nodeSubjectToken(nodeId)}.invite`;
}

export function sessionSubject(nodeId: string): string {
  return `mpcnode.${nodeSubjectToken(nodeId)}.session`;
}

/** What the messenger hands incoming traffic to (the session host). */
export interface PeerMessageHandler {
  /** Answers an invite with a signed hello or an error. Never throws. */
  onInvite(
    signed: unknown,
  ): Promise<SignedControl | { error: { code: ErrorCode; message: string } }>;
  onEnvelope(envelope: Envelope): FrameReply;
  onControl(signed: unknown): FrameReply;
  /**
   * Whether a probe for the session is answered "still here": the session is held, or it ended
   * successfully here (a peer still waiting on it is late, not abandoned).
   */
  answersProbe(sessionId: string): boolean;
}

export interface PeerMessengerOptions {
  readonly nc: NatsConnection;
  readonly selfNodeId: string;
  readonly sendTimeoutMs: number;
  readonly sendAttempts: number;
  readonly handler: PeerMessageHandler;
  /** Called once per peer found unreachable (no responders / no ack). */
  readonly onPeerUnreachable?: (peer: string) => void;
  /** Coalesce frames per peer and event-loop turn (default true; false: one request each). */
  readonly coalesce?: boolean;
  /** Limits of the batches this messenger sends (default `DEFAULT_BATCH_LIMITS`). */
  readonly batchLimits?: BatchLimits;
}

/** A frame waiting for its peer's next flush. */
interface QueuedFrame {
  readonly sessionId: string;
  readonly frame: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A request that failed in transport (no responders, no ack, connection trouble). */
class TransportFailure extends Error {}

export class PeerMessenger {
  private readonly options: PeerMessengerOptions;
  private subscriptions: Subscription[] = [];
  private readonly outboxes = new Map<string, QueuedFrame[]>();
  private flushScheduled = false;
  /** Peers that refused a batch, with the time until which they get single frames. */
  private readonly singleFramesUntil = new Map<string, number>();

  constructor(options: PeerMessengerOptions) {
    this.options = options;
  }

  private get batchLimits(): BatchLimits {
    return this.options.batchLimits ?? DEFAULT_BATCH_LIMITS;
  }

  /** Subscribes and waits until the server has registered the subscriptions. */
  async start(): Promise<void> {
    const { nc, selfNodeId, handler } = this.options;
    this.subscriptions.push(
      nc.subscribe(inviteSubject(selfNodeId), {
        callback: (error, msg) => {
          if (error !== null) return;
          void this.answerInvite(msg);
        },
      }),
      nc.subscribe(sessionSubject(selfNodeId), {
        callback: (error, msg) => {
          if (error !== null) return;
          msg.respond(this.dispatch(msg.data, handler));
        },
      }),
    );
    await nc.flush();
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  private async answerInvite(msg: Msg): Promise<void> {
    let reply: unknown;
    try {
      if (msg.data.length > MAX_FRAME_BYTES) throw new RangeError('invite too large');
      reply = await this.options.handler.onInvite(JSON.parse(decoder.decode(msg.data)));
    } catch {
      reply = { error: { code: ErrorCode.MessageFormat, message: 'malformed invite' } };
    }
    msg.respond(encoder.encode(JSON.stringify(reply)));
  }

  /** Answers one session-subject message: a single frame, or a batch frame by frame. */
  private dispatch(data: Uint8Array, handler: PeerMessageHandler): Uint8Array {
    if (data[0] !== FrameType.Batch || data.length > MAX_FRAME_BYTES) {
      return Uint8Array.of(this.dispatchFrame(data, handler));
    }
    let frames: Uint8Array[];
    try {
      frames = decodeFrameBatch(data);
    } catch {
      return Uint8Array.of(FrameReply.Rejected); // refused whole, nothing dispatched
    }
    return encodeBatchReply(frames.map((frame) => this.dispatchFrame(frame, handler)));
  }

  private dispatchFrame(data: Uint8Array, handler: PeerMessageHandler): FrameReply {
    if (data.length < 1 || data.length > MAX_FRAME_BYTES) return FrameReply.Rejected;
    const body = data.subarray(1);
    try {
      switch (data[0]) {
        case FrameType.Envelope:
          return handler.onEnvelope(decodeEnvelope(body));
        case FrameType.Control:
          return handler.onControl(JSON.parse(decoder.decode(body)));
        case FrameType.Probe:
          return handler.answersProbe(decoder.decode(body))
            ? FrameReply.Accepted
            : FrameReply.UnknownSession;
        default:
          return FrameReply.Rejected;
      }
    } catch {
      return FrameReply.Rejected;
    }
  }

  /** Sends an invite; resolves with the parsed reply or rejects with `PeerUnavailableError`. */
  /**
   * Sends an invite. The reply comes after the participant has validated the request and built
   * its party (possibly queued behind other work in its worker pool), so each attempt waits
   * longer than a plain ack; a dead participant is still "no responders" at once.
   */
  async invite(peer: string, sessionId: string, invite: SignedControl): Promise<unknown> {
    const reply = await this.request(
      peer,
      sessionId,
      inviteSubject(peer),
      encoder.encode(JSON.stringify(invite)),
      Math.max(4 * this.options.sendTimeoutMs, INVITE_MIN_TIMEOUT_MS),
    );
    try {
      return JSON.parse(decoder.decode(reply));
    } catch {
      throw new PeerUnavailableError(peer, sessionId, 'malformed invite reply');
    }
  }

  sendEnvelope(peer: string, envelope: Envelope): Promise<void> {
    const frame = concatBytes([Uint8Array.of(FrameType.Envelope), encodeEnvelope(envelope)]);
    return this.sendFrame(peer, envelope.header.sessionId, frame);
  }

  sendControl(peer: string, sessionId: string, control: SignedControl): Promise<void> {
    const frame = concatBytes([
      Uint8Array.of(FrameType.Control),
      encoder.encode(JSON.stringify(control)),
    ]);
    return this.sendFrame(peer, sessionId, frame);
  }

  /** Fire-and-forget control message (aborts): one publish, no ack expected. */
  publishControl(peer: string, control: SignedControl): void {
    const frame = concatBytes([
      Uint8Array.of(FrameType.Control),
      encoder.encode(JSON.stringify(control)),
    ]);
    try {
      this.options.nc.publish(sessionSubject(peer), frame);
    } catch {
      // The connection is closing; the peer's own deadline covers a lost abort.
    }
  }

  /**
   * Resolves when the peer still holds the session, or when it is merely slow (the probe
   * timed out: a stopped process is caught by the round deadline instead). Rejects with
   * `PeerUnavailableError` when the peer process is gone and `SessionAbortedError` when the
   * peer has already dropped the session.
   */
  async probe(peer: string, sessionId: string): Promise<void> {
    const frame = concatBytes([Uint8Array.of(FrameType.Probe), encoder.encode(sessionId)]);
    try {
      const reply = await this.options.nc.request(sessionSubject(peer), frame, {
        timeout: this.options.sendTimeoutMs,
      });
      if (reply.data[0] === FrameReply.UnknownSession) {
        throw new SessionAbortedError(
          peer,
          ErrorCode.PeerUnavailable,
          `peer ${peer} is no longer in session ${sessionId}`,
          peer,
        );
      }
    } catch (error) {
      if (error instanceof SessionAbortedError) throw error;
      if (isNoResponders(error)) throw this.unreachable(peer, sessionId, 'no responders');
      // Timeouts and connection trouble: not proof of death; the round deadline decides.
    }
  }

  private sendFrame(peer: string, sessionId: string, frame: Uint8Array): Promise<void> {
    if (this.options.coalesce === false) return this.sendSingle(peer, sessionId, frame);
    return new Promise<void>((resolve, reject) => {
      let outbox = this.outboxes.get(peer);
      if (outbox === undefined) {
        outbox = [];
        this.outboxes.set(peer, outbox);
      }
      outbox.push({ sessionId, frame, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends every queued frame: per peer, consecutive groups within the batch limits. */
  private flush(): void {
    this.flushScheduled = false;
    const outboxes = [...this.outboxes];
    this.outboxes.clear();
    for (const [peer, queued] of outboxes) {
      const until = this.singleFramesUntil.get(peer);
      const batching = until === undefined || until <= Date.now();
      if (until !== undefined && batching) this.singleFramesUntil.delete(peer);
      const groups = batching
        ? groupForBatches(
            queued.map((entry) => entry.frame.length),
            this.batchLimits,
          )
        : queued.map((_, index) => [index]);
      for (const group of groups) {
        const entries = group.map((index) => queued[index] as QueuedFrame);
        if (entries.length === 1) {
          const [entry] = entries as [QueuedFrame];
          this.sendSingle(peer, entry.sessionId, entry.frame).then(entry.resolve, entry.reject);
        } else {
          void this.sendBatch(peer, entries);
        }
      }
    }
  }

  private async sendBatch(peer: string, entries: readonly QueuedFrame[]): Promise<void> {
    let reply: Uint8Array;
    try {
      const batch = encodeFrameBatch(
        entries.map((entry) => entry.frame),
        this.batchLimits,
      );
      reply = await this.requestOnce(sessionSubject(peer), batch);
    } catch (error) {
      const detail = error instanceof TransportFailure ? error.message : 'batch not sent';
      if (error instanceof TransportFailure) this.options.onPeerUnreachable?.(peer);
      for (const entry of entries) {
        entry.reject(new PeerUnavailableError(peer, entry.sessionId, detail));
      }
      return;
    }
    const statuses = decodeBatchReply(reply, entries.length);
    if (statuses === undefined) {
      // Refused whole (a peer without batches, or malformed): nothing was delivered.
      this.singleFramesUntil.set(peer, Date.now() + BATCH_FALLBACK_MS);
      for (const entry of entries) {
        this.sendSingle(peer, entry.sessionId, entry.frame).then(entry.resolve, entry.reject);
      }
      return;
    }
    entries.forEach((entry, index) => {
      try {
        this.settle(peer, entry.sessionId, statuses[index]);
        entry.resolve();
      } catch (error) {
        entry.reject(error);
      }
    });
  }

  private async sendSingle(peer: string, sessionId: string, frame: Uint8Array): Promise<void> {
    const reply = await this.request(peer, sessionId, sessionSubject(peer), frame);
    this.settle(peer, sessionId, reply[0]);
  }

  /** Returns when a frame's status is `Accepted`; throws the session's error otherwise. */
  private settle(peer: string, sessionId: string, status: number | undefined): void {
    if (status === FrameReply.Accepted) return;
    if (status === FrameReply.UnknownSession) {
      throw new SessionAbortedError(
        peer,
        ErrorCode.PeerUnavailable,
        `peer ${peer} is no longer in session ${sessionId}`,
        peer,
      );
    }
    throw new PeerUnavailableError(peer, sessionId, 'message rejected by peer');
  }

  private async request(
    peer: string,
    sessionId: string,
    subject: string,
    data: Uint8Array,
    timeoutMs: number = this.options.sendTimeoutMs,
  ): Promise<Uint8Array> {
    try {
      return await this.requestOnce(subject, data, timeoutMs);
    } catch (error) {
      if (error instanceof TransportFailure) throw this.unreachable(peer, sessionId, error.message);
      throw error;
    }
  }

  /** One acknowledged request, retried on timeouts; throws `TransportFailure`. */
  private async requestOnce(
    subject: string,
    data: Uint8Array,
    timeoutMs: number = this.options.sendTimeoutMs,
  ): Promise<Uint8Array> {
    const { nc, sendAttempts } = this.options;
    let lastProblem = 'no ack';
    for (let attempt = 1; attempt <= sendAttempts; attempt++) {
      try {
        const reply = await nc.request(subject, data, { timeout: timeoutMs });
        return reply.data;
      } catch (error) {
        if (isNoResponders(error)) throw new TransportFailure('no responders');
        if (!isTimeout(error)) throw new TransportFailure(`transport error: ${describe(error)}`);
        lastProblem = `no ack after ${attempt} attempt(s) of ${timeoutMs} ms`;
      }
    }
    throw new TransportFailure(lastProblem);
  }

  private unreachable(peer: string, sessionId: string, detail: string): PeerUnavailableError {
    this.options.onPeerUnreachable?.(peer);
    return new PeerUnavailableError(peer, sessionId, detail);
  }
}

function isNoResponders(error: unknown): boolean {
  return error instanceof RequestError && error.isNoResponders();
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof TimeoutError ||
    (error instanceof RequestError && error.cause instanceof TimeoutError)
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
