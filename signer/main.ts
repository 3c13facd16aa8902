#!/usr/bin/env node
/**
 * `mpc-signer` entry point.
 *   mpc-signer start --config <file> [--status-file <file>]
 *       run the signer (config: YAML + MPC_* env overrides; the file defaults to $MPC_CONFIG);
 *       once serving, writes {"pid","httpPort"} to the status file when one is given
 *   mpc-signer identity --config <file>  create the identity key if needed, print its public key
 *   mpc-signer backup --config <file> --out <archive> --backup-key-file <file>
 *   mpc-signer restore --config <file> --in <archive> --backup-key-file <file>
 *       encrypted archive of every share (the signer must be stopped: the store is locked);
 *       the backup key file holds 32 bytes as 64 hex characters
 * Exit codes: 0 clean stop, 1 runtime failure, 2 configuration error.
 */
import { parseArgs } from 'node:util';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError, loadSignerConfig, loadSignerSecrets } from './config/index.ts';
import { decodeSecretBytes } from './config/load.ts';
import { wipeBytes } from './crypto/wipe.ts';
import { ShareStore, exportBackup, importBackup } from './store/index.ts';
import { initIdentity } from './identity/index.ts';
import { createLogger } from './observability/logger.ts';
import { startSignerNode } from './service/signer-node.ts';

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
    const keyFile = values['backup-key-file'];
    const archive = command === 'backup' ? values.out : values.in;
    if (keyFile === undefined || archive === undefined) {
      process.stderr.write(
        `mpc-signer: ${command} needs --backup-key-file and ${command === 'backup' ? '--out' : '--in'}\n`,
      );
      return 2;
    }
    const backupKey = decodeSecretBytes('backup-key-file', new Uint8Array(readFileSync(keyFile)));
    const { kek, chainCode } = loadSignerSecrets(config);
    try {
      if (command === 'backup') {
        const store = await ShareStore.open({ dataDir: config.dataDir, kek });
        try {
          const summary = await exportBackup(store, archive, backupKey);
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } finally {
          await store.close();
        }
      } else {
        const summary = await importBackup(archive, { dataDir: config.dataDir, kek }, backupKey);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      }
    } finally {
      wipeBytes(kek, chainCode, backupKey);
    }
    return 0;
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    process.stderr.write(`mpc-signer: ${message}\n`);
    process.exit(1);
  },
);
