/**
 * The operator's permission set on the real control plane (issue 14 item 2), in both install
 * modes of the chart. Every check runs as the chart's ServiceAccount through a TokenRequest
 * token: `kubectl auth can-i` with that token is a SelfSubjectAccessReview, and the escalation
 * attempts are real (server-side dry-run) requests, so the apiserver's RBAC escalation check
 * decides. What must be allowed is proven end to end: the operator reconciles an MpcCluster in
 * a watched namespace using only its token.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type OperatorHandle } from '../../operator/operator.ts';
import {
  createVolumes,
  eventually,
  getJson,
  helm,
  installChart,
  kc,
  mpcClusterManifest,
  serviceAccountKubeConfig,
  type Cluster,
} from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const serverUrl = inject('k8sServerUrl');
const silent = { info: () => {}, warn: () => {}, error: () => {} };

// Namespace-scoped release.
const NS_RELEASE = 'permns';
const NS_OPERATOR_NS = 'permns-system';
const WATCHED = ['permns-a', 'permns-b'] as const;
const UNWATCHED = 'permns-other';
// Cluster-wide release.
const CW_RELEASE = 'permcw';
const CW_OPERATOR_NS = 'permcw-system';
const CW_TARGET = 'permcw-apps';
const STORAGE_CLASS = 'perm-test';

const tempDir = mkdtempSync(join(tmpdir(), 'mpc-perm-'));
let nsToken: Cluster;
let cwToken: Cluster;
let operator: OperatorHandle | undefined;

/** A kubectl "cluster" authenticating with the chart ServiceAccount's token. */
async function tokenCluster(namespace: string, serviceAccount: string): Promise<Cluster> {
  const config = await serviceAccountKubeConfig(cluster, serverUrl, namespace, serviceAccount);
  const path = join(tempDir, `${namespace}.kubeconfig`);
  writeFileSync(path, config.exportConfig(), { mode: 0o600 });
  return { binDir: cluster.binDir, kubeconfigPath: path };
}

/** SelfSubjectAccessReview with the token: "yes" or "no". */
const can = (as: Cluster, ...args: string[]): Promise<string> =>
  kc(as, ['auth', 'can-i', ...args]).then(
    (out) => out.trim(),
    (error: unknown) => (String(error).includes('(1)') ? 'no' : `error: ${String(error)}`),
  );

/** A request made with the token (server-side dry-run: authorised and admitted, not stored). */
const tryApply = (as: Cluster, object: object): Promise<string> =>
  kc(as, ['create', '--dry-run=server', '-o', 'name', '-f', '-'], JSON.stringify(object)).then(
    () => 'allowed',
    (error: unknown) => String(error),
  );

const sample = (namespace: string, name: string, spec: Record<string, unknown> = {}) =>
  mpcClusterManifest({ namespace, name, storageClassName: STORAGE_CLASS }, spec);

const secretReader = (namespace: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name: 'read-secrets', namespace },
  rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
});

const bindingTo = (
  namespace: string,
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string },
  subject: object = { kind: 'User', name: 'mallory', apiGroup: 'rbac.authorization.k8s.io' },
) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: 'grab', namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects: [subject],
});

beforeAll(async () => {
  for (const namespace of [...WATCHED, UNWATCHED, CW_TARGET])
    await kc(cluster, ['create', 'namespace', namespace]);
  await installChart(cluster, NS_RELEASE, NS_OPERATOR_NS, [
    '--set',
    `watchNamespaces={${WATCHED.join(',')}}`,
  ]);
  await installChart(cluster, CW_RELEASE, CW_OPERATOR_NS);
  await createVolumes(cluster, 'perm-pv', 9, STORAGE_CLASS);
  // A Secret the operator has no business reading, in a watched namespace.
  await kc(cluster, [
    '-n',
    WATCHED[0],
    'create',
    'secret',
    'generic',
    'app-db',
    '--from-literal=password=hunter2',
  ]);
  await kc(cluster, [
    'create',
    'clusterrole',
    'perm-secret-reader',
    '--verb=get,list',
    '--resource=secrets',
  ]);
  nsToken = await tokenCluster(NS_OPERATOR_NS, `${NS_RELEASE}-mpc-operator`);
  cwToken = await tokenCluster(CW_OPERATOR_NS, `${CW_RELEASE}-mpc-operator`);
});

afterAll(async () => {
  await operator?.stop();
  rmSync(tempDir, { recursive: true, force: true });
});

describe('namespace-scoped install (watchNamespaces)', () => {
  it('renders Roles in each watched namespace and no cluster-scoped RBAC', async () => {
    const objects = parseAllDocuments(
      await helm(cluster, [
        'template',
        NS_RELEASE,
        'charts/mpc-operator',
        '--namespace',
        NS_OPERATOR_NS,
        '--set',
        `watchNamespaces={${WATCHED.join(',')}}`,
      ]),
    )
      .map((doc) => doc.toJS() as { kind?: string; metadata?: { namespace?: string } } | null)
      .filter((o) => o !== null);
    const kinds = objects.map((o) => o.kind);
    expect(kinds).not.toContain('ClusterRole');
    expect(kinds).not.toContain('ClusterRoleBinding');
    for (const namespace of WATCHED) {
      expect(
        objects.filter((o) => o.kind === 'Role' && o.metadata?.namespace === namespace),
      ).toHaveLength(2);
    }
    const env = (
      objects.find((o) => o.kind === 'Deployment') as unknown as {
        spec: {
          template: {
            spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> };
          };
        };
      }
    ).spec.template.spec.containers[0]?.env;
    expect(env).toContainEqual({
      name: 'MPC_OPERATOR_WATCH_NAMESPACES',
      value: WATCHED.join(','),
    });
    expect(env).toContainEqual({
      name: 'MPC_OPERATOR_SIGNER_ROLE',
      value: `${NS_RELEASE}-mpc-operator-signer`,
    });
    expect(env?.some((e) => e.name === 'MPC_OPERATOR_SIGNER_CLUSTERROLE')).toBe(false);
    await expect(
      helm(cluster, ['template', 'r', 'charts/mpc-operator', '--set', 'watchNamespaces={Bad_NS}']),
    ).rejects.toThrow(/watchNamespaces/);
  });

  it('allows what reconciling needs, in the watched namespaces only', async () => {
    for (const namespace of WATCHED) {
      for (const check of [
        ['list', 'mpcclusters.mpc-platform.dev'],
        ['watch', 'mpcclusters.mpc-platform.dev'],
        ['patch', 'mpcclusters.mpc-platform.dev', '--subresource=status'],
        ['create', 'statefulsets.apps'],
        ['delete', 'pods'],
        ['create', 'secrets'],
        ['create', 'rolebindings.rbac.authorization.k8s.io'],
        ['bind', `roles.rbac.authorization.k8s.io/${NS_RELEASE}-mpc-operator-signer`],
        ['watch', 'leases.coordination.k8s.io'],
        ['create', 'poddisruptionbudgets.policy'],
      ]) {
        expect(
          await can(nsToken, ...check, '-n', namespace),
          `${check.join(' ')} -n ${namespace}`,
        ).toBe('yes');
      }
    }
    expect(await can(nsToken, 'update', 'leases/mpc-operator-leader', '-n', NS_OPERATOR_NS)).toBe(
      'yes',
    );
  });

  it('refuses Secret reads, cluster-wide lists, writes outside the watched namespaces, foreign Leases and other roles', async () => {
    const refused: string[][] = [
      // No Secret read anywhere, not even in a watched namespace.
      ['get', 'secrets', '-n', WATCHED[0]],
      ['get', 'secrets/app-db', '-n', WATCHED[0]],
      ['list', 'secrets', '-n', WATCHED[0]],
      ['watch', 'secrets', '-n', WATCHED[1]],
      ['get', 'secrets', '-n', UNWATCHED],
      ['get', 'secrets', '-n', 'kube-system'],
      ['update', 'secrets', '-n', WATCHED[0]],
      ['delete', 'secrets', '-n', WATCHED[0]],
      // No cluster-wide view at all.
      ['list', 'mpcclusters.mpc-platform.dev', '--all-namespaces'],
      ['list', 'pods', '--all-namespaces'],
      ['list', 'namespaces'],
      // Nothing in an unwatched namespace.
      ['list', 'mpcclusters.mpc-platform.dev', '-n', UNWATCHED],
      ['create', 'statefulsets.apps', '-n', UNWATCHED],
      ['create', 'secrets', '-n', UNWATCHED],
      ['create', 'configmaps', '-n', UNWATCHED],
      ['patch', 'services', '-n', UNWATCHED],
      ['delete', 'pods', '-n', UNWATCHED],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', UNWATCHED],
      ['create', 'events', '-n', UNWATCHED],
      ['create', 'statefulsets.apps', '-n', 'kube-system'],
      // Leases: read in watched namespaces, write only its own leader Lease.
      ['update', 'leases', '-n', WATCHED[0]],
      ['update', 'leases/kube-scheduler', '-n', 'kube-system'],
      ['get', 'leases', '-n', 'kube-system'],
      ['update', 'leases/other', '-n', NS_OPERATOR_NS],
      // RBAC: bind only the chart's signer Role; never escalate; nothing cluster-scoped.
      ['bind', 'clusterroles.rbac.authorization.k8s.io/cluster-admin'],
      ['bind', `clusterroles.rbac.authorization.k8s.io/${CW_RELEASE}-mpc-operator-signer`],
      ['bind', 'roles.rbac.authorization.k8s.io/other', '-n', WATCHED[0]],
      ['escalate', 'roles.rbac.authorization.k8s.io', '-n', WATCHED[0]],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
      ['impersonate', 'serviceaccounts', '-n', WATCHED[0]],
      ['create', 'serviceaccounts', '--subresource=token', '-n', WATCHED[0]],
      ['create', 'pods', '--subresource=exec', '-n', WATCHED[0]],
      ['create', 'pods', '-n', WATCHED[0]],
    ];
    for (const check of refused) expect(await can(nsToken, ...check), check.join(' ')).toBe('no');
  });

  it('cannot grant itself or anyone Secret reads or cluster-admin through Roles and RoleBindings', async () => {
    // A Role with rights the operator does not hold is refused by RBAC's escalation check...
    expect(await tryApply(nsToken, secretReader(WATCHED[0]))).toMatch(
      /forbidden.*attempting to grant RBAC permissions not currently held/s,
    );
    // ...and so is binding any role it may not bind.
    expect(
      await tryApply(
        nsToken,
        bindingTo(WATCHED[0], { kind: 'ClusterRole', name: 'cluster-admin' }),
      ),
    ).toMatch(/forbidden/);
    // (The test control plane does not aggregate `admin`/`edit`, so a ClusterRole with real
    // rules stands in for them.)
    expect(
      await tryApply(
        nsToken,
        bindingTo(WATCHED[0], { kind: 'ClusterRole', name: 'perm-secret-reader' }),
      ),
    ).toMatch(/forbidden/);
    expect(
      await tryApply(nsToken, bindingTo('kube-system', { kind: 'ClusterRole', name: 'view' })),
    ).toMatch(/forbidden/);
    expect(await tryApply(nsToken, secretReader(UNWATCHED))).toMatch(/forbidden/);
    // The real read is refused too (the Secret exists).
    await expect(kc(nsToken, ['-n', WATCHED[0], 'get', 'secret', 'app-db'])).rejects.toThrow(
      /forbidden/,
    );
    // Control: the binding it exists for is accepted.
    expect(
      await tryApply(
        nsToken,
        bindingTo(
          WATCHED[0],
          { kind: 'Role', name: `${NS_RELEASE}-mpc-operator-signer` },
          { kind: 'ServiceAccount', name: 'wallet-signer', namespace: WATCHED[0] },
        ),
      ),
    ).toBe('allowed');
  });

  it('reconciles a cluster in a watched namespace end to end with only its token', async () => {
    operator = await startOperator({
      kubeConfig: await serviceAccountKubeConfig(
        cluster,
        serverUrl,
        NS_OPERATOR_NS,
        `${NS_RELEASE}-mpc-operator`,
      ),
      logger: silent,
      httpHost: '127.0.0.1',
      httpPort: 0,
      relistIntervalMs: 60_000,
      watchNamespaces: [...WATCHED],
      signerRole: { kind: 'Role', name: `${NS_RELEASE}-mpc-operator-signer` },
      leaderElection: {
        namespace: NS_OPERATOR_NS,
        leaseName: 'mpc-operator-leader',
        identity: 'permns-test',
      },
    });
    await eventually('leadership', async () => operator?.isLeader());
    await operator.synced;
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(sample(WATCHED[0], 'wallet')));
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(sample(UNWATCHED, 'ghost')));
    await eventually(
      'wallet Ready',
      async () =>
        (await getJson(cluster, ['-n', WATCHED[0], 'mpccluster', 'wallet']))?.['status']?.phase ===
        'Ready',
      90_000,
    );
    const wallet = await getJson(cluster, ['-n', WATCHED[0], 'mpccluster', 'wallet']);
    const degraded = wallet?.['status'].conditions.find(
      (c: { type: string }) => c.type === 'Degraded',
    );
    expect(degraded.status).toBe('False');
    // The signers got the chart's per-namespace Role, bound by the operator.
    const binding = await getJson(cluster, [
      '-n',
      WATCHED[0],
      'rolebinding',
      'wallet-signer-leases',
    ]);
    expect(binding?.['roleRef']).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: `${NS_RELEASE}-mpc-operator-signer`,
    });
    // Generated Secrets were created (create right) though the operator cannot read them.
    expect(await getJson(cluster, ['-n', WATCHED[0], 'secret', 'wallet-kek'])).toBeDefined();
    // The cluster in the unwatched namespace was never seen: by the time the watched one is
    // Ready (one operator, one queue) it has neither status nor children.
    const ghost = await getJson(cluster, ['-n', UNWATCHED, 'mpccluster', 'ghost']);
    expect(ghost?.['status']).toBeUndefined();
    expect(
      await getJson(cluster, ['-n', UNWATCHED, 'statefulset', 'ghost-signer']),
    ).toBeUndefined();
    expect(await getJson(cluster, ['-n', UNWATCHED, 'secret', 'ghost-kek'])).toBeUndefined();
  });

  it('learns whether a referenced Secret exists without reading it, and never creates it', async () => {
    const namespace = WATCHED[1];
    await kc(
      cluster,
      ['apply', '-f', '-'],
      JSON.stringify(sample(namespace, 'refs', { kekSecretRef: { name: 'refs-external-kek' } })),
    );
    const degraded = async () =>
      (await getJson(cluster, ['-n', namespace, 'mpccluster', 'refs']))?.[
        'status'
      ]?.conditions?.find((c: { type: string }) => c.type === 'Degraded');
    const missing = await eventually('SecretMissing', async () => {
      const condition = await degraded();
      return condition?.reason === 'SecretMissing' ? condition : undefined;
    });
    expect(missing.message).toContain('refs-external-kek');
    // The existence check is a dry run: it must not have created the Secret.
    expect(
      await getJson(cluster, ['-n', namespace, 'secret', 'refs-external-kek']),
    ).toBeUndefined();
    await kc(cluster, [
      '-n',
      namespace,
      'create',
      'secret',
      'generic',
      'refs-external-kek',
      `--from-literal=kek=${'ab'.repeat(32)}`,
    ]);
    await eventually(
      'SecretMissing cleared',
      async () => (await degraded())?.reason !== 'SecretMissing',
      90_000,
    );
  });
});

// Runs only after `npm run build` (scripts/test.sh builds before this suite).
describe.skipIf(!existsSync('dist/operator/main.js'))(
  'the built entry point, configured as the namespace-scoped chart configures it',
  () => {
    const spawnOperator = (env: Record<string, string>) => {
      const child = spawn(process.execPath, ['dist/operator/main.js'], {
        env: {
          PATH: process.env['PATH'] ?? '',
          KUBECONFIG: nsToken.kubeconfigPath,
          MPC_OPERATOR_HTTP_PORT: '0',
          POD_NAMESPACE: NS_OPERATOR_NS,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      );
      return { child, exited, output: () => output };
    };

    it('refuses a signer Role without a namespace list', async () => {
      const { exited, output } = spawnOperator({ MPC_OPERATOR_SIGNER_ROLE: 'x' });
      expect(await exited).toBe(1);
      expect(output()).toContain('MPC_OPERATOR_SIGNER_ROLE needs MPC_OPERATOR_WATCH_NAMESPACES');
    });

    it('leads, syncs its per-namespace watches and reconciles with the Role-only token', async () => {
      // Hand over from the in-process operator (it releases the leader Lease on stop).
      await operator?.stop();
      operator = undefined;
      const { child, exited, output } = spawnOperator({
        MPC_OPERATOR_WATCH_NAMESPACES: WATCHED.join(','),
        MPC_OPERATOR_SIGNER_ROLE: `${NS_RELEASE}-mpc-operator-signer`,
      });
      try {
        // /readyz is 200 on the leader only once every watch listed: a cluster-wide LIST
        // would be forbidden with this token and never sync.
        const port = await eventually(
          'the operator to log its port',
          async () => {
            const match = /"httpPort":(\d+)/.exec(output());
            return match === null ? undefined : Number(match[1]);
          },
          30_000,
        );
        await eventually(
          'leader and synced',
          async () => {
            const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            return (
              /^mpc_operator_is_leader 1$/m.test(metrics) &&
              (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200
            );
          },
          60_000,
        );
        expect(output()).toContain(`"watchNamespaces":["${WATCHED.join('","')}"]`);
        await kc(cluster, ['apply', '-f', '-'], JSON.stringify(sample(WATCHED[1], 'late')));
        await eventually(
          'late Ready',
          async () =>
            (await getJson(cluster, ['-n', WATCHED[1], 'mpccluster', 'late']))?.['status']
              ?.phase === 'Ready',
          90_000,
        );
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  },
);

describe('cluster-wide install', () => {
  it('holds no Secret read, no foreign Lease write and binds only the signer ClusterRole', async () => {
    for (const check of [
      ['create', 'secrets', '-n', CW_TARGET],
      ['list', 'mpcclusters.mpc-platform.dev', '--all-namespaces'],
      ['create', 'statefulsets.apps', '-n', CW_TARGET],
      ['bind', `clusterroles.rbac.authorization.k8s.io/${CW_RELEASE}-mpc-operator-signer`],
      ['update', 'leases/mpc-operator-leader', '-n', CW_OPERATOR_NS],
    ]) {
      expect(await can(cwToken, ...check), check.join(' ')).toBe('yes');
    }
    for (const check of [
      ['get', 'secrets', '-n', CW_TARGET],
      ['get', 'secrets', '-n', 'kube-system'],
      ['get', 'secrets/app-db', '-n', WATCHED[0]],
      ['list', 'secrets', '--all-namespaces'],
      ['watch', 'secrets', '--all-namespaces'],
      ['update', 'secrets', '-n', CW_TARGET],
      ['update', 'leases', '-n', CW_TARGET],
      ['update', 'leases/kube-scheduler', '-n', 'kube-system'],
      ['update', 'leases/kube-controller-manager', '-n', 'kube-system'],
      ['bind', 'clusterroles.rbac.authorization.k8s.io/cluster-admin'],
      ['bind', `clusterroles.rbac.authorization.k8s.io/${NS_RELEASE}-mpc-operator-signer`],
      ['escalate', 'roles.rbac.authorization.k8s.io', '-n', CW_TARGET],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
      ['impersonate', 'serviceaccounts'],
      ['create', 'serviceaccounts', '--subresource=token', '-n', CW_TARGET],
      ['create', 'pods', '--subresource=exec', '-n', CW_TARGET],
    ]) {
      expect(await can(cwToken, ...check), check.join(' ')).toBe('no');
    }
  });

  it('cannot hand Secret reads to anyone, in any namespace', async () => {
    for (const namespace of [CW_TARGET, 'kube-system']) {
      expect(await tryApply(cwToken, secretReader(namespace))).toMatch(
        /attempting to grant RBAC permissions not currently held/,
      );
      for (const name of ['cluster-admin', 'perm-secret-reader']) {
        expect(
          await tryApply(cwToken, bindingTo(namespace, { kind: 'ClusterRole', name })),
        ).toMatch(/forbidden/);
      }
    }
    await expect(kc(cwToken, ['-n', WATCHED[0], 'get', 'secret', 'app-db'])).rejects.toThrow(
      /forbidden/,
    );
  });
});
