/**
 * Signer configuration: `loadSignerConfig` (YAML file + `MPC_*` environment overrides,
 * validated, frozen) and `loadSignerSecrets` (KEK and chain code bytes). See
 * signer-config.ts for the shape and defaults and env-overrides.ts for the override rule.
 */
export { ConfigError } from './config-error.ts';
export { envNameForPath, FAULT_INJECTION_ENV } from './env-overrides.ts';
export {
  loadSignerConfig,
  loadSignerSecrets,
  type LoadSignerConfigOptions,
  type SignerSecrets,
} from './load.ts';
export {
  describeSignerConfig,
  NODE_ID_PATTERN,
  type AuthorizationConfig,
  type AuthorizerKeyConfig,
  type ChainCodeSource,
  type FaultInjectionConfig,
  type HttpConfig,
  type InitiatorAlgorithm,
  type InitiatorConfig,
  type LogLevel,
  type MembershipBackend,
  type MembershipConfig,
  type NatsConfig,
  type NatsTlsConfig,
  type SessionsConfig,
  type SignerConfig,
} from './signer-config.ts';
