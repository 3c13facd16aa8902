/**
 * Day-2 behaviour of the operator on the real control plane (issue 14): invalid specs refused
 * at admission; a spec that passes admission but cannot be applied surfaces (condition,
 * aggregated Warning Event, metric) while the status keeps tracking readiness; an external
 * `kubectl rollout restart` cannot take a signer down past the quorum guard; identity pins
 * survive deleting and recreating the MpcCluster; scheduling/resource defaults reach the pods.
 * Runs the operator in-process under the chart's ServiceAccount. Test order matters.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HEARTBEAT_ANNOTATION, signHeartbeat } from '../../signer/membership/heartbeat.ts';
import {
  IDENTITY_PUBLIC_KEY_ANNOTATION,
  startOperator,
  type OperatorHandle,
} from '../../operator/operator.ts';
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
const RELEASE = 'day2';
const OPERATOR_NS = 'day2-system';
const NS = 'day2';
const STORAGE_CLASS = 'day2-test';
const silent = { info: () => {}, warn: () => {}, error: () => {} };

let operator: OperatorHandle | undefined;

const manifest = (name: string, spec: Record<string, unknown> = {}) =>
  mpcClusterManifest({ namespace: NS, name, storageClassName: STORAGE_CLASS }, spec);

const mpc = (name: string) => getJson(cluster, ['-n', NS, 'mpccluster', name]);
const condition = async (name: string, type: string) =>
  (await mpc(name))?.['status']?.conditions?.find((c: { type: string }) => c.type === type);
const patch = (name: string, body: object) =>
  kc(cluster, ['-n', NS, 'patch', 'mpcc', name, '--type=merge', '-p', JSON.stringify(body)]);
const metricsText = async () =>
  (await fetch(`http://127.0.0.1:${operator?.httpPort}/metrics`)).text();

async function waitReady(name: string): Promise<void> {
  await eventually(
    `${name} Ready`,
    async () => (await mpc(name))?.['status']?.phase === 'Ready',
    90_000,
  );
}

beforeAll(async () => {
  await installChart(cluster, RELEASE, OPERATOR_NS);
  await kc(cluster, ['create', 'namespace', NS]);
  await createVolumes(cluster, 'day2-pv', 12, STORAGE_CLASS);
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
});

afterAll(async () => {
  await operator?.stop();
});

describe('admission refuses what CEL/OpenAPI can express', () => {
  const refused = async (object: object, message: RegExp) => {
    await expect(
      kc(cluster, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(object)),
    ).rejects.toThrow(message);
  };

  it('bad quantities, label keys/values, tolerations, initiator keys; n = t+1 unacknowledged', async () => {
    await refused(manifest('x', { resources: { requests: { cpu: 'banana' } } }), /cpu/);
    await refused(manifest('x', { storage: { size: 'lots' } }), /storage.size/);
    await refused(manifest('x', { podTemplate: { labels: { 'a b': 'x' } } }), /qualified names/);
    await refused(manifest('x', { podTemplate: { labels: { a: 'b c' } } }), /labels/);
    await refused(
      manifest('x', {
        podTemplate: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] },
      }),
      /operator Exists must not have a value/,
    );
    await refused(
      manifest('x', { initiator: { algorithm: 'ed25519', publicKey: 'zz' } }),
      /64 hex characters/,
    );
    await refused(manifest('x', { replicas: 2, threshold: 1 }), /acknowledgeNoFaultTolerance/);
    await kc(
      cluster,
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify(
        manifest('x', { replicas: 2, threshold: 1, acknowledgeNoFaultTolerance: true }),
      ),
    );
  });

  it('storage and key-material references are immutable', async () => {
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(manifest('wedge')));
    await waitReady('wedge');
    await expect(patch('wedge', { spec: { storage: { size: '2Gi' } } })).rejects.toThrow(
      /storage is immutable/,
    );
    await expect(
      patch('wedge', { spec: { storage: { storageClassName: 'other' } } }),
    ).rejects.toThrow(/storage is immutable/);
    await expect(patch('wedge', { spec: { kekSecretRef: { name: 'other' } } })).rejects.toThrow(
      /kekSecretRef is immutable/,
    );
    await expect(
      patch('wedge', { spec: { chainCodeSecretRef: { name: 'other' } } }),
    ).rejects.toThrow(/chainCodeSecretRef is immutable/);
  });
});

describe('a spec the apiserver accepts but the StatefulSet refuses is never silent', () => {
  it('surfaces as a condition, one aggregated Warning event and a metric', async () => {
    // requests > limits: valid for the CRD schema, invalid for the pod template.
    await patch('wedge', {
      spec: { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } },
    });
    const degraded = await eventually('Degraded=True ReconcileError', async () => {
      const c = await condition('wedge', 'Degraded');
      return c?.status === 'True' && c.reason === 'ReconcileError' ? c : undefined;
    });
    expect(degraded.message).toMatch(/apply StatefulSet wedge-signer: HTTP 422: .*cpu/);
    expect(await condition('wedge', 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ReconcileError',
    });
    // Retries repeat the identical event: one Event object whose count grows.
    const event = await eventually('the ReconcileError event to aggregate', async () => {
      const events = await getJson(cluster, [
        '-n',
        NS,
        'events',
        '--field-selector',
        'involvedObject.name=wedge,reason=ReconcileError',
      ]);
      const items = events?.['items'] ?? [];
      return items.length === 1 && items[0].count >= 2 ? items[0] : undefined;
    });
    expect(event.type).toBe('Warning');
    expect(await metricsText()).toMatch(
      /mpc_operator_reconcile_errors_total\{namespace="day2",mpccluster="wedge"\} [1-9]/,
    );
  });

  it('the status and quorum metrics still track signers while applying fails', async () => {
    await setPodReady(cluster, NS, 'wedge-signer-1', false);
    await setPodReady(cluster, NS, 'wedge-signer-2', false);
    const status = await eventually('quorum lost in the status', async () => {
      const s = (await mpc('wedge'))?.['status'];
      return s?.readySigners === 1 && s.phase === 'QuorumLost' ? s : undefined;
    });
    expect(status.conditions.find((c: { type: string }) => c.type === 'Degraded').reason).toBe(
      'ReconcileError',
    );
    expect(await kc(cluster, ['-n', NS, 'get', 'mpcc', 'wedge'])).toMatch(
      /wedge\s+3\s+1\s+2\s+1\s+QuorumLost/,
    );
    const metrics = await metricsText();
    expect(metrics).toMatch(/mpc_cluster_ready_signers\{namespace="day2",mpccluster="wedge"\} 1/);
    expect(metrics).toMatch(/mpc_cluster_signing_enabled\{namespace="day2",mpccluster="wedge"\} 0/);

    // Fixing the spec clears the condition; the signers come back.
    await patch('wedge', { spec: { resources: null } });
    for (const pod of ['wedge-signer-1', 'wedge-signer-2']) {
      await setPodReady(cluster, NS, pod, true);
      await kc(cluster, ['-n', NS, 'annotate', 'pod', pod, 'kwok.x-k8s.io/status-']);
    }
    await waitReady('wedge');
    expect((await condition('wedge', 'Degraded'))?.reason).toBe('AllSignersReady');
  });
});

describe('only the operator restarts signers', () => {
  it('an external rollout restart while a signer is down takes no other signer down', async () => {
    const uids = async () => {
      const pods = await getJson(cluster, [
        '-n',
        NS,
        'pods',
        '-l',
        'app.kubernetes.io/instance=wedge',
      ]);
      return Object.fromEntries(
        (pods?.['items'] ?? []).map(
          (p: { metadata: { name: string; uid: string; deletionTimestamp?: string } }) => [
            p.metadata.name,
            `${p.metadata.uid}${p.metadata.deletionTimestamp === undefined ? '' : ' terminating'}`,
          ],
        ),
      );
    };
    const sts = await getJson(cluster, ['-n', NS, 'statefulset', 'wedge-signer']);
    expect(sts?.['spec'].updateStrategy).toEqual({ type: 'OnDelete' });

    await setPodReady(cluster, NS, 'wedge-signer-0', false);
    await eventually(
      '2 ready signers',
      async () => (await mpc('wedge'))?.['status']?.readySigners === 2,
    );
    const before = await uids();
    // What `kubectl rollout restart sts/wedge-signer` does.
    await kc(cluster, [
      '-n',
      NS,
      'patch',
      'statefulset',
      'wedge-signer',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          template: {
            metadata: {
              annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-06T00:00:00Z' },
            },
          },
        },
      }),
    ]);
    const paused = await eventually('the rollout to be held', async () => {
      const c = await condition('wedge', 'Progressing');
      return c?.reason === 'QuorumAtRisk' ? c : undefined;
    });
    expect(paused.message).toContain('rollout paused until 3 signers are ready');
    await operator?.whenIdle();
    // The StatefulSet controller (OnDelete) and the operator both left every pod alone.
    expect(await uids()).toEqual(before);
    const held = await getJson(cluster, ['-n', NS, 'statefulset', 'wedge-signer']);
    expect(held?.['spec'].template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe(
      '2026-12-06T00:00:00Z',
    );

    // The signer is back: the operator rolls all three, one at a time.
    await setPodReady(cluster, NS, 'wedge-signer-0', true);
    await kc(cluster, ['-n', NS, 'annotate', 'pod', 'wedge-signer-0', 'kwok.x-k8s.io/status-']);
    await eventually(
      'the restart to finish',
      async () => {
        const s = (await getJson(cluster, ['-n', NS, 'statefulset', 'wedge-signer']))?.['status'];
        const phase = (await mpc('wedge'))?.['status']?.phase;
        return s?.updatedReplicas === 3 && s.readyReplicas === 3 && phase === 'Ready';
      },
      120_000,
    );
    const after = await uids();
    for (const name of Object.keys(before)) expect(after[name]).not.toBe(before[name]);
    const replaced = await getJson(cluster, [
      '-n',
      NS,
      'events',
      '--field-selector',
      'involvedObject.name=wedge,reason=SignerReplaced',
    ]);
    expect(replaced?.['items'].length).toBe(3);
  });

  it("signers renew Leases in their own namespace only (the chart's signer ClusterRole, bound there)", async () => {
    const sa = `system:serviceaccount:${NS}:wedge-signer`;
    const can = (...args: string[]) =>
      kc(cluster, ['auth', 'can-i', '--as', sa, ...args]).then(
        (out) => out.trim(),
        () => 'no',
      );
    expect(await can('update', 'leases', '-n', NS)).toBe('yes');
    expect(await can('watch', 'pods', '-n', NS)).toBe('yes');
    expect(await can('get', 'configmaps/wedge-roster', '-n', NS)).toBe('yes');
    expect(await can('update', 'leases', '-n', 'default')).toMatch(/no/);
    expect(await can('get', 'configmaps/other', '-n', NS)).toMatch(/no/);
  });

  it('signer pods get the scheduling defaults and are not BestEffort', async () => {
    const pod = await getJson(cluster, ['-n', NS, 'pod', 'wedge-signer-0']);
    expect(pod?.['status'].qosClass).toBe('Burstable');
    expect(pod?.['spec'].topologySpreadConstraints[0]).toMatchObject({
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'ScheduleAnyway',
    });
    expect(
      pod?.['spec'].affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]
        .podAffinityTerm.topologyKey,
    ).toBe('kubernetes.io/hostname');
  });
});

describe('identity pins survive deleting and recreating the MpcCluster', () => {
  /** A signer identity: its Lease proves the key with a heartbeat signed by it (issue 11). */
  const identity = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const hex = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString(
      'hex',
    );
    return { hex, sign: (bytes: Uint8Array) => new Uint8Array(sign(null, bytes, privateKey)) };
  };
  let counter = Date.now();
  const lease = (key: ReturnType<typeof identity>) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'wedge-signer-0',
      namespace: NS,
      labels: { 'app.kubernetes.io/name': 'mpc-signer', 'app.kubernetes.io/instance': 'wedge' },
      annotations: {
        [IDENTITY_PUBLIC_KEY_ANNOTATION]: key.hex,
        [HEARTBEAT_ANNOTATION]: signHeartbeat(
          {
            cluster: `${NS}/wedge`,
            nodeId: 'wedge-signer-0',
            holderIdentity: 'wedge-signer-0',
            publicKey: key.hex,
            counter: (counter += 1),
          },
          key.sign,
        ),
      },
    },
    spec: {
      holderIdentity: 'wedge-signer-0',
      leaseDurationSeconds: 3600,
      renewTime: new Date().toISOString().replace('Z', '000Z'),
    },
  });

  it('a recreated cluster keeps the old pin and reports a new key as a mismatch', async () => {
    const firstKey = identity();
    const first = firstKey.hex;
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(lease(firstKey)));
    await eventually(
      'the first key pinned',
      async () => (await mpc('wedge'))?.['status']?.roster?.['wedge-signer-0'] === first,
    );
    await kc(cluster, ['-n', NS, 'delete', 'mpcc', 'wedge', '--wait=true']);
    await eventually(
      'the StatefulSet to be collected',
      async () => (await getJson(cluster, ['-n', NS, 'statefulset', 'wedge-signer'])) === undefined,
      90_000,
    );
    const roster = await getJson(cluster, ['-n', NS, 'configmap', 'wedge-roster']);
    expect(roster?.['metadata'].ownerReferences).toBeUndefined();

    // An attacker (or a wiped volume) now presents another key before the cluster returns.
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(lease(identity())));
    await kc(cluster, ['apply', '-f', '-'], JSON.stringify(manifest('wedge')));
    const mismatch = await eventually('IdentityMismatch=True', async () => {
      const c = await condition('wedge', 'IdentityMismatch');
      return c?.status === 'True' ? c : undefined;
    });
    expect(mismatch.reason).toBe('IdentityKeyChanged');
    expect((await mpc('wedge'))?.['status'].roster['wedge-signer-0']).toBe(first);
  });
});
