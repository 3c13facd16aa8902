/**
 * A cluster of real signer processes on this machine against one NATS server: what
 * `npm run local` starts and what the integration tests drive. Each signer gets its own data
 * directory, identity key (generated before first start so the roster can pin it), config
 * file and HTTP port; all share a KEK-per-node file, one chain code and the initiator key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import { initIdentity } from '../identity/index.ts';

export interface LocalClusterOptions {
  readonly natsUrl: string;
  /** Number of signers (n). */
  readonly size: number;
  /** t: signing needs t + 1 signers. */
  readonly threshold: number;
  /** Directory that holds every signer's files (created). */
  readonly rootDir: string;
  /** Path of the compiled signer entry point (dist/signer/main.js). */
  readonly mainScript: string;
  readonly initiator: { readonly algorithm: 'ed25519' | 'p256'; readonly publicKey: string };
  /** Extra config per node (snake_case YAML keys), merged over the defaults. */
  readonly configFor?: (nodeId: string) => Record<string, unknown>;
  /** Extra environment for every signer process. */
  readonly env?: Readonly<Record<string, string>>;
  readonly nodeIdPrefix?: string;
  /** NATS user the signers authenticate as (the `signer` role of nats-permissions.ts). */
  readonly natsUser?: { readonly user: string; readonly password: string };
  /** Start signers detached from this process (they outlive it; `npm run local -- --keep`). */
  readonly detached?: boolean;
  /**
   * Extra Node.js arguments for every signer process, before the script (benchmarks:
   * `--cpu-prof`, which NODE_OPTIONS does not accept).
   */
  readonly nodeArguments?: readonly string[];
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 5 s; a profile is written at exit). */
  readonly stopTimeoutMs?: number;
}

export interface LocalSigner {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly configFile: string;
  process: ChildProcess | undefined;
  httpPort: number | undefined;
}

export class LocalCluster {
  readonly signers: LocalSigner[] = [];
  readonly chainCodeHex: string;
  private readonly options: LocalClusterOptions;

  private constructor(options: LocalClusterOptions) {
    this.options = options;
    this.chainCodeHex = randomBytes(32).toString('hex');
  }

  get nodeIds(): string[] {
    return this.signers.map((signer) => signer.nodeId);
  }

  /** Writes every signer's files (identity, KEK, roster, config); starts nothing. */
  static async create(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    const prefix = options.nodeIdPrefix ?? 'signer-';
    const nodeIds = Array.from({ length: options.size }, (_, index) => `${prefix}${index}`);
    mkdirSync(options.rootDir, { recursive: true });
    const roster: Record<string, string> = {};
    for (const nodeId of nodeIds) {
      const dataDir = join(options.rootDir, nodeId);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      roster[nodeId] = await initIdentity({ dataDir, nodeId });
    }
    const rosterFile = join(options.rootDir, 'roster.json');
    writeFileSync(rosterFile, JSON.stringify({ version: 1, nodes: roster }, null, 2));
    const chainCodeFile = join(options.rootDir, 'chain-code.hex');
    writeFileSync(chainCodeFile, cluster.chainCodeHex, { mode: 0o600 });
    for (const nodeId of nodeIds) {
      const dataDir = join(options.rootDir, nodeId);
      const kekFile = join(options.rootDir, `${nodeId}.kek`);
      writeFileSync(kekFile, randomBytes(32).toString('hex'), { mode: 0o600 });
      const config = {
        node_id: nodeId,
        nats:
          options.natsUser === undefined
            ? { url: options.natsUrl }
            : {
                url: options.natsUrl,
                user: options.natsUser.user,
                password: options.natsUser.password,
              },
        threshold: options.threshold,
        peers: nodeIds,
        data_dir: dataDir,
        kek: { file: kekFile },
        chain_code: { file: chainCodeFile },
        initiator: {
          algorithm: options.initiator.algorithm,
          public_key: options.initiator.publicKey,
        },
        roster_file: rosterFile,
        http: { host: '127.0.0.1', port: 0 },
        log_level: 'info',
        ...(options.configFor?.(nodeId) ?? {}),
      };
      const configFile = join(options.rootDir, `${nodeId}.yaml`);
      writeFileSync(configFile, stringify(config), { mode: 0o600 });
      cluster.signers.push({
        nodeId,
        dataDir,
        configFile,
        process: undefined,
        httpPort: undefined,
      });
    }
    return cluster;
  }

  signer(nodeId: string): LocalSigner {
    const signer = this.signers.find((entry) => entry.nodeId === nodeId);
    if (signer === undefined) throw new Error(`no signer ${nodeId}`);
    return signer;
  }

  /** Log file of one signer (stdout and stderr, JSON lines). */
  logFile(nodeId: string): string {
    return join(this.options.rootDir, `${nodeId}.log`);
  }

  /**
   * Starts one signer and waits until it reports that it is serving. Output goes to its log
   * file, so a detached signer (`--keep`) outlives this process without a broken pipe.
   */
  async start(nodeId: string, timeoutMs = 30_000): Promise<void> {
    const signer = this.signer(nodeId);
    if (signer.process !== undefined) return;
    const logFile = this.logFile(nodeId);
    const statusFile = join(this.options.rootDir, `${nodeId}.status.json`);
    rmSync(statusFile, { force: true });
    const output = openSync(logFile, 'a');
    const child = spawn(
      process.execPath,
      [
        ...(this.options.nodeArguments ?? []),
        this.options.mainScript,
        'start',
        '--config',
        signer.configFile,
        '--status-file',
        statusFile,
      ],
      {
        env: { ...process.env, ...(this.options.env ?? {}) },
        stdio: ['ignore', output, output],
        detached: this.options.detached ?? false,
      },
    );
    closeSync(output);
    if (this.options.detached === true) child.unref();
    signer.process = child;
    signer.httpPort = undefined;
    let exited = false;
    child.once('exit', () => {
      exited = true;
      signer.process = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(statusFile)) {
        signer.httpPort = (
          JSON.parse(readFileSync(statusFile, 'utf8')) as { httpPort: number }
        ).httpPort;
        return;
      }
      if (exited) {
        const tail = readFileSync(logFile, 'utf8').slice(-2000);
        throw new Error(`signer ${nodeId} exited before starting: ${tail}`);
      }
      if (Date.now() > deadline)
        throw new Error(`signer ${nodeId} did not start within ${timeoutMs} ms`);
      await delay(25);
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodeIds.map((nodeId) => this.start(nodeId)));
  }

  /** Sends a signal; for SIGKILL/SIGTERM waits until the process is gone. */
  async signal(nodeId: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.signer(nodeId).process;
    if (child === undefined) return;
    const exited =
      signal === 'SIGKILL' || signal === 'SIGTERM'
        ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
        : Promise.resolve();
    child.kill(signal);
    await exited;
  }

  kill(nodeId: string): Promise<void> {
    return this.signal(nodeId, 'SIGKILL');
  }

  /** GETs a signer's HTTP endpoint; undefined when it does not answer. */
  async http(nodeId: string, path: string): Promise<{ status: number; body: string } | undefined> {
    const port = this.signer(nodeId).httpPort;
    if (port === undefined) return undefined;
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(2000),
      });
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  }

  /** Waits until every running signer sees `expectedReady` ready signers (bounded). */
  async waitForReady(expectedReady: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.signers.filter((signer) => signer.process !== undefined);
      const views = await Promise.all(
        running.map(async (signer) => {
          const response = await this.http(signer.nodeId, '/readyz');
          if (response === undefined) return -1;
          return (JSON.parse(response.body) as { readySigners?: number }).readySigners ?? -1;
        }),
      );
      if (views.every((count) => count === expectedReady)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `signers did not see ${expectedReady} ready peers in time: ${views.join(',')}`,
        );
      }
      await delay(100);
    }
  }

  /** Reads one metric value (sum over matching label sets) from a signer. */
  async metric(nodeId: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const response = await this.http(nodeId, '/metrics');
    if (response === undefined) return Number.NaN;
    let total = 0;
    for (const line of response.body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const match = /^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (match === null || match[1] !== name) continue;
      const labelText = match[2] ?? '';
      if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) {
        total += Number(match[3]);
      }
    }
    return total;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.signers.map(async (signer) => {
        const child = signer.process;
        if (child === undefined) return;
        child.kill('SIGCONT');
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timedOut = await Promise.race([
          exited.then(() => false),
          delay(this.options.stopTimeoutMs ?? 5000).then(() => true),
        ]);
        if (timedOut) {
          child.kill('SIGKILL');
          await exited;
        }
      }),
    );
  }
}
