import { ErrorCode, MpcError } from '../protocol/errors.ts';

/**
 * The signer's configuration is unusable. `field` is the snake_case key path as written in
 * the YAML file (`sessions.round_timeout_ms`), or the file itself for syntax errors. The
 * message says what was expected and, for non-secret fields only, what was found; secret
 * values (KEK, chain code, NATS password and token) are never echoed.
 */
export class ConfigError extends MpcError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidConfiguration, `invalid configuration: ${field}: ${message}`, options);
    this.field = field;
  }
}
