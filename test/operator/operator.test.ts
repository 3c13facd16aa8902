/**
 * The operator end to end on a real control plane (etcd, kube-apiserver with RBAC, KCM,
 * scheduler, kwok). The chart's manifests are installed with kubectl; the operator runs
 * in-process under the chart's ServiceAccount (a TokenRequest token), so a missing RBAC verb
 * fails these tests. Test order matters: one MpcCluster goes through its life.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type OperatorHandle } from '../../operator/operator.ts';
import {
  eventually,
  getJson,
  helm,
  kc,
  mpcClusterManifest,
  setPodReady,
  type Cluster,
} from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const serverUrl = inject('k8sServerUrl');
const RELEASE = 'mpc';
const OPERATOR_NS = 'mpc-system';
const NS = 'wallets';
const STORAGE_CLASS = 'mpc-test';
const silent = { info: () => {}, warn: () => {}, error: () => {} };

let operatorKubeConfig: KubeConfig;
let operatorKubeconfigPath = '';
let operator: OperatorHandle | undefined;

const sample = (overrides: Record<string, unknown> = {}) =>
  mpcClusterManifest({ namespace: NS, name: 'wallet', storageClassName: STORAGE_CLASS }, overrides);

async function startOperatorAsServiceAccount(): Promise<OperatorHandle> {
  return startOperator({
    kubeConfig: operatorKubeConfig,
    logger: silent,
    httpHost: '127.0.0.1',
    httpPort: 0,
    relistIntervalMs: 60_000,
    signerClusterRole: `${RELEASE}-mpc-operator-signer`,
  });
}

/** Sets a kwok pod's Ready condition in this suite's namespace (helpers.ts `setPodReady`). */
const setReady = (pod: string, ready: boolean): Promise<void> =>
  setPodReady(cluster, NS, pod, ready);

const childKinds = [
  'statefulset',
  'service',
  'configmap',
  'serviceaccount',
  'role',
  'rolebinding',
  'poddisruptionbudget',
];

async function resourceVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const list = await getJson(cluster, ['-n', NS, `mpccluster,secret,${childKinds.join(',')}`]);
  for (const item of list?.['items'] ?? [])
    versions[`${item.kind}/${item.metadata.name}`] = item.metadata.resourceVersion;
  return versions;
}

beforeAll(async () => {
  // Install the chart's manifests (CRD included) the way `helm install` would render them.
  const rendered = await helm(cluster, [
    'template',
    RELEASE,
    'charts/mpc-operator',
    '--namespace',
    OPERATOR_NS,
    '--include-crds',
  ]);
  await kc(cluster, ['create', 'namespace', OPERATOR_NS]);
  await kc(cluster, ['apply', '--server-side', '-f', '-'], rendered);
  await kc(cluster, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/mpcclusters.mpc-platform.dev',
  ]);
  await kc(cluster, ['create', 'namespace', NS]);
  // Statically provisioned volumes the PV binder hands to the signers' PVCs.
  const volumes = Array.from({ length: 12 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `pv-${i}` },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: STORAGE_CLASS,
      hostPath: { path: `/tmp/pv-${i}` },
    },
  }));
  await kc(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: volumes }),
  );

  // The operator authenticates as the chart's ServiceAccount.
  const token = (
    await kc(cluster, [
      'create',
      'token',
      '-n',
      OPERATOR_NS,
      `${RELEASE}-mpc-operator`,
      '--duration=2h',
    ])
  ).trim();
  operatorKubeConfig = new KubeConfig();
  operatorKubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: serverUrl, skipTLSVerify: true }],
    users: [{ name: 'operator', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'operator' }],
    currentContext: 'test',
  });
  operatorKubeconfigPath = join(mkdtempSync(join(tmpdir(), 'mpc-operator-')), 'kubeconfig');
  writeFileSync(operatorKubeconfigPath, operatorKubeConfig.exportConfig(), { mode: 0o600 });
  operator = await startOperatorAsServiceAccount();
  await operator.synced;
});

afterAll(async () => {
  await operator?.stop();
  if (operatorKubeconfigPath !== '')
    rmSync(dirname(operatorKubeconfigPath), { recursive: true, force: true });
});

describe('helm chart', () => {
  it('lints and renders, with monitoring objects only when the API exists', async () => {
    await helm(cluster, ['lint', '--strict', 'charts/mpc-operator']);
    const plain = await helm(cluster, [
      'template',
      RELEASE,
      'charts/mpc-operator',
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.prometheusRule.enabled=true',
    ]);
    expect(plain).not.toContain('kind: ServiceMonitor');
    const monitored = await helm(cluster, [
      'template',
      RELEASE,
      'charts/mpc-operator',
      '--api-versions',
      'monitoring.coreos.com/v1',
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.prometheusRule.enabled=true',
    ]);
    const kinds = parseAllDocuments(monitored).map(
      (doc) => (doc.toJS() as { kind?: string } | null)?.kind,
    );
    expect(kinds).toContain('ServiceMonitor');
    expect(kinds).toContain('PrometheusRule');
    const deployment = parseAllDocuments(plain)
      .map((d) => d.toJS())
      .find((o) => o?.kind === 'Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
    });
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    await expect(
      helm(cluster, ['template', RELEASE, 'charts/mpc-operator', '--set', 'logLevel=loud']),
    ).rejects.toThrow(/logLevel/);
  });

  it('ships the same CRD as crds/', async () => {
    const { readFileSync } = await import('node:fs');
    expect(readFileSync('charts/mpc-operator/crds/mpccluster.yaml', 'utf8')).toBe(
      readFileSync('crds/mpccluster.yaml', 'utf8'),
    );
  });

  it("binds the operator's ServiceAccount to least privilege (RBAC enforced)", async () => {
    const sa = `system:serviceaccount:${OPERATOR_NS}:${RELEASE}-mpc-operator`;
    // `kubectl auth can-i` exits 1 for "no".
    const can = (...args: string[]) =>
      kc(cluster, ['auth', 'can-i', '--as', sa, ...args]).then(
        (out) => out.trim(),
        () => 'no',
      );
    expect(await can('create', 'statefulsets', '-n', NS)).toBe('yes');
    expect(await can('list', 'secrets', '-n', NS)).toMatch(/no/);
    expect(await can('delete', 'secrets', '-n', NS)).toMatch(/no/);
    expect(await can('update', 'mpcclusters', '-n', NS)).toMatch(/no/);
    // Leases: read everywhere (signer heartbeats), write only its own leader Lease.
    expect(await can('watch', 'leases', '-n', NS)).toBe('yes');
    expect(await can('update', 'leases', '-n', NS)).toMatch(/no/);
    expect(await can('update', 'leases/kube-scheduler', '-n', 'kube-system')).toMatch(/no/);
    expect(await can('update', 'leases/mpc-operator-leader', '-n', OPERATOR_NS)).toBe('yes');
    expect(await can('update', 'leases/other', '-n', OPERATOR_NS)).toMatch(/no/);
    // Role bindings: it may bind the signer ClusterRole and nothing else; never escalate.
    expect(await can('bind', `clusterroles/${RELEASE}-mpc-operator-signer`)).toBe('yes');
    expect(await can('bind', 'clusterroles/cluster-admin')).toMatch(/no/);
    expect(await can('escalate', 'roles', '-n', NS)).toMatch(/no/);
  });

  it('cannot grant what it does not hold: a RoleBinding to cluster-admin is refused', async () => {
    const sa = `system:serviceaccount:${OPERATOR_NS}:${RELEASE}-mpc-operator`;
    await expect(
      kc(
        cluster,
        ['--as', sa, 'apply', '--dry-run=server', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'grab', namespace: 'kube-system' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'cluster-admin',
          },
          subjects: [{ kind: 'User', name: 'mallory' }],
        }),
      ),
    ).rejects.toThrow(/forbidden/);
  });
});

describe('CRD validation (CEL)', () => {
  const reject = async (manifest: object, message: RegExp) => {
    await expect(
      kc(cluster, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(manifest)),
    ).rejects.toThrow(message);
  };

  it('rejects threshold < 1 and threshold + 1 > replicas with the rule messages', async () => {
    await reject(sample({ threshold: 0 }), /threshold must be >= 1/);
    await reject(
      sample({ replicas: 3, threshold: 3 }),
      /threshold \+ 1 \(the signing quorum\) must be <= replicas/,
    );
    await reject(sample({ replicas: 40 }), /replicas/);
    await reject(sample({ nats: { url: 'http://nats:4222' } }), /nats.url must be one or more/);
    await reject(
      { ...sample(), metadata: { name: 'x'.repeat(41), namespace: NS } },
      /at most 40 characters/,
    );
    await kc(
      cluster,
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify(sample({ replicas: 2, threshold: 1, acknowledgeNoFaultTolerance: true })),
    );
  });
});

describe('MpcCluster lifecycle', () => {
  let uid = '';
  let kekData = '';

  it('reconciles a sample into correct, owned children', async () => {
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(sample()));
    const mpc = await eventually('the MpcCluster', () =>
      getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']),
    );
    uid = mpc['metadata'].uid;
    const sts = await eventually('the StatefulSet', () =>
      getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']),
    );
    expect(sts['spec'].replicas).toBe(3);
    expect(sts['spec'].podManagementPolicy).toBe('Parallel');
    expect(sts['spec'].persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
    expect(sts['spec'].volumeClaimTemplates[0].spec.storageClassName).toBe(STORAGE_CLASS);

    const owned = [
      ['service', 'wallet-signer'],
      ['service', 'wallet-metrics'],
      ['configmap', 'wallet-config'],
      ['serviceaccount', 'wallet-signer'],
      ['role', 'wallet-signer'],
      ['rolebinding', 'wallet-signer'],
      ['poddisruptionbudget', 'wallet-signer'],
      ['statefulset', 'wallet-signer'],
    ] as const;
    for (const [kind, name] of owned) {
      const object = await eventually(`${kind}/${name}`, () =>
        getJson(cluster, ['-n', NS, kind, name, '--show-managed-fields']),
      );
      expect(object['metadata'].ownerReferences, `${kind}/${name}`).toEqual([
        {
          apiVersion: 'mpc-platform.dev/v1alpha1',
          kind: 'MpcCluster',
          name: 'wallet',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(
        object['metadata'].managedFields.some(
          (f: { manager: string; operation: string }) =>
            f.manager === 'mpc-operator' && f.operation === 'Apply',
        ),
      ).toBe(true);
    }
    const headless = await getJson(cluster, ['-n', NS, 'service', 'wallet-signer']);
    expect(headless?.['spec'].clusterIP).toBe('None');
    const pdb = await getJson(cluster, ['-n', NS, 'poddisruptionbudget', 'wallet-signer']);
    expect(pdb?.['spec'].minAvailable).toBe(2);

    const config = await getJson(cluster, ['-n', NS, 'configmap', 'wallet-config']);
    const signerConfig = parse(config?.['data']['signer.yaml']);
    expect(signerConfig).toMatchObject({
      threshold: 1,
      peers: ['wallet-signer-0', 'wallet-signer-1', 'wallet-signer-2'],
      data_dir: '/data',
      kek: { file: '/etc/mpc/kek/kek' },
      chain_code: { file: '/etc/mpc/chain-code/chain-code' },
      nats: { url: 'nats://nats.nats.svc:4222' },
      http: { port: 8080 },
    });

    for (const [name, key] of [
      ['wallet-kek', 'kek'],
      ['wallet-chain-code', 'chain-code'],
    ] as const) {
      const secret = await eventually(name, () => getJson(cluster, ['-n', NS, 'secret', name]));
      expect(secret['immutable']).toBe(true);
      expect(secret['metadata'].ownerReferences).toBeUndefined();
      expect(Buffer.from(secret['data'][key], 'base64').toString()).toMatch(/^[0-9a-f]{64}$/);
      if (key === 'kek') kekData = secret['data'][key];
    }
  });

  it('pods go Ready through kwok and the status follows', async () => {
    const status = await eventually(
      'phase Ready',
      async () => {
        const mpc = await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
        return mpc?.['status']?.phase === 'Ready' ? mpc['status'] : undefined;
      },
      90_000,
    );
    expect(status).toMatchObject({
      readySigners: 3,
      quorum: 2,
      replicas: 3,
      observedGeneration: 1,
    });
    const conditions = Object.fromEntries(
      status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]),
    );
    expect(conditions).toEqual({
      QuorumReady: 'True',
      Available: 'True',
      Progressing: 'False',
      Degraded: 'False',
      IdentityMismatch: 'False',
      ScaleDownBlocked: 'False',
    });
    expect(status.reshare).toEqual({ replicas: 3, threshold: 1, usedIds: [] });
    const table = await kc(cluster, ['-n', NS, 'get', 'mpcc', 'wallet']);
    expect(table).toMatch(/NAME\s+REPLICAS\s+THRESHOLD\s+QUORUM\s+READY\s+PHASE\s+AGE/);
    expect(table).toMatch(/wallet\s+3\s+1\s+2\s+3\s+Ready/);
    const events = await getJson(cluster, [
      '-n',
      NS,
      'events',
      '--field-selector',
      'involvedObject.name=wallet',
    ]);
    const reasons = (events?.['items'] ?? []).map((e: { reason: string }) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['SecretGenerated', 'QuorumReached', 'ClusterReady']),
    );

    const metrics = await (await fetch(`http://127.0.0.1:${operator?.httpPort}/metrics`)).text();
    expect(metrics).toMatch(
      /mpc_cluster_ready_signers\{namespace="wallets",mpccluster="wallet"\} 3/,
    );
    expect(metrics).toMatch(/mpc_cluster_quorum\{namespace="wallets",mpccluster="wallet"\} 2/);
    expect((await fetch(`http://127.0.0.1:${operator?.httpPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${operator?.httpPort}/livez`)).status).toBe(200);
  });

  it('the status follows signers losing readiness (quorum lost) and regaining it', async () => {
    // kwok leaves pods annotated status=custom alone, so their Ready condition can be set here.
    const phase = (expected: string, ready: number) =>
      eventually(`phase ${expected} with ${ready} ready`, async () => {
        const mpc = await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
        return mpc?.['status']?.phase === expected && mpc['status'].readySigners === ready
          ? mpc['status']
          : undefined;
      });
    await setReady('wallet-signer-2', false);
    const degraded = await phase('Degraded', 2);
    expect(degraded.conditions.find((c: { type: string }) => c.type === 'QuorumReady').status).toBe(
      'True',
    );
    await setReady('wallet-signer-1', false);
    const lost = await phase('QuorumLost', 1);
    expect(lost.conditions.find((c: { type: string }) => c.type === 'QuorumReady')).toMatchObject({
      status: 'False',
      reason: 'QuorumLost',
    });
    const metrics = await (await fetch(`http://127.0.0.1:${operator?.httpPort}/metrics`)).text();
    expect(metrics).toMatch(
      /mpc_cluster_signing_enabled\{namespace="wallets",mpccluster="wallet"\} 0/,
    );
    const events = await getJson(cluster, [
      '-n',
      NS,
      'events',
      '--field-selector',
      'involvedObject.name=wallet,reason=QuorumLost',
    ]);
    expect(events?.['items'].length).toBeGreaterThanOrEqual(1);
    // Ready again, then handed back to kwok (which must finish their deletion in a rollout).
    for (const pod of ['wallet-signer-1', 'wallet-signer-2']) {
      await setReady(pod, true);
      await kc(cluster, ['-n', NS, 'annotate', 'pod', pod, 'kwok.x-k8s.io/status-']);
    }
    await phase('Ready', 3);
  });

  it('rejects a replicas change without a reshare request', async () => {
    await expect(
      kc(cluster, [
        '-n',
        NS,
        'patch',
        'mpcc',
        'wallet',
        '--type=merge',
        '-p',
        '{"spec":{"replicas":4}}',
      ]),
    ).rejects.toThrow(
      /replicas and threshold are immutable; change them only together with a new spec.reshare.id/,
    );
  });

  it('restarting the operator changes nothing', async () => {
    await operator?.whenIdle();
    const before = await resourceVersions();
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(10);
    await operator?.stop();
    operator = await startOperatorAsServiceAccount();
    await operator.synced;
    // Wait until the new instance has reconciled the cluster at least once, then settled.
    await eventually('a reconcile by the new instance', async () => {
      const metrics = await operator?.metrics.registry.getSingleMetricAsString(
        'mpc_operator_reconcile_total',
      );
      return /result="success"\} [1-9]/.test(metrics ?? '');
    });
    await operator.whenIdle();
    expect(await resourceVersions()).toEqual(before);
  });

  it('editing the spec rolls the StatefulSet', async () => {
    const before = await getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']);
    const oldHash = before?.['spec'].template.metadata.annotations['mpc-platform.dev/config-hash'];
    await kc(cluster, [
      '-n',
      NS,
      'patch',
      'mpcc',
      'wallet',
      '--type=merge',
      '-p',
      '{"spec":{"logLevel":"debug"}}',
    ]);
    const rolled = await eventually(
      'the rollout to finish',
      async () => {
        const sts = await getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']);
        const s = sts?.['status'];
        const hash = sts?.['spec'].template.metadata.annotations['mpc-platform.dev/config-hash'];
        // OnDelete: currentRevision never advances; updatedReplicas counts the rolled pods.
        return hash !== oldHash &&
          s.updateRevision !== before?.['status'].updateRevision &&
          s.updatedReplicas === 3 &&
          s.readyReplicas === 3
          ? sts
          : undefined;
      },
      120_000,
    );
    const config = parse(
      (await getJson(cluster, ['-n', NS, 'configmap', 'wallet-config']))?.['data']['signer.yaml'],
    );
    expect(config.log_level).toBe('debug');
    const pods = await getJson(cluster, [
      '-n',
      NS,
      'pods',
      '-l',
      'app.kubernetes.io/instance=wallet',
    ]);
    for (const pod of pods?.['items'] ?? [])
      expect(pod.metadata.labels['controller-revision-hash']).toBe(rolled['status'].updateRevision);
    await eventually(
      'status Ready for generation 2',
      async () => {
        const mpc = await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
        return mpc?.['status']?.phase === 'Ready' && mpc['status'].observedGeneration === 2;
      },
      60_000,
    );
  });

  it('holds a rollout while a signer is down and resumes it when the signer is back', async () => {
    await setReady('wallet-signer-0', false);
    // The operator must have seen the signer go down before the edit arrives.
    await eventually(
      '2 ready signers',
      async () =>
        (await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']))?.['status']?.readySigners ===
        2,
    );
    await kc(cluster, [
      '-n',
      NS,
      'patch',
      'mpcc',
      'wallet',
      '--type=merge',
      '-p',
      '{"spec":{"logLevel":"warn"}}',
    ]);
    const paused = await eventually('the rollout to be paused', async () => {
      const mpc = await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
      const progressing = mpc?.['status']?.conditions?.find(
        (c: { type: string }) => c.type === 'Progressing',
      );
      return mpc?.['status'].observedGeneration === 3 && progressing?.reason === 'QuorumAtRisk'
        ? progressing
        : undefined;
    });
    expect(paused.message).toContain('rollout paused until 3 signers are ready');
    await operator?.whenIdle();
    const held = await getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']);
    expect(held?.['spec'].updateStrategy).toEqual({ type: 'OnDelete' });
    expect(held?.['status'].updatedReplicas ?? 0).toBe(0);
    await setReady('wallet-signer-0', true);
    await kc(cluster, ['-n', NS, 'annotate', 'pod', 'wallet-signer-0', 'kwok.x-k8s.io/status-']);
    await eventually(
      'the resumed rollout to finish',
      async () => {
        const mpc = await getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
        const sts = await getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']);
        const s = sts?.['status'];
        return (
          mpc?.['status']?.phase === 'Ready' &&
          mpc['status'].observedGeneration === 3 &&
          s.updatedReplicas === 3 &&
          s.readyReplicas === 3
        );
      },
      90_000,
    );
  });

  it('deleting the MpcCluster cascades to children but keeps volumes and key material', async () => {
    await kc(cluster, ['-n', NS, 'delete', 'mpcc', 'wallet', '--wait=false']);
    await eventually(
      'children to be garbage collected',
      async () => {
        const list = await getJson(cluster, [
          '-n',
          NS,
          `${childKinds.join(',')},pods`,
          '-l',
          'app.kubernetes.io/instance=wallet',
        ]);
        // The roster ConfigMap (identity pins) is retained on purpose.
        const left = (list?.['items'] ?? []).filter(
          (i: { metadata: { name: string } }) =>
            i.metadata.name !== 'default' && i.metadata.name !== 'wallet-roster',
        );
        return left.length === 0;
      },
      90_000,
    );
    const pvcs = await getJson(cluster, ['-n', NS, 'pvc']);
    expect(
      (pvcs?.['items'] ?? []).map((p: { metadata: { name: string } }) => p.metadata.name).sort(),
    ).toEqual(['data-wallet-signer-0', 'data-wallet-signer-1', 'data-wallet-signer-2']);
    expect(await getJson(cluster, ['-n', NS, 'secret', 'wallet-kek'])).toBeDefined();
    expect(await getJson(cluster, ['-n', NS, 'configmap', 'wallet-roster'])).toBeDefined();

    // Recreating the cluster reuses the retained key material: never regenerated.
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(sample()));
    await eventually('the recreated StatefulSet', () =>
      getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']),
    );
    const kek = await getJson(cluster, ['-n', NS, 'secret', 'wallet-kek']);
    expect(kek?.['data']['kek']).toBe(kekData);
  });
});

// Runs only after `npm run build` (scripts/test.sh builds before this suite).
describe.skipIf(!existsSync('dist/operator/main.js'))('the built entry point', () => {
  it('starts under the ServiceAccount, turns ready, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['dist/operator/main.js'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        KUBECONFIG: operatorKubeconfigPath,
        MPC_OPERATOR_HTTP_PORT: '0',
        MPC_OPERATOR_LOG_LEVEL: 'info',
        POD_NAMESPACE: OPERATOR_NS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const port = await eventually(
        'the operator to log its port',
        async () => {
          const match = /"httpPort":(\d+)/.exec(output);
          return match === null ? undefined : Number(match[1]);
        },
        30_000,
      );
      await eventually(
        '/readyz 200',
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        30_000,
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('shutting down');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
