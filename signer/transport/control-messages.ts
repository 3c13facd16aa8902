/**
 * Signed control messages between signers (design §5, §8): the session invite a coordinator
 * sends, the hello each participant answers with (its ephemeral X25519 key), the start that
 * hands every participant all hellos, aborts and completion notices.
 *
 * Wire form: JSON `{ "from": nodeId, "body": "<JSON text>", "signature": "<base64 Ed25519>" }`
 * where the signature covers the UTF-8 bytes of `"mpc-control-v1\n" + body`. Receivers verify
 * against the roster before parsing `body`, so an unsigned or forged control message is
 * dropped without being interpreted.
 */
import type { ErrorCode } from '../protocol/errors.ts';
import { verifyEd25519 } from './ed25519-verify.ts';

/**
 * `refresh-pair`: DKLs23 pairwise refresh of one wallet between two signers (two-phase).
 * `sign-batch`: several Ed25519 signing requests for one signing set in one session
 * (`SessionInvite.requests`); signers that predate it refuse the invite, and the coordinator
 * then runs each request in a session of its own.
 */
export type SessionKind = 'keygen' | 'sign' | 'sign-batch' | 'reshare' | 'refresh-pair';

/** Most requests one `sign-batch` session carries (participants refuse more). */
export const MAX_SIGNING_BATCH = 64;

/**
 * One client request of a `sign-batch` invite, named like a single invite names its request:
 * participants read it from the signing request stream at `requestSeq` themselves and refuse
 * the invite when this copy differs (security review H1).
 */
export interface BatchedRequest {
  /** The client's request body, base64. */
  readonly request: string;
  readonly requestSeq: number;
  readonly clientId: string | null;
}

export interface InviteParticipant {
  readonly nodeId: string;
  readonly partyId: number;
}

/**
 * What a resharing invite adds (the coordinator's view of the wallet's current key). Old
 * members check it against their own record; members joining the committee have no record and
 * take it as given — the protocol binds every field into its context and the dealers' checks
 * fail if it is wrong (signer/crypto/reshare/reshare-core.ts).
 */
export interface ReshareInviteContext {
  /** Version of the current shares (the new ones become `oldVersion + 1`). */
  readonly oldVersion: number;
  readonly oldThreshold: number;
  readonly oldCommittee: readonly InviteParticipant[];
  /** Party ids of the oldThreshold + 1 old members that deal, ascending. */
  readonly dealers: readonly number[];
  /** Hex public key of the wallet (unchanged by resharing). */
  readonly publicKey: string;
}

/** Coordinator → participant: join a session for this client request. */
export interface SessionInvite {
  readonly type: 'invite';
  readonly sessionId: string;
  readonly kind: SessionKind;
  readonly coordinator: string;
  readonly participants: readonly InviteParticipant[];
  /**
   * The client's request body, base64. Participants do not take it on the coordinator's word:
   * each reads the request at `requestSeq` from the request stream of `kind` itself (with its
   * ClientID header) and refuses the invite when this copy differs (security review H1).
   */
  readonly request: string;
  /** JetStream sequence of the client request in the stream that serves `kind`. */
  readonly requestSeq: number;
  readonly clientId: string | null;
  /**
   * Coordinator's clock (ms since epoch); participants refuse invites older than
   * `sessions.invite_max_age_ms` plus the tolerated clock skew, or dated beyond the skew.
   */
  readonly createdAt: number;
  /** Present exactly on `kind: 'reshare'` invites. */
  readonly reshare?: ReshareInviteContext;
  /**
   * Present exactly on `kind: 'sign-batch'` invites: 2..`MAX_SIGNING_BATCH` requests, distinct
   * stream sequences, in the order their protocol parties run (request i signs with the
   * session binding extended by i, `signer/service/jobs.ts` `batchItemBinding`). The single
   * request fields above then repeat the first request, so every invite names one.
   */
  readonly requests?: readonly BatchedRequest[];
  /**
   * Two-party signing sessions only: the coordinator's own signed hello (issue 15). With it
   * the one participant holds every hello of the session and starts as it answers the invite,
   * announcing so in its hello (`startedOnInvite`); the coordinator then sends no start. The
   * invite's signature covers these bytes, so the participant does not verify the nested
   * signature again. Signers that predate it ignore the field and wait for the start, which a
   * coordinator still sends to any participant whose hello does not announce the early start.
   */
  readonly hello?: SignedControl;
}

/** Participant → everyone (via the coordinator): my ephemeral channel key for this session. */
export interface SessionHello {
  readonly type: 'hello';
  readonly sessionId: string;
  readonly nodeId: string;
  readonly ephemeralPublicKey: string;
  /**
   * DKLs23 sessions: per other participant (node id), the origin of the sender's pairwise
   * OT state with it (`WalletMetadata.pairOrigins`); every pair's two ends must agree.
   */
  readonly pairOrigins?: Readonly<Record<string, string>>;
  /**
   * The sender took the coordinator's hello from the invite and started its rounds as it
   * answered (`SessionInvite.hello`): the coordinator sends it no start.
   */
  readonly startedOnInvite?: true;
  /**
   * The sender accepts, in a session of exactly two participants, a broadcast sealed under
   * the pair key instead of signed (ParticipantSession, "sealed broadcasts").
   */
  readonly sealedBroadcasts?: true;
  /**
   * The sender takes part in `sign-batch` sessions. A coordinator invites a peer to batches
   * only once a hello of it said so (signers that predate batches refuse the kind, which would
   * cost a refused invite per batch during a rolling upgrade).
   */
  readonly signingBatches?: true;
}

/** Coordinator → participant: every participant's signed hello; rounds start now. */
export interface SessionStart {
  readonly type: 'start';
  readonly sessionId: string;
  readonly hellos: readonly SignedControl[];
}

/** Anyone → everyone: this session is over; `code` is what the client will be told. */
export interface SessionAbort {
  readonly type: 'abort';
  readonly sessionId: string;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly peer?: string;
}

/** Participant → coordinator: I finished (keygen: my share is stored). */
export interface SessionDone {
  readonly type: 'done';
  readonly sessionId: string;
  readonly nodeId: string;
  /** Hex digest of the public result (public key or signature) so the coordinator can compare. */
  readonly resultDigest: string;
}

/**
 * Coordinator → participant, two-phase sessions (resharing): every participant reported the
 * same result digest; here are their signed `done`s as evidence. Receivers check the evidence
 * and only then make their staged result current (crypto.md §4.1 step 4, the ACK round).
 */
export interface SessionCommit {
  readonly type: 'commit';
  readonly sessionId: string;
  readonly dones: readonly SignedControl[];
}

/** Participant → coordinator, two-phase sessions: my staged result is current now. */
export interface SessionCommitted {
  readonly type: 'committed';
  readonly sessionId: string;
  readonly nodeId: string;
}

export type ControlBody =
  | SessionInvite
  | SessionHello
  | SessionStart
  | SessionAbort
  | SessionDone
  | SessionCommit
  | SessionCommitted;

export interface SignedControl {
  readonly from: string;
  readonly body: string;
  readonly signature: string;
}

const CONTROL_DOMAIN = 'mpc-control-v1\n';
const encoder = new TextEncoder();

export interface ControlSigner {
  readonly nodeId: string;
  sign(message: Uint8Array): Uint8Array;
}

export function signControl(signer: ControlSigner, body: ControlBody): SignedControl {
  const text = JSON.stringify(body);
  const signature = signer.sign(encoder.encode(CONTROL_DOMAIN + text));
  return { from: signer.nodeId, body: text, signature: Buffer.from(signature).toString('base64') };
}

/**
 * Verifies a signed control message against the roster and returns its body, or undefined
 * when the sender is unknown, the signature is wrong or the body is not an object with a
 * known `type` and a string `sessionId`. Senders in `vouchedFor` skip the signature check
 * only (see below); callers pass it only for controls nested in one they verified.
 */
export function openControl(
  signed: unknown,
  roster: ReadonlyMap<string, Uint8Array>,
  options: { readonly vouchedFor?: ReadonlySet<string> } = {},
): ControlBody | undefined {
  if (typeof signed !== 'object' || signed === null) return undefined;
  const { from, body, signature } = signed as Record<string, unknown>;
  if (typeof from !== 'string' || typeof body !== 'string' || typeof signature !== 'string') {
    return undefined;
  }
  if (body.length > 256 * 1024) return undefined;
  const publicKey = roster.get(from);
  if (publicKey === undefined) return undefined;
  // `vouchedFor`: senders whose statement the caller already holds authenticated, with these
  // very bytes inside (this signer itself; a coordinator whose verified start carries its
  // own hello). Their signature adds nothing and is not checked again; every other check is.
  const vouched = options.vouchedFor?.has(from) === true;
  const signatureBytes = vouched ? undefined : Buffer.from(signature, 'base64');
  if (
    signatureBytes !== undefined &&
    !verifyEd25519(publicKey, encoder.encode(CONTROL_DOMAIN + body), signatureBytes)
  ) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  if (typeof record['sessionId'] !== 'string') return undefined;
  const type = record['type'];
  if (
    type !== 'invite' &&
    type !== 'hello' &&
    type !== 'start' &&
    type !== 'abort' &&
    type !== 'done' &&
    type !== 'commit' &&
    type !== 'committed'
  ) {
    return undefined;
  }
  // The sender must speak for itself where the body names a node.
  if (type === 'hello' || type === 'done' || type === 'committed') {
    if (record['nodeId'] !== from) return undefined;
  }
  if (type === 'invite' && record['coordinator'] !== from) return undefined;
  return parsed as ControlBody;
}
