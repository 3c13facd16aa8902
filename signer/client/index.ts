/**
 * Public entry of the client SDK (`import … from 'mpc-signer-platform/client'`): the typed
 * mpcium-compatible client, initiator/authorizer keys, wire types and the subject helpers a
 * client may need. See `mpc-client.ts` for the contract.
 */
export {
  MpcClient,
  ResultTimeoutError,
  type AuthorizerSignaturesInput,
  type CreateWalletOptions,
  type MpcClientOptions,
  type PairRefreshRequest,
  type ReshareRequest,
  type SignTransactionRequest,
  type StopFunction,
  type WaitOptions,
} from './mpc-client.ts';
export {
  InitiatorKeyError,
  ed25519SignerFromSeed,
  generateInitiatorKey,
  initiatorSignerFromKeyText,
  loadInitiatorSigner,
  p256SignerFromDer,
  signAsAuthorizer,
  type AuthorizerContext,
  type GeneratedInitiatorKey,
  type InitiatorAlgorithm,
  type InitiatorSigner,
} from './initiator-keys.ts';
export { ErrorCode, MpcError, ValidationError } from '../protocol/errors.ts';
export {
  derivationPathRaw,
  generateKeyRaw,
  pairRefreshRaw,
  resharingRaw,
  signTxRaw,
  type AuthorizerSignature,
  type KeyType,
  type KeygenResultEvent,
  type ResharingResultEvent,
  type ResultType,
  type SigningResultEvent,
} from '../protocol/messages.ts';
export { authorizerPayload } from '../protocol/authorizers.ts';
export {
  keygenResultSubject,
  reshareResultSubject,
  resultConsumerDurableName,
  signingResultSubject,
  validateClientId,
} from '../protocol/subjects.ts';
export { verifySignature, type VerifyRequest } from './verify.ts';
/** mpcium-compatible HD derivation, to compute the addresses the signers sign for. */
export {
  deriveEd25519Child,
  deriveSecp256k1Child,
  validateDerivationPath,
  type ChildKey,
} from '../crypto/hd/index.ts';
