/**
 * Environment overrides for the signer configuration.
 *
 * Rule: a key path's environment variable is `MPC_` followed by the upper-cased snake_case
 * path with its segments joined by `__` (two underscores):
 *
 *   node_id                      → MPC_NODE_ID
 *   nats.url                     → MPC_NATS__URL
 *   sessions.round_timeout_ms    → MPC_SESSIONS__ROUND_TIMEOUT_MS
 *   nats.tls.ca_file             → MPC_NATS__TLS__CA_FILE
 *
 * An environment variable wins over the file. Values are converted by the field's type:
 * integers as decimal, booleans as `true`/`false`/`1`/`0`, lists (`peers`,
 * `authorization.required_authorizers`) as comma-separated items, and the one map
 * (`authorization.authorizer_public_keys`) as a JSON object. `MPC_CHAIN_CODE` sets an inline
 * hex chain code and `MPC_CHAIN_CODE__FILE` a chain-code file (setting both is an error).
 * An empty value counts as unset.
 *
 * `MPC_ENABLE_FAULT_INJECTION=1` is not a config key: it permits the test-only
 * `fault_injection` section. Other `MPC_*` variables are ignored (Kubernetes injects
 * `MPC_…_SERVICE_HOST`-style variables for Services), except ones that look like a
 * misspelt key (for example `MPC_NATS_URL` with one underscore), which are errors.
 */
import { ConfigError } from './config-error.ts';

type LeafKind = 'string' | 'integer' | 'boolean' | 'list' | 'json-map';

/** Every key path that can be overridden, with how its value is read. */
export const ENV_OVERRIDABLE_PATHS: Readonly<Record<string, LeafKind>> = {
  node_id: 'string',
  cluster_name: 'string',
  'administrator.public_key': 'string',
  'nats.url': 'string',
  'nats.name': 'string',
  'nats.user': 'string',
  'nats.password': 'string',
  'nats.token': 'string',
  'nats.creds_file': 'string',
  'nats.tls.ca_file': 'string',
  'nats.tls.cert_file': 'string',
  'nats.tls.key_file': 'string',
  threshold: 'integer',
  peers: 'list',
  data_dir: 'string',
  'kek.file': 'string',
  chain_code: 'string',
  'chain_code.file': 'string',
  'initiator.algorithm': 'string',
  'initiator.public_key': 'string',
  'authorization.enabled': 'boolean',
  'authorization.required_authorizers': 'list',
  'authorization.authorizer_public_keys': 'json-map',
  roster_file: 'string',
  'http.host': 'string',
  'http.port': 'integer',
  'http.prestop_max_wait_ms': 'integer',
  'membership.backend': 'string',
  'membership.heartbeat_interval_ms': 'integer',
  'membership.peer_timeout_ms': 'integer',
  'membership.roster_config_map': 'string',
  'backup.dir': 'string',
  'backup.key_file': 'string',
  'backup.poll_interval_ms': 'integer',
  'backup.max_archives': 'integer',
  'sessions.round_timeout_ms': 'integer',
  'sessions.keygen_timeout_ms': 'integer',
  'sessions.max_concurrent_signing': 'integer',
  'sessions.max_concurrent_keygen': 'integer',
  'sessions.ack_wait_ms': 'integer',
  'sessions.max_deliver': 'integer',
  'sessions.direct_send_timeout_ms': 'integer',
  'sessions.direct_send_attempts': 'integer',
  'sessions.retry_with_fresh_signers': 'boolean',
  'sessions.max_signing_batch': 'integer',
  'sessions.signing_batch_in_flight': 'integer',
  log_level: 'string',
  'fault_injection.pause_at_round': 'integer',
  'fault_injection.refuse_coordination': 'boolean',
};

/** Set to `1` to allow the test-only `fault_injection` section. */
export const FAULT_INJECTION_ENV = 'MPC_ENABLE_FAULT_INJECTION';

const SECRET_ENV_PATHS = new Set(['nats.password', 'nats.token', 'chain_code']);

/** The environment variable that overrides a key path. */
export function envNameForPath(path: string): string {
  return `MPC_${path.split('.').join('__').toUpperCase()}`;
}

export interface EnvOverrides {
  /** Key path → converted value, in `ENV_OVERRIDABLE_PATHS` order. */
  readonly values: ReadonlyMap<string, unknown>;
  /** Key path → the variable that set it, for error messages. */
  readonly sources: ReadonlyMap<string, string>;
}

const normalise = (name: string): string => name.replace(/_/g, '');
const KNOWN_BY_NORMALISED_NAME = new Map(
  Object.keys(ENV_OVERRIDABLE_PATHS).map((path) => [normalise(envNameForPath(path)), path]),
);

/** Reads the overrides present in `env`; pure. Throws `ConfigError` on unusable values. */
export function readEnvOverrides(env: Record<string, string | undefined>): EnvOverrides {
  const values = new Map<string, unknown>();
  const sources = new Map<string, string>();
  const byName = new Map(
    Object.entries(ENV_OVERRIDABLE_PATHS).map(([path, kind]) => [
      envNameForPath(path),
      { path, kind },
    ]),
  );

  for (const [name, rawValue] of Object.entries(env)) {
    if (!name.startsWith('MPC_') || name === FAULT_INJECTION_ENV) continue;
    const known = byName.get(name);
    if (known === undefined) {
      const intended = KNOWN_BY_NORMALISED_NAME.get(normalise(name));
      if (intended !== undefined || name.includes('__')) {
        const hint = intended === undefined ? '' : `; did you mean ${envNameForPath(intended)}?`;
        throw new ConfigError(
          name,
          `unknown configuration variable (the rule is MPC_ + the key path upper-cased, joined by __)${hint}`,
        );
      }
      continue;
    }
    if (rawValue === undefined || rawValue === '') continue;
    values.set(known.path, convert(known.path, known.kind, name, rawValue));
    sources.set(known.path, `environment variable ${name}`);
  }
  if (values.has('chain_code') && values.has('chain_code.file')) {
    throw new ConfigError(
      'chain_code',
      `set either ${envNameForPath('chain_code')} or ${envNameForPath('chain_code.file')}, not both`,
    );
  }
  return { values, sources };
}

function convert(path: string, kind: LeafKind, name: string, raw: string): unknown {
  const shown = SECRET_ENV_PATHS.has(path)
    ? `a value of ${raw.length} characters`
    : JSON.stringify(raw);
  switch (kind) {
    case 'string':
      return raw;
    case 'integer':
      // Non-integers pass through as strings so that validation reports them with the range.
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'boolean': {
      const lowered = raw.trim().toLowerCase();
      if (lowered === 'true' || lowered === '1') return true;
      if (lowered === 'false' || lowered === '0') return false;
      throw new ConfigError(
        path,
        `expected true, false, 1 or 0, got ${shown} (set by environment variable ${name})`,
      );
    }
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    case 'json-map': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new ConfigError(path, `expected a JSON object (set by environment variable ${name})`);
      }
      return parsed;
    }
  }
}

/**
 * Returns a copy of `raw` with the overrides applied. A nested path replaces a non-mapping
 * parent (so `MPC_CHAIN_CODE__FILE` turns an inline chain code into `{ file }`).
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  overrides: EnvOverrides,
): Record<string, unknown> {
  const result = structuredClone(raw);
  for (const [path, value] of overrides.values) {
    const segments = path.split('.');
    const last = segments.pop() as string;
    let target: Record<string, unknown> = result;
    for (const segment of segments) {
      const next = target[segment];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        target[segment] = {};
      }
      target = target[segment] as Record<string, unknown>;
    }
    target[last] = value;
  }
  return result;
}
