import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { ENV_OVERRIDABLE_PATHS, envNameForPath } from './env-overrides.ts';
import {
  ConfigError,
  describeSignerConfig,
  loadSignerConfig,
  loadSignerSecrets,
  type SignerConfig,
} from './index.ts';

const INITIATOR_KEY = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const CHAIN_CODE = '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20';
const KEK_HEX = 'aa'.repeat(32);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  writeFileSync(join(dir, 'kek'), `${KEK_HEX}\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function minimalYaml(extra = ''): string {
  return `
node_id: node0
nats:
  url: nats://127.0.0.1:4222
threshold: 1
peers: [node0, node1, node2]
data_dir: ${dir}/data
kek:
  file: ${dir}/kek
chain_code: "${CHAIN_CODE}"
initiator:
  public_key: "${INITIATOR_KEY}"
${extra}`;
}

function load(yaml: string, env: Record<string, string | undefined> = {}): SignerConfig {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return loadSignerConfig({ file, env });
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe(ErrorCode.InvalidConfiguration);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSignerConfig', () => {
  it('reads a minimal file and fills every default', () => {
    const config = load(minimalYaml());
    expect(config).toEqual({
      nodeId: 'node0',
      nats: { url: 'nats://127.0.0.1:4222' },
      threshold: 1,
      peers: ['node0', 'node1', 'node2'],
      dataDir: `${dir}/data`,
      kek: { file: `${dir}/kek` },
      chainCode: { source: 'inline' },
      initiator: { algorithm: 'ed25519', publicKey: INITIATOR_KEY },
      authorization: {
        enabled: false,
        requiredAuthorizers: [],
        authorizerPublicKeys: {},
        requireSignedDerivationPath: false,
      },
      http: { host: '0.0.0.0', port: 8080, prestopMaxWaitMs: 60_000 },
      membership: { backend: 'nats-kv', heartbeatIntervalMs: 1000, peerTimeoutMs: 3000 },
      sessions: {
        roundTimeoutMs: 5000,
        keygenTimeoutMs: 60000,
        maxConcurrentSigning: 64,
        maxConcurrentKeygen: 4,
        ackWaitMs: 30000,
        maxDeliver: 4,
        directSendTimeoutMs: 250,
        directSendAttempts: 4,
        retryWithFreshSigners: false,
        maxSessionsPerPair: 4,
        maxSessionsPerOperation: 8,
        maxSigningBatch: 16,
        signingBatchInFlight: 1,
        participationRetentionMs: 21_600_000,
        inviteMaxAgeMs: 30_000,
        maxClockSkewMs: 5_000,
        invitesPerCoordinatorPerSecond: 1000,
      },
      logLevel: 'info',
    });
  });

  it('returns a deeply frozen object', () => {
    const config = load(minimalYaml());
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.nats)).toBe(true);
    expect(Object.isFrozen(config.peers)).toBe(true);
    expect(Object.isFrozen(config.sessions)).toBe(true);
    expect(() => (config.peers as string[]).push('x')).toThrow(TypeError);
  });

  it('accepts JSON (which is YAML)', () => {
    const config = load(
      JSON.stringify({
        node_id: 'a',
        nats: { url: 'nats://h:1' },
        threshold: 1,
        peers: ['a', 'b'],
        data_dir: '/d',
        kek: { file: '/k' },
        chain_code: { file: '/c' },
        initiator: { algorithm: 'p256', public_key: '0x3059301306072a8648ce3d0201' },
      }),
    );
    expect(config.chainCode).toEqual({ source: 'file', file: '/c' });
    expect(config.initiator.algorithm).toBe('p256');
  });

  it('applies MPC_* environment overrides over the file, converted by type', () => {
    const config = load(minimalYaml(), {
      MPC_NATS__URL: 'nats://10.0.0.1:4222',
      MPC_NODE_ID: 'node1',
      MPC_THRESHOLD: '2',
      MPC_PEERS: 'node0, node1,node2',
      MPC_SESSIONS__ROUND_TIMEOUT_MS: '750',
      MPC_SESSIONS__RETRY_WITH_FRESH_SIGNERS: 'true',
      MPC_HTTP__PORT: '0',
      MPC_AUTHORIZATION__ENABLED: '1',
      MPC_AUTHORIZATION__REQUIRED_AUTHORIZERS: 'auth1',
      MPC_AUTHORIZATION__AUTHORIZER_PUBLIC_KEYS: JSON.stringify({
        auth1: { public_key: INITIATOR_KEY, algorithm: 'ed25519' },
      }),
      MPC_UNRELATED_SERVICE_HOST: '10.0.0.9', // Kubernetes service-link variables are ignored
      MPC_SESSIONS__MAX_DELIVER: '', // empty = unset
    });
    expect(config.nats.url).toBe('nats://10.0.0.1:4222');
    expect(config.nodeId).toBe('node1');
    expect(config.threshold).toBe(2);
    expect(config.sessions.roundTimeoutMs).toBe(750);
    expect(config.sessions.retryWithFreshSigners).toBe(true);
    expect(config.sessions.maxDeliver).toBe(4);
    expect(config.http.port).toBe(0);
    expect(config.authorization.enabled).toBe(true);
    expect(config.authorization.requiredAuthorizers).toEqual(['auth1']);
    expect(config.authorization.authorizerPublicKeys['auth1']).toEqual({
      publicKey: INITIATOR_KEY,
      algorithm: 'ed25519',
    });
  });

  it('builds a whole config from the environment alone', () => {
    const config = loadSignerConfig({
      env: {
        MPC_NODE_ID: 'n1',
        MPC_NATS__URL: 'nats://h:4222',
        MPC_THRESHOLD: '1',
        MPC_PEERS: 'n1,n2',
        MPC_DATA_DIR: '/data',
        MPC_KEK__FILE: '/kek',
        MPC_CHAIN_CODE__FILE: '/chain',
        MPC_INITIATOR__PUBLIC_KEY: INITIATOR_KEY,
      },
    });
    expect(config.peers).toEqual(['n1', 'n2']);
    expect(config.chainCode).toEqual({ source: 'file', file: '/chain' });
  });

  it('maps every overridable path to the field it names', () => {
    // Guards the env table against drifting from the validator: every entry must be accepted.
    const values: Record<string, string> = {
      node_id: 'n1',
      'nats.url': 'nats://h:4222',
      threshold: '1',
      peers: 'n1,n2',
      'initiator.algorithm': 'ed25519',
      'initiator.public_key': INITIATOR_KEY,
      'membership.backend': 'kubernetes',
      'authorization.authorizer_public_keys': '{}',
      'authorization.enabled': 'false',
      'sessions.retry_with_fresh_signers': 'true',
      'fault_injection.refuse_coordination': 'true',
      log_level: 'debug',
      'nats.user': 'u',
      'nats.password': 'p',
      chain_code: CHAIN_CODE,
      cluster_name: 'ns/vault',
      'administrator.public_key': INITIATOR_KEY,
      'backup.poll_interval_ms': '500',
    };
    const skipped = new Set(['chain_code.file', 'nats.token', 'nats.creds_file']);
    const env: Record<string, string> = { MPC_ENABLE_FAULT_INJECTION: '1' };
    for (const [path, kind] of Object.entries(ENV_OVERRIDABLE_PATHS)) {
      if (skipped.has(path)) continue;
      env[envNameForPath(path)] =
        values[path] ?? (kind === 'integer' ? (path.includes('heartbeat') ? '10' : '50') : 'x');
    }
    env[envNameForPath('http.port')] = '9000';
    env[envNameForPath('authorization.required_authorizers')] = '';
    const config = loadSignerConfig({ env });
    const flat = JSON.stringify(config);
    for (const path of Object.keys(ENV_OVERRIDABLE_PATHS)) {
      if (skipped.has(path) || path === 'chain_code') continue;
      const camel = path
        .split('.')
        .at(-1)!
        .replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
      expect(flat, path).toContain(`"${camel}"`);
    }
    expect(config.membership.backend).toBe('kubernetes');
    expect(config.faultInjection).toEqual({ pauseAtRound: 50, refuseCoordination: true });
    expect(config.nats.tls).toEqual({ caFile: 'x', certFile: 'x', keyFile: 'x' });
  });

  it.each([
    ['node_id: "../etc"', 'node_id'],
    ['node_id: ""', 'node_id'],
    ['threshold: 0', 'threshold'],
    ['threshold: 1.5', 'threshold'],
    ['threshold: "1"', 'threshold'],
    ['peers: [node1, node2]', 'peers'],
    ['peers: [node0, node1, node1]', 'peers[2]'],
    ['peers: [node0]', 'peers'],
    ['peers: [node0, 7]', 'peers[1]'],
    ['http: { port: 70000 }', 'http.port'],
    ['http: { prestop_max_wait_ms: -1 }', 'http.prestop_max_wait_ms'],
    ['membership: { roster_config_map: r }', 'membership.roster_config_map'],
    ['backup: { dir: /b, key_file: /k }', 'backup'],
    ['backup: { dir: /b }\nmembership: { backend: kubernetes }', 'backup.key_file'],
    ['log_level: loud', 'log_level'],
    ['membership: { backend: consul }', 'membership.backend'],
    ['membership: { heartbeat_interval_ms: 5000 }', 'membership.peer_timeout_ms'],
    ['sessions: { round_timeout_ms: 0 }', 'sessions.round_timeout_ms'],
    ['sessions: { round_timout_ms: 10 }', 'sessions.round_timout_ms'],
    ['initiator: { algorithm: rsa, public_key: "00" }', 'initiator.algorithm'],
    ['initiator: { public_key: "abcd" }', 'initiator.public_key'],
    ['initiator: { algorithm: p256, public_key: "not a key!" }', 'initiator.public_key'],
    ['nats: { url: "http://x:1" }', 'nats.url'],
    ['nats: { url: "nats://x:1", user: u }', 'nats.password'],
    ['nats: { url: "nats://x:1", token: t, creds_file: /c }', 'nats'],
    ['nats: { url: "nats://x:1", tls: { cert_file: /c } }', 'nats.tls.key_file'],
    ['kek: {}', 'kek.file'],
    ['chain_code: "abc"', 'chain_code'],
    ['mpc_threshold: 2', 'mpc_threshold'],
    ['roster_file: 5', 'roster_file'],
    ['administrator: { public_key: "abcd" }', 'administrator.public_key'],
    [`administrator: { public_key: "${'00'.repeat(32)}" }`, 'administrator.public_key'],
    [`administrator: { public_key: "${INITIATOR_KEY}" }`, 'cluster_name'],
    ['administrator: { key: x }', 'administrator.key'],
    ['cluster_name: "a b"', 'cluster_name'],
  ])('rejects %s naming %s', (line, field) => {
    const key = line.split(':')[0]!;
    const yaml = minimalYaml()
      .split('\n')
      .filter((l) => !l.startsWith(`${key}:`) && !(key === 'initiator' && l.includes('public_key')))
      .filter((l) => !(key === 'nats' && l.includes('url:')))
      .filter((l) => !(key === 'kek' && l.includes('file:')))
      .join('\n');
    const error = configError(() => load(`${yaml}\n${line}\n`));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/expected|must|unknown|set|required|duplicate/);
  });

  it('names mpcium keys with their replacement', () => {
    const error = configError(() => load(minimalYaml('event_initiator_pubkey: abc')));
    expect(error.message).toContain('initiator.public_key');
  });

  it('names the environment variable that set a bad value', () => {
    const error = configError(() => load(minimalYaml(), { MPC_THRESHOLD: 'two' }));
    expect(error.field).toBe('threshold');
    expect(error.message).toContain('MPC_THRESHOLD');
    expect(error.message).toContain('"two"');
  });

  it('rejects misspelt override variables instead of ignoring them', () => {
    expect(
      configError(() => load(minimalYaml(), { MPC_NATS_URL: 'nats://x:1' })).message,
    ).toContain('MPC_NATS__URL');
    expect(configError(() => load(minimalYaml(), { MPC_SESSIONS__NOPE: '1' })).field).toBe(
      'MPC_SESSIONS__NOPE',
    );
  });

  it('requires required authorizers to have keys and checks key formats when enabled', () => {
    const missing = configError(() =>
      load(minimalYaml('authorization: { enabled: true, required_authorizers: [a1] }')),
    );
    expect(missing.field).toBe('authorization.required_authorizers[0]');
    const badKey = configError(() =>
      load(
        minimalYaml(
          'authorization: { enabled: true, authorizer_public_keys: { a1: { public_key: "zz" } } }',
        ),
      ),
    );
    expect(badKey.field).toBe('authorization.authorizer_public_keys.a1.public_key');
  });

  it('refuses fault_injection unless MPC_ENABLE_FAULT_INJECTION=1, and says so', () => {
    const yaml = minimalYaml('fault_injection: { pause_at_round: 1 }');
    const error = configError(() => load(yaml));
    expect(error.field).toBe('fault_injection');
    expect(error.message).toContain('MPC_ENABLE_FAULT_INJECTION=1');
    expect(configError(() => load(yaml, { MPC_ENABLE_FAULT_INJECTION: 'true' })).field).toBe(
      'fault_injection',
    );
    expect(load(yaml, { MPC_ENABLE_FAULT_INJECTION: '1' }).faultInjection).toEqual({
      pauseAtRound: 1,
    });
  });

  it.each([
    ['hold_before_ack_file', 'holdBeforeAckFile'],
    ['hold_before_mark_file', 'holdBeforeMarkFile'],
  ] as const)('reads fault_injection.%s only with MPC_ENABLE_FAULT_INJECTION=1', (field, key) => {
    const yaml = minimalYaml(`fault_injection: { ${field}: /tmp/hold }`);
    expect(configError(() => load(yaml)).field).toBe('fault_injection');
    expect(load(yaml, { MPC_ENABLE_FAULT_INJECTION: '1' }).faultInjection).toEqual({
      [key]: '/tmp/hold',
    });
    const empty = minimalYaml(`fault_injection: { ${field}: "" }`);
    expect(configError(() => load(empty, { MPC_ENABLE_FAULT_INJECTION: '1' })).field).toBe(
      `fault_injection.${field}`,
    );
  });

  it('never echoes secrets in errors', () => {
    const secretHex = 'f'.repeat(63);
    const chain = configError(() =>
      load(minimalYaml().replace(`chain_code: "${CHAIN_CODE}"`, `chain_code: "${secretHex}"`)),
    );
    expect(chain.message).not.toContain(secretHex);
    const password = configError(() =>
      load(
        minimalYaml('nats: { url: "nats://x:1", password: "hunter2-secret" }').replace(
          /^nats:\n {2}url: .*$/m,
          '',
        ),
      ),
    );
    expect(password.field).toBe('nats.user');
    expect(password.message).not.toContain('hunter2');
    const envChain = configError(() => load(minimalYaml(), { MPC_CHAIN_CODE: `zz${secretHex}` }));
    expect(envChain.message).not.toContain(secretHex);
  });

  it('reports YAML syntax errors by position without quoting the source', () => {
    const error = configError(() =>
      load(`node_id: a\nchain_code: "${CHAIN_CODE}"\nchain_code: "${CHAIN_CODE}"\n`),
    );
    expect(error.message).toMatch(/line 3, column 1/);
    expect(error.message).not.toContain(CHAIN_CODE);
    expect(configError(() => load('- just\n- a list\n')).message).toContain('mapping');
    expect(
      configError(() => loadSignerConfig({ file: join(dir, 'absent.yaml'), env: {} })).message,
    ).toContain('ENOENT');
  });

  it('keeps the inline chain code out of the config object and its redacted description', () => {
    const config = load(
      minimalYaml('').replace(
        'url: nats://127.0.0.1:4222',
        'url: nats://127.0.0.1:4222\n  user: u\n  password: pw-secret',
      ),
    );
    expect(JSON.stringify(config)).not.toContain(CHAIN_CODE);
    const described = JSON.stringify(describeSignerConfig(config));
    expect(described).not.toContain('pw-secret');
    expect(described).toContain('[redacted]');
  });
});

describe('loadSignerSecrets', () => {
  it('reads a hex KEK file and an inline chain code', () => {
    const secrets = loadSignerSecrets(load(minimalYaml()));
    expect(Buffer.from(secrets.kek).toString('hex')).toBe(KEK_HEX);
    expect(Buffer.from(secrets.chainCode).toString('hex')).toBe(CHAIN_CODE);
  });

  it('returns a fresh chain-code copy each time, so wiping one does not break the next', () => {
    const config = load(minimalYaml());
    loadSignerSecrets(config).chainCode.fill(0);
    expect(Buffer.from(loadSignerSecrets(config).chainCode).toString('hex')).toBe(CHAIN_CODE);
  });

  it('reads raw 32-byte secret files and hex files with whitespace', () => {
    const raw = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff);
    raw[5] = 0x0a; // raw files may contain newline bytes: length decides the format
    writeFileSync(join(dir, 'kek'), raw);
    writeFileSync(join(dir, 'chain'), `  ${CHAIN_CODE.toUpperCase()}\r\n`);
    const config = load(
      minimalYaml().replace(`chain_code: "${CHAIN_CODE}"`, `chain_code: { file: ${dir}/chain }`),
    );
    const secrets = loadSignerSecrets(config);
    expect(secrets.kek).toEqual(raw);
    expect(Buffer.from(secrets.chainCode).toString('hex')).toBe(CHAIN_CODE);
  });

  it.each([
    ['short', 'abcd'],
    ['non-hex', 'g'.repeat(64)],
    ['all zeros', '0'.repeat(64)],
    ['33 bytes', 'x'.repeat(33)],
  ])('rejects a %s KEK file without echoing it', (_name, contents) => {
    writeFileSync(join(dir, 'kek'), contents);
    const error = configError(() => loadSignerSecrets(load(minimalYaml())));
    expect(error.field).toBe('kek.file');
    expect(error.message).not.toContain(contents);
  });

  it('names a missing secret file', () => {
    rmSync(join(dir, 'kek'));
    const error = configError(() => loadSignerSecrets(load(minimalYaml())));
    expect(error.field).toBe('kek.file');
    expect(error.message).toContain('ENOENT');
  });
});

describe('signer.example.yaml', () => {
  it('loads and shows exactly the defaults', () => {
    const example = loadSignerConfig({
      file: new URL('./signer.example.yaml', import.meta.url).pathname,
      env: {},
    });
    const minimal = loadSignerConfig({
      env: {
        MPC_NODE_ID: 'node0',
        MPC_NATS__URL: 'nats://127.0.0.1:4222',
        MPC_THRESHOLD: '1',
        MPC_PEERS: 'node0,node1,node2',
        MPC_DATA_DIR: '/var/lib/mpc-signer',
        MPC_KEK__FILE: '/etc/mpc/kek',
        MPC_CHAIN_CODE: CHAIN_CODE,
        MPC_INITIATOR__PUBLIC_KEY: INITIATOR_KEY,
      },
    });
    expect(example).toEqual(minimal);
  });
});
