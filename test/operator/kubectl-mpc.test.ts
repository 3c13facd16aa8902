/**
 * The `kubectl mpc` plugin against the real control plane (issue 14 item 7): it reads an
 * MpcCluster the operator reconciled (operator in-process under the chart's ServiceAccount),
 * with the signers spread over three kwok nodes by required anti-affinity, so drain-check's
 * yes/no is checked against real pod placement and readiness. The plugin runs as the binary
 * does (runKubectlMpc + connectKubeconfig) with the admin kubeconfig. Test order matters.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HEARTBEAT_ANNOTATION, signHeartbeat } from '../../signer/membership/heartbeat.ts';
import {
  IDENTITY_PUBLIC_KEY_ANNOTATION,
  startOperator,
  type OperatorHandle,
} from '../../operator/operator.ts';
import { runKubectlMpc } from '../../operator/kubectl-mpc/commands.ts';
import { connectKubeconfig } from '../../operator/kubectl-mpc/kube.ts';
import { keyFingerprint } from '../../operator/status/roster-pins.ts';
import {
  createVolumes,
  eventually,
  getJson,
  installChart,
  kc,
  mpcClusterManifest,
  serviceAccountKubeConfig,
  setPodReady,
  type Cluster,
} from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const serverUrl = inject('k8sServerUrl');
const RELEASE = 'plug';
const OPERATOR_NS = 'plug-system';
const NS = 'plug';
const STORAGE_CLASS = 'plug-test';
const POOL = 'mpc-test/pool';
const NODES = ['plug-node-0', 'plug-node-1', 'plug-node-2'];
const silent = { info: () => {}, warn: () => {}, error: () => {} };

let operator: OperatorHandle | undefined;

/** Runs `kubectl mpc -n plug <args>` the way the binary does. */
const plugin = (...args: string[]) => run(['-n', NS, ...args]);
/** drain-check without -n: every namespace (other files' clusters are there too). */
const drainCheck = (node: string) => run(['drain-check', node]);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runKubectlMpc(
    ['--kubeconfig', cluster.kubeconfigPath, ...args],
    { stdout: (text) => (out += text), stderr: (text) => (err += text) },
    { connect: connectKubeconfig },
  );
  return { code, out, err };
}

const mpc = () => getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);

/** A signer identity proving its key on the Lease with a signed heartbeat. */
const identity = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const hex = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('hex');
  return { hex, sign: (bytes: Uint8Array) => new Uint8Array(sign(null, bytes, privateKey)) };
};
let counter = 1;
const publishLease = (signer: string, key: ReturnType<typeof identity>) =>
  kc(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: signer,
        namespace: NS,
        labels: { 'app.kubernetes.io/name': 'mpc-signer', 'app.kubernetes.io/instance': 'wallet' },
        annotations: {
          [IDENTITY_PUBLIC_KEY_ANNOTATION]: key.hex,
          [HEARTBEAT_ANNOTATION]: signHeartbeat(
            {
              cluster: `${NS}/wallet`,
              nodeId: signer,
              holderIdentity: signer,
              publicKey: key.hex,
              counter: (counter += 1),
            },
            key.sign,
          ),
        },
      },
      spec: {
        holderIdentity: signer,
        leaseDurationSeconds: 3600,
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    }),
  );

/** Node → the signer pod scheduled there. */
async function placement(): Promise<Map<string, string>> {
  const pods = await getJson(cluster, [
    '-n',
    NS,
    'pods',
    '-l',
    'app.kubernetes.io/instance=wallet',
  ]);
  return new Map(
    (pods?.['items'] ?? []).map(
      (pod: { metadata: { name: string }; spec: { nodeName: string } }) => [
        pod.spec.nodeName,
        pod.metadata.name,
      ],
    ),
  );
}

beforeAll(async () => {
  await installChart(cluster, RELEASE, OPERATOR_NS);
  await kc(cluster, ['create', 'namespace', NS]);
  await createVolumes(cluster, 'plug-pv', 5, STORAGE_CLASS);
  // Three fake nodes only this test's signers may use (tainted for everything else).
  for (const node of NODES) {
    await kc(
      cluster,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: node,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': node, [POOL]: 'plug' },
        },
        spec: { taints: [{ key: POOL, value: 'plug', effect: 'NoSchedule' }] },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      }),
    );
  }
  for (const node of NODES) {
    await eventually(
      `${node} Ready`,
      async () =>
        (
          await kc(cluster, [
            'get',
            'node',
            node,
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ])
        ).trim() === 'True',
    );
  }
  operator = await startOperator({
    kubeConfig: await serviceAccountKubeConfig(
      cluster,
      serverUrl,
      OPERATOR_NS,
      `${RELEASE}-mpc-operator`,
    ),
    logger: silent,
    httpHost: '127.0.0.1',
    httpPort: 0,
    relistIntervalMs: 60_000,
    signerClusterRole: `${RELEASE}-mpc-operator-signer`,
  });
  await operator.synced;
  await kc(
    cluster,
    ['apply', '-f', '-'],
    JSON.stringify(
      mpcClusterManifest(
        { namespace: NS, name: 'wallet', storageClassName: STORAGE_CLASS },
        {
          administratorPublicKey: identity().hex,
          podTemplate: {
            nodeSelector: { [POOL]: 'plug' },
            tolerations: [{ key: POOL, operator: 'Equal', value: 'plug', effect: 'NoSchedule' }],
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'wallet' } },
                  },
                ],
              },
            },
          },
        },
      ),
    ),
  );
  await eventually(
    'wallet Ready',
    async () => (await mpc())?.['status']?.phase === 'Ready',
    90_000,
  );
});

afterAll(async () => {
  await operator?.stop();
  // Other files share the control plane: leave no extra nodes behind.
  await kc(cluster, ['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  await kc(cluster, ['delete', 'node', ...NODES, '--wait=false']).catch(() => undefined);
});

describe('kubectl mpc', () => {
  const key0 = identity();

  it('status: one row per signer with its node, readiness, Lease and pin', async () => {
    await publishLease('wallet-signer-0', key0);
    await eventually(
      'signer-0 pinned',
      async () => (await mpc())?.['status']?.roster?.['wallet-signer-0'] === key0.hex,
    );
    const nodes = await placement();
    expect([...nodes.keys()].sort()).toEqual(NODES);
    const { code, out } = await plugin('status', 'wallet');
    expect(code).toBe(0);
    expect(out).toMatch(
      /^MpcCluster plug\/wallet: 3 signers, threshold 1 \(quorum 2\), 3\/3 ready/,
    );
    const row = (signer: string) =>
      out
        .split('\n')
        .find((line) => line.startsWith(signer))
        ?.split(/\s{2,}/) ?? [];
    const nodeOf = (signer: string) => [...nodes].find(([, pod]) => pod === signer)?.[0];
    expect(row('wallet-signer-0')).toEqual([
      'wallet-signer-0',
      nodeOf('wallet-signer-0'),
      'Ready',
      'yes',
      'live',
      expect.stringMatching(/^\d+s$/),
      'wallet-signer-0',
      keyFingerprint(key0.hex),
      'yes',
    ]);
    expect(row('wallet-signer-1').slice(0, 4)).toEqual([
      'wallet-signer-1',
      nodeOf('wallet-signer-1'),
      'Ready',
      'yes',
    ]);
    expect(row('wallet-signer-1').at(-1)).toBe('no');
    expect((await plugin('status', 'nope')).code).toBe(1);
    expect((await plugin('status')).code).toBe(2);
  });

  it('drain-check: yes while the margin covers the node, no once a signer elsewhere is down', async () => {
    const nodes = await placement();
    const nodeOf = (signer: string) => [...nodes].find(([, pod]) => pod === signer)?.[0] ?? '';
    const walletRow = (out: string) =>
      out
        .split('\n')
        .find((line) => line.startsWith('plug/wallet '))
        ?.split(/\s{2,}/);
    // CLUSTER QUORUM READY ON-NODE AFTER MARGIN SAFE
    const safe = await drainCheck(nodeOf('wallet-signer-0'));
    expect(safe.code).toBe(0);
    expect(walletRow(safe.out)).toEqual(['plug/wallet', '2', '3', '1', '2', '1', 'yes']);
    expect(safe.err).toBe('');
    // kwok-node-0 carries none of these signers.
    const other = await drainCheck('kwok-node-0');
    expect(walletRow(other.out)).toEqual(['plug/wallet', '2', '3', '0', '3', '1', 'yes']);

    await setPodReady(cluster, NS, 'wallet-signer-1', false);
    await eventually('2 ready', async () => (await mpc())?.['status']?.readySigners === 2);
    const unsafe = await drainCheck(nodeOf('wallet-signer-0'));
    expect(unsafe.code).toBe(1);
    expect(walletRow(unsafe.out)).toEqual(['plug/wallet', '2', '2', '1', '1', '0', 'NO']);
    expect(unsafe.out).toContain(
      `NOT safe to drain ${nodeOf('wallet-signer-0')}: plug/wallet would keep 1 ready signer(s), quorum is 2`,
    );
    expect((await drainCheck(nodeOf('wallet-signer-2'))).code).toBe(1);
    // Draining the node of the signer that is already down costs nothing.
    expect((await drainCheck(nodeOf('wallet-signer-1'))).code).toBe(0);
    // -n limits the check and says so.
    const scoped = await plugin('drain-check', nodeOf('wallet-signer-2'));
    expect(scoped.code).toBe(1);
    expect(scoped.err).toContain('only namespace plug was checked');

    const missing = await drainCheck('no-such-node');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('node no-such-node not found');

    await setPodReady(cluster, NS, 'wallet-signer-1', true);
    await eventually('3 ready', async () => (await mpc())?.['status']?.readySigners === 3);
    expect((await drainCheck(nodeOf('wallet-signer-0'))).code).toBe(0);
  });

  it('unpin: refuses a signer that matches its pin; on a mismatch clears it and prints the repin step', async () => {
    const refused = await plugin('unpin', 'wallet', 'wallet-signer-0');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('presents its pinned key');
    expect((await mpc())?.['metadata'].annotations?.['mpc-platform.dev/unpin']).toBeUndefined();
    expect((await plugin('unpin', 'wallet', 'other-signer-9')).code).toBe(1);

    const key1 = identity();
    await publishLease('wallet-signer-0', key1);
    await eventually('IdentityMismatch', async () =>
      (await mpc())?.['status']?.conditions?.some(
        (c: { type: string; status: string }) =>
          c.type === 'IdentityMismatch' && c.status === 'True',
      ),
    );
    const { code, out } = await plugin('unpin', 'wallet', 'wallet-signer-0');
    expect(code).toBe(0);
    expect(out).toContain(`(was ${keyFingerprint(key0.hex)})`);
    expect(out).toContain('--cluster plug/wallet --node wallet-signer-0');
    expect(out).toContain(`--old ${key0.hex} --new ${key1.hex}`);
    expect(out).toContain(
      'kubectl -n plug annotate mpccluster wallet mpc-platform.dev/repin="$TOKEN"',
    );
    // The operator acts on the annotation: the pin is cleared and the presented key pinned.
    await eventually(
      'repinned by the operator',
      async () => (await mpc())?.['status']?.roster?.['wallet-signer-0'] === key1.hex,
    );
  });

  describe('backup', () => {
    const CRD = 'mpcbackups.mpc-platform.dev';
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl JSON
    let installed: any;

    beforeAll(async () => {
      // The MpcBackup CRD may already be installed (crds/): set it aside, restore it after.
      installed = await getJson(cluster, ['crd', CRD]);
      if (installed !== undefined) {
        await kc(cluster, ['delete', 'crd', CRD, '--wait=true', '--timeout=60s']);
      }
    });

    afterAll(async () => {
      await kc(cluster, [
        'delete',
        'crd',
        CRD,
        '--ignore-not-found',
        '--wait=true',
        '--timeout=60s',
      ]);
      if (installed !== undefined) {
        const { metadata, spec } = installed;
        await kc(
          cluster,
          ['create', '-f', '-'],
          JSON.stringify({
            apiVersion: 'apiextensions.k8s.io/v1',
            kind: 'CustomResourceDefinition',
            metadata: {
              name: metadata.name,
              ...(metadata.labels === undefined ? {} : { labels: metadata.labels }),
              ...(metadata.annotations === undefined ? {} : { annotations: metadata.annotations }),
            },
            spec,
          }),
        );
        await kc(cluster, ['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`]);
      }
    });

    it('says clearly when the MpcBackup API is not installed', async () => {
      const { code, err } = await plugin('backup', 'wallet');
      expect(code).toBe(1);
      expect(err).toContain(
        'the MpcBackup API (mpcbackups.mpc-platform.dev/v1alpha1) is not installed',
      );
      expect((await plugin('backup', 'nope')).err).toContain('mpccluster plug/nope not found');
    });

    it('creates an MpcBackup for the cluster and prints its name', async () => {
      // A minimal stand-in with the real group, version, kind and scope.
      await kc(
        cluster,
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: CRD },
          spec: {
            group: 'mpc-platform.dev',
            scope: 'Namespaced',
            names: { plural: 'mpcbackups', singular: 'mpcbackup', kind: 'MpcBackup' },
            versions: [
              {
                name: 'v1alpha1',
                served: true,
                storage: true,
                schema: {
                  openAPIV3Schema: {
                    type: 'object',
                    properties: {
                      spec: {
                        type: 'object',
                        required: ['clusterName'],
                        properties: { clusterName: { type: 'string' } },
                      },
                    },
                  },
                },
              },
            ],
          },
        }),
      );
      await kc(cluster, ['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`]);
      const generated = await eventually('backup created', async () => {
        const result = await plugin('backup', 'wallet');
        return result.code === 0 ? result : undefined;
      });
      const name = generated.out.trim();
      expect(name).toMatch(/^wallet-[a-z0-9]{5}$/);
      const object = await getJson(cluster, ['-n', NS, 'mpcbackup', name]);
      expect(object?.['spec']).toEqual({ clusterName: 'wallet' });

      const named = await plugin('backup', 'wallet', '--name', 'before-upgrade');
      expect(named).toMatchObject({ code: 0, out: 'before-upgrade\n' });
      const again = await plugin('backup', 'wallet', '--name', 'before-upgrade');
      expect(again.code).toBe(1);
      expect(again.err).toContain('already exists');
    });
  });

  it('reshare: sets n/t with a fresh id the operator accepts, and prints the wallet steps', async () => {
    expect((await plugin('reshare', 'wallet', '--replicas', 'x', '--threshold', '1')).code).toBe(2);
    const unacknowledged = await plugin('reshare', 'wallet', '--replicas', '2', '--threshold', '1');
    expect(unacknowledged.code).toBe(1);
    expect(unacknowledged.err).toContain('--acknowledge-no-fault-tolerance');

    const { code, out } = await plugin('reshare', 'wallet', '--replicas', '4', '--threshold', '2');
    expect(code).toBe(0);
    const spec = (await mpc())?.['spec'];
    expect(spec).toMatchObject({ replicas: 4, threshold: 2 });
    const id: string = spec.reshare.id;
    expect(id).toMatch(/^n4-t2-\d{14}-[0-9a-f]{6}$/);
    expect(out).toContain(`spec.reshare.id=${id}`);
    expect(out).toContain(
      '--node-ids wallet-signer-0,wallet-signer-1,wallet-signer-2,wallet-signer-3 --threshold 2',
    );
    await eventually('id recorded', async () =>
      (await mpc())?.['status']?.reshare?.usedIds?.includes(id),
    );
    // Unchanged n/t: nothing is patched, no id used up.
    const same = await plugin('reshare', 'wallet', '--replicas', '4', '--threshold', '2');
    expect(same.code).toBe(0);
    expect(same.out).toContain('nothing changed');
    expect((await mpc())?.['spec'].reshare.id).toBe(id);
  });
});
