/**
 * Authorizer co-signatures (reference `mpcium-contract.md` §3.4). Authorizers sign after the
 * initiator, over the Go-marshalled payload
 * `{"initiator_id":…,"initiator_raw":base64(raw),"initiator_sig":base64(signature)}`
 * (`initiator_id` = wallet_id for keygen/reshare, tx_id for signing).
 *
 * Rules (mpcium `AuthorizeInitiatorMessage`): disabled → accept; every required authorizer must
 * appear among the signatures (`ERROR_MISSING_AUTHORIZER_SIGNATURE`); no signatures and none
 * required → accept; every provided signature — required or not — must come from a configured
 * authorizer and verify (`ERROR_INVALID_AUTHORIZER_SIGNATURE`).
 */
import { ErrorCode, MpcError } from './errors.ts';
import { goBytes, goMarshal, goObject } from './go-json.ts';
import type { AuthorizerSignature } from './messages.ts';
import {
  PublicKeyConfigError,
  createSignatureCheck,
  type SignatureAlgorithm,
  type SignatureCheck,
} from './public-keys.ts';

/** A required authorizer did not sign. */
export class MissingAuthorizerSignatureError extends MpcError {
  readonly authorizerId: string;

  constructor(authorizerId: string) {
    super(
      ErrorCode.MissingAuthorizerSignature,
      `missing required authorizer signature: ${authorizerId}`,
    );
    this.authorizerId = authorizerId;
  }
}

/** An authorizer signature is from an unknown authorizer or does not verify. */
export class InvalidAuthorizerSignatureError extends MpcError {
  readonly authorizerId: string;

  constructor(authorizerId: string, reason: string) {
    super(
      ErrorCode.InvalidAuthorizerSignature,
      `authorizer ${authorizerId} verification failed: ${reason}`,
    );
    this.authorizerId = authorizerId;
  }
}

export interface AuthorizerKeyConfig {
  /** Ed25519: hex of 32 bytes. P-256: hex (optional `0x`) of PKIX DER. */
  readonly publicKey: string;
  readonly algorithm: SignatureAlgorithm;
}

export interface AuthorizerPolicyConfig {
  readonly enabled: boolean;
  readonly requiredAuthorizers: readonly string[];
  readonly authorizerPublicKeys: Readonly<Record<string, AuthorizerKeyConfig>>;
}

export interface AuthorizationRequest {
  readonly initiatorId: string;
  readonly raw: Uint8Array;
  readonly signature: Uint8Array;
  readonly authorizerSignatures: readonly AuthorizerSignature[];
}

export interface AuthorizerPolicy {
  /** Throws `MissingAuthorizerSignatureError` / `InvalidAuthorizerSignatureError`. */
  authorize(request: AuthorizationRequest): void;
}

/** The exact bytes an authorizer signs (`ComposeAuthorizerRaw`). */
export function authorizerPayload(
  initiatorId: string,
  raw: Uint8Array,
  initiatorSignature: Uint8Array,
): Uint8Array {
  return goMarshal(
    goObject(
      ['initiator_id', initiatorId],
      ['initiator_raw', goBytes(raw)],
      ['initiator_sig', goBytes(initiatorSignature)],
    ),
  );
}

/**
 * Builds the policy once at startup. When enabled, every configured key is parsed now and a
 * required authorizer without a key is a configuration error (`PublicKeyConfigError`, field
 * `authorization.…`); when disabled, nothing is parsed (as mpcium).
 */
export function createAuthorizerPolicy(config: AuthorizerPolicyConfig): AuthorizerPolicy {
  if (!config.enabled) return { authorize: () => undefined };
  const checks = new Map<string, SignatureCheck>();
  for (const [authorizerId, key] of Object.entries(config.authorizerPublicKeys)) {
    checks.set(
      authorizerId,
      createSignatureCheck(
        key.algorithm,
        key.publicKey,
        `authorization.authorizer_public_keys.${authorizerId}.public_key`,
        { allowBase64P256: false },
      ),
    );
  }
  for (const required of config.requiredAuthorizers) {
    if (!checks.has(required)) {
      throw new PublicKeyConfigError(
        'authorization.required_authorizers',
        `authorizer ${JSON.stringify(required)} has no entry in authorizer_public_keys`,
      );
    }
  }
  const required = [...config.requiredAuthorizers];
  return {
    authorize(request) {
      const provided = new Set(request.authorizerSignatures.map((entry) => entry.authorizerId));
      for (const authorizerId of required) {
        if (!provided.has(authorizerId)) throw new MissingAuthorizerSignatureError(authorizerId);
      }
      if (request.authorizerSignatures.length === 0) return;
      const payload = authorizerPayload(request.initiatorId, request.raw, request.signature);
      for (const entry of request.authorizerSignatures) {
        const check = checks.get(entry.authorizerId);
        if (check === undefined) {
          throw new InvalidAuthorizerSignatureError(entry.authorizerId, 'unknown authorizer');
        }
        if (entry.signature.length === 0) {
          throw new InvalidAuthorizerSignatureError(entry.authorizerId, 'signature is empty');
        }
        if (!check(payload, entry.signature)) {
          throw new InvalidAuthorizerSignatureError(entry.authorizerId, 'invalid signature');
        }
      }
    },
  };
}
