/**
 * `npm run local`: a 2-of-3 signer cluster on this machine, end to end.
 *
 *   npm run local              start nats-server + 3 signers (threshold 1), create a wallet,
 *                              sign a message with Ed25519 and its SHA-256 digest with
 *                              secp256k1, verify both with code independent of the signers,
 *                              print a summary, stop everything
 *   npm run local -- --json    the same, printing one JSON object
 *   npm run local -- --keep    leave the cluster running; write .local-cluster/state.json
 *   npm run local -- --stop    stop a cluster left running by --keep
 */
import { createPublicKey, generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { MpcClient, ed25519SignerFromSeed } from '../client/index.ts';
import { LocalCluster } from './local-cluster.ts';
import { startNatsServer, type NatsServerHandle } from './nats-server.ts';
import type { NatsUserCredentials } from './nats-permissions.ts';

const STATE_DIR = resolve('.local-cluster');
const STATE_FILE = join(STATE_DIR, 'state.json');
const RESULT_WAIT_MS = 60_000;

interface LocalState {
  natsUrl: string;
  /**
   * NATS users of this run (README "NATS permissions"): `client` for clients (anonymous
   * connections act as it too), `admin` for inspection with the nats CLI. Signers have their
   * own user in their config files.
   */
  natsUsers: { client: NatsUserCredentials; admin: NatsUserCredentials } | undefined;
  natsPid: number | undefined;
  initiatorKeyFile: string;
  initiatorPublicKey: string;
  initiatorAlgorithm: 'ed25519';
  signers: {
    nodeId: string;
    pid: number | undefined;
    dataDir: string;
    httpPort: number | undefined;
  }[];
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopKept(): Promise<number> {
  if (!existsSync(STATE_FILE)) {
    console.log('no local cluster is running (.local-cluster/state.json not found)');
    return 0;
  }
  const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LocalState;
  const pids = [...state.signers.map((signer) => signer.pid), state.natsPid];
  for (const pid of state.signers.map((signer) => signer.pid)) {
    if (isAlive(pid)) process.kill(pid as number, 'SIGTERM');
  }
  const deadline = Date.now() + 10_000;
  while (state.signers.some((signer) => isAlive(signer.pid)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pid of pids) if (isAlive(pid)) process.kill(pid as number, 'SIGKILL');
  rmSync(STATE_DIR, { recursive: true, force: true });
  console.log('local cluster stopped');
  return 0;
}

async function run(options: { json: boolean; keep: boolean }): Promise<number> {
  if (options.keep && existsSync(STATE_FILE)) {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LocalState;
    if (state.signers.some((signer) => isAlive(signer.pid))) {
      console.error('a local cluster is already running: npm run local -- --stop');
      return 1;
    }
    rmSync(STATE_DIR, { recursive: true, force: true });
  }
  const rootDir = options.keep ? STATE_DIR : mkdtempSync(join(tmpdir(), 'mpc-local-'));
  const progress = (text: string): void => {
    if (!options.json) console.log(text);
  };
  let nats: NatsServerHandle | undefined;
  let cluster: LocalCluster | undefined;
  let nc: NatsConnection | undefined;
  try {
    progress('starting nats-server (JetStream) on a random local port…');
    nats = await startNatsServer({ rootDir: join(rootDir, 'nats'), detached: options.keep });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32));
    const initiatorPublicKey = Buffer.from(
      publicKey.export({ format: 'jwk' }).x ?? '',
      'base64url',
    ).toString('hex');
    const initiatorKeyFile = join(rootDir, 'event_initiator.key');
    writeFileSync(initiatorKeyFile, Buffer.from(seed).toString('hex'), { mode: 0o600 });
    cluster = await LocalCluster.create({
      natsUrl: nats.url,
      size: 3,
      threshold: 1,
      rootDir: join(rootDir, 'signers'),
      mainScript: resolve(import.meta.dirname, '../main.js'),
      initiator: { algorithm: 'ed25519', publicKey: initiatorPublicKey },
      ...(nats.credentials === undefined ? {} : { natsUser: nats.credentials.signer }),
      detached: options.keep,
    });
    progress(`starting 3 signers (${cluster.nodeIds.join(', ')}), threshold 1: any 2 can sign…`);
    await cluster.startAll();
    await cluster.waitForReady(3);
    nc = await connect({
      servers: nats.url,
      ...(nats.credentials === undefined
        ? {}
        : { user: nats.credentials.client.user, pass: nats.credentials.client.password }),
    });
    // Our own SDK with a ClientID of its own: it consumes (and so removes) its results, so a
    // cluster kept with --keep hands no stale results to the next client.
    const client = await MpcClient.create({
      nc,
      signer: ed25519SignerFromSeed(seed),
      clientId: 'npm-run-local',
    });

    const walletId = `local-${randomUUID()}`;
    progress(`creating wallet ${walletId} (Ed25519 + secp256k1 key generation among all 3)…`);
    const keygenStarted = performance.now();
    const keygen = await client.createWalletAndWait(walletId, { timeoutMs: RESULT_WAIT_MS });
    const keygenMs = performance.now() - keygenStarted;
    if (keygen.result_type !== 'success' || keygen.eddsa_pub_key === null) {
      throw new Error(`keygen failed: ${keygen.error_code} ${keygen.error_reason}`);
    }
    const eddsaPublicKey = Buffer.from(keygen.eddsa_pub_key, 'base64');

    const message = 'hello from npm run local';
    const tx = new TextEncoder().encode(message);
    progress('signing a message with Ed25519 (FROST, 2 of 3 signers)…');
    const signStarted = performance.now();
    const signing = await client.signAndWait(
      { walletId, keyType: 'ed25519', networkInternalCode: 'local', tx },
      { timeoutMs: RESULT_WAIT_MS },
    );
    const signMs = performance.now() - signStarted;
    if (signing.result_type !== 'success' || signing.signature === null) {
      throw new Error(`signing failed: ${signing.error_code} ${signing.error_reason}`);
    }
    const signature = Buffer.from(signing.signature, 'base64');
    // Independent check: node:crypto (OpenSSL), not the noble code that produced it.
    const verified = verify(
      null,
      tx,
      createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: eddsaPublicKey.toString('base64url') },
        format: 'jwk',
      }),
      signature,
    );

    // ECDSA: sign the SHA-256 digest of the message; verify with @noble/curves (low-S) and
    // check that the recovery id recovers the wallet's key.
    if (keygen.ecdsa_pub_key === null) throw new Error('keygen returned no ECDSA key');
    const ecdsaPublicKey = secp256k1.Point.fromBytes(
      Uint8Array.of(4, ...Buffer.from(keygen.ecdsa_pub_key, 'base64')),
    ).toBytes(true);
    const digest = sha256(tx);
    progress('signing its SHA-256 digest with secp256k1 ECDSA (DKLs23, 2 of 3 signers)…');
    const ecdsaStarted = performance.now();
    const ecdsa = await client.signAndWait(
      { walletId, keyType: 'secp256k1', networkInternalCode: 'local', tx: digest },
      { timeoutMs: RESULT_WAIT_MS },
    );
    const ecdsaMs = performance.now() - ecdsaStarted;
    if (ecdsa.result_type !== 'success' || ecdsa.r === null || ecdsa.s === null) {
      throw new Error(`ECDSA signing failed: ${ecdsa.error_code} ${ecdsa.error_reason}`);
    }
    const r = Buffer.from(ecdsa.r, 'base64');
    const s = Buffer.from(ecdsa.s, 'base64');
    const recovery = Buffer.from(ecdsa.signature_recovery ?? '', 'base64')[0] ?? -1;
    const compact = Uint8Array.of(...r, ...s);
    const ecdsaVerified =
      secp256k1.verify(compact, digest, ecdsaPublicKey, { prehash: false, lowS: true }) &&
      Buffer.from(
        secp256k1.Signature.fromBytes(compact, 'compact')
          .addRecoveryBit(recovery)
          .recoverPublicKey(digest)
          .toBytes(true),
      ).equals(Buffer.from(ecdsaPublicKey));
    await client.close();

    const summary = {
      walletId,
      eddsaPublicKey: eddsaPublicKey.toString('hex'),
      message,
      signature: signature.toString('hex'),
      verified: verified && ecdsaVerified,
      eddsaVerified: verified,
      ecdsaPublicKey: Buffer.from(ecdsaPublicKey).toString('hex'),
      digest: Buffer.from(digest).toString('hex'),
      r: r.toString('hex'),
      s: s.toString('hex'),
      recovery,
      ecdsaVerified,
      keygenMs: Math.round(keygenMs),
      signMs: Math.round(signMs),
      ecdsaSignMs: Math.round(ecdsaMs),
      signers: cluster.nodeIds,
      threshold: 1,
      natsUrl: nats.url,
    };
    if (options.keep) {
      const state: LocalState = {
        natsUrl: nats.url,
        natsUsers:
          nats.credentials === undefined
            ? undefined
            : { client: nats.credentials.client, admin: nats.credentials.admin },
        natsPid: nats.pid,
        initiatorKeyFile,
        initiatorPublicKey,
        initiatorAlgorithm: 'ed25519',
        signers: cluster.signers.map((signer) => ({
          nodeId: signer.nodeId,
          pid: signer.process?.pid,
          dataDir: signer.dataDir,
          httpPort: signer.httpPort,
        })),
      };
      writeFileSync(STATE_FILE, JSON.stringify(state, null, 2), { mode: 0o600 });
    }
    if (options.json) {
      console.log(JSON.stringify(summary));
    } else {
      console.log('');
      console.log(`wallet            ${walletId}`);
      console.log(`Ed25519 key       ${summary.eddsaPublicKey}`);
      console.log(`message           ${JSON.stringify(message)}`);
      console.log(`signature         ${summary.signature}`);
      console.log(
        `verified          ${verified ? 'yes (node:crypto, independent of the signers)' : 'NO'}`,
      );
      console.log(`secp256k1 key     ${summary.ecdsaPublicKey}`);
      console.log(`digest (SHA-256)  ${summary.digest}`);
      console.log(`r                 ${summary.r}`);
      console.log(`s (low-S)         ${summary.s}`);
      console.log(`recovery id       ${recovery}`);
      console.log(
        `verified          ${ecdsaVerified ? 'yes (@noble/curves, and the recovery id recovers the key)' : 'NO'}`,
      );
      console.log(
        `keygen / sign     ${summary.keygenMs} ms / Ed25519 ${summary.signMs} ms, ECDSA ${summary.ecdsaSignMs} ms`,
      );
      console.log(
        options.keep
          ? `cluster left running; state in ${STATE_FILE}; stop it with: npm run local -- --stop`
          : 'cluster stopped, nothing left running',
      );
    }
    return verified && ecdsaVerified ? 0 : 1;
  } finally {
    await nc?.close();
    if (!options.keep) {
      await cluster?.stop();
      await nats?.stop();
      rmSync(rootDir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      stop: { type: 'boolean', default: false },
    },
  });
  if (values.stop) return stopKept();
  return run({ json: values.json, keep: values.keep });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`npm run local: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
