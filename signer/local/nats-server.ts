/**
 * A real `nats-server` with JetStream for `npm run local` and the tests: random port on 127.0.0.1, temp store dir,
 * port read from the ports file (the nats.js `nst` launcher pattern). The process is killed
 * and the directory removed by `stop()`. `restart()` keeps the port and the store, so
 * JetStream state survives, which is what a production NATS restart looks like. The executable
 * is `options.binary` or `natsServerBinary()` (the pinned build; see nats-server-binary.ts).
 *
 * Authorization is on by default: a configuration file (mode 0600, in the server's directory)
 * defines account `MPC` with the per-role users of `nats-permissions.ts` and passwords
 * generated for this run (`credentials`); anonymous connections act as `client`
 * (`no_auth_user`). `auth: false` runs an open server (for tests that need one).
 *
 * `monitoring: true` also opens the HTTP monitoring endpoint (/varz…) on a random loopback port,
 * `monitorUrl`; the benchmarks read message counters there. Off by default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { natsServerBinary } from './nats-server-binary.ts';
import {
  generateNatsCredentials,
  natsAuthorizationConfig,
  type NatsCredentials,
} from './nats-permissions.ts';

export { natsServerBinary };

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number | undefined;
  /** Per-role users of this run; undefined when the server runs without authorization. */
  readonly credentials: NatsCredentials | undefined;
  /** http://127.0.0.1:<port> of the monitoring endpoint, when started with `monitoring: true`. */
  readonly monitorUrl: string | undefined;
  /** Stops the server (SIGKILL when `hard`), keeping the store for a restart. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the server again on the same port and store. */
  restart(): Promise<void>;
  /** Stops the server and removes its directories. */
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function readPorts(
  portsDir: string,
  pid: number,
  deadlineMs: number,
  monitoring: boolean,
): Promise<{ port: number; monitorUrl: string | undefined }> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    const file = readdirSync(portsDir).find((name) => name.endsWith(`_${pid}.ports`));
    if (file !== undefined) {
      const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as {
        nats?: string[];
        monitoring?: string[];
      };
      const url = ports.nats?.[0];
      const monitorUrl = ports.monitoring?.[0];
      if (url !== undefined && (!monitoring || monitorUrl !== undefined)) {
        return { port: Number(new URL(url).port), monitorUrl };
      }
    }
    await delay(20);
  }
  throw new Error(`nats-server did not write its ports file within ${deadlineMs} ms`);
}

export async function startNatsServer(
  options: {
    rootDir?: string;
    detached?: boolean;
    binary?: string;
    /** Authorization (default on, anonymous = client); false: no authorization at all. */
    auth?: false | { readonly anonymousAsClient?: boolean };
    monitoring?: boolean;
  } = {},
): Promise<NatsServerHandle> {
  const monitoring = options.monitoring ?? false;
  const root = options.rootDir ?? mkdtempSync(join(tmpdir(), 'mpc-nats-'));
  mkdirSync(root, { recursive: true });
  const auth = options.auth ?? {};
  const credentials = auth === false ? undefined : generateNatsCredentials();
  const configFile = join(root, 'nats-server.conf');
  if (credentials !== undefined && auth !== false) {
    writeFileSync(
      configFile,
      natsAuthorizationConfig(credentials, {
        anonymousAsClient: auth.anonymousAsClient ?? true,
      }),
      { mode: 0o600 },
    );
  }
  const storeDir = join(root, 'store');
  const portsDir = join(root, 'ports');
  let child: ChildProcess | undefined;
  let port = -1;
  let monitorUrl: string | undefined;

  const launch = async (): Promise<void> => {
    rmSync(portsDir, { recursive: true, force: true });
    const args = [
      ...(credentials === undefined ? [] : ['-c', configFile]),
      '-js',
      '-sd',
      storeDir,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--ports_file_dir',
      portsDir,
      // -1: a random port, kept across restart() like the client port once assigned.
      ...(monitoring ? ['-m', monitorUrl === undefined ? '-1' : new URL(monitorUrl).port] : []),
    ];
    mkdirSync(portsDir, { recursive: true });
    const proc = spawn(options.binary ?? natsServerBinary(), args, {
      stdio: ['ignore', 'ignore', options.detached === true ? 'ignore' : 'pipe'],
      detached: options.detached ?? false,
    });
    if (options.detached === true) proc.unref();
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child = proc;
    const exited = waitForExit(proc).then(() => {
      throw new Error(`nats-server exited early: ${stderr}`);
    });
    const assigned = await Promise.race([
      readPorts(portsDir, proc.pid ?? -1, 15_000, monitoring),
      exited,
    ]);
    port = assigned.port;
    monitorUrl = assigned.monitorUrl;
  };

  const kill = async (hard = false): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined) return;
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await waitForExit(proc);
  };

  await launch();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    credentials,
    kill,
    restart: launch,
    get pid() {
      return child?.pid;
    },
    get monitorUrl() {
      return monitorUrl;
    },
    async stop() {
      await kill(true);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
