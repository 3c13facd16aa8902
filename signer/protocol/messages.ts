/**
 * mpcium request and result messages (reference `mpcium-contract.md` §2, §3.1).
 *
 * Requests: strict parsers (`parseGenerateKeyMessage`, `parseSignTxMessage`,
 * `parseResharingMessage`) with Go decoding semantics (see `go-decode.ts`), the exact signed
 * bytes (`generateKeyRaw`, `signTxRaw`, `resharingRaw` = Go `Raw()`), and request encoders that
 * produce the bodies a Go client would send.
 *
 * Results: encoders producing the exact JSON of `KeygenResultEvent`, `SigningResultEvent` and
 * `ResharingResultEvent` (field order and encodings of §2.2), and tolerant decoders for clients.
 *
 * Limits we add (mpcium has none; every one is far above what a real client sends):
 * body ≤ `MAX_REQUEST_BODY_BYTES`; identifiers 1..`MAX_ID_BYTES` UTF-8 bytes and usable as a
 * NATS subject token (no `.`, `*`, `>`, whitespace or control characters — mpcium accepts them
 * and then misroutes results, contract gap 26); ECDSA `tx` 1..32 bytes; EdDSA `tx`
 * 1..`MAX_EDDSA_MESSAGE_BYTES`; `derivation_path` ≤ `MAX_DERIVATION_PATH_LENGTH` (255, BIP32's
 * depth limit, as mpcium) non-hardened indices; ≤ `MAX_AUTHORIZER_SIGNATURES` authorizer
 * signatures.
 *
 * ECDSA `tx` is the digest, signed as the big-endian integer it encodes (mpcium: `big.Int(tx)`,
 * no hashing). A `tx` shorter than 32 bytes is therefore the same integer as its 32-byte
 * left-zero-padded form, which is what standard ECDSA verifiers compute for a short digest
 * (bits2int); `ecdsaSigningDigest` gives that 32-byte form, and every signer (coordinator and
 * participants alike, in the job builder) signs exactly it. The parsed `tx` stays as sent,
 * because the initiator signed those bytes (`signTxRaw`). Longer than 32 bytes is refused
 * (it is no secp256k1 digest; mpcium would reduce it modulo n).
 *
 * Error classes: a body that is not a UTF-8 JSON object → `MalformedMessageError`
 * (`ERROR_UNMARSHAL_FAILURE`); any bad field → `ValidationError` (`ERROR_MSG_VALIDATION`,
 * `field` = JSON path); a key type other than `secp256k1`/`ed25519` → `UnsupportedKeyTypeError`,
 * a `ValidationError` on `key_type` (mpcium reports `ERROR_UNKNOWN` "unsupported key type"; the
 * precise code is more useful and no client depends on the vague one).
 */
import type { ErrorCode } from './errors.ts';
import { ValidationError } from './errors.ts';
import { GoFieldReader, parseJsonObjectBody } from './go-decode.ts';
import {
  encodeStdBase64,
  goBytes,
  goMarshal,
  goObject,
  type GoJsonObject,
  type GoJsonValue,
} from './go-json.ts';

// --- Limits -------------------------------------------------------------------------------------

/** Largest request body accepted (bytes). */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/** Largest identifier (wallet, tx, session, node, authorizer id), in UTF-8 bytes. */
export const MAX_ID_BYTES = 256;
/** Largest `network_internal_code`, in UTF-8 bytes (it is only echoed). */
export const MAX_NETWORK_CODE_BYTES = 256;
/** ECDSA `tx` is the message digest: at most 32 bytes, left-padded to 32 for signing. */
export const ECDSA_DIGEST_BYTES = 32;
/** Largest EdDSA message (`tx`) in bytes; a Solana transaction is ≤ 1232 bytes. */
export const MAX_EDDSA_MESSAGE_BYTES = 16 * 1024;
/** Largest initiator / authorizer signature (Ed25519 64, P-256 DER ≤ 72). */
export const MAX_SIGNATURE_BYTES = 512;
/** Most authorizer signatures per request. */
export const MAX_AUTHORIZER_SIGNATURES = 16;
/**
 * Longest derivation path: 255, BIP32's depth limit and mpcium's. Each level costs every
 * signing participant one HMAC-SHA512 and one base-point multiplication (about 1.5 ms on the
 * 2-core test machine, so ~0.4 s at depth 255; real wallet paths have 3..6 levels); the body
 * stays far below `MAX_REQUEST_BODY_BYTES` (255 indices < 2^31 are < 2.9 KB of JSON).
 */
export const MAX_DERIVATION_PATH_LENGTH = 255;
/** First hardened BIP32 index; CKD is public-key derivation, so hardened indices are refused. */
export const HARDENED_INDEX = 0x8000_0000;
/** Most node IDs in a resharing request. */
export const MAX_RESHARE_NODES = 256;
/** Highest `new_threshold` accepted (the signer checks it against the committee size). */
export const MAX_THRESHOLD = 255;

// --- Request types ------------------------------------------------------------------------------

/** Wallet key types (`types.KeyType`). */
export type KeyType = 'secp256k1' | 'ed25519';
export const KEY_TYPES: readonly KeyType[] = ['secp256k1', 'ed25519'];

/** `types.AuthorizerSignature`: `{"authorizer_id", "signature"}`. */
export interface AuthorizerSignature {
  readonly authorizerId: string;
  readonly signature: Uint8Array;
}

/** `GenerateKeyMessage`: one request creates both wallet keys. */
export interface GenerateKeyMessage {
  readonly walletId: string;
  /** Initiator signature over `generateKeyRaw` (empty when absent). */
  readonly signature: Uint8Array;
  readonly authorizerSignatures: readonly AuthorizerSignature[];
}

/** `SignTxMessage`. */
export interface SignTxMessage {
  readonly keyType: KeyType;
  readonly walletId: string;
  readonly networkInternalCode: string;
  readonly txId: string;
  /**
   * As sent. ECDSA: the digest, 1..32 bytes, signed as the integer it encodes (see
   * `ecdsaSigningDigest`). EdDSA: the message.
   */
  readonly tx: Uint8Array;
  readonly signature: Uint8Array;
  /** Non-hardened CKD path; `null` (absent) or empty = the wallet's master key. */
  readonly derivationPath: readonly number[] | null;
  /**
   * Our extension (field `derivation_path_signature`): the initiator's signature over
   * `derivationPathRaw(message)`, because mpcium's `Raw()` does not cover the path. Sent by our
   * client with every request (an absent path signed as the empty one), verified by our
   * signers when present and required under `authorization.require_signed_derivation_path`;
   * mpcium clients omit it and mpcium nodes ignore it.
   */
  readonly derivationPathSignature?: Uint8Array;
  readonly authorizerSignatures: readonly AuthorizerSignature[];
}

/** `ResharingMessage` (core NATS `mpc:reshare`). */
export interface ResharingMessage {
  readonly sessionId: string;
  /** New committee (signer node IDs). */
  readonly nodeIds: readonly string[];
  /** New threshold t (t+1 signers). */
  readonly newThreshold: number;
  readonly keyType: KeyType;
  readonly walletId: string;
  readonly signature: Uint8Array;
  readonly authorizerSignatures: readonly AuthorizerSignature[];
}

/**
 * Our extension (not in mpcium): an administrator's request to rerun the DKLs23 pairwise setup
 * of one secp256k1 wallet between two signers (security review M1: a ban burns the pair's OT
 * state; this makes it usable again with fresh base OTs). Published to our stream
 * `mpc-refresh-pair` under the subject of the signer that coordinates (one of the two).
 * Body: `{"session_id","wallet_id","node_ids":[a,b],"signature"[,"authorizer_signatures"]}`;
 * the initiator signs `pairRefreshRaw`. The result is a `ResharingResultEvent` on
 * `mpc.mpc_reshare_result[.<ClientID>].<session_id>` (same key, same threshold).
 */
export interface PairRefreshMessage {
  readonly sessionId: string;
  readonly walletId: string;
  /** The two signers of the pair, distinct. */
  readonly nodeIds: readonly [string, string];
  readonly signature: Uint8Array;
  readonly authorizerSignatures: readonly AuthorizerSignature[];
}

/** `key_type` is not `secp256k1` or `ed25519`. Code `ERROR_MSG_VALIDATION`, field `key_type`. */
export class UnsupportedKeyTypeError extends ValidationError {
  readonly keyType: string;

  constructor(keyType: string) {
    super(
      'key_type',
      `unsupported key type ${JSON.stringify(keyType.slice(0, 32))} (expected "secp256k1" or "ed25519")`,
    );
    this.keyType = keyType;
  }
}

// --- Request parsing -------------------------------------------------------------------------

/** Parses a keygen request body (JetStream `mpc-keygen`). */
export function parseGenerateKeyMessage(body: Uint8Array): GenerateKeyMessage {
  const reader = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES);
  return {
    walletId: readId(reader, 'wallet_id'),
    signature: readSignature(reader, 'signature'),
    authorizerSignatures: readAuthorizerSignatures(reader),
  };
}

/** Parses a signing request body (JetStream `mpc-signing`). */
export function parseSignTxMessage(body: Uint8Array): SignTxMessage {
  const reader = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES);
  const walletId = readId(reader, 'wallet_id');
  const txId = readId(reader, 'tx_id');
  const networkInternalCode = readBoundedString(
    reader,
    'network_internal_code',
    MAX_NETWORK_CODE_BYTES,
  );
  const keyType = readKeyType(reader);
  const tx = reader.bytes('tx');
  if (tx === null || tx.length === 0) throw new ValidationError('tx', 'must not be empty');
  if (keyType === 'secp256k1' && tx.length > ECDSA_DIGEST_BYTES) {
    throw new ValidationError(
      'tx',
      `must be the message digest (at most ${ECDSA_DIGEST_BYTES} bytes) for secp256k1, got ${tx.length} bytes`,
    );
  }
  if (keyType === 'ed25519' && tx.length > MAX_EDDSA_MESSAGE_BYTES) {
    throw new ValidationError(
      'tx',
      `must be at most ${MAX_EDDSA_MESSAGE_BYTES} bytes for ed25519, got ${tx.length}`,
    );
  }
  return {
    keyType,
    walletId,
    networkInternalCode,
    txId,
    tx,
    signature: readSignature(reader, 'signature'),
    derivationPath: readDerivationPath(reader),
    ...readDerivationPathSignature(reader),
    authorizerSignatures: readAuthorizerSignatures(reader),
  };
}

/**
 * The 32-byte digest a secp256k1 signer signs for `tx`: `tx` left-padded with zero bytes, i.e.
 * the same big-endian integer (a fresh copy; 32 bytes are copied as they are). Throws
 * `ValidationError` on `tx` for an empty or longer-than-32-byte `tx`, which the parser already
 * refuses.
 */
export function ecdsaSigningDigest(tx: Uint8Array): Uint8Array {
  if (tx.length === 0 || tx.length > ECDSA_DIGEST_BYTES) {
    throw new ValidationError('tx', `must be 1..${ECDSA_DIGEST_BYTES} bytes, got ${tx.length}`);
  }
  const digest = new Uint8Array(ECDSA_DIGEST_BYTES);
  digest.set(tx, ECDSA_DIGEST_BYTES - tx.length);
  return digest;
}

function readDerivationPathSignature(reader: GoFieldReader): {
  derivationPathSignature?: Uint8Array;
} {
  const signature = readSignature(reader, 'derivation_path_signature');
  return signature.length === 0 ? {} : { derivationPathSignature: signature };
}

const DERIVATION_PATH_DOMAIN = new TextEncoder().encode('mpc-derivation-path-v1\n');

/**
 * Bytes the initiator signs to bind the derivation path to a signing request (our extension):
 * `"mpc-derivation-path-v1\n" ‖ signTxRaw(message) ‖ "\n" ‖ JSON(path ?? [])`.
 */
export function derivationPathRaw(
  message: Pick<SignTxMessage, 'keyType' | 'walletId' | 'networkInternalCode' | 'txId' | 'tx'> & {
    readonly derivationPath: readonly number[] | null;
  },
): Uint8Array {
  const raw = signTxRaw(message);
  const path = new TextEncoder().encode(`\n${JSON.stringify(message.derivationPath ?? [])}`);
  const out = new Uint8Array(DERIVATION_PATH_DOMAIN.length + raw.length + path.length);
  out.set(DERIVATION_PATH_DOMAIN, 0);
  out.set(raw, DERIVATION_PATH_DOMAIN.length);
  out.set(path, DERIVATION_PATH_DOMAIN.length + raw.length);
  return out;
}

/** Parses a pairwise refresh request body (our stream `mpc-refresh-pair`). */
export function parsePairRefreshMessage(body: Uint8Array): PairRefreshMessage {
  const reader = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES);
  const sessionId = readId(reader, 'session_id');
  const walletId = readId(reader, 'wallet_id');
  const values = reader.array('node_ids', 2);
  if (values === null || values.length !== 2) {
    throw new ValidationError('node_ids', 'must name exactly the two signers of the pair');
  }
  const first = checkId(values[0], 'node_ids[0]');
  const second = checkId(values[1], 'node_ids[1]');
  if (first === second) throw new ValidationError('node_ids', 'must name two different signers');
  return {
    sessionId,
    walletId,
    nodeIds: [first, second],
    signature: readSignature(reader, 'signature'),
    authorizerSignatures: readAuthorizerSignatures(reader),
  };
}

/** Parses a resharing request body (core NATS `mpc:reshare`). */
export function parseResharingMessage(body: Uint8Array): ResharingMessage {
  const reader = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES);
  const sessionId = readId(reader, 'session_id');
  const walletId = readId(reader, 'wallet_id');
  const keyType = readKeyType(reader);
  const nodeIdValues = reader.array('node_ids', MAX_RESHARE_NODES);
  if (nodeIdValues === null || nodeIdValues.length === 0) {
    throw new ValidationError('node_ids', 'must list the new committee');
  }
  const nodeIds = nodeIdValues.map((value, index) => checkId(value, `node_ids[${index}]`));
  if (new Set(nodeIds).size !== nodeIds.length) {
    throw new ValidationError('node_ids', 'must not contain duplicates');
  }
  const newThreshold = reader.integer('new_threshold');
  if (newThreshold < 1 || newThreshold > MAX_THRESHOLD) {
    throw new ValidationError('new_threshold', `must be between 1 and ${MAX_THRESHOLD}`);
  }
  if (newThreshold + 1 > nodeIds.length) {
    throw new ValidationError(
      'new_threshold',
      `needs at least ${newThreshold + 1} node_ids (threshold + 1), got ${nodeIds.length}`,
    );
  }
  return {
    sessionId,
    nodeIds,
    newThreshold,
    keyType,
    walletId,
    signature: readSignature(reader, 'signature'),
    authorizerSignatures: readAuthorizerSignatures(reader),
  };
}

/**
 * Best-effort identifiers of a request that failed to parse, so that its error result can be
 * routed to the right wallet/tx/session. Only values that are themselves valid identifiers
 * (and a bounded network code) are returned; never throws.
 */
export interface SalvagedRequestIds {
  readonly walletId: string;
  readonly txId: string;
  readonly sessionId: string;
  readonly networkInternalCode: string;
  readonly keyType: string;
}

export function salvageRequestIds(body: Uint8Array): SalvagedRequestIds {
  const salvaged = { walletId: '', txId: '', sessionId: '', networkInternalCode: '', keyType: '' };
  let reader: GoFieldReader;
  try {
    reader = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES);
  } catch {
    return salvaged;
  }
  const attempt = (read: () => string): string => {
    try {
      return read();
    } catch {
      return '';
    }
  };
  return {
    walletId: attempt(() => readId(reader, 'wallet_id')),
    txId: attempt(() => readId(reader, 'tx_id')),
    sessionId: attempt(() => readId(reader, 'session_id')),
    networkInternalCode: attempt(() =>
      readBoundedString(reader, 'network_internal_code', MAX_NETWORK_CODE_BYTES),
    ),
    keyType: attempt(() => readKeyType(reader)),
  };
}

const utf8 = new TextEncoder();

/** Longest raw id echoed in the error result of an unreadable request. */
export const MAX_ECHOED_RAW_ID_BYTES = 1024;

/**
 * The raw string value of `field` (`wallet_id`, `tx_id`, `session_id`) of a request whose id
 * is not a valid identifier, to echo in its error result so the client can correlate it
 * (README, failure semantics): `''` unless the body is a JSON object within the size limit and
 * the field is a string of at most `MAX_ECHOED_RAW_ID_BYTES` UTF-8 bytes. Never throws.
 */
export function salvageRawId(body: Uint8Array, field: string): string {
  try {
    const value = parseJsonObjectBody(body, MAX_REQUEST_BODY_BYTES).string(field);
    return utf8Length(value) <= MAX_ECHOED_RAW_ID_BYTES ? value : '';
  } catch {
    return '';
  }
}

function utf8Length(value: string): number {
  return utf8.encode(value).length;
}

/** Subject-token-safe identifier check; returns the string. */
function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
  if (value === '') throw new ValidationError(field, 'must not be empty');
  if (utf8Length(value) > MAX_ID_BYTES) {
    throw new ValidationError(field, `must be at most ${MAX_ID_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s.*>\u0000-\u001f\u007f\ufffd\u2028\u2029]/u.test(value)) {
    throw new ValidationError(
      field,
      'must not contain whitespace, control characters, ".", "*" or ">" (it is a NATS subject token)',
    );
  }
  return value;
}

/** Exported for the client and the signer: validates an identifier like the parsers do. */
export function validateIdentifier(value: string, field: string): void {
  checkId(value, field);
}

function readId(reader: GoFieldReader, field: string): string {
  return checkId(reader.string(field), reader.fieldPath(field));
}

function readBoundedString(reader: GoFieldReader, field: string, maxBytes: number): string {
  const value = reader.string(field);
  if (utf8Length(value) > maxBytes) {
    throw new ValidationError(reader.fieldPath(field), `must be at most ${maxBytes} bytes`);
  }
  return value;
}

function readKeyType(reader: GoFieldReader): KeyType {
  const value = reader.string('key_type');
  if (value === '') throw new ValidationError('key_type', 'must not be empty');
  if (value !== 'secp256k1' && value !== 'ed25519') throw new UnsupportedKeyTypeError(value);
  return value;
}

function readSignature(reader: GoFieldReader, field: string): Uint8Array {
  const value = reader.bytes(field) ?? new Uint8Array(0);
  if (value.length > MAX_SIGNATURE_BYTES) {
    throw new ValidationError(
      reader.fieldPath(field),
      `must be at most ${MAX_SIGNATURE_BYTES} bytes`,
    );
  }
  return value;
}

function readAuthorizerSignatures(reader: GoFieldReader): AuthorizerSignature[] {
  const values = reader.array('authorizer_signatures', MAX_AUTHORIZER_SIGNATURES);
  if (values === null) return [];
  return values.map((value, index) => {
    const element = GoFieldReader.nested(value, `authorizer_signatures[${index}]`);
    return {
      authorizerId: checkId(element.string('authorizer_id'), element.fieldPath('authorizer_id')),
      signature: readSignature(element, 'signature'),
    };
  });
}

function readDerivationPath(reader: GoFieldReader): number[] | null {
  const values = reader.array('derivation_path', MAX_DERIVATION_PATH_LENGTH);
  if (values === null) return null;
  return values.map((value, index) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new ValidationError(`derivation_path[${index}]`, 'must be a uint32');
    }
    if (value >= HARDENED_INDEX) {
      throw new ValidationError(
        `derivation_path[${index}]`,
        'hardened indices are not supported (public-key derivation)',
      );
    }
    return value;
  });
}

// --- Signed bytes (Go Raw()) -------------------------------------------------------------------

/** `GenerateKeyMessage.Raw()`: the UTF-8 bytes of `wallet_id` (no JSON). */
export function generateKeyRaw(message: Pick<GenerateKeyMessage, 'walletId'>): Uint8Array {
  return utf8.encode(message.walletId);
}

/**
 * `SignTxMessage.Raw()`: Go-marshalled `{"key_type","wallet_id","network_internal_code",
 * "tx_id","tx"}`. `derivation_path` and authorizer signatures are not covered (mpcium gap 22).
 */
export function signTxRaw(
  message: Pick<SignTxMessage, 'keyType' | 'walletId' | 'networkInternalCode' | 'txId'> & {
    readonly tx: Uint8Array | null;
  },
): Uint8Array {
  return goMarshal(
    goObject(
      ['key_type', message.keyType],
      ['wallet_id', message.walletId],
      ['network_internal_code', message.networkInternalCode],
      ['tx_id', message.txId],
      ['tx', goBytes(message.tx)],
    ),
  );
}

/**
 * `ResharingMessage.Raw()`: Go-marshalled `{"session_id","node_ids","new_threshold",
 * "key_type","wallet_id"}` (signature and authorizers omitted; `node_ids` `null` when nil).
 */
export function resharingRaw(
  message: Pick<ResharingMessage, 'sessionId' | 'newThreshold' | 'keyType' | 'walletId'> & {
    readonly nodeIds: readonly string[] | null;
  },
): Uint8Array {
  return goMarshal(
    goObject(
      ['session_id', message.sessionId],
      ['node_ids', message.nodeIds],
      ['new_threshold', message.newThreshold],
      ['key_type', message.keyType],
      ['wallet_id', message.walletId],
    ),
  );
}

const PAIR_REFRESH_DOMAIN = new TextEncoder().encode('mpc-refresh-pair-v1\n');

/**
 * Bytes the initiator signs for a pairwise refresh: `"mpc-refresh-pair-v1\n" ‖` Go-marshalled
 * `{"session_id","wallet_id","node_ids"}`. The domain prefix keeps the signature from ever
 * verifying as another request's `Raw()` (those start with `{` or are a bare wallet id).
 */
export function pairRefreshRaw(
  message: Pick<PairRefreshMessage, 'sessionId' | 'walletId' | 'nodeIds'>,
): Uint8Array {
  const json = goMarshal(
    goObject(
      ['session_id', message.sessionId],
      ['wallet_id', message.walletId],
      ['node_ids', [...message.nodeIds]],
    ),
  );
  const out = new Uint8Array(PAIR_REFRESH_DOMAIN.length + json.length);
  out.set(PAIR_REFRESH_DOMAIN, 0);
  out.set(json, PAIR_REFRESH_DOMAIN.length);
  return out;
}

/** The body our client sends for a pairwise refresh. */
export function encodePairRefreshMessage(message: PairRefreshMessage): Uint8Array {
  const fields: (readonly [string, GoJsonValue])[] = [
    ['session_id', message.sessionId],
    ['wallet_id', message.walletId],
    ['node_ids', [...message.nodeIds]],
  ];
  if (message.signature.length > 0) fields.push(['signature', goBytes(message.signature)]);
  return goMarshal(withAuthorizers(fields, message.authorizerSignatures));
}

/** `InitiatorID()` of each request kind: what authorizers sign as `initiator_id`. */
export function generateKeyInitiatorId(message: Pick<GenerateKeyMessage, 'walletId'>): string {
  return message.walletId;
}
export function signTxInitiatorId(message: Pick<SignTxMessage, 'txId'>): string {
  return message.txId;
}
export function resharingInitiatorId(message: Pick<ResharingMessage, 'walletId'>): string {
  return message.walletId;
}

// --- Request encoding (client side) -----------------------------------------------------------

function authorizersValue(signatures: readonly AuthorizerSignature[]): GoJsonValue {
  return signatures.map((entry) =>
    goObject(['authorizer_id', entry.authorizerId], ['signature', goBytes(entry.signature)]),
  );
}

function withAuthorizers(
  fields: (readonly [string, GoJsonValue])[],
  signatures: readonly AuthorizerSignature[],
): GoJsonObject {
  if (signatures.length > 0) fields.push(['authorizer_signatures', authorizersValue(signatures)]);
  return goObject(...fields);
}

/** The body a Go client sends for keygen: `{"wallet_id","signature"[,"authorizer_signatures"]}`. */
export function encodeGenerateKeyMessage(message: GenerateKeyMessage): Uint8Array {
  return goMarshal(
    withAuthorizers(
      [
        ['wallet_id', message.walletId],
        ['signature', goBytes(message.signature)],
      ],
      message.authorizerSignatures,
    ),
  );
}

/** The body a Go client sends for signing (field order of `SignTxMessage`). */
export function encodeSignTxMessage(message: SignTxMessage): Uint8Array {
  return goMarshal(
    withAuthorizers(
      [
        ['key_type', message.keyType],
        ['wallet_id', message.walletId],
        ['network_internal_code', message.networkInternalCode],
        ['tx_id', message.txId],
        ['tx', goBytes(message.tx)],
        ['signature', goBytes(message.signature)],
        ['derivation_path', message.derivationPath],
        ...(message.derivationPathSignature === undefined
          ? []
          : [['derivation_path_signature', goBytes(message.derivationPathSignature)] as const]),
      ],
      message.authorizerSignatures,
    ),
  );
}

/** The body a Go client sends for resharing (`signature` omitted when empty). */
export function encodeResharingMessage(message: ResharingMessage): Uint8Array {
  const fields: (readonly [string, GoJsonValue])[] = [
    ['session_id', message.sessionId],
    ['node_ids', message.nodeIds],
    ['new_threshold', message.newThreshold],
    ['key_type', message.keyType],
    ['wallet_id', message.walletId],
  ];
  if (message.signature.length > 0) fields.push(['signature', goBytes(message.signature)]);
  return goMarshal(withAuthorizers(fields, message.authorizerSignatures));
}

// --- Results -------------------------------------------------------------------------------------

/** `event.ResultType`. */
export type ResultType = 'success' | 'error';

/** `KeygenResultEvent` as on the wire (byte fields are base64 strings or null). */
export interface KeygenResultEvent {
  wallet_id: string;
  ecdsa_pub_key: string | null;
  eddsa_pub_key: string | null;
  result_type: ResultType;
  error_reason: string;
  error_code: string;
}

/** `SigningResultEvent` as on the wire. */
export interface SigningResultEvent {
  result_type: ResultType;
  error_code: string;
  error_reason: string;
  is_timeout: boolean;
  network_internal_code: string;
  wallet_id: string;
  tx_id: string;
  r: string | null;
  s: string | null;
  signature_recovery: string | null;
  signature: string | null;
}

/** `ResharingResultEvent` as on the wire (no session ID: it is only in the subject). */
export interface ResharingResultEvent {
  wallet_id: string;
  new_threshold: number;
  key_type: string;
  pub_key: string | null;
  result_type: ResultType;
  error_reason: string;
  error_code: string;
}

/** Input of `encodeKeygenResult`. ECDSA key: 64-byte X‖Y; EdDSA key: 32 bytes; null = absent. */
export type KeygenResult =
  | {
      readonly resultType: 'success';
      readonly walletId: string;
      readonly ecdsaPublicKey: Uint8Array | null;
      readonly eddsaPublicKey: Uint8Array | null;
    }
  | {
      readonly resultType: 'error';
      readonly walletId: string;
      readonly errorCode: ErrorCode;
      readonly errorReason: string;
    };

/** Input of `encodeSigningResult`. */
export type SigningResult =
  | {
      readonly resultType: 'success';
      readonly keyType: 'secp256k1';
      readonly walletId: string;
      readonly txId: string;
      readonly networkInternalCode: string;
      /** 32-byte big-endian r. */
      readonly r: Uint8Array;
      /** 32-byte big-endian s, low-S normalised. */
      readonly s: Uint8Array;
      /** Recovery id 0–3 (after low-S normalisation). */
      readonly recoveryId: number;
    }
  | {
      readonly resultType: 'success';
      readonly keyType: 'ed25519';
      readonly walletId: string;
      readonly txId: string;
      readonly networkInternalCode: string;
      /** 64-byte R‖S. */
      readonly signature: Uint8Array;
    }
  | {
      readonly resultType: 'error';
      readonly walletId: string;
      readonly txId: string;
      readonly networkInternalCode: string;
      readonly errorCode: ErrorCode;
      readonly errorReason: string;
      /** True only for "gave up waiting" results (mpcium: max deliveries exhausted). */
      readonly isTimeout?: boolean;
    };

/** Input of `encodeResharingResult`. Public key: 64-byte X‖Y (secp256k1) or 32 bytes. */
export type ResharingResult =
  | {
      readonly resultType: 'success';
      readonly walletId: string;
      readonly newThreshold: number;
      readonly keyType: KeyType;
      readonly publicKey: Uint8Array;
    }
  | {
      readonly resultType: 'error';
      readonly walletId: string;
      readonly newThreshold: number;
      /** Echo of the request's key type (may be the unsupported value). */
      readonly keyType: string;
      readonly errorCode: ErrorCode;
      readonly errorReason: string;
    };

const SECP256K1_HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

function requireLength(bytes: Uint8Array | null, length: number, what: string): void {
  if (bytes !== null && bytes.length !== length) {
    throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

function bigEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** JSON bytes of a `KeygenResultEvent`. Throws `RangeError` on malformed keys (a bug). */
export function encodeKeygenResult(result: KeygenResult): Uint8Array {
  const success = result.resultType === 'success';
  if (success) {
    requireLength(result.ecdsaPublicKey, 64, 'ecdsa_pub_key');
    requireLength(result.eddsaPublicKey, 32, 'eddsa_pub_key');
  }
  return goMarshal(
    goObject(
      ['wallet_id', result.walletId],
      ['ecdsa_pub_key', success ? goBytes(result.ecdsaPublicKey) : null],
      ['eddsa_pub_key', success ? goBytes(result.eddsaPublicKey) : null],
      ['result_type', result.resultType],
      ['error_reason', success ? '' : result.errorReason],
      ['error_code', success ? '' : result.errorCode],
    ),
  );
}

/** JSON bytes of a `SigningResultEvent`. Throws `RangeError` on malformed signatures (a bug). */
export function encodeSigningResult(result: SigningResult): Uint8Array {
  let r: Uint8Array | null = null;
  let s: Uint8Array | null = null;
  let recovery: Uint8Array | null = null;
  let signature: Uint8Array | null = null;
  if (result.resultType === 'success' && result.keyType === 'secp256k1') {
    requireLength(result.r, 32, 'r');
    requireLength(result.s, 32, 's');
    if (bigEndianToBigInt(result.s) > SECP256K1_HALF_ORDER) {
      throw new RangeError('s must be low-S normalised');
    }
    if (!Number.isInteger(result.recoveryId) || result.recoveryId < 0 || result.recoveryId > 3) {
      throw new RangeError('recoveryId must be 0..3');
    }
    r = result.r;
    s = result.s;
    recovery = Uint8Array.of(result.recoveryId);
  } else if (result.resultType === 'success') {
    requireLength(result.signature, 64, 'signature');
    signature = result.signature;
  }
  const isError = result.resultType === 'error';
  return goMarshal(
    goObject(
      ['result_type', result.resultType],
      ['error_code', isError ? result.errorCode : ''],
      ['error_reason', isError ? result.errorReason : ''],
      ['is_timeout', isError ? (result.isTimeout ?? false) : false],
      ['network_internal_code', result.networkInternalCode],
      ['wallet_id', result.walletId],
      ['tx_id', result.txId],
      ['r', goBytes(r)],
      ['s', goBytes(s)],
      ['signature_recovery', goBytes(recovery)],
      ['signature', goBytes(signature)],
    ),
  );
}

/** JSON bytes of a `ResharingResultEvent`. */
export function encodeResharingResult(result: ResharingResult): Uint8Array {
  const success = result.resultType === 'success';
  if (success) {
    requireLength(result.publicKey, result.keyType === 'secp256k1' ? 64 : 32, 'pub_key');
  }
  return goMarshal(
    goObject(
      ['wallet_id', result.walletId],
      ['new_threshold', result.newThreshold],
      ['key_type', result.keyType],
      ['pub_key', success ? goBytes(result.publicKey) : null],
      ['result_type', result.resultType],
      ['error_reason', success ? '' : result.errorReason],
      ['error_code', success ? '' : result.errorCode],
    ),
  );
}

// --- Result decoding (client side) ----------------------------------------------------------

/** Largest result body a client accepts. */
export const MAX_RESULT_BODY_BYTES = 64 * 1024;

function readResultType(reader: GoFieldReader): ResultType {
  const value = reader.string('result_type');
  if (value !== 'success' && value !== 'error') {
    throw new ValidationError('result_type', 'must be "success" or "error"');
  }
  return value;
}

function readBase64OrNull(reader: GoFieldReader, field: string): string | null {
  const bytes = reader.bytes(field);
  return bytes === null ? null : encodeStdBase64(bytes);
}

/** Decodes a `KeygenResultEvent` (Go semantics; throws `MalformedMessageError`/`ValidationError`). */
export function decodeKeygenResultEvent(body: Uint8Array): KeygenResultEvent {
  const reader = parseJsonObjectBody(body, MAX_RESULT_BODY_BYTES);
  return {
    wallet_id: reader.string('wallet_id'),
    ecdsa_pub_key: readBase64OrNull(reader, 'ecdsa_pub_key'),
    eddsa_pub_key: readBase64OrNull(reader, 'eddsa_pub_key'),
    result_type: readResultType(reader),
    error_reason: reader.string('error_reason'),
    error_code: reader.string('error_code'),
  };
}

/** Decodes a `SigningResultEvent`. */
export function decodeSigningResultEvent(body: Uint8Array): SigningResultEvent {
  const reader = parseJsonObjectBody(body, MAX_RESULT_BODY_BYTES);
  return {
    result_type: readResultType(reader),
    error_code: reader.string('error_code'),
    error_reason: reader.string('error_reason'),
    is_timeout: reader.boolean('is_timeout'),
    network_internal_code: reader.string('network_internal_code'),
    wallet_id: reader.string('wallet_id'),
    tx_id: reader.string('tx_id'),
    r: readBase64OrNull(reader, 'r'),
    s: readBase64OrNull(reader, 's'),
    signature_recovery: readBase64OrNull(reader, 'signature_recovery'),
    signature: readBase64OrNull(reader, 'signature'),
  };
}

/** Decodes a `ResharingResultEvent`. */
export function decodeResharingResultEvent(body: Uint8Array): ResharingResultEvent {
  const reader = parseJsonObjectBody(body, MAX_RESULT_BODY_BYTES);
  return {
    wallet_id: reader.string('wallet_id'),
    new_threshold: reader.integer('new_threshold'),
    key_type: reader.string('key_type'),
    pub_key: readBase64OrNull(reader, 'pub_key'),
    result_type: readResultType(reader),
    error_reason: reader.string('error_reason'),
    error_code: reader.string('error_code'),
  };
}
