/**
 * Shared set-up of the cluster benchmarks: a private nats-server (with its monitoring port, for
 * message counters) and `size` local signer processes (default 3, threshold 1) from the
 * production build dist/ (not dist-bench/), plus an Ed25519 initiator key, and a client that
 * runs keygen and signing requests against them. `stop()` removes everything it started.
 *
 * Resource counters (`usage()`): the CPU time of every signer process (utime + stime of
 * /proc/<pid>/stat, all threads, in ms; Linux only, NaN elsewhere) and the nats-server's
 * /varz `in_msgs` (messages published by any client: signers, the bench client, JetStream's
 * acks and API calls) and `out_msgs` (deliveries). `perSignature()` turns two snapshots taken
 * around a run into the `*.cpu_ms_per_signature` and `*.messages_per_signature` figures.
 *
 * NATS runs with authorization: signers use the signer user; the bench client connects
 * anonymously, which is the client role.
 */
import { execFileSync } from 'node:child_process';
import {
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LocalCluster, type LocalClusterOptions } from '../signer/local/local-cluster.ts';
import { startNatsServer, type NatsServerHandle } from '../signer/local/nats-server.ts';
import {
  decodeKeygenResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  signTxRaw,
  type KeygenResultEvent,
  type SigningResultEvent,
} from '../signer/protocol/messages.ts';

export type BenchKeyType = 'ed25519' | 'secp256k1';

/** A snapshot of the counters `usage()` reads. */
export interface BenchUsage {
  /** Sum over the signer processes of user + system CPU, ms. */
  readonly signerCpuMs: number;
  readonly natsInMsgs: number;
  readonly natsOutMsgs: number;
}

export interface BenchCluster {
  readonly root: string;
  readonly nats: NatsServerHandle;
  readonly cluster: LocalCluster;
  /** The initiator's Ed25519 private key (signs requests). */
  readonly initiatorKey: KeyObject;
  usage(): Promise<BenchUsage>;
  stop(): Promise<void>;
}

export interface BenchClusterOptions extends Pick<LocalClusterOptions, 'configFor' | 'env'> {
  /** Number of signers, default 3. */
  readonly size?: number;
  /** t (signing needs t + 1 signers), default 1. */
  readonly threshold?: number;
}

let clockTicksPerSecond: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
    } catch {
      clockTicksPerSecond = 100; // Linux's USER_HZ on every common configuration
    }
  }
  return clockTicksPerSecond;
}

/** utime + stime of a process in ms, from /proc/<pid>/stat; NaN when unreadable. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may contain spaces; count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

export async function startBenchCluster(
  prefix: string,
  options: BenchClusterOptions = {},
): Promise<BenchCluster> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const nats = await startNatsServer({ rootDir: join(root, 'nats'), monitoring: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const initiatorPublicKey = Buffer.from(
    publicKey.export({ format: 'jwk' }).x ?? '',
    'base64url',
  ).toString('hex');
  const { size = 3, threshold = 1, ...clusterOptions } = options;
  // BENCH_SIGNER_CPU_PROFILE_DIR: every signer writes a V8 CPU profile there when it stops
  // (summarise with `node dist-bench/bench/profile-summary.js`).
  const profileDir = process.env['BENCH_SIGNER_CPU_PROFILE_DIR'];
  const cluster = await LocalCluster.create({
    natsUrl: nats.url,
    size,
    threshold,
    rootDir: join(root, 'signers'),
    // This file runs from dist-bench/bench/; the signers are the production build in dist/.
    mainScript: resolve(import.meta.dirname, '../../dist/signer/main.js'),
    initiator: { algorithm: 'ed25519', publicKey: initiatorPublicKey },
    ...(nats.credentials === undefined ? {} : { natsUser: nats.credentials.signer }),
    ...(profileDir === undefined || profileDir === ''
      ? {}
      : {
          nodeArguments: ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`],
          stopTimeoutMs: 60_000,
        }),
    ...clusterOptions,
  });
  return {
    root,
    nats,
    cluster,
    initiatorKey: privateKey,
    async usage() {
      let signerCpuMs = 0;
      for (const signer of cluster.signers) {
        const pid = signer.process?.pid;
        signerCpuMs += pid === undefined ? Number.NaN : processCpuMs(pid);
      }
      let natsInMsgs = Number.NaN;
      let natsOutMsgs = Number.NaN;
      if (nats.monitorUrl !== undefined) {
        const response = await fetch(`${nats.monitorUrl}/varz`, {
          signal: AbortSignal.timeout(5000),
        });
        const varz = (await response.json()) as { in_msgs?: number; out_msgs?: number };
        natsInMsgs = varz.in_msgs ?? Number.NaN;
        natsOutMsgs = varz.out_msgs ?? Number.NaN;
      }
      return { signerCpuMs, natsInMsgs, natsOutMsgs };
    },
    async stop() {
      await cluster.stop();
      await nats.stop();
      if (process.env['BENCH_KEEP_DIR'] === '1') process.stderr.write(`kept ${root}\n`);
      else rmSync(root, { recursive: true, force: true });
    },
  };
}

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** Per-signature resource figures between two `usage()` snapshots. */
export function perSignature(
  before: BenchUsage,
  after: BenchUsage,
  signatures: number,
): {
  cpu_ms_per_signature: number;
  messages_per_signature: number;
  deliveries_per_signature: number;
} {
  return {
    cpu_ms_per_signature: round((after.signerCpuMs - before.signerCpuMs) / signatures),
    messages_per_signature: round((after.natsInMsgs - before.natsInMsgs) / signatures),
    deliveries_per_signature: round((after.natsOutMsgs - before.natsOutMsgs) / signatures),
  };
}

/** Resolves each result by id as it arrives on one result subject (core NATS subscription). */
function resultRouter<T>(
  nc: NatsConnection,
  subject: string,
  decode: (body: Uint8Array) => T,
  idOf: (value: T) => string,
) {
  const waiting = new Map<string, (value: T) => void>();
  const subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error !== null) return;
      const value = decode(msg.data);
      const resolveWaiter = waiting.get(idOf(value));
      waiting.delete(idOf(value));
      resolveWaiter?.(value);
    },
  });
  return {
    expect(id: string, timeoutMs = 60_000): Promise<T> {
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no result for ${id}`)), timeoutMs);
        waiting.set(id, (value) => {
          clearTimeout(timer);
          resolvePromise(value);
        });
      });
    },
    stop: () => subscription.unsubscribe(),
  };
}

export interface ThroughputRun {
  readonly perSecond: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly firstError: string | undefined;
}

/** A signing request that got an error result (the result's code is kept). */
class SigningFailedError extends Error {
  constructor(
    readonly code: string,
    reason: string,
  ) {
    super(`signing failed: ${code} ${reason}`);
  }
}

export interface BenchClient {
  /** Runs one keygen (both key types); later signatures use that wallet. Returns ms. */
  keygen(): Promise<number>;
  /** Signs one message, verifies the signature with node:crypto/noble, returns ms. */
  signOnce(keyType?: BenchKeyType): Promise<number>;
  /**
   * Runs `requests` signing requests with `concurrency` in flight. `perSecond` counts requests
   * answered (success or error) per second; failures are counted by error code, and
   * `firstError` keeps one message. Callers that need every request to succeed check `failed`.
   */
  throughput(keyType: BenchKeyType, requests: number, concurrency: number): Promise<ThroughputRun>;
  close(): Promise<void>;
}

/** A NATS client of `bench` that sends requests signed with the initiator key. */
export async function openBenchClient(bench: BenchCluster): Promise<BenchClient> {
  const nc = await connect({ servers: bench.nats.url });
  const js: JetStreamClient = jetstream(nc);
  const keygens = resultRouter<KeygenResultEvent>(
    nc,
    'mpc.mpc_keygen_result.*',
    decodeKeygenResultEvent,
    (r) => r.wallet_id,
  );
  const signings = resultRouter<SigningResultEvent>(
    nc,
    'mpc.mpc_signing_result.complete',
    decodeSigningResultEvent,
    (r) => r.tx_id,
  );
  const privateKey = bench.initiatorKey;
  let walletId = '';
  let walletKey: KeyObject | undefined;
  let ecdsaKey: Uint8Array | undefined;

  const signOnce = async (keyType: BenchKeyType = 'ed25519'): Promise<number> => {
    const txId = randomUUID();
    const message = new TextEncoder().encode(`bench message ${txId}`);
    const tx = keyType === 'ed25519' ? message : sha256(message);
    const request = { keyType, walletId, networkInternalCode: 'bench', txId, tx };
    const started = performance.now();
    const pending = signings.expect(txId);
    await js.publish(
      `mpc.signing_request.${txId}`,
      encodeSignTxMessage({
        ...request,
        signature: new Uint8Array(sign(null, signTxRaw(request), privateKey)),
        derivationPath: null,
        authorizerSignatures: [],
      }),
    );
    const result = await pending;
    const elapsed = performance.now() - started;
    if (result.result_type !== 'success') {
      throw new SigningFailedError(String(result.error_code), String(result.error_reason));
    }
    const valid =
      keyType === 'ed25519'
        ? verify(null, tx, walletKey as KeyObject, Buffer.from(result.signature ?? '', 'base64'))
        : secp256k1.verify(
            Uint8Array.of(
              ...Buffer.from(result.r ?? '', 'base64'),
              ...Buffer.from(result.s ?? '', 'base64'),
            ),
            tx,
            ecdsaKey as Uint8Array,
            { prehash: false, lowS: true },
          );
    if (!valid) throw new Error(`${keyType} signature did not verify`);
    return elapsed;
  };

  return {
    async keygen() {
      walletId = `bench-${randomUUID()}`;
      const started = performance.now();
      const pending = keygens.expect(walletId, 120_000);
      await js.publish(
        `mpc.keygen_request.${walletId}`,
        encodeGenerateKeyMessage({
          walletId,
          signature: new Uint8Array(sign(null, generateKeyRaw({ walletId }), privateKey)),
          authorizerSignatures: [],
        }),
      );
      const result = await pending;
      if (result.result_type !== 'success' || result.eddsa_pub_key === null) {
        throw new Error(`keygen failed: ${result.error_code} ${result.error_reason}`);
      }
      const elapsed = performance.now() - started;
      if (result.ecdsa_pub_key === null) throw new Error('keygen returned no ECDSA key');
      ecdsaKey = Uint8Array.of(4, ...Buffer.from(result.ecdsa_pub_key, 'base64'));
      walletKey = createPublicKey({
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          x: Buffer.from(result.eddsa_pub_key, 'base64').toString('base64url'),
        },
        format: 'jwk',
      });
      return elapsed;
    },
    signOnce,
    async throughput(keyType, requests, concurrency) {
      let next = 0;
      let failed = 0;
      const failures: Record<string, number> = {};
      let firstError: string | undefined;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests) {
            next += 1;
            try {
              await signOnce(keyType);
            } catch (error) {
              // Only error results are tolerated here; a bad signature or a timeout aborts.
              if (!(error instanceof SigningFailedError)) throw error;
              failed += 1;
              failures[error.code] = (failures[error.code] ?? 0) + 1;
              firstError ??= error.message;
            }
          }
        }),
      );
      return {
        perSecond: requests / ((performance.now() - started) / 1000),
        failed,
        failures,
        firstError,
      };
    },
    async close() {
      keygens.stop();
      signings.stop();
      await nc.close();
    },
  };
}
