/**
 * A participant's job for a signing invite. The rule of security review H1 holds: the job is
 * built only from the request as the client stored it in JetStream, after checking that the
 * coordinator's copy equals it. For latency the three independent steps overlap: the stream
 * read is in flight while this signer authenticates the coordinator's copy and loads its
 * share for the wallet that copy names. Nothing is acted on before the stream's copy is known
 * to be the authenticated one; the stream's verdict (request absent, copy differs) is reported
 * before an authentication failure, as when the steps ran one after another; a share loaded
 * for a refused invite is wiped.
 */
import { wipeBytes } from '../crypto/wipe.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import { decodeStdBase64 } from '../protocol/go-json.ts';
import type { SignTxMessage } from '../protocol/messages.ts';
import type { SessionJob } from '../session/session-host.ts';
import {
  MAX_SIGNING_BATCH,
  type BatchedRequest,
  type SessionInvite,
} from '../transport/control-messages.ts';
import { requestOfInvite, type RequestSource } from '../transport/request-source.ts';
import { discardLoaded, type JobFactory, type SignatureOutcome } from './jobs.ts';
import type { WalletRecord } from './wallet-record.ts';
import { signingOperationKey } from './operation-ledger.ts';

export interface SigningInviteDeps {
  readonly requests: RequestSource;
  readonly authenticator: { sign(body: Uint8Array): { message: SignTxMessage } };
  readonly jobs: Pick<JobFactory, 'loadForSigning' | 'sign'>;
}

/** `sent`: the invite's copy of the request (decoded). Throws typed errors. */
export async function prepareSigningInvite(
  deps: SigningInviteDeps,
  invite: SessionInvite,
  sent: Uint8Array,
): Promise<SessionJob<SignatureOutcome> & { readonly operations: readonly string[] }> {
  const { message, record, operation } = await checkedRequest(deps, {
    requestSeq: invite.requestSeq,
    request: sent,
    clientId: invite.clientId,
  });
  const job = await deps.jobs.sign(invite.sessionId, message, invite.participants, record);
  return { ...job, operations: [operation] };
}

/**
 * A participant's job for a `sign-batch` invite: every request is checked as a single
 * invite's is (read from the stream by its sequence, equal to the coordinator's copy,
 * authenticated, share loaded and checked against the participants), all of them before any
 * is acted on. One request that fails refuses the whole invite with that request's error; the
 * coordinator then runs each request in a session of its own, so the others still get signed
 * and the failing one gets its precise answer. Shares loaded for a refused invite are wiped.
 */
export async function prepareSigningBatchInvite(
  deps: SigningInviteDeps & { readonly jobs: Pick<JobFactory, 'signBatch'> },
  invite: SessionInvite,
): Promise<SessionJob<SignatureOutcome[]> & { readonly operations: readonly string[] }> {
  const requests = checkBatchShape(invite.requests);
  const first = requests[0];
  if (
    first === undefined ||
    first.request !== invite.request ||
    first.requestSeq !== invite.requestSeq ||
    first.clientId !== invite.clientId
  ) {
    throw new MpcError(ErrorCode.MessageFormat, 'sign-batch invite: first request not repeated');
  }
  const checked = requests.map(async (entry) => {
    const sent = decodeStdBase64(entry.request);
    if (sent === undefined) {
      throw new MpcError(ErrorCode.MessageFormat, 'batched request is not base64');
    }
    return checkedRequest(deps, {
      requestSeq: entry.requestSeq,
      request: sent,
      clientId: entry.clientId,
    });
  });
  const settled = await Promise.allSettled(checked);
  const items = settled.flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  const failure = settled.find((outcome) => outcome.status === 'rejected');
  const operations = items.map((item) => item.operation);
  if (failure !== undefined || new Set(operations).size !== operations.length) {
    for (const item of items) wipeBytes(item.record.share);
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    throw new MpcError(ErrorCode.SessionDuplicate, 'a signing batch names one operation twice');
  }
  const job = await deps.jobs.signBatch(invite.sessionId, items, invite.participants);
  return { ...job, operations };
}

/**
 * One signing request an invite names, checked and loaded as the module comment says (the
 * stream's copy at `requestSeq` must equal `request` and its ClientID, and `request` must
 * authenticate). Resolves with the message, this signer's record (the caller wipes its share)
 * and the operation key.
 */
async function checkedRequest(
  deps: SigningInviteDeps,
  named: {
    readonly requestSeq: number;
    readonly request: Uint8Array;
    readonly clientId: string | null;
  },
): Promise<{ message: SignTxMessage; record: WalletRecord; operation: string }> {
  const fetching = requestOfInvite(deps.requests, { kind: 'sign', ...named });
  fetching.catch(() => undefined); // observed below
  let message: SignTxMessage | undefined;
  let refusal: unknown;
  try {
    message = deps.authenticator.sign(named.request).message;
  } catch (error) {
    refusal = error;
  }
  const loading = message === undefined ? undefined : deps.jobs.loadForSigning(message, undefined);
  loading?.catch(() => undefined); // observed below
  let stored;
  try {
    stored = await fetching;
  } catch (error) {
    discardLoaded(loading);
    throw error;
  }
  if (message === undefined || loading === undefined) throw refusal;
  // Equal bytes (checked by requestOfInvite): `message` is the stored request's.
  const record = await loading;
  return { message, record, operation: signingOperationKey(stored.clientId ?? '', message) };
}

/** The invite's batch: 2..MAX_SIGNING_BATCH well-formed entries with distinct sequences. */
function checkBatchShape(requests: unknown): readonly BatchedRequest[] {
  const refuse = (why: string): never => {
    throw new MpcError(ErrorCode.MessageFormat, `sign-batch invite: ${why}`);
  };
  if (!Array.isArray(requests)) return refuse('requests missing');
  if (requests.length < 2 || requests.length > MAX_SIGNING_BATCH) {
    return refuse(`requests must list 2..${MAX_SIGNING_BATCH} requests`);
  }
  const sequences = new Set<number>();
  for (const entry of requests as unknown[]) {
    const { request, requestSeq, clientId } = (entry ?? {}) as Record<string, unknown>;
    if (typeof request !== 'string') refuse('request is not a string');
    if (typeof requestSeq !== 'number' || !Number.isSafeInteger(requestSeq) || requestSeq < 1) {
      refuse('requestSeq is not a positive integer');
    }
    if (clientId !== null && typeof clientId !== 'string') refuse('clientId is not a string');
    if (sequences.has(requestSeq as number)) refuse('a request sequence appears twice');
    sequences.add(requestSeq as number);
  }
  return requests as readonly BatchedRequest[];
}
