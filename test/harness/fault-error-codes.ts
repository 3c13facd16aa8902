/**
 * Error codes a request may legitimately get under signer and nats-server faults (README
 * "Failure semantics"): a peer that cannot be reached or a quorum that is not ready, a stalled
 * round, a request JetStream gave up redelivering, and a session a participant stopped because
 * a redelivery of the same request started a newer one (participants keep only the newest
 * session of an operation; the one result is then that abort).
 */
export const FAULT_ERROR_CODES = [
  'ERROR_PEER_UNAVAILABLE',
  'ERROR_SESSION_TIMEOUT',
  'ERROR_MAX_DELIVERY_ATTEMPTS',
  'ERROR_OPERATION_ABORTED',
] as const;
