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
import type { SignTxMessage } from '../protocol/messages.ts';
import type { SessionJob } from '../session/session-host.ts';
import type { SessionInvite } from '../transport/control-messages.ts';
import { requestOfInvite, type RequestSource } from '../transport/request-source.ts';
import { discardLoaded, type JobFactory, type SignatureOutcome } from './jobs.ts';
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
): Promise<SessionJob<SignatureOutcome> & { readonly operation: string }> {
  const fetching = requestOfInvite(deps.requests, {
    kind: invite.kind,
    requestSeq: invite.requestSeq,
    request: sent,
    clientId: invite.clientId,
  });
  fetching.catch(() => undefined); // observed below
  let message: SignTxMessage | undefined;
  let refusal: unknown;
  try {
    message = deps.authenticator.sign(sent).message;
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
  const job = await deps.jobs.sign(invite.sessionId, message, invite.participants, await loading);
  return { ...job, operation: signingOperationKey(stored.clientId ?? '', message) };
}
