/**
 * Parses and authenticates client requests (contract §3): the initiator signature over the
 * Go-compatible `Raw()` bytes, then the authorizer policy. Coordinators and participants both
 * run it on the same request bytes, so no participant trusts the coordinator's word for the
 * message, the wallet or the derivation path.
 */
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import {
  derivationPathRaw,
  generateKeyInitiatorId,
  generateKeyRaw,
  pairRefreshRaw,
  parseGenerateKeyMessage,
  parsePairRefreshMessage,
  parseResharingMessage,
  parseSignTxMessage,
  resharingInitiatorId,
  resharingRaw,
  signTxInitiatorId,
  signTxRaw,
  type GenerateKeyMessage,
  type PairRefreshMessage,
  type ResharingMessage,
  type SignTxMessage,
} from '../protocol/messages.ts';

export interface InitiatorVerifier {
  verify(raw: Uint8Array, signature: Uint8Array): void;
}

export interface AuthorizerPolicy {
  authorize(request: {
    initiatorId: string;
    raw: Uint8Array;
    signature: Uint8Array;
    authorizerSignatures: GenerateKeyMessage['authorizerSignatures'];
  }): void;
}

/** Cluster policy `authorization.require_signed_derivation_path` refused an unsigned path. */
export class UnsignedDerivationPathError extends MpcError {
  constructor() {
    super(
      ErrorCode.InvalidInitiatorSignature,
      'derivation_path_signature is required by cluster policy (require_signed_derivation_path)',
    );
  }
}

export interface RequestPolicy {
  /** Signing requests must carry a valid `derivation_path_signature` (empty path included). */
  readonly requireSignedDerivationPath: boolean;
}

export class RequestAuthenticator {
  constructor(
    private readonly initiator: InitiatorVerifier,
    private readonly authorizers: AuthorizerPolicy,
    private readonly policy: RequestPolicy = { requireSignedDerivationPath: false },
  ) {}

  /** Parses and authenticates a keygen request; throws typed errors. */
  keygen(body: Uint8Array): GenerateKeyMessage {
    const message = parseGenerateKeyMessage(body);
    const raw = generateKeyRaw(message);
    this.initiator.verify(raw, message.signature);
    this.authorizers.authorize({
      initiatorId: generateKeyInitiatorId(message),
      raw,
      signature: message.signature,
      authorizerSignatures: message.authorizerSignatures,
    });
    return message;
  }

  /** Parses and authenticates a signing request; throws typed errors. */
  sign(body: Uint8Array): { message: SignTxMessage; raw: Uint8Array } {
    const message = parseSignTxMessage(body);
    const raw = signTxRaw(message);
    this.initiator.verify(raw, message.signature);
    // mpcium's Raw() does not cover the derivation path; our clients sign it separately.
    if (message.derivationPathSignature !== undefined) {
      this.initiator.verify(derivationPathRaw(message), message.derivationPathSignature);
    } else if (this.policy.requireSignedDerivationPath) {
      throw new UnsignedDerivationPathError();
    }
    this.authorizers.authorize({
      initiatorId: signTxInitiatorId(message),
      raw,
      signature: message.signature,
      authorizerSignatures: message.authorizerSignatures,
    });
    return { message, raw };
  }

  /** Parses and authenticates a resharing request; throws typed errors. */
  reshare(body: Uint8Array): { message: ResharingMessage; raw: Uint8Array } {
    const message = parseResharingMessage(body);
    const raw = resharingRaw(message);
    this.initiator.verify(raw, message.signature);
    this.authorizers.authorize({
      initiatorId: resharingInitiatorId(message),
      raw,
      signature: message.signature,
      authorizerSignatures: message.authorizerSignatures,
    });
    return { message, raw };
  }

  /**
   * Parses and authenticates a pairwise refresh request (our extension): the same initiator
   * key that may reshare the wallet signs it, and the authorizer policy applies with the
   * wallet id as initiator id. Participants run this on the request themselves too.
   */
  refreshPair(body: Uint8Array): { message: PairRefreshMessage; raw: Uint8Array } {
    const message = parsePairRefreshMessage(body);
    const raw = pairRefreshRaw(message);
    this.initiator.verify(raw, message.signature);
    this.authorizers.authorize({
      initiatorId: message.walletId,
      raw,
      signature: message.signature,
      authorizerSignatures: message.authorizerSignatures,
    });
    return { message, raw };
  }
}
