#!/usr/bin/env node
/**
 * `mpc-signer` entry point.
 *   mpc-signer start --config <file> [--status-file <file>]
 *       run the signer (config: YAML + MPC_* env overrides; the file defaults to $MPC_CONFIG);
 *       once serving, writes {"pid","httpPort"} to the status file when one is given
 *   mpc-signer identity --config <file>  create the identity key if needed, print its public key
 *   mpc-signer backup --config <file> --out <archive> --backup-key-file <file>
 *   mpc-signer restore --config <file> --in <archive> --backup-key-file <file>
 *       encrypted archive of every share and of the identity key (the signer must be
 *       stopped: the store is locked); the backup key file holds 32 bytes as 64 hex
 *       characters. A running signer on Kubernetes writes the same archives itself for each
 *       MpcBackup (signer/service/backup-agent.ts).
 *   mpc-signer restore --config <file> --backup <name> [--if-empty]
 *       restores <backup.dir>/<name>/<node id>.mpcbak with backup.key_file (config `backup`)
 *   mpc-signer restore --config <file> --from-request
 *       the signer pod's init container: on a fresh (empty) data directory only, restores
 *       from the MpcBackup whose annotation mpc-platform.dev/restore names this node; does
 *       nothing otherwise
 *   A restore refuses an archive of another node id and never replaces an identity key
 *   already in the data directory.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 configuration error.
 */
import { parseArgs } from 'node:util';
import { renameSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConfigError,
  loadSignerConfig,
  loadSignerSecrets,
  type SignerConfig,
} from './config/index.ts';
import { wipeBytes } from './crypto/wipe.ts';
import { ShareStore, exportBackup, importBackup } from './store/index.ts';
import { initIdentity } from './identity/index.ts';
import { readIdentitySeedForBackup, restoreIdentitySeed } from './identity/node-identity.ts';
import { inClusterKubeConfig } from './membership/create-membership.ts';
import {
  ARCHIVE_SUFFIX,
  backupDirectory,
  listMpcBackups,
  readBackupKeyFile,
  selectRestoreRequest,
  type ObservedBackup,
} from './service/backup-agent.ts';
import { createLogger } from './observability/logger.ts';
import { startSignerNode } from './service/signer-node.ts';
import { readPeerBansForBackup, restorePeerBans } from './service/peer-bans.ts';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string' },
      in: { type: 'string' },
      'backup-key-file': { type: 'string' },
      'status-file': { type: 'string' },
      backup: { type: 'string' },
      'if-empty': { type: 'boolean' },
      'from-request': { type: 'boolean' },
    },
  });
  const command = positionals[0] ?? 'start';
  const configFile = values.config ?? process.env['MPC_CONFIG'];
  let config;
  try {
    config = loadSignerConfig({
      ...(configFile === undefined ? {} : { file: configFile }),
      env: process.env,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mpc-signer: invalid configuration: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (command === 'identity') {
    const publicKey = await initIdentity({ dataDir: config.dataDir, nodeId: config.nodeId });
    process.stdout.write(`${publicKey}\n`);
    return 0;
  }
  if (command === 'backup' || command === 'restore') {
    return backupOrRestore(command, config, values);
  }
  if (command !== 'start') {
    process.stderr.write(
      `mpc-signer: unknown command ${command} (expected start, identity, backup or restore)\n`,
    );
    return 2;
  }
  const log = createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const node = await startSignerNode(config, log);
  log.info({ httpPort: node.httpPort }, 'signer started');
  const statusFile = values['status-file'];
  if (statusFile !== undefined) {
    // Written atomically once serving, for launchers (local cluster, tests) to find the port.
    writeFileSync(
      `${statusFile}.tmp`,
      JSON.stringify({ pid: process.pid, httpPort: node.httpPort }),
    );
    renameSync(`${statusFile}.tmp`, statusFile);
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'signer stopping');
      node.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    void node.closed.then(() => {
      if (!stopping) {
        log.error('NATS connection closed for good; exiting so the supervisor restarts us');
        resolve(1);
      }
    });
  });
}

async function backupOrRestore(
  command: 'backup' | 'restore',
  config: SignerConfig,
  values: {
    out?: string | undefined;
    in?: string | undefined;
    'backup-key-file'?: string | undefined;
    backup?: string | undefined;
    'if-empty'?: boolean | undefined;
    'from-request'?: boolean | undefined;
  },
): Promise<number> {
  const fail = (message: string, code = 2): number => {
    process.stderr.write(`mpc-signer: ${message}\n`);
    return code;
  };
  const location = { dataDir: config.dataDir, nodeId: config.nodeId };
  let archive = command === 'backup' ? values.out : values.in;
  let keyFile = values['backup-key-file'];
  if (command === 'restore' && (values.backup !== undefined || values['from-request'] === true)) {
    if (config.backup === undefined)
      return fail('--backup and --from-request need the backup config section');
    keyFile ??= config.backup.keyFile;
    if (
      (values['if-empty'] === true || values['from-request'] === true) &&
      !(await isFreshDataDir(config.dataDir))
    ) {
      process.stdout.write(
        `${JSON.stringify({ restored: false, reason: 'data directory in use' })}\n`,
      );
      return 0;
    }
    let name = values.backup;
    if (name === undefined) {
      const namespace = process.env['POD_NAMESPACE'];
      const cluster =
        config.clusterName?.split('/').pop() ?? /^(.+)-signer-\d+$/.exec(config.nodeId)?.[1];
      if (namespace === undefined || namespace === '' || !cluster) {
        return fail('--from-request needs POD_NAMESPACE and cluster_name');
      }
      let backups: ObservedBackup[];
      try {
        backups = await listMpcBackups(inClusterKubeConfig(), namespace);
      } catch (error) {
        // No MpcBackup API at all: nothing can have been requested.
        if ((error as { code?: unknown }).code === 404) backups = [];
        else throw error;
      }
      name = selectRestoreRequest(backups, cluster, config.nodeId);
      if (name === undefined) {
        process.stdout.write(
          `${JSON.stringify({ restored: false, reason: 'no restore requested' })}\n`,
        );
        return 0;
      }
    }
    const directory = backupDirectory(config.backup.dir, name);
    if (directory === undefined) return fail(`invalid backup name ${JSON.stringify(name)}`);
    archive = join(directory, `${config.nodeId}${ARCHIVE_SUFFIX}`);
  }
  if (keyFile === undefined || archive === undefined) {
    return fail(
      `${command} needs --backup-key-file and ${command === 'backup' ? '--out' : '--in (or --backup <name>)'}`,
    );
  }
  const backupKey = readBackupKeyFile(keyFile);
  const { kek, chainCode } = loadSignerSecrets(config);
  try {
    if (command === 'backup') {
      const store = await ShareStore.open({ dataDir: config.dataDir, kek });
      const seed = await readIdentitySeedForBackup(location);
      try {
        const peerBans = await readPeerBansForBackup(config.dataDir);
        const summary = await exportBackup(store, archive, backupKey, {
          nodeId: config.nodeId,
          ...(seed === undefined ? {} : { identitySeed: seed }),
          ...(peerBans === undefined ? {} : { peerBans }),
        });
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        if (seed !== undefined) wipeBytes(seed);
        await store.close();
      }
    } else {
      const summary = await importBackup(archive, { dataDir: config.dataDir, kek }, backupKey, {
        expectNodeId: config.nodeId,
        restoreIdentity: async (nodeId, seed) => {
          await restoreIdentitySeed({ dataDir: config.dataDir, nodeId }, seed);
        },
        restorePeerBans: async (bytes) => {
          await restorePeerBans(config.dataDir, bytes);
        },
      });
      process.stdout.write(`${JSON.stringify({ restored: true, archive, ...summary })}\n`);
    }
  } finally {
    wipeBytes(kek, chainCode, backupKey);
  }
  return 0;
}

/** A data directory nothing has used yet: missing, or empty but for lost+found. */
async function isFreshDataDir(dataDir: string): Promise<boolean> {
  try {
    return (await readdir(dataDir)).every((entry) => entry === 'lost+found');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return true;
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    process.stderr.write(`mpc-signer: ${message}\n`);
    process.exit(1);
  },
);
