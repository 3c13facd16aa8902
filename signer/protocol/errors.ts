/**
 * Error codes of the mpcium client contract (`pkg/event/types.go`, reference
 * `mpcium-contract.md` §4) and the typed error base class every signer error derives from.
 *
 * Codes are chosen by error class, never by matching message text: each subclass fixes its
 * `code`, and the service maps any thrown value to a result with `errorCodeOf`.
 */

/** Every error code string an mpcium client may receive in `error_code`. */
export const ErrorCode = {
  Unknown: 'ERROR_UNKNOWN',
  NetworkTimeout: 'ERROR_NETWORK_TIMEOUT',
  NetworkConnection: 'ERROR_NETWORK_CONNECTION',
  NetworkSubscription: 'ERROR_NETWORK_SUBSCRIPTION',
  MessageRouting: 'ERROR_MESSAGE_ROUTING',
  DirectMessaging: 'ERROR_DIRECT_MESSAGING',
  SessionTimeout: 'ERROR_SESSION_TIMEOUT',
  SessionCreation: 'ERROR_SESSION_CREATION',
  SessionInitialization: 'ERROR_SESSION_INITIALIZATION',
  SessionCleanup: 'ERROR_SESSION_CLEANUP',
  SessionDuplicate: 'ERROR_SESSION_DUPLICATE',
  SessionStale: 'ERROR_SESSION_STALE',
  InsufficientParticipants: 'ERROR_INSUFFICIENT_PARTICIPANTS',
  IncompatiblePeerIds: 'ERROR_INCOMPATIBLE_PEER_IDS',
  PeerNotReady: 'ERROR_PEER_NOT_READY',
  PeerUnavailable: 'ERROR_PEER_UNAVAILABLE',
  ParticipantNotFound: 'ERROR_PARTICIPANT_NOT_FOUND',
  KeyNotFound: 'ERROR_KEY_NOT_FOUND',
  KeyAlreadyExists: 'ERROR_KEY_ALREADY_EXISTS',
  KeyGeneration: 'ERROR_KEY_GENERATION',
  KeySave: 'ERROR_KEY_SAVE',
  KeyLoad: 'ERROR_KEY_LOAD',
  KeyInfoSave: 'ERROR_KEY_INFO_SAVE',
  KeyInfoLoad: 'ERROR_KEY_INFO_LOAD',
  KeyEncoding: 'ERROR_KEY_ENCODING',
  KeyDecoding: 'ERROR_KEY_DECODING',
  MsgValidation: 'ERROR_MSG_VALIDATION',
  SignatureGeneration: 'ERROR_SIGNATURE_GENERATION',
  SignatureVerification: 'ERROR_SIGNATURE_VERIFICATION',
  InvalidInitiatorSignature: 'ERROR_INVALID_INITIATOR_SIGNATURE',
  PreParamsGeneration: 'ERROR_PRE_PARAMS_GENERATION',
  TssPartyCreation: 'ERROR_TSS_PARTY_CREATION',
  MissingAuthorizerSignature: 'ERROR_MISSING_AUTHORIZER_SIGNATURE',
  InvalidAuthorizerSignature: 'ERROR_INVALID_AUTHORIZER_SIGNATURE',
  MarshalFailure: 'ERROR_MARSHAL_FAILURE',
  UnmarshalFailure: 'ERROR_UNMARSHAL_FAILURE',
  DataCorruption: 'ERROR_DATA_CORRUPTION',
  StorageRead: 'ERROR_STORAGE_READ',
  StorageWrite: 'ERROR_STORAGE_WRITE',
  StorageInit: 'ERROR_STORAGE_INIT',
  MessageVerification: 'ERROR_MESSAGE_VERIFICATION',
  MessageFormat: 'ERROR_MESSAGE_FORMAT',
  MessageDelivery: 'ERROR_MESSAGE_DELIVERY',
  MaxDeliveryAttempts: 'ERROR_MAX_DELIVERY_ATTEMPTS',
  InvalidConfiguration: 'ERROR_INVALID_CONFIGURATION',
  InvalidThreshold: 'ERROR_INVALID_THRESHOLD',
  InvalidSessionType: 'ERROR_INVALID_SESSION_TYPE',
  ResourceExhausted: 'ERROR_RESOURCE_EXHAUSTED',
  MemoryAllocation: 'ERROR_MEMORY_ALLOCATION',
  ConcurrencyLimit: 'ERROR_CONCURRENCY_LIMIT',
  KeygenFailure: 'ERROR_KEYGEN_FAILURE',
  SigningFailure: 'ERROR_SIGNING_FAILURE',
  ReshareFailure: 'ERROR_RESHARE_FAILURE',
  ContextCancelled: 'ERROR_CONTEXT_CANCELLED',
  OperationAborted: 'ERROR_OPERATION_ABORTED',
  NotMajority: 'ERROR_NOT_MAJORITY',
  ClusterNotReady: 'ERROR_CLUSTER_NOT_READY',
} as const;

/** One of the mpcium error code strings. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of every error the signer reports to a client. `code` is stable and is what the
 * client sees in `error_code`; `message` becomes `error_reason`, so it must never contain
 * secret material (key shares, nonces, KEKs): only identifiers and counts.
 */
export class MpcError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A request field is missing, malformed or out of range. `field` names it (JSON name). */
export class ValidationError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.MsgValidation, `validation: ${field}: ${message}`);
    this.field = field;
  }
}

/** Maps any thrown value to an error code: `MpcError` keeps its own, anything else is unknown. */
export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof MpcError ? error.code : ErrorCode.Unknown;
}
