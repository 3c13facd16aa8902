/**
 * Where a participant reads the client request of a session invite (security review H1): from
 * the JetStream request stream of the session's kind, by the stream sequence the coordinator
 * names, never from the coordinator's copy. A coordinator that alters the request (another
 * message, another derivation path, another ClientID) or invents one is caught: the invite is
 * refused unless its copy equals what the stream holds.
 *
 * The request streams are work queues: a request stays readable until its coordinator acks
 * it, which it does only after the session ends; a request already answered is gone, so an old
 * request cannot be replayed through an invite.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import {
  ClientIdHeader,
  KeygenBrokerStream,
  RefreshPairRequestStream,
  ReshareRequestStream,
  SigningPublisherStream,
} from '../protocol/subjects.ts';
import type { SessionKind } from './control-messages.ts';

/** Reads of the request stream while JetStream is unavailable (250 ms, 500 ms, … apart). */
const FETCH_ATTEMPTS = 4;

/** A client request as JetStream stored it. */
export interface StoredRequest {
  readonly body: Uint8Array;
  /** The ClientID header ('' or absent: null). */
  readonly clientId: string | null;
}

export interface RequestSource {
  /** The request at `seq` in the stream serving `kind`; throws `MpcError` when absent. */
  fetch(kind: SessionKind, seq: number): Promise<StoredRequest>;
}

/** The named request is not (or no longer) in its stream. */
export class RequestNotInStreamError extends MpcError {
  constructor(kind: SessionKind, seq: number) {
    super(ErrorCode.SessionStale, `no ${kind} request at sequence ${seq} in its stream`);
  }
}

/** The invite's copy of the request differs from the stream's. */
export class InviteRequestMismatchError extends MpcError {
  constructor(field: 'body' | 'clientId') {
    super(
      ErrorCode.MessageVerification,
      `invite request ${field === 'body' ? 'body' : 'ClientID'} differs from the request stream`,
    );
  }
}

export function requestStreamOf(kind: SessionKind): string {
  switch (kind) {
    case 'keygen':
      return KeygenBrokerStream;
    case 'sign':
    case 'sign-batch':
      return SigningPublisherStream;
    case 'reshare':
      return ReshareRequestStream;
    case 'refresh-pair':
      return RefreshPairRequestStream;
  }
}

/** Reads requests with the stream "get message" API. */
export class JetStreamRequestSource implements RequestSource {
  constructor(private readonly jsm: JetStreamManager) {}

  async fetch(kind: SessionKind, seq: number): Promise<StoredRequest> {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RequestNotInStreamError(kind, seq);
    let stored;
    for (let attempt = 1; ; attempt++) {
      try {
        stored = await this.jsm.streams.getMessage(requestStreamOf(kind), { seq });
        break;
      } catch (error) {
        // "no message found" and a deleted sequence both mean: nothing to take part in.
        const code = (error as { code?: unknown; api_error?: { err_code?: number } } | null)
          ?.api_error?.err_code;
        if (code === 10037 || /no message found/i.test(String(error))) {
          throw new RequestNotInStreamError(kind, seq);
        }
        // JetStream is briefly unavailable (a server restart): retry, then report the transport
        // failure the way every other one is reported to the client.
        if (attempt >= FETCH_ATTEMPTS) {
          throw new MpcError(ErrorCode.PeerUnavailable, 'request stream not readable', {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
    if (stored === null) throw new RequestNotInStreamError(kind, seq);
    const clientId = stored.header?.get(ClientIdHeader) ?? '';
    return { body: stored.data, clientId: clientId === '' ? null : clientId };
  }
}

/** The request a participant may act on: the stream's, after checking the invite's copy. */
export async function requestOfInvite(
  source: RequestSource,
  invite: { kind: SessionKind; requestSeq: number; request: Uint8Array; clientId: string | null },
): Promise<StoredRequest> {
  const stored = await source.fetch(invite.kind, invite.requestSeq);
  if (!bytesEqual(stored.body, invite.request)) throw new InviteRequestMismatchError('body');
  if (stored.clientId !== invite.clientId) throw new InviteRequestMismatchError('clientId');
  return stored;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}
