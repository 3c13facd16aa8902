/** Typed errors of HD child-key derivation. Messages name fields and indices, never keys. */
export const HdErrorCode = {
  /** The derivation path is not an array of non-hardened uint32 indices, or is too long. */
  InvalidPath: 'HD_INVALID_PATH',
  /** The master public key does not decode to a valid non-identity point. */
  InvalidPublicKey: 'HD_INVALID_PUBLIC_KEY',
  /** The chain code is not 32 bytes. */
  InvalidChainCode: 'HD_INVALID_CHAIN_CODE',
  /** A step produced IL = 0 or the identity point (probability ≈ 2^-252; choose another index). */
  InvalidChild: 'HD_INVALID_CHILD',
} as const;

export type HdErrorCode = (typeof HdErrorCode)[keyof typeof HdErrorCode];

export class HdDerivationError extends Error {
  readonly code: HdErrorCode;
  /** Position in the path of the offending index, when it applies. */
  readonly index: number | undefined;
  readonly field: string;

  constructor(code: HdErrorCode, field: string, message: string, index?: number) {
    super(`${field}${index === undefined ? '' : `[${index}]`}: ${message}`);
    this.name = 'HdDerivationError';
    this.code = code;
    this.field = field;
    this.index = index;
  }
}
