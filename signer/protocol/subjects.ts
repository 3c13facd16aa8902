/**
 * NATS names of the mpcium client contract (reference `mpcium-contract.md` §1): JetStream
 * streams, request/result subjects, durable consumer names, headers and the `Nats-Msg-Id`
 * templates used for result de-duplication. Every value here is on the wire: changing one
 * breaks unmodified mpcium clients (Go `pkg/client`, TS `fystack/mpcium-client-ts`).
 *
 * Result routing (§1.5): an empty ClientID means legacy routing (`prefix.tail`); a non-empty one
 * scopes every result subject and durable (`prefix.<clientID>.tail`). The two never overlap
 * because scoped subjects have one more token.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from './errors.ts';

// --- Request streams (§1.2) -----------------------------------------------------------------

/** JetStream stream holding keygen requests (`pkg/event/keygen.go` `KeygenBrokerStream`). */
export const KeygenBrokerStream = 'mpc-keygen';
/** Logical name of the shared keygen request consumer (before `sanitizeConsumerName`). */
export const KeygenConsumerStream = 'mpc-keygen-consumer';
/** Subject filter of `mpc-keygen`; Go clients publish to this literal (with `*`). */
export const KeygenRequestTopic = 'mpc.keygen_request.*';
/** JetStream stream holding signing requests (`SigningPublisherStream`). */
export const SigningPublisherStream = 'mpc-signing';
/** Logical name of the shared signing request consumer. */
export const SigningConsumerStream = 'mpc-signing-consumer';
/** Subject filter of `mpc-signing`; Go clients publish to this literal (with `*`). */
export const SigningRequestTopic = 'mpc.signing_request.*';

/**
 * Our durable intake for resharing (not in mpcium, where `mpc:reshare` is core NATS only and
 * a request sent while no node listens is lost): stream `mpc-reshare` on
 * `mpc.reshare_request.*`. Signers forward every `mpc:reshare` message into it (one signer
 * per message, queue group `mpc-reshare-intake`), and our client may publish to it directly.
 */
export const ReshareRequestStream = 'mpc-reshare';
export const ReshareRequestTopic = 'mpc.reshare_request.*';
/** Queue group of the signers' `mpc:reshare` subscription. */
export const ReshareIntakeQueue = 'mpc-reshare-intake';
/** Durable shared by all signers on `mpc-reshare`. */
export const ReshareRequestConsumerName = 'mpc_reshare_consumer';

/** Subject a resharing request is persisted under (the token is never interpreted). */
export function reshareRequestSubject(token: string): string {
  return `mpc.reshare_request.${token}`;
}

/**
 * `Nats-Msg-Id` of a persisted resharing request: SHA-256 of (ClientID, body), so the same
 * request reaching the stream twice (a client re-send, or both our client and the intake)
 * within the duplicate window is stored once.
 */
export function reshareRequestMessageId(clientId: string, body: Uint8Array): string {
  const digest = createHash('sha256').update(clientId).update('\n').update(body).digest('hex');
  return `mpc.reshare_request.${digest}`;
}

/**
 * Our stream for pairwise refresh requests (security review M1; not in mpcium): `mpc-refresh-pair`
 * on `mpc.refresh_pair_request.*`. The last token names the signer that coordinates (one of the
 * pair), and each signer consumes only its own subject through its own durable, so a request
 * reaches a signer that can run it and waits in the stream while that signer is down.
 */
export const RefreshPairRequestStream = 'mpc-refresh-pair';
export const RefreshPairRequestTopic = 'mpc.refresh_pair_request.*';

function nodeToken(nodeId: string): string {
  return /^[A-Za-z0-9_-]+$/.test(nodeId) ? nodeId : `x${Buffer.from(nodeId).toString('hex')}`;
}

/** Subject of a pairwise refresh request that `nodeId` coordinates. */
export function refreshPairRequestSubject(nodeId: string): string {
  return `mpc.refresh_pair_request.${nodeToken(nodeId)}`;
}

/** Durable of one signer on `mpc-refresh-pair` (hashed: node ids are not durable-name safe). */
export function refreshPairConsumerName(nodeId: string): string {
  return `mpc_refresh_pair_${createHash('sha256').update(nodeId).digest('hex').slice(0, 24)}`;
}

/** `Nats-Msg-Id` of a refresh request: the same request stored once within the window. */
export function refreshPairRequestMessageId(clientId: string, body: Uint8Array): string {
  const digest = createHash('sha256').update(clientId).update('\n').update(body).digest('hex');
  return `mpc.refresh_pair_request.${digest}`;
}

/** Durable shared by all signers on `mpc-keygen`: `mpc_keygen_consumer`. */
export const KeygenRequestConsumerName = sanitizeConsumerName(KeygenConsumerStream);
/** Durable shared by all signers on `mpc-signing`: `mpc_signing_consumer`. */
export const SigningRequestConsumerName = sanitizeConsumerName(SigningConsumerStream);

/** Subject a TS client publishes a keygen request to (the last token is never interpreted). */
export function keygenRequestSubject(token: string): string {
  return `mpc.keygen_request.${token}`;
}

/** Subject a TS client publishes a signing request to (the last token is never interpreted). */
export function signingRequestSubject(token: string): string {
  return `mpc.signing_request.${token}`;
}

// --- Core NATS events (§1.3) ------------------------------------------------------------------

/** mpcium's internal keygen fan-out subject (core NATS). */
export const MpcGenerateEvent = 'mpc:generate';
/** mpcium's internal signing fan-out subject (core NATS). */
export const MpcSignEvent = 'mpc:sign';
/** Core NATS subject clients publish resharing requests to (not persisted). */
export const MpcReshareEvent = 'mpc:reshare';
/** JetStream advisory subject for exhausted deliveries (§1.7). */
export const MaxDeliveriesAdvisorySubject = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>';

// --- Headers (§2.3) ---------------------------------------------------------------------------

/** Request header carrying the client's routing scope. */
export const ClientIdHeader = 'ClientID';
/** Header mpcium puts on its internal fan-out (one UUID per JetStream delivery). */
export const SessionIdHeader = 'SessionID';
/** JetStream de-duplication header set on every result. */
export const NatsMsgIdHeader = 'Nats-Msg-Id';

// --- Result stream and subjects (§1.4, §1.5) ----------------------------------------------

/** WorkQueue stream holding every result. */
export const ResultStreamName = 'mpc';
export const KeygenResultPrefix = 'mpc.mpc_keygen_result';
export const SigningResultPrefix = 'mpc.mpc_signing_result';
export const ReshareResultPrefix = 'mpc.mpc_reshare_result';
/** Last token of every signing result subject (there is no per-tx subject). */
export const SigningResultCompleteToken = 'complete';
/** `SigningResultTopic` of mpcium (unused by Go; the TS client filters on it). */
export const SigningResultTopic = 'mpc.mpc_signing_result.*';
/** Legacy signing result subject `mpc.mpc_signing_result.complete`. */
export const SigningResultCompleteTopic = `${SigningResultPrefix}.${SigningResultCompleteToken}`;

/** Logical (pre-sanitisation) base names of the three result consumers. */
export const KeygenResultConsumerBase = 'mpc_keygen_result';
export const SigningResultConsumerBase = 'mpc_signing_result';
export const ReshareResultConsumerBase = 'mpc_reshare_result';

/** `prefix.tail` for legacy routing, `prefix.<clientId>.tail` otherwise (`scopedSubject`). */
export function scopedSubject(prefix: string, clientId: string, tail: string): string {
  return clientId === '' ? `${prefix}.${tail}` : `${prefix}.${clientId}.${tail}`;
}

/** Subject a keygen result for `walletId` is published to. */
export function keygenResultSubject(clientId: string, walletId: string): string {
  return scopedSubject(KeygenResultPrefix, clientId, walletId);
}

/** Filter of the keygen result consumer of a routing scope (tail `*`). */
export function keygenResultSubscriptionSubject(clientId: string): string {
  return scopedSubject(KeygenResultPrefix, clientId, '*');
}

/** Subject every signing result of a routing scope is published to (tail `complete`). */
export function signingResultSubject(clientId: string): string {
  return scopedSubject(SigningResultPrefix, clientId, SigningResultCompleteToken);
}

/** Filter of the signing result consumer of a routing scope (same as the publish subject). */
export function signingResultSubscriptionSubject(clientId: string): string {
  return signingResultSubject(clientId);
}

/** Subject a resharing result is published to; the session ID exists only here. */
export function reshareResultSubject(clientId: string, sessionId: string): string {
  return scopedSubject(ReshareResultPrefix, clientId, sessionId);
}

/** Filter of the resharing result consumer of a routing scope (tail `*`). */
export function reshareResultSubscriptionSubject(clientId: string): string {
  return scopedSubject(ReshareResultPrefix, clientId, '*');
}

/**
 * Last token of the result subject for a request whose operation id (keygen `wallet_id`,
 * resharing `session_id`) cannot be read or is not a valid subject token: truncated or
 * oversized JSON, an id with `.`, `*`, `>` or whitespace, longer than 256 bytes, not a string.
 * mpcium would publish on `…result.<cid>.` (an empty token: NATS refuses it) or, worse, on a
 * subject with extra tokens that lands in another client's scope. We answer on
 * `mpc.mpc_keygen_result.[<cid>.]_invalid` / `mpc.mpc_reshare_result.[<cid>.]_invalid`, which
 * every keygen/resharing result consumer of that scope (filter `….*`) receives; the body's
 * `wallet_id` echoes the raw id when it was a readable string. (A real wallet may be called
 * `_invalid`: its results share the subject, the body's `wallet_id` tells them apart.)
 */
export const UnreadableIdToken = '_invalid';

/**
 * True when `token` can be one token of a subject we publish on: non-empty, at most
 * 256 UTF-8 bytes, no `.`, `*`, `>`, whitespace or control characters (NATS subject-token
 * rules as `validateIdentifier` in messages.ts applies them to ids).
 */
export function isSubjectToken(token: string): boolean {
  if (token === '' || Buffer.byteLength(token, 'utf8') > 256) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\s.*>\u0000-\u001f\u007f\ufffd\u2028\u2029]/u.test(token);
}

/** The id itself when it is a valid subject token, else `UnreadableIdToken`. */
export function resultIdToken(id: string): string {
  return isSubjectToken(id) ? id : UnreadableIdToken;
}

/** Subjects of stream `mpc`: the three `….>` wildcards, in mpcium's order. */
export function resultStreamSubjects(): string[] {
  return [`${KeygenResultPrefix}.>`, `${SigningResultPrefix}.>`, `${ReshareResultPrefix}.>`];
}

/** Logical consumer name: `base` (legacy) or `base.<clientId>` (`ResultConsumerName`). */
export function resultConsumerName(base: string, clientId: string): string {
  return clientId === '' ? base : `${base}.${clientId}`;
}

/** The durable name actually created for a result consumer (sanitised logical name). */
export function resultConsumerDurableName(base: string, clientId: string): string {
  return sanitizeConsumerName(resultConsumerName(base, clientId));
}

/**
 * mpcium's `sanitizeConsumerName`: `.`, `:`, space and `-` become `_`, `>` becomes `all`,
 * `*` becomes `any`; a leading character that is neither a letter nor `_` gets a `_` prefix.
 * Note it is not injective (`svc-a` and `svc_a` collide, contract gap 26).
 */
export function sanitizeConsumerName(name: string): string {
  let sanitized = '';
  for (const character of name) {
    switch (character) {
      case '.':
      case ':':
      case ' ':
      case '-':
        sanitized += '_';
        break;
      case '>':
        sanitized += 'all';
        break;
      case '*':
        sanitized += 'any';
        break;
      default:
        sanitized += character;
    }
  }
  if (sanitized !== '' && !firstByteIsGoLetter(sanitized) && !sanitized.startsWith('_')) {
    sanitized = `_${sanitized}`;
  }
  return sanitized;
}

/**
 * Go tests `unicode.IsLetter(rune(name[0]))`: the first UTF-8 *byte* read as a Latin-1 rune.
 * ASCII letters qualify; a multi-byte lead byte (0xC2–0xF4) is a Latin-1 letter except 0xD7 (×)
 * and 0xF7 (÷).
 */
function firstByteIsGoLetter(name: string): boolean {
  const firstByte = new TextEncoder().encode(name)[0] ?? 0;
  if (firstByte < 0x80) {
    return (firstByte >= 0x41 && firstByte <= 0x5a) || (firstByte >= 0x61 && firstByte <= 0x7a);
  }
  return firstByte !== 0xd7 && firstByte !== 0xf7;
}

// --- Nats-Msg-Id (§1.6) -----------------------------------------------------------------------

/** `op` (legacy) or `<clientId>:op` (`ScopedOperationID`). */
export function scopedOperationId(clientId: string, operationId: string): string {
  return clientId === '' ? operationId : `${clientId}:${operationId}`;
}

/** `TypeGenerateWalletResultFmt` etc.: the `Nats-Msg-Id` templates (`%s` = scoped op id). */
export const KeygenResultMessageIdPrefix = 'mpc.mpc_keygen_result';
export const SigningResultMessageIdPrefix = 'mpc.mpc_signing_result';
export const ReshareResultMessageIdPrefix = 'mpc.mpc_reshare_result';

/**
 * `Nats-Msg-Id` of a keygen result: `mpc.mpc_keygen_result.[clientId:]walletId[:sessionId]`.
 * Our signers publish one result per operation, so they pass no session ID and JetStream's
 * duplicate window collapses re-publications after a coordinator failover.
 */
export function keygenResultMessageId(
  clientId: string,
  walletId: string,
  sessionId?: string,
): string {
  return `${KeygenResultMessageIdPrefix}.${scopedOperationId(clientId, withSession(walletId, sessionId))}`;
}

/** `Nats-Msg-Id` of a signing result: `mpc.mpc_signing_result.[clientId:]txId[:sessionId]`. */
export function signingResultMessageId(clientId: string, txId: string, sessionId?: string): string {
  return `${SigningResultMessageIdPrefix}.${scopedOperationId(clientId, withSession(txId, sessionId))}`;
}

/** `Nats-Msg-Id` of a resharing result: `mpc.mpc_reshare_result.[clientId:]sessionId`. */
export function reshareResultMessageId(clientId: string, sessionId: string): string {
  return `${ReshareResultMessageIdPrefix}.${scopedOperationId(clientId, sessionId)}`;
}

function withSession(base: string, sessionId: string | undefined): string {
  return sessionId === undefined || sessionId === '' ? base : `${base}:${sessionId}`;
}

// --- ClientID validation (§1.5) ---------------------------------------------------------------

/** Characters the Go client's `validateClientID` refuses in a ClientID. */
const CLIENT_ID_FORBIDDEN = [' ', '\t', '\r', '\n', '.', '*', '>'];

/** Longest ClientID we accept (mpcium has no limit; NATS subjects must stay short). */
export const MAX_CLIENT_ID_LENGTH = 128;

/**
 * Throws `ValidationError('ClientID', …)` unless `clientId` is acceptable to the Go client's
 * `validateClientID`: empty (legacy routing) or not all whitespace and free of space, tab, CR,
 * LF, `.`, `*`, `>`. We also refuse other control characters and more than
 * `MAX_CLIENT_ID_LENGTH` characters, since the value becomes a NATS subject token.
 */
export function validateClientId(clientId: string): void {
  if (clientId === '') return;
  if (clientId.trim() === '') throw new ValidationError('ClientID', 'must not be blank');
  for (const forbidden of CLIENT_ID_FORBIDDEN) {
    if (clientId.includes(forbidden)) {
      throw new ValidationError(
        'ClientID',
        `must not contain ${JSON.stringify(forbidden)} (allowed: letters, digits, '-', '_')`,
      );
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(clientId)) {
    throw new ValidationError('ClientID', 'must not contain control characters');
  }
  if (clientId.length > MAX_CLIENT_ID_LENGTH) {
    throw new ValidationError('ClientID', `must be at most ${MAX_CLIENT_ID_LENGTH} characters`);
  }
}

/**
 * Reads a request's `ClientID` header: `{ clientId }` (empty = legacy routing) when valid,
 * `undefined` when present but invalid (space, tab, `.`, `*`, `>`, control characters, too
 * long). A request with an invalid ClientID cannot be answered: its scoped subject is not a
 * valid subject, and the unscoped (legacy) one belongs to other clients. Signers terminate it
 * (README, failure semantics).
 */
export function readClientIdHeader(
  headers: { get(name: string): string } | undefined,
): { readonly clientId: string } | undefined {
  const clientId = headers?.get(ClientIdHeader) ?? '';
  return isValidClientId(clientId) ? { clientId } : undefined;
}

/** True when `validateClientId` accepts the value. */
export function isValidClientId(clientId: string): boolean {
  try {
    validateClientId(clientId);
    return true;
  } catch {
    return false;
  }
}
