/**
 * The `mpc` command, as a function of its arguments and output streams (the binary in `cli.ts`
 * only wires it to the process). A thin layer over the SDK:
 *
 *   mpc initiator create --algorithm ed25519|p256 --out <file> [--force]
 *   mpc wallet create --nats <url> --key <file> [--algorithm …] [--wallet-id …] [--client-id …] [--timeout <ms>]
 *   mpc sign --nats <url> --key <file> --wallet-id <id> --key-type ed25519|secp256k1
 *            (--message <utf8> | --message-hex <hex> | --digest-hex <64 hex>)
 *            [--derivation-path 44,60,0,0,0] [--tx-id …] [--network-code …] [--client-id …] [--timeout <ms>]
 *   mpc reshare --nats <url> --key <file> --wallet-id <id> --key-type ed25519|secp256k1
 *               --node-ids <id,id,...> --threshold <t> [--session-id <id>]
 *               [--algorithm ed25519|p256] [--client-id <id>] [--timeout <ms>]
 *   mpc refresh-pair --nats <url> --key <file> --wallet-id <id> --node <id> --peer <id>[,<id>...]
 *               [--session-id <id>] [--algorithm ed25519|p256] [--client-id <id>] [--timeout <ms>]
 *               (DKLs23 pairwise refresh after a ban: --node coordinates; one run per peer)
 *   mpc verify --key-type ed25519|secp256k1 --public-key <hex|base64>
 *            (--message … | --message-hex … | --digest-hex …) (--signature <hex|base64> | --r … --s …)
 *            [--recovery 0-3|<signature_recovery base64>]   (secp256k1: must recover the key)
 *
 *   mpc admin sign-repin --key <administrator key file> --cluster <namespace/name> --node <node id>
 *            --old <fingerprint|hex key> --new <hex key> [--valid-for <seconds>]
 *            prints a repin token (signer/identity/repin.ts) for annotation mpc-platform.dev/repin;
 *            the administrator key file is an Ed25519 key file of `mpc initiator create`.
 *
 * secp256k1 signs a 32-byte digest: `--digest-hex` is used as is, `--message`/`--message-hex`
 * are hashed with SHA-256 first. Ed25519 signs the message bytes (`--digest-hex` is refused).
 *
 * Exit codes: 0 success (result_type "success", signature valid); 1 an error result, an invalid
 * signature or a failure while running; 2 bad usage.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { MpcError } from '../protocol/errors.ts';
import type { KeyType } from '../protocol/messages.ts';
import {
  InitiatorKeyError,
  generateInitiatorKey,
  loadInitiatorSigner,
  type InitiatorAlgorithm,
} from './initiator-keys.ts';
import { MpcClient } from './mpc-client.ts';
import { fingerprintOf } from '../identity/node-identity.ts';
import { RepinError } from '../identity/errors.ts';
import {
  MAX_REPIN_VALIDITY_SECONDS,
  encodeRepinToken,
  newRepinNonce,
  signRepin,
} from '../identity/repin.ts';
import { verifySignature } from './verify.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** A usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `usage:
  mpc initiator create --algorithm ed25519|p256 --out <file> [--force]
  mpc wallet create --nats <url> --key <file> [--algorithm ed25519|p256] [--wallet-id <id>]
                    [--client-id <id>] [--timeout <ms>]
  mpc sign --nats <url> --key <file> --wallet-id <id> --key-type ed25519|secp256k1
           (--message <utf8> | --message-hex <hex> | --digest-hex <64 hex>)
           [--derivation-path 44,60,0,0,0] [--tx-id <id>] [--network-code <code>]
           [--algorithm ed25519|p256] [--client-id <id>] [--timeout <ms>]
  mpc reshare --nats <url> --key <file> --wallet-id <id> --key-type ed25519|secp256k1
           --node-ids <id,id,...> --threshold <t> [--session-id <id>]
           [--algorithm ed25519|p256] [--client-id <id>] [--timeout <ms>]
  mpc refresh-pair --nats <url> --key <file> --wallet-id <id> --node <id> --peer <id>[,<id>...]
           [--session-id <id>] [--algorithm ed25519|p256] [--client-id <id>] [--timeout <ms>]
  mpc verify --key-type ed25519|secp256k1 --public-key <hex|base64>
           (--message <utf8> | --message-hex <hex> | --digest-hex <64 hex>)
           (--signature <hex|base64> | --r <hex|base64> --s <hex|base64>) [--recovery 0-3|<base64>]
  mpc admin sign-repin --key <admin key file> --cluster <namespace/name> --node <node id>
           --old <fingerprint|hex key> --new <hex key> [--valid-for <seconds, default 3600>]
`;

const DEFAULT_TIMEOUT_MS = 60_000;

type Options = ParseArgsConfig['options'];

const connectionOptions = {
  nats: { type: 'string' },
  key: { type: 'string' },
  algorithm: { type: 'string' },
  'client-id': { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies Options;

const messageOptions = {
  message: { type: 'string' },
  'message-hex': { type: 'string' },
  'digest-hex': { type: 'string' },
} as const satisfies Options;

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

function parseAlgorithm(value: string | undefined): InitiatorAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (value !== 'ed25519' && value !== 'p256') {
    throw new UsageError(`--algorithm must be ed25519 or p256, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseKeyType(value: string | undefined): KeyType {
  const keyType = required(value, '--key-type');
  if (keyType !== 'ed25519' && keyType !== 'secp256k1') {
    throw new UsageError(`--key-type must be ed25519 or secp256k1, got ${JSON.stringify(keyType)}`);
  }
  return keyType;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const timeout = Number(value);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new UsageError(`--timeout must be a positive number of milliseconds, got ${value}`);
  }
  return timeout;
}

function parseHex(value: string, flag: string): Uint8Array {
  const text = value.replace(/^0x/i, '');
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new UsageError(`${flag} must be hex`);
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Hex (optional 0x) when it is valid hex, else standard base64. */
function parseHexOrBase64(value: string, flag: string): Uint8Array {
  const text = value.replace(/^0x/i, '');
  if (text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) {
    return Uint8Array.from(Buffer.from(text, 'hex'));
  }
  if (value.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    return Uint8Array.from(Buffer.from(value, 'base64'));
  }
  throw new UsageError(`${flag} must be hex or standard base64`);
}

/** `--recovery`: 0–3, or the result's `signature_recovery` (base64/hex of one byte). */
function parseRecovery(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^[0-3]$/.test(value)) return Number(value);
  const bytes = parseHexOrBase64(value, '--recovery');
  if (bytes.length !== 1 || (bytes[0] ?? 4) > 3) {
    throw new UsageError('--recovery must be 0..3 or the base64 signature_recovery byte');
  }
  return bytes[0];
}

function parseDerivationPath(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim().replace(/^m\//, '');
  if (trimmed === '') return [];
  return trimmed.split(/[,/]/).map((part) => {
    const index = Number(part.trim());
    if (!/^\d+$/.test(part.trim()) || !Number.isSafeInteger(index) || index >= 0x8000_0000) {
      throw new UsageError(
        `--derivation-path entries must be non-hardened indices (0..2147483647), got ${JSON.stringify(part)}`,
      );
    }
    return index;
  });
}

/** The bytes to sign / verify: the message for Ed25519, the 32-byte digest for secp256k1. */
function signedBytes(
  keyType: KeyType,
  values: { message?: string; 'message-hex'?: string; 'digest-hex'?: string },
): Uint8Array {
  const given = (['message', 'message-hex', 'digest-hex'] as const).filter(
    (flag) => values[flag] !== undefined,
  );
  if (given.length !== 1) {
    throw new UsageError('give exactly one of --message, --message-hex, --digest-hex');
  }
  if (values['digest-hex'] !== undefined) {
    if (keyType === 'ed25519') {
      throw new UsageError('--digest-hex is for secp256k1; Ed25519 signs the message itself');
    }
    const digest = parseHex(values['digest-hex'], '--digest-hex');
    if (digest.length !== 32) throw new UsageError('--digest-hex must be 32 bytes (64 hex digits)');
    return digest;
  }
  const message =
    values.message !== undefined
      ? new TextEncoder().encode(values.message)
      : parseHex(values['message-hex'] ?? '', '--message-hex');
  if (keyType === 'secp256k1') return new Uint8Array(createHash('sha256').update(message).digest());
  if (message.length === 0) throw new UsageError('the message must not be empty');
  return message;
}

async function withClient<T>(
  values: { nats?: string; key?: string; algorithm?: string; 'client-id'?: string },
  run: (client: MpcClient) => Promise<T>,
  io: CliIo,
): Promise<T> {
  const url = required(values.nats, '--nats');
  const keyPath = required(values.key, '--key');
  const algorithm = parseAlgorithm(values.algorithm);
  const signer = await loadInitiatorSigner(keyPath, algorithm);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'mpc-cli' });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${url}: ${(error as Error).message}`);
  }
  try {
    const client = await MpcClient.create({
      nc,
      signer,
      ...(values['client-id'] === undefined ? {} : { clientId: values['client-id'] }),
      onError: (error) => io.stderr(`mpc: result stream error: ${String(error)}\n`),
    });
    for (const warning of client.warnings) io.stderr(`mpc: warning: ${warning}\n`);
    try {
      return await run(client);
    } finally {
      await client.close();
    }
  } finally {
    await nc.drain();
  }
}

async function initiatorCreate(args: string[], io: CliIo): Promise<number> {
  const values = parse(args, {
    algorithm: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
  });
  const algorithm = parseAlgorithm(required(values.algorithm, '--algorithm'));
  const out = required(values.out, '--out');
  const generated = generateInitiatorKey(algorithm ?? 'ed25519');
  try {
    await writeFile(out, generated.keyFileText, { mode: 0o600, flag: values.force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${out} exists (use --force to overwrite)`);
    throw new Error(`cannot write ${out}: ${code ?? String(error)}`);
  }
  io.stdout(`${generated.publicKey}\n`);
  io.stderr(
    `mpc: wrote ${algorithm} initiator key to ${out}; configure the signers with\n` +
      `  initiator: { algorithm: ${algorithm}, public_key: ${generated.publicKey} }\n`,
  );
  return 0;
}

async function walletCreate(args: string[], io: CliIo): Promise<number> {
  const values = parse(args, { ...connectionOptions, 'wallet-id': { type: 'string' } });
  const timeoutMs = parseTimeout(values.timeout);
  const result = await withClient(
    values,
    (client) => client.createWalletAndWait(values['wallet-id'], { timeoutMs }),
    io,
  );
  io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  return result.result_type === 'success' ? 0 : 1;
}

async function sign(args: string[], io: CliIo): Promise<number> {
  const values = parse(args, {
    ...connectionOptions,
    ...messageOptions,
    'wallet-id': { type: 'string' },
    'key-type': { type: 'string' },
    'derivation-path': { type: 'string' },
    'tx-id': { type: 'string' },
    'network-code': { type: 'string' },
  });
  const keyType = parseKeyType(values['key-type']);
  const walletId = required(values['wallet-id'], '--wallet-id');
  const tx = signedBytes(keyType, values);
  const derivationPath = parseDerivationPath(values['derivation-path']);
  const timeoutMs = parseTimeout(values.timeout);
  const result = await withClient(
    values,
    (client) =>
      client.signAndWait(
        {
          walletId,
          keyType,
          tx,
          ...(values['tx-id'] === undefined ? {} : { txId: values['tx-id'] }),
          ...(values['network-code'] === undefined
            ? {}
            : { networkInternalCode: values['network-code'] }),
          ...(derivationPath === undefined ? {} : { derivationPath }),
        },
        { timeoutMs },
      ),
    io,
  );
  io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  return result.result_type === 'success' ? 0 : 1;
}

async function reshare(args: string[], io: CliIo): Promise<number> {
  const values = parse(args, {
    ...connectionOptions,
    'wallet-id': { type: 'string' },
    'key-type': { type: 'string' },
    'node-ids': { type: 'string' },
    threshold: { type: 'string' },
    'session-id': { type: 'string' },
  });
  const keyType = parseKeyType(values['key-type']);
  const walletId = required(values['wallet-id'], '--wallet-id');
  const nodeIds = required(values['node-ids'], '--node-ids')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  const thresholdText = required(values.threshold, '--threshold');
  const newThreshold = Number(thresholdText);
  if (!/^\d+$/.test(thresholdText) || !Number.isSafeInteger(newThreshold)) {
    throw new UsageError('--threshold must be a whole number (t: t + 1 signers sign)');
  }
  const timeoutMs = parseTimeout(values.timeout ?? '300000');
  const result = await withClient(
    values,
    (client) =>
      client.reshareAndWait(
        {
          walletId,
          keyType,
          nodeIds,
          newThreshold,
          ...(values['session-id'] === undefined ? {} : { sessionId: values['session-id'] }),
        },
        { timeoutMs },
      ),
    io,
  );
  io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  return result.result_type === 'success' ? 0 : 1;
}

/**
 * `mpc refresh-pair`: reruns the DKLs23 pairwise setup of one secp256k1 wallet between --node
 * (which coordinates; usually the signer that recorded the ban) and each --peer in turn, so
 * burned pairs sign again. Prints one result per peer; exit 0 only if every refresh succeeded.
 */
async function refreshPair(args: string[], io: CliIo): Promise<number> {
  const values = parse(args, {
    ...connectionOptions,
    'wallet-id': { type: 'string' },
    node: { type: 'string' },
    peer: { type: 'string' },
    'session-id': { type: 'string' },
  });
  const walletId = required(values['wallet-id'], '--wallet-id');
  const node = required(values.node, '--node');
  const peers = required(values.peer, '--peer')
    .split(',')
    .map((peer) => peer.trim())
    .filter((peer) => peer !== '');
  if (peers.length === 0 || peers.includes(node)) {
    throw new UsageError('--peer must name one or more signers other than --node');
  }
  if (values['session-id'] !== undefined && peers.length > 1) {
    throw new UsageError('--session-id needs a single --peer');
  }
  const timeoutMs = parseTimeout(values.timeout ?? '300000');
  let failed = false;
  await withClient(
    values,
    async (client) => {
      for (const peer of peers) {
        const result = await client.refreshPairAndWait(
          {
            walletId,
            node,
            peer,
            ...(values['session-id'] === undefined ? {} : { sessionId: values['session-id'] }),
          },
          { timeoutMs },
        );
        io.stdout(`${JSON.stringify({ peer, ...result }, null, 2)}\n`);
        if (result.result_type !== 'success') failed = true;
      }
    },
    io,
  );
  return failed ? 1 : 0;
}

function verify(args: string[], io: CliIo): number {
  const values = parse(args, {
    ...messageOptions,
    'key-type': { type: 'string' },
    'public-key': { type: 'string' },
    signature: { type: 'string' },
    r: { type: 'string' },
    s: { type: 'string' },
    recovery: { type: 'string' },
  });
  const keyType = parseKeyType(values['key-type']);
  const publicKey = parseHexOrBase64(
    required(values['public-key'], '--public-key'),
    '--public-key',
  );
  const bytes = signedBytes(keyType, values);
  const hasRs = values.r !== undefined || values.s !== undefined;
  if ((values.signature === undefined) === !hasRs) {
    throw new UsageError('give either --signature or both --r and --s');
  }
  let valid: boolean;
  try {
    if (keyType === 'ed25519') {
      if (hasRs) throw new UsageError('--r/--s are for secp256k1; give --signature');
      valid = verifySignature({
        keyType,
        publicKey,
        message: bytes,
        signature: parseHexOrBase64(values.signature ?? '', '--signature'),
      });
    } else {
      const recoveryId = parseRecovery(values.recovery);
      const common = {
        keyType,
        publicKey,
        digest: bytes,
        ...(recoveryId === undefined ? {} : { recoveryId }),
      };
      valid = hasRs
        ? verifySignature({
            ...common,
            r: parseHexOrBase64(required(values.r, '--r'), '--r'),
            s: parseHexOrBase64(required(values.s, '--s'), '--s'),
          })
        : verifySignature({
            ...common,
            signature: parseHexOrBase64(values.signature ?? '', '--signature'),
          });
    }
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  io.stdout(valid ? 'valid\n' : 'invalid\n');
  return valid ? 0 : 1;
}

/**
 * `mpc admin sign-repin`: the administrator's statement that node `--node` of `--cluster` may
 * replace its pinned identity key `--old` (the fingerprint the IdentityMismatch condition
 * shows, or the full key) by `--new`. Prints the token on stdout, a summary on stderr.
 */
async function adminSignRepin(args: string[], io: CliIo, nowMs: number): Promise<number> {
  const values = parse(args, {
    key: { type: 'string' },
    cluster: { type: 'string' },
    node: { type: 'string' },
    old: { type: 'string' },
    new: { type: 'string' },
    'valid-for': { type: 'string' },
  });
  const oldText = required(values.old, '--old').toLowerCase();
  let oldFingerprint: string;
  if (/^[0-9a-f]{16}$/.test(oldText)) oldFingerprint = oldText;
  else if (/^[0-9a-f]{64}$/.test(oldText)) {
    oldFingerprint = fingerprintOf(Buffer.from(oldText, 'hex'));
  } else {
    throw new UsageError('--old must be a 16-hex fingerprint or a 64-hex public key');
  }
  const validFor = Number(values['valid-for'] ?? '3600');
  if (!Number.isInteger(validFor) || validFor <= 0 || validFor > MAX_REPIN_VALIDITY_SECONDS) {
    throw new UsageError(
      `--valid-for must be 1 to ${MAX_REPIN_VALIDITY_SECONDS} seconds, got ${values['valid-for']}`,
    );
  }
  const signer = await loadInitiatorSigner(required(values.key, '--key'), 'ed25519');
  let token: string;
  try {
    token = encodeRepinToken(
      signRepin(
        {
          cluster: required(values.cluster, '--cluster'),
          nodeId: required(values.node, '--node'),
          oldFingerprint,
          newKey: required(values.new, '--new').toLowerCase(),
          nonce: newRepinNonce(),
          expiresAt: Math.floor(nowMs / 1000) + validFor,
        },
        (message) => signer.sign(message),
      ),
    );
  } catch (error) {
    if (error instanceof RepinError) throw new UsageError(error.message);
    throw error;
  }
  io.stdout(`${token}\n`);
  io.stderr(
    `mpc: repin of ${values.node} from key ${oldFingerprint} to ${fingerprintOf(Buffer.from(values.new ?? '', 'hex'))}, ` +
      `valid ${validFor} s, signed by administrator key ${fingerprintOf(Buffer.from(signer.publicKey, 'hex'))}\n`,
  );
  return 0;
}

/** Runs `mpc <args>`; returns the exit code. Never throws. */
export async function runCli(
  args: readonly string[],
  io: CliIo,
  nowMs: number = Date.now(),
): Promise<number> {
  const [first, second, ...rest] = args;
  try {
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.stdout(USAGE);
      return first === undefined ? 2 : 0;
    }
    if (first === 'initiator' && second === 'create') return await initiatorCreate(rest, io);
    if (first === 'wallet' && second === 'create') return await walletCreate(rest, io);
    if (first === 'admin' && second === 'sign-repin') return await adminSignRepin(rest, io, nowMs);
    const tail = second === undefined ? [] : [second, ...rest];
    if (first === 'sign') return await sign(tail, io);
    if (first === 'verify') return verify(tail, io);
    if (first === 'reshare') return await reshare(tail, io);
    if (first === 'refresh-pair') return await refreshPair(tail, io);
    throw new UsageError(`unknown command: ${[first, second].filter(Boolean).join(' ')}`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`mpc: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof InitiatorKeyError || error instanceof MpcError) {
      io.stderr(`mpc: ${error.message}\n`);
      return 1;
    }
    io.stderr(`mpc: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
