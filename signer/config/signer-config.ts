/**
 * The signer's configuration: its typed, frozen shape and the pure validation that turns a
 * raw snake_case object (YAML file merged with environment overrides) into it.
 *
 * YAML keys are snake_case, TypeScript fields camelCase (`sessions.round_timeout_ms` →
 * `config.sessions.roundTimeoutMs`). Unknown keys are rejected so that typos fail loudly.
 * Secrets are not part of this object: the KEK is referenced by file, the chain code by file
 * or kept out of band (see `loadSignerSecrets`). NATS `password` and `token` are the only
 * credentials it carries; log the config through `describeSignerConfig`, never directly.
 *
 * Threshold semantics (design §4): `threshold` is t; signing needs quorum = t+1 signers,
 * keygen needs all n = `peers.length`; valid when 1 <= t and t+1 <= n.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { ConfigError } from './config-error.ts';
import { MAX_SIGNING_BATCH } from '../transport/control-messages.ts';

/** Node ids: also used in NATS subjects, file names and metric labels. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export type InitiatorAlgorithm = 'ed25519' | 'p256';
export type MembershipBackend = 'nats-kv' | 'kubernetes';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
];

export interface NatsTlsConfig {
  /** CA bundle used to verify the server. */
  readonly caFile?: string;
  /** Client certificate for mutual TLS; always together with `keyFile`. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface NatsConfig {
  /** One server URL, or several separated by commas (`nats://a:4222,nats://b:4222`). */
  readonly url: string;
  /** Connection name shown by the server; defaults to the node id at connect time. */
  readonly name?: string;
  /** Username/password authentication; `user` and `password` come together. */
  readonly user?: string;
  /** Credential: never log it (use `describeSignerConfig`). */
  readonly password?: string;
  /** Token authentication. Credential: never log it. */
  readonly token?: string;
  /** NATS `.creds` file (JWT + nkey seed). */
  readonly credsFile?: string;
  readonly tls?: NatsTlsConfig;
}

/**
 * Where the 32-byte HD chain code comes from. `inline`: the config held it as 64 hex
 * characters; the bytes are kept outside this object and returned by `loadSignerSecrets`.
 */
export type ChainCodeSource =
  { readonly source: 'inline' } | { readonly source: 'file'; readonly file: string };

export interface InitiatorConfig {
  readonly algorithm: InitiatorAlgorithm;
  /** Ed25519: hex of the 32-byte key. P-256: hex (optional `0x`) or base64 of PKIX DER. */
  readonly publicKey: string;
}

export interface AuthorizerKeyConfig {
  /** Ed25519: hex of the 32-byte key. P-256: hex of PKIX DER (mpcium §3.4). */
  readonly publicKey: string;
  readonly algorithm: InitiatorAlgorithm;
}

/** mpcium §3.4 authorizers. Every required authorizer must have a public key. */
export interface AuthorizationConfig {
  readonly enabled: boolean;
  readonly requiredAuthorizers: readonly string[];
  /** Null-prototype record: authorizer id → key. */
  readonly authorizerPublicKeys: Readonly<Record<string, AuthorizerKeyConfig>>;
  /**
   * Refuse signing requests without a valid `derivation_path_signature` (the initiator's
   * signature over the request and its derivation path, empty path included). Default false:
   * unmodified mpcium clients never send one (security review H1; SECURITY.md).
   */
  readonly requireSignedDerivationPath: boolean;
}

export interface HttpConfig {
  readonly host: string;
  /** 0 = pick a free port. */
  readonly port: number;
  /**
   * Longest `GET /prestop` waits while this signer leaving would break quorum (Kubernetes
   * preStop hook); then it answers anyway and the pod terminates.
   */
  readonly prestopMaxWaitMs: number;
}

export interface MembershipConfig {
  readonly backend: MembershipBackend;
  readonly heartbeatIntervalMs: number;
  /** A peer whose heartbeat has not changed for this long (reader's clock) is not ready. */
  readonly peerTimeoutMs: number;
  /**
   * Kubernetes: the ConfigMap (in the pod's namespace) holding the roster the operator pins
   * (key `roster.json`, roster file format); watched live. Replaces `roster_file` there.
   */
  readonly rosterConfigMap?: string;
}

export interface SessionsConfig {
  readonly roundTimeoutMs: number;
  readonly keygenTimeoutMs: number;
  readonly maxConcurrentSigning: number;
  readonly maxConcurrentKeygen: number;
  /** JetStream ack wait of the request consumers. */
  readonly ackWaitMs: number;
  /** JetStream max deliveries of the request consumers. */
  readonly maxDeliver: number;
  readonly directSendTimeoutMs: number;
  readonly directSendAttempts: number;
  /** Design §6: retry once with a fresh signing set after a transport failure. */
  readonly retryWithFreshSigners: boolean;
  /**
   * k: DKLs23 sessions on one pair's OT state in flight at once on this signer (2–4; half
   * coordinated here, half by others). Security review C1; SECURITY.md.
   */
  readonly maxSessionsPerPair: number;
  /** Sessions one client operation may have on this participant in all (M3). */
  readonly maxSessionsPerOperation: number;
  /**
   * Most Ed25519 requests one signing session carries (issue 15 batching; 1: no batching).
   * Requests batch only when they outpace `signingBatchInFlight` sessions per signing set.
   */
  readonly maxSigningBatch: number;
  /** Sessions per signing set in flight on a coordinator before Ed25519 requests batch. */
  readonly signingBatchInFlight: number;
  /** How long a participant remembers the operations it took part in. */
  readonly participationRetentionMs: number;
  /** Invites older than this (plus the clock skew) are refused. */
  readonly inviteMaxAgeMs: number;
  /** Tolerated clock difference between signers. */
  readonly maxClockSkewMs: number;
  /** Invites per second accepted from one coordinator (burst: twice this). */
  readonly invitesPerCoordinatorPerSecond: number;
}

/** Test-only hooks; accepted only when the environment sets MPC_ENABLE_FAULT_INJECTION=1. */
export interface FaultInjectionConfig {
  /** Stop responding (stay alive) when a session reaches this round index. */
  readonly pauseAtRound?: number;
  /** Never take requests from the request streams (only participate), so tests choose coordinators. */
  readonly refuseCoordination?: boolean;
  /** Which signing sessions pause: those this signer coordinates, joins, or both (default). */
  readonly pauseRole?: 'any' | 'coordinator' | 'participant';
  /** Pause only while this file exists when the round is reached (tests remove it to stop pausing). */
  readonly pauseFile?: string;
  /**
   * While this file exists, a coordinator that has published a success result (and marked it
   * published in the operation ledger) writes its node id to `<file>.held` and waits, before
   * acking the request, until the file is removed (a test kills NATS there).
   */
  readonly holdBeforeAckFile?: string;
  /**
   * When this file exists, a coordinator whose success result JetStream just confirmed writes
   * its node id to `<file>.held` and waits, before marking it published in the operation
   * ledger, until the file is removed (a test kills NATS there).
   */
  readonly holdBeforeMarkFile?: string;
}

/**
 * The administrator key (security review M2): replacing an identity key this signer already
 * pinned needs a repin statement signed by it (signer/identity/repin.ts).
 */
export interface AdministratorConfig {
  /** Ed25519 public key, 64 lowercase hex characters. */
  readonly publicKey: string;
}

/**
 * Online backups on Kubernetes (signer/service/backup-agent.ts): the signer exports its
 * shares for each MpcBackup of its cluster into `<dir>/<backup name>/<node id>.mpcbak`,
 * encrypted under the key in `key_file`. Needs `membership.backend: kubernetes`.
 */
export interface BackupConfig {
  /** The backup volume's mount point. */
  readonly dir: string;
  /** File with the 32-byte backup key (32 raw bytes or 64 hex characters); read per backup. */
  readonly keyFile: string;
  /** How often the signer lists MpcBackup objects. */
  readonly pollIntervalMs: number;
  /** Bound on this node's archives present on the volume; backups beyond it fail. */
  readonly maxArchives: number;
}

export interface SignerConfig {
  readonly nodeId: string;
  /**
   * The cluster's name, bound into repin statements and signed heartbeats (the operator sets
   * `<namespace>/<MpcCluster name>`). Required with `administrator`.
   */
  readonly clusterName?: string;
  readonly administrator?: AdministratorConfig;
  readonly nats: NatsConfig;
  /** t: signing needs `threshold + 1` signers. */
  readonly threshold: number;
  /** Node ids of the whole cluster (n = length), including `nodeId`; unique. */
  readonly peers: readonly string[];
  readonly dataDir: string;
  /** File holding the key-encryption key (32 raw bytes or 64 hex characters). */
  readonly kek: { readonly file: string };
  readonly chainCode: ChainCodeSource;
  readonly initiator: InitiatorConfig;
  readonly authorization: AuthorizationConfig;
  /** Pinned peer identity roster (JSON, see signer/identity). */
  readonly rosterFile?: string;
  readonly http: HttpConfig;
  readonly membership: MembershipConfig;
  readonly backup?: BackupConfig;
  readonly sessions: SessionsConfig;
  readonly logLevel: LogLevel;
  readonly faultInjection?: FaultInjectionConfig;
}

/** What validation needs besides the raw object. */
export interface ParseContext {
  /** Human-readable origin of a value when it did not come from the file (`MPC_THRESHOLD`). */
  readonly sourceOf?: (path: string) => string | undefined;
  /** True when MPC_ENABLE_FAULT_INJECTION=1. */
  readonly faultInjectionAllowed: boolean;
}

export interface ParsedSignerConfig {
  readonly config: SignerConfig;
  /** The inline chain code's bytes, when `config.chainCode.source === 'inline'`. */
  readonly inlineChainCode?: Uint8Array;
}

/** Fields whose values must never be echoed in error messages. */
const SECRET_PATHS = new Set(['nats.password', 'nats.token', 'chain_code']);

/** mpcium keys that people will carry over, with where their meaning lives here. */
const MPCIUM_KEY_HINTS: Readonly<Record<string, string>> = {
  mpc_threshold: 'use threshold',
  event_initiator_pubkey: 'use initiator.public_key',
  event_initiator_algorithm: 'use initiator.algorithm',
  badger_password: 'use kek.file (a file with 32 bytes or 64 hex characters)',
  db_path: 'use data_dir',
  consul: 'membership uses membership.backend (nats-kv or kubernetes), not Consul',
  healthcheck: 'use http.host and http.port',
  environment: 'not needed: TLS and credentials are set explicitly under nats',
};

const TOP_LEVEL_KEYS = [
  'node_id',
  'cluster_name',
  'administrator',
  'nats',
  'threshold',
  'peers',
  'data_dir',
  'kek',
  'chain_code',
  'initiator',
  'authorization',
  'roster_file',
  'http',
  'membership',
  'backup',
  'sessions',
  'log_level',
  'fault_injection',
] as const;

const HEX_64 = /^[0-9a-fA-F]{64}$/;
const HEX_EVEN = /^(0x)?(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads typed values out of the raw object, failing with the field's path. */
class FieldReader {
  constructor(private readonly sourceOf: (path: string) => string | undefined) {}

  fail(path: string, message: string): never {
    const source = this.sourceOf(path);
    throw new ConfigError(path, source === undefined ? message : `${message} (set by ${source})`);
  }

  describe(path: string, value: unknown): string {
    if (value === undefined) return 'nothing';
    if (value === null) return 'null';
    if (typeof value === 'string') {
      if (SECRET_PATHS.has(path)) return `a string of ${value.length} characters`;
      return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
    }
    if (typeof value === 'number') {
      return SECRET_PATHS.has(path) ? 'a number (quote the value in YAML)' : `the number ${value}`;
    }
    if (typeof value === 'boolean') return String(value);
    if (Array.isArray(value)) return 'a list';
    return 'a mapping';
  }

  /** A mapping with only `allowed` keys, or undefined when absent. */
  section(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    allowed: readonly string[],
  ): Record<string, unknown> | undefined {
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (!isMapping(value)) this.fail(path, `expected a mapping, got ${this.describe(path, value)}`);
    this.rejectUnknownKeys(value, path, allowed);
    return value;
  }

  rejectUnknownKeys(
    value: Record<string, unknown>,
    path: string,
    allowed: readonly string[],
    hints: Readonly<Record<string, string>> = {},
  ): void {
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      const fieldPath = path === '' ? key : `${path}.${key}`;
      const hint = Object.hasOwn(hints, key) ? `; mpcium key: ${hints[key]}` : '';
      this.fail(fieldPath, `unknown field (expected one of: ${allowed.join(', ')})${hint}`);
    }
  }

  string(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    options: { required: true; pattern?: RegExp; expected?: string },
  ): string;
  string(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    options?: { required?: false; pattern?: RegExp; expected?: string },
  ): string | undefined;
  string(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    options: { required?: boolean; pattern?: RegExp; expected?: string } = {},
  ): string | undefined {
    const value = parent[key];
    const expected = options.expected ?? 'a non-empty string';
    if (value === undefined || value === null) {
      if (options.required === true) this.fail(path, `required, expected ${expected}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      const quoteHint = typeof value === 'number' ? ' (quote the value in YAML)' : '';
      this.fail(path, `expected ${expected}, got ${this.describe(path, value)}${quoteHint}`);
    }
    if (value.length === 0 || (options.pattern !== undefined && !options.pattern.test(value))) {
      this.fail(path, `expected ${expected}, got ${this.describe(path, value)}`);
    }
    return value;
  }

  integer(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    range: { min: number; max: number; default?: number },
  ): number {
    const value = parent[key];
    if (value === undefined || value === null) {
      if (range.default === undefined) {
        this.fail(path, `required, expected an integer from ${range.min} to ${range.max}`);
      }
      return range.default;
    }
    if (
      typeof value !== 'number' ||
      !Number.isSafeInteger(value) ||
      value < range.min ||
      value > range.max
    ) {
      this.fail(
        path,
        `expected an integer from ${range.min} to ${range.max}, got ${this.describe(path, value)}`,
      );
    }
    return value;
  }

  boolean(parent: Record<string, unknown>, key: string, path: string, fallback: boolean): boolean {
    const value = parent[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(path, `expected true or false, got ${this.describe(path, value)}`);
    }
    return value;
  }

  oneOf<T extends string>(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    choices: readonly T[],
    fallback: T,
  ): T {
    const value = parent[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(path, `expected one of ${choices.join(', ')}, got ${this.describe(path, value)}`);
    }
    return value as T;
  }

  stringList(
    parent: Record<string, unknown>,
    key: string,
    path: string,
    item: { pattern?: RegExp; expected: string },
  ): string[] | undefined {
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.fail(path, `expected a list of ${item.expected}, got ${this.describe(path, value)}`);
    }
    const seen = new Set<string>();
    return value.map((entry: unknown, index) => {
      const entryPath = `${path}[${index}]`;
      if (
        typeof entry !== 'string' ||
        entry.length === 0 ||
        (item.pattern !== undefined && !item.pattern.test(entry))
      ) {
        const quoteHint = typeof entry === 'number' ? ' (quote the value in YAML)' : '';
        this.fail(
          entryPath,
          `expected ${item.expected}, got ${this.describe(entryPath, entry)}${quoteHint}`,
        );
      }
      if (seen.has(entry)) this.fail(entryPath, `duplicate entry ${JSON.stringify(entry)}`);
      seen.add(entry);
      return entry;
    });
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A 64-hex Ed25519 public key that decodes to a point of large order. */
function isValidEd25519Point(hex: string): boolean {
  try {
    return !ed25519.Point.fromHex(hex.toLowerCase()).isSmallOrder();
  } catch {
    return false;
  }
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function checkPublicKey(
  reader: FieldReader,
  path: string,
  key: string,
  algorithm: InitiatorAlgorithm,
  allowBase64: boolean,
): void {
  if (algorithm === 'ed25519') {
    if (!HEX_64.test(key)) {
      reader.fail(
        path,
        `expected 64 hex characters (a 32-byte Ed25519 key), got ${reader.describe(path, key)}`,
      );
    }
    return;
  }
  if (!HEX_EVEN.test(key) && !(allowBase64 && BASE64.test(key))) {
    reader.fail(
      path,
      `expected the hex${allowBase64 ? ' or base64' : ''} encoding of a P-256 PKIX (SubjectPublicKeyInfo) DER key, got ${reader.describe(path, key)}`,
    );
  }
}

/** Deep-freezes plain objects and arrays (the config contains nothing else). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a raw snake_case configuration object and applies defaults. Pure: reads no files.
 * Throws `ConfigError` naming the first bad field.
 */
export function parseSignerConfig(raw: unknown, context: ParseContext): ParsedSignerConfig {
  const reader: FieldReader = new FieldReader(context.sourceOf ?? (() => undefined));
  if (!isMapping(raw)) reader.fail('(root)', `expected a mapping, got ${reader.describe('', raw)}`);
  reader.rejectUnknownKeys(raw, '', TOP_LEVEL_KEYS, MPCIUM_KEY_HINTS);

  const nodeIdExpected = 'a node id of 1 to 64 characters from [A-Za-z0-9._-]';
  const nodeId = reader.string(raw, 'node_id', 'node_id', {
    required: true,
    pattern: NODE_ID_PATTERN,
    expected: nodeIdExpected,
  });

  const clusterName = reader.string(raw, 'cluster_name', 'cluster_name', {
    pattern: /^[A-Za-z0-9._/-]{1,253}$/,
    expected: 'a cluster name of 1 to 253 characters from [A-Za-z0-9._/-]',
  });
  const administratorSection = reader.section(raw, 'administrator', 'administrator', [
    'public_key',
  ]);
  let administrator: AdministratorConfig | undefined;
  if (administratorSection !== undefined) {
    const publicKey = reader.string(
      administratorSection,
      'public_key',
      'administrator.public_key',
      {
        required: true,
        pattern: HEX_64,
        expected: '64 hex characters (a 32-byte Ed25519 public key)',
      },
    );
    if (!isValidEd25519Point(publicKey)) {
      reader.fail(
        'administrator.public_key',
        'expected a valid Ed25519 public key (a point of large order)',
      );
    }
    if (clusterName === undefined) {
      reader.fail(
        'cluster_name',
        'required with administrator.public_key (repin statements name the cluster)',
      );
    }
    administrator = { publicKey: publicKey.toLowerCase() };
  }

  const nats = parseNats(reader, raw);

  const threshold = reader.integer(raw, 'threshold', 'threshold', { min: 1, max: 1000 });
  const peers = reader.stringList(raw, 'peers', 'peers', {
    pattern: NODE_ID_PATTERN,
    expected: nodeIdExpected,
  });
  if (peers === undefined) {
    reader.fail('peers', 'required, expected the list of node ids of the whole cluster');
  }
  if (!peers.includes(nodeId)) {
    reader.fail('peers', `must include this node's node_id ${JSON.stringify(nodeId)}`);
  }
  if (peers.length < threshold + 1) {
    reader.fail(
      'peers',
      `expected at least threshold + 1 = ${threshold + 1} node ids (signing needs quorum = threshold + 1), got ${peers.length}`,
    );
  }

  const dataDir = reader.string(raw, 'data_dir', 'data_dir', {
    required: true,
    expected: 'a directory path',
  });

  const kekSection = reader.section(raw, 'kek', 'kek', ['file']);
  if (kekSection === undefined) {
    reader.fail('kek', 'required, expected { file: <path to 32 bytes or 64 hex characters> }');
  }
  const kek = {
    file: reader.string(kekSection, 'file', 'kek.file', {
      required: true,
      expected: 'a file path',
    }),
  };

  const { chainCode, inlineChainCode } = parseChainCode(reader, raw);

  const initiatorSection = reader.section(raw, 'initiator', 'initiator', [
    'algorithm',
    'public_key',
  ]);
  if (initiatorSection === undefined) {
    reader.fail('initiator', 'required, expected { algorithm, public_key }');
  }
  const initiatorAlgorithm = reader.oneOf(
    initiatorSection,
    'algorithm',
    'initiator.algorithm',
    ['ed25519', 'p256'] as const,
    'ed25519',
  );
  const initiatorKey = reader.string(initiatorSection, 'public_key', 'initiator.public_key', {
    required: true,
    expected: 'the initiator public key',
  });
  checkPublicKey(reader, 'initiator.public_key', initiatorKey, initiatorAlgorithm, true);

  const authorization = parseAuthorization(reader, raw);

  const rosterFile = reader.string(raw, 'roster_file', 'roster_file', { expected: 'a file path' });

  const httpSection =
    reader.section(raw, 'http', 'http', ['host', 'port', 'prestop_max_wait_ms']) ?? {};
  const http: HttpConfig = {
    host:
      reader.string(httpSection, 'host', 'http.host', { expected: 'a host name or address' }) ??
      '0.0.0.0',
    port: reader.integer(httpSection, 'port', 'http.port', { min: 0, max: 65535, default: 8080 }),
    prestopMaxWaitMs: reader.integer(
      httpSection,
      'prestop_max_wait_ms',
      'http.prestop_max_wait_ms',
      {
        min: 0,
        max: 600_000,
        default: 60_000,
      },
    ),
  };

  const membership = parseMembership(reader, raw);
  const backup = parseBackup(reader, raw, membership);
  const sessions = parseSessions(reader, raw);
  const logLevel = reader.oneOf(raw, 'log_level', 'log_level', LOG_LEVELS, 'info');

  let faultInjection: FaultInjectionConfig | undefined;
  const faultSection = reader.section(raw, 'fault_injection', 'fault_injection', [
    'pause_at_round',
    'refuse_coordination',
    'pause_role',
    'pause_file',
    'hold_before_ack_file',
    'hold_before_mark_file',
  ]);
  if (faultSection !== undefined) {
    if (!context.faultInjectionAllowed) {
      reader.fail(
        'fault_injection',
        'is a test-only setting and is refused unless the environment sets MPC_ENABLE_FAULT_INJECTION=1',
      );
    }
    const refuseCoordination = faultSection['refuse_coordination'];
    if (refuseCoordination !== undefined && typeof refuseCoordination !== 'boolean') {
      reader.fail('fault_injection.refuse_coordination', 'expected true or false');
    }
    // A file path, when set, must be non-empty.
    const path = (field: string): string | undefined =>
      faultSection[field] === undefined
        ? undefined
        : reader.string(faultSection, field, `fault_injection.${field}`, { required: true });
    const pauseFile = path('pause_file');
    const holdBeforeAckFile = path('hold_before_ack_file');
    const holdBeforeMarkFile = path('hold_before_mark_file');
    faultInjection = {
      ...(faultSection['pause_at_round'] === undefined
        ? {}
        : {
            pauseAtRound: reader.integer(
              faultSection,
              'pause_at_round',
              'fault_injection.pause_at_round',
              { min: 0, max: 1000 },
            ),
          }),
      ...(refuseCoordination === true ? { refuseCoordination: true } : {}),
      ...(faultSection['pause_role'] === undefined
        ? {}
        : {
            pauseRole: reader.oneOf(
              faultSection,
              'pause_role',
              'fault_injection.pause_role',
              ['any', 'coordinator', 'participant'] as const,
              'any',
            ),
          }),
      ...(pauseFile === undefined ? {} : { pauseFile }),
      ...(holdBeforeAckFile === undefined ? {} : { holdBeforeAckFile }),
      ...(holdBeforeMarkFile === undefined ? {} : { holdBeforeMarkFile }),
    };
  }

  const config: SignerConfig = {
    nodeId,
    ...(clusterName === undefined ? {} : { clusterName }),
    ...(administrator === undefined ? {} : { administrator }),
    nats,
    threshold,
    peers,
    dataDir,
    kek,
    chainCode,
    initiator: { algorithm: initiatorAlgorithm, publicKey: initiatorKey },
    authorization,
    ...(rosterFile === undefined ? {} : { rosterFile }),
    http,
    membership,
    ...(backup === undefined ? {} : { backup }),
    sessions,
    logLevel,
    ...(faultInjection === undefined ? {} : { faultInjection }),
  };
  return {
    config: deepFreeze(config),
    ...(inlineChainCode === undefined ? {} : { inlineChainCode }),
  };
}

function parseNats(reader: FieldReader, raw: Record<string, unknown>): NatsConfig {
  const section = reader.section(raw, 'nats', 'nats', [
    'url',
    'name',
    'user',
    'password',
    'token',
    'creds_file',
    'tls',
  ]);
  if (section === undefined) reader.fail('nats', 'required, expected { url: nats://host:port }');
  const url = reader.string(section, 'url', 'nats.url', {
    required: true,
    expected: 'a NATS server URL such as nats://127.0.0.1:4222',
  });
  for (const server of url.split(',')) {
    const trimmed = server.trim();
    const withScheme = /^[a-z]+:\/\//i.test(trimmed) ? trimmed : `nats://${trimmed}`;
    let valid = trimmed.length > 0;
    try {
      const parsed = new URL(withScheme);
      valid &&=
        ['nats:', 'tls:', 'ws:', 'wss:'].includes(parsed.protocol) && parsed.hostname !== '';
    } catch {
      valid = false;
    }
    if (!valid) {
      reader.fail(
        'nats.url',
        'expected NATS server URLs (nats://, tls://, ws:// or wss://) separated by commas',
      );
    }
  }
  const name = reader.string(section, 'name', 'nats.name');
  const user = reader.string(section, 'user', 'nats.user');
  const password = reader.string(section, 'password', 'nats.password');
  const token = reader.string(section, 'token', 'nats.token');
  const credsFile = reader.string(section, 'creds_file', 'nats.creds_file', {
    expected: 'a file path',
  });
  if ((user === undefined) !== (password === undefined)) {
    reader.fail(
      user === undefined ? 'nats.user' : 'nats.password',
      'nats.user and nats.password must be set together',
    );
  }
  const methods = [user, token, credsFile].filter((value) => value !== undefined).length;
  if (methods > 1) {
    reader.fail('nats', 'set at most one of user/password, token and creds_file');
  }
  let tls: NatsTlsConfig | undefined;
  const tlsSection = reader.section(section, 'tls', 'nats.tls', [
    'ca_file',
    'cert_file',
    'key_file',
  ]);
  if (tlsSection !== undefined) {
    const caFile = reader.string(tlsSection, 'ca_file', 'nats.tls.ca_file', {
      expected: 'a file path',
    });
    const certFile = reader.string(tlsSection, 'cert_file', 'nats.tls.cert_file', {
      expected: 'a file path',
    });
    const keyFile = reader.string(tlsSection, 'key_file', 'nats.tls.key_file', {
      expected: 'a file path',
    });
    if ((certFile === undefined) !== (keyFile === undefined)) {
      reader.fail(
        certFile === undefined ? 'nats.tls.cert_file' : 'nats.tls.key_file',
        'nats.tls.cert_file and nats.tls.key_file must be set together',
      );
    }
    if (caFile === undefined && certFile === undefined) {
      reader.fail('nats.tls', 'expected ca_file and/or cert_file with key_file');
    }
    tls = {
      ...(caFile === undefined ? {} : { caFile }),
      ...(certFile === undefined ? {} : { certFile }),
      ...(keyFile === undefined ? {} : { keyFile }),
    };
  }
  return {
    url,
    ...(name === undefined ? {} : { name }),
    ...(user === undefined ? {} : { user }),
    ...(password === undefined ? {} : { password }),
    ...(token === undefined ? {} : { token }),
    ...(credsFile === undefined ? {} : { credsFile }),
    ...(tls === undefined ? {} : { tls }),
  };
}

function parseChainCode(
  reader: FieldReader,
  raw: Record<string, unknown>,
): { chainCode: ChainCodeSource; inlineChainCode?: Uint8Array } {
  const value = raw['chain_code'];
  const expected =
    'expected 64 hex characters (32 bytes, identical on every signer) or { file: <path> }';
  if (value === undefined || value === null) reader.fail('chain_code', `required, ${expected}`);
  if (isMapping(value)) {
    reader.rejectUnknownKeys(value, 'chain_code', ['file']);
    return {
      chainCode: {
        source: 'file',
        file: reader.string(value, 'file', 'chain_code.file', {
          required: true,
          expected: 'a file path',
        }),
      },
    };
  }
  if (typeof value !== 'string' || !HEX_64.test(value.trim())) {
    reader.fail('chain_code', `${expected}, got ${reader.describe('chain_code', value)}`);
  }
  return { chainCode: { source: 'inline' }, inlineChainCode: hexToBytes(value.trim()) };
}

function parseAuthorization(
  reader: FieldReader,
  raw: Record<string, unknown>,
): AuthorizationConfig {
  const section =
    reader.section(raw, 'authorization', 'authorization', [
      'enabled',
      'required_authorizers',
      'authorizer_public_keys',
      'require_signed_derivation_path',
    ]) ?? {};
  const enabled = reader.boolean(section, 'enabled', 'authorization.enabled', false);
  const requireSignedDerivationPath = reader.boolean(
    section,
    'require_signed_derivation_path',
    'authorization.require_signed_derivation_path',
    false,
  );
  const required =
    reader.stringList(section, 'required_authorizers', 'authorization.required_authorizers', {
      expected: 'an authorizer id',
    }) ?? [];
  const keys: Record<string, AuthorizerKeyConfig> = Object.create(null) as Record<
    string,
    AuthorizerKeyConfig
  >;
  const keysValue = section['authorizer_public_keys'];
  if (keysValue !== undefined && keysValue !== null) {
    if (!isMapping(keysValue)) {
      reader.fail(
        'authorization.authorizer_public_keys',
        `expected a mapping of authorizer id to { public_key, algorithm }, got ${reader.describe('', keysValue)}`,
      );
    }
    for (const [id, entry] of Object.entries(keysValue)) {
      const path = `authorization.authorizer_public_keys.${id}`;
      if (!isMapping(entry)) {
        reader.fail(
          path,
          `expected { public_key, algorithm }, got ${reader.describe(path, entry)}`,
        );
      }
      reader.rejectUnknownKeys(entry, path, ['public_key', 'algorithm']);
      const algorithm = reader.oneOf(
        entry,
        'algorithm',
        `${path}.algorithm`,
        ['ed25519', 'p256'] as const,
        'ed25519',
      );
      const publicKey = reader.string(entry, 'public_key', `${path}.public_key`, {
        required: true,
        expected: 'the authorizer public key',
      });
      if (enabled) checkPublicKey(reader, `${path}.public_key`, publicKey, algorithm, false);
      keys[id] = { publicKey, algorithm };
    }
  }
  if (enabled) {
    required.forEach((id, index) => {
      if (!Object.hasOwn(keys, id)) {
        reader.fail(
          `authorization.required_authorizers[${index}]`,
          `authorizer ${JSON.stringify(id)} has no entry in authorization.authorizer_public_keys`,
        );
      }
    });
  }
  return {
    enabled,
    requiredAuthorizers: required,
    authorizerPublicKeys: keys,
    requireSignedDerivationPath,
  };
}

function parseMembership(reader: FieldReader, raw: Record<string, unknown>): MembershipConfig {
  const section =
    reader.section(raw, 'membership', 'membership', [
      'backend',
      'heartbeat_interval_ms',
      'peer_timeout_ms',
      'roster_config_map',
    ]) ?? {};
  const backend = reader.oneOf(
    section,
    'backend',
    'membership.backend',
    ['nats-kv', 'kubernetes'] as const,
    'nats-kv',
  );
  const heartbeatIntervalMs = reader.integer(
    section,
    'heartbeat_interval_ms',
    'membership.heartbeat_interval_ms',
    { min: 10, max: 600_000, default: 1000 },
  );
  const peerTimeoutMs = reader.integer(section, 'peer_timeout_ms', 'membership.peer_timeout_ms', {
    min: 20,
    max: 3_600_000,
    default: 3000,
  });
  if (peerTimeoutMs <= heartbeatIntervalMs) {
    reader.fail(
      'membership.peer_timeout_ms',
      `expected more than membership.heartbeat_interval_ms (${heartbeatIntervalMs}), got ${peerTimeoutMs}`,
    );
  }
  const rosterConfigMap = reader.string(
    section,
    'roster_config_map',
    'membership.roster_config_map',
    { expected: 'a ConfigMap name' },
  );
  if (rosterConfigMap !== undefined && backend !== 'kubernetes') {
    reader.fail(
      'membership.roster_config_map',
      'must only be set with membership.backend kubernetes',
    );
  }
  return {
    backend,
    heartbeatIntervalMs,
    peerTimeoutMs,
    ...(rosterConfigMap === undefined ? {} : { rosterConfigMap }),
  };
}

function parseBackup(
  reader: FieldReader,
  raw: Record<string, unknown>,
  membership: MembershipConfig,
): BackupConfig | undefined {
  const section = reader.section(raw, 'backup', 'backup', [
    'dir',
    'key_file',
    'poll_interval_ms',
    'max_archives',
  ]);
  if (section === undefined) return undefined;
  if (membership.backend !== 'kubernetes') {
    reader.fail(
      'backup',
      'must only be set with membership.backend kubernetes (online backups follow MpcBackup objects)',
    );
  }
  return {
    dir: reader.string(section, 'dir', 'backup.dir', { required: true, expected: 'a directory' }),
    keyFile: reader.string(section, 'key_file', 'backup.key_file', {
      required: true,
      expected: 'a file path',
    }),
    pollIntervalMs: reader.integer(section, 'poll_interval_ms', 'backup.poll_interval_ms', {
      min: 100,
      max: 3_600_000,
      default: 10_000,
    }),
    maxArchives: reader.integer(section, 'max_archives', 'backup.max_archives', {
      min: 1,
      max: 1000,
      default: 16,
    }),
  };
}

function parseSessions(reader: FieldReader, raw: Record<string, unknown>): SessionsConfig {
  const section =
    reader.section(raw, 'sessions', 'sessions', [
      'round_timeout_ms',
      'keygen_timeout_ms',
      'max_concurrent_signing',
      'max_concurrent_keygen',
      'ack_wait_ms',
      'max_deliver',
      'direct_send_timeout_ms',
      'direct_send_attempts',
      'retry_with_fresh_signers',
      'max_sessions_per_pair',
      'max_sessions_per_operation',
      'participation_retention_ms',
      'invite_max_age_ms',
      'max_clock_skew_ms',
      'invites_per_coordinator_per_second',
      'max_signing_batch',
      'signing_batch_in_flight',
    ]) ?? {};
  const ms = (key: string, fallback: number): number =>
    reader.integer(section, key, `sessions.${key}`, { min: 1, max: 3_600_000, default: fallback });
  const count = (key: string, fallback: number, max: number): number =>
    reader.integer(section, key, `sessions.${key}`, { min: 1, max, default: fallback });
  return {
    roundTimeoutMs: ms('round_timeout_ms', 5000),
    keygenTimeoutMs: ms('keygen_timeout_ms', 60_000),
    maxConcurrentSigning: count('max_concurrent_signing', 64, 100_000),
    maxConcurrentKeygen: count('max_concurrent_keygen', 4, 10_000),
    ackWaitMs: ms('ack_wait_ms', 30_000),
    maxDeliver: count('max_deliver', 4, 1000),
    directSendTimeoutMs: ms('direct_send_timeout_ms', 250),
    directSendAttempts: count('direct_send_attempts', 4, 100),
    retryWithFreshSigners: reader.boolean(
      section,
      'retry_with_fresh_signers',
      'sessions.retry_with_fresh_signers',
      false,
    ),
    maxSessionsPerPair: reader.integer(
      section,
      'max_sessions_per_pair',
      'sessions.max_sessions_per_pair',
      {
        min: 2,
        max: 4,
        default: 4,
      },
    ),
    maxSessionsPerOperation: count('max_sessions_per_operation', 8, 1000),
    maxSigningBatch: count('max_signing_batch', 16, MAX_SIGNING_BATCH),
    signingBatchInFlight: count('signing_batch_in_flight', 1, 64),
    participationRetentionMs: reader.integer(
      section,
      'participation_retention_ms',
      'sessions.participation_retention_ms',
      { min: 60_000, max: 30 * 24 * 3_600_000, default: 6 * 3_600_000 },
    ),
    inviteMaxAgeMs: ms('invite_max_age_ms', 30_000),
    maxClockSkewMs: ms('max_clock_skew_ms', 5_000),
    invitesPerCoordinatorPerSecond: count('invites_per_coordinator_per_second', 1000, 1_000_000),
  };
}

/**
 * A copy of the config safe to log: NATS password and token are replaced by "[redacted]".
 * (The config holds no other secret; the chain code and KEK live outside it.)
 */
export function describeSignerConfig(config: SignerConfig): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown> & {
    nats: Record<string, unknown>;
  };
  for (const key of ['password', 'token']) {
    if (copy.nats[key] !== undefined) copy.nats[key] = '[redacted]';
  }
  return copy;
}
