/** Helpers for the operator suite: kubectl/helm against the test control plane, polling. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { kubectl } from '../controlplane/control-plane.ts';

export { eventually } from '../harness/eventually.ts';

export interface Cluster {
  readonly binDir: string;
  readonly kubeconfigPath: string;
}

export function kc(cluster: Cluster, args: string[], input?: string): Promise<string> {
  return kubectl(cluster.binDir, cluster.kubeconfigPath, args, input);
}

/** kubectl get ... -o json, or undefined when NotFound. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl JSON, asserted by the tests
export async function getJson<T = Record<string, any>>(
  cluster: Cluster,
  args: string[],
): Promise<T | undefined> {
  try {
    return JSON.parse(await kc(cluster, ['get', ...args, '-o', 'json'])) as T;
  } catch (error) {
    if (String(error).includes('NotFound') || String(error).includes('not found')) return undefined;
    throw error;
  }
}

/** Runs the built helm binary. */
export function helm(cluster: Cluster, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(cluster.binDir, 'helm'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`helm ${args.join(' ')}: ${stderr}`)),
    );
  });
}

/**
 * An MpcCluster with the suite's usual spec: 3 replicas, threshold 1, a test image, in-cluster
 * NATS, an Ed25519 initiator key and 1Gi volumes of `storageClassName`; `spec` adds fields or
 * replaces them (shallow).
 */
export function mpcClusterManifest(
  where: { readonly namespace: string; readonly name: string; readonly storageClassName: string },
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcCluster',
    metadata: { name: where.name, namespace: where.namespace },
    spec: {
      replicas: 3,
      threshold: 1,
      image: 'registry.example.com/mpc-platform/signer:0.1.0',
      nats: { url: 'nats://nats.nats.svc:4222' },
      initiator: { algorithm: 'ed25519', publicKey: 'aa'.repeat(32) },
      storage: { size: '1Gi', storageClassName: where.storageClassName },
      ...spec,
    },
  };
}

/**
 * Installs the chart's manifests (CRD included) as `helm install` would render them, into
 * `namespace` (created), under `release`, with extra helm arguments (`--set ...`).
 * Idempotent for the cluster-scoped CRD.
 */
export async function installChart(
  cluster: Cluster,
  release: string,
  namespace: string,
  helmArgs: readonly string[] = [],
): Promise<void> {
  const rendered = await helm(cluster, [
    'template',
    release,
    'charts/mpc-operator',
    '--namespace',
    namespace,
    '--include-crds',
    ...helmArgs,
  ]);
  await kc(cluster, ['create', 'namespace', namespace]);
  await kc(cluster, ['apply', '--server-side', '--force-conflicts', '-f', '-'], rendered);
  await kc(cluster, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/mpcclusters.mpc-platform.dev',
  ]);
}

/** Statically provisioned volumes of `storageClass` for the signers' PVCs. */
export async function createVolumes(
  cluster: Cluster,
  prefix: string,
  count: number,
  storageClass: string,
): Promise<void> {
  const volumes = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${prefix}-${i}` },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: storageClass,
      hostPath: { path: `/tmp/${prefix}-${i}` },
    },
  }));
  await kc(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: volumes }),
  );
}

/** A kubeconfig authenticating as the chart's operator ServiceAccount (a TokenRequest token). */
export async function serviceAccountKubeConfig(
  cluster: Cluster,
  serverUrl: string,
  namespace: string,
  serviceAccount: string,
): Promise<KubeConfig> {
  const token = (
    await kc(cluster, ['create', 'token', '-n', namespace, serviceAccount, '--duration=2h'])
  ).trim();
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server: serverUrl, skipTLSVerify: true }],
    users: [{ name: 'operator', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'operator' }],
    currentContext: 'test',
  });
  return config;
}

/** kwok leaves pods annotated status=custom alone, so their Ready condition can be set here. */
export async function setPodReady(
  cluster: Cluster,
  namespace: string,
  pod: string,
  ready: boolean,
): Promise<void> {
  await kc(cluster, [
    '-n',
    namespace,
    'annotate',
    'pod',
    pod,
    'kwok.x-k8s.io/status=custom',
    '--overwrite',
  ]);
  const current = await getJson(cluster, ['-n', namespace, 'pod', pod]);
  const conditions = (current?.['status'].conditions ?? []).map((c: { type: string }) =>
    c.type === 'Ready' || c.type === 'ContainersReady'
      ? { ...c, status: ready ? 'True' : 'False' }
      : c,
  );
  await kc(cluster, [
    '-n',
    namespace,
    'patch',
    'pod',
    pod,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { conditions } }),
  ]);
}
