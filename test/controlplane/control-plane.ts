/**
 * A real Kubernetes control plane for the operator suite, without Docker: etcd →
 * kube-apiserver (RBAC on, token + service-account auth) → kube-controller-manager
 * (StatefulSet, garbage-collector, namespace, serviceaccount and PV-binder controllers) →
 * kube-scheduler → kwok (fake kubelet) with one fake Node. Random ports on 127.0.0.1, one
 * temp dir (etcd data on /dev/shm when available), every process killed and the dir removed
 * by `stop()`. Binaries come from test/controlplane/build.sh (MPC_K8S_BIN_DIR overrides).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const KUBERNETES_VERSION = 'v1.34.4';

export function controlPlaneBinDir(): string {
  const fromEnv = process.env['MPC_K8S_BIN_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const cacheRoot = process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache');
  return join(cacheRoot, 'mpc-platform', `k8s-${KUBERNETES_VERSION}`, 'bin');
}

export interface ControlPlane {
  readonly serverUrl: string;
  /** Admin (system:masters) kubeconfig path. */
  readonly kubeconfigPath: string;
  readonly adminToken: string;
  readonly binDir: string;
  /** Name of the fake (kwok) node. */
  readonly nodeName: string;
  readonly rootDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (child !== undefined && child.exitCode !== null)
      throw new Error(`${what}: process exited with ${child.exitCode}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await delay(200);
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

export async function startControlPlane(): Promise<ControlPlane> {
  const binDir = controlPlaneBinDir();
  for (const binary of [
    'etcd',
    'kube-apiserver',
    'kube-controller-manager',
    'kube-scheduler',
    'kwok',
    'kubectl',
    'kwok-stages.yaml',
  ]) {
    if (!existsSync(join(binDir, binary))) {
      throw new Error(`${join(binDir, binary)} missing: run bash test/controlplane/build.sh first`);
    }
  }
  const rootDir = mkdtempSync(join(tmpdir(), 'mpc-k8s-'));
  const etcdDir = existsSync('/dev/shm')
    ? mkdtempSync(join('/dev/shm', 'mpc-etcd-'))
    : join(rootDir, 'etcd');
  const logDir = join(rootDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const children: Array<{ name: string; child: ChildProcess }> = [];

  const run = (name: string, args: string[]): ChildProcess => {
    const log = createWriteStream(join(logDir, `${name}.log`));
    const child = spawn(join(binDir, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    children.push({ name, child });
    return child;
  };

  const stop = async (): Promise<void> => {
    for (const { child } of [...children].reverse()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      if (!(await waitForExit(child, 5000))) {
        child.kill('SIGKILL');
        await waitForExit(child, 5000);
      }
    }
    if (process.env['MPC_K8S_KEEP_LOGS'] === undefined)
      rmSync(rootDir, { recursive: true, force: true });
    else console.error(`control plane logs kept in ${logDir}`);
    rmSync(etcdDir, { recursive: true, force: true });
  };

  try {
    // etcd
    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = run('etcd', [
      `--data-dir=${etcdDir}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitUntil('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, etcd);

    // kube-apiserver: token auth for the admin, service-account tokens for the operator.
    const pkiDir = join(rootDir, 'pki');
    mkdirSync(pkiDir);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(pkiDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(pkiDir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(join(pkiDir, 'tokens.csv'), `${adminToken},admin,admin-uid,system:masters\n`);
    const apiPort = await freePort();
    const serverUrl = `https://127.0.0.1:${apiPort}`;
    const apiserver = run('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(pkiDir, 'serving')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pkiDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pkiDir, 'sa.key')}`,
      `--token-auth-file=${join(pkiDir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      // Would taint the fake node not-ready until a node-lifecycle controller clears it.
      '--disable-admission-plugins=TaintNodesByCondition',
      '--endpoint-reconciler-type=none',
      '--v=1',
    ]);
    const kubeconfigPath = join(rootDir, 'admin.kubeconfig');
    writeFileSync(
      kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: test\n  cluster:\n    server: ${serverUrl}\n    insecure-skip-tls-verify: true`,
        'users:',
        `- name: admin\n  user:\n    token: ${adminToken}`,
        'contexts:',
        '- name: test\n  context:\n    cluster: test\n    user: admin',
        'current-context: test',
        '',
      ].join('\n'),
    );
    await waitUntil(
      'kube-apiserver',
      () => kubectlOk(binDir, kubeconfigPath, ['get', '--raw', '/readyz']),
      90_000,
      apiserver,
    );

    const kcmPort = await freePort();
    const kcm = run('kube-controller-manager', [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--controllers=statefulset-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,persistentvolume-binder-controller',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
      '--concurrent-statefulset-syncs=2',
      '--v=1',
    ]);
    const schedulerPort = await freePort();
    const scheduler = run('kube-scheduler', [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
      '--v=1',
    ]);
    const kwokPort = await freePort();
    const kwokConfig = join(rootDir, 'kwok.yaml');
    // kwok v0.8.0 has no built-in stages; build.sh exports the upstream "fast" ones.
    writeFileSync(
      kwokConfig,
      'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n  podPlayStageParallelism: 4\n  nodePlayStageParallelism: 2\n  nodeLeaseParallelism: 2\n  podsOnNodeSyncParallelism: 2\n' +
        readFileSync(join(binDir, 'kwok-stages.yaml'), 'utf8'),
    );
    const kwok = run('kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      `--config=${kwokConfig}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--manage-nodes-with-label-selector=',
      '--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom',
      '--disregard-status-with-label-selector=',
      '--cidr=10.0.1.0/24',
      '--node-ip=10.0.1.1',
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);
    const nodeName = 'kwok-node-0';
    const nodeFile = join(rootDir, 'node.yaml');
    writeFileSync(
      nodeFile,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: nodeName,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            type: 'kwok',
            'kubernetes.io/hostname': nodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
          },
        },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      }),
    );
    await kubectl(binDir, kubeconfigPath, ['apply', '-f', nodeFile]);
    await waitUntil(
      'kwok node Ready',
      async () => {
        const out = await kubectl(binDir, kubeconfigPath, [
          'get',
          'node',
          nodeName,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return out.trim() === 'True';
      },
      60_000,
      kwok,
    );
    for (const [name, child] of [
      ['kube-controller-manager', kcm],
      ['kube-scheduler', scheduler],
    ] as const) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    }
    return { serverUrl, kubeconfigPath, adminToken, binDir, nodeName, rootDir, stop };
  } catch (error) {
    process.env['MPC_K8S_KEEP_LOGS'] = '1';
    await stop();
    throw error;
  }
}

/** Runs the built kubectl; rejects with its stderr on failure. */
export function kubectl(
  binDir: string,
  kubeconfigPath: string,
  args: string[],
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(binDir, 'kubectl'), [`--kubeconfig=${kubeconfigPath}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`kubectl ${args.join(' ')} failed (${code}): ${stderr.trim()}`));
    });
    child.stdin.end(input ?? '');
  });
}

async function kubectlOk(binDir: string, kubeconfigPath: string, args: string[]): Promise<boolean> {
  try {
    await kubectl(binDir, kubeconfigPath, args);
    return true;
  } catch {
    return false;
  }
}
