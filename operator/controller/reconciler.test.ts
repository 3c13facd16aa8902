import { describe, expect, it } from 'vitest';
import type { MpcCluster, MpcClusterStatus } from '../api/mpc-cluster.ts';
import type { EventRecord, KubeApi } from '../kube/kube-api.ts';
import type { Manifest } from '../resources/manifest.ts';
import type { SignerAnswer } from '../status/scaling.ts';
import { Reconciler, canonicalJson } from './reconciler.ts';

class FakeApi implements KubeApi {
  applied: string[] = [];
  manifests = new Map<string, Manifest>();
  created = new Map<string, Manifest>();
  existing = new Set<string>();
  statuses: MpcClusterStatus[] = [];
  events: EventRecord[] = [];
  failApplyOf: string | undefined;

  async apply(manifest: Manifest) {
    if (manifest.kind === this.failApplyOf)
      throw Object.assign(new Error('forbidden'), { code: 403 });
    this.applied.push(`${manifest.kind}/${manifest.metadata.name}`);
    this.manifests.set(manifest.kind, manifest);
    this.manifests.set(`${manifest.kind}/${manifest.metadata.name}`, manifest);
  }
  async createIfAbsent(manifest: Manifest) {
    const key = `Secret/${manifest.metadata.name}`;
    if (this.existing.has(key)) return false;
    this.existing.add(key);
    this.created.set(key, manifest);
    return true;
  }
  async secretExists(_namespace: string, name: string) {
    return this.existing.has(`Secret/${name}`);
  }
  async applyStatus(_cluster: MpcCluster, status: MpcClusterStatus) {
    this.statuses.push(status);
  }
  async recordEvent(_cluster: MpcCluster, event: EventRecord) {
    this.events.push(event);
  }
  removedAnnotations: string[] = [];
  async removeAnnotation(_cluster: MpcCluster, key: string) {
    this.removedAnnotations.push(key);
  }
  configMaps = new Map<string, Record<string, string>>();
  async readConfigMap(_namespace: string, name: string) {
    return this.configMaps.get(name);
  }
  deletedPods: string[] = [];
  async deletePod(_namespace: string, name: string) {
    this.deletedPods.push(name);
    return true;
  }
}

function makeCluster(
  spec: Partial<MpcCluster['spec']> = {},
  extra: Partial<MpcCluster> = {},
): MpcCluster {
  return {
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcCluster',
    metadata: { name: 'w', namespace: 'n', uid: 'u', generation: 1 },
    spec: {
      replicas: 3,
      threshold: 1,
      image: 'i',
      nats: { url: 'nats://x:1' },
      initiator: { algorithm: 'ed25519', publicKey: 'k' },
      ...spec,
    },
    ...extra,
  };
}

function setup(cluster: MpcCluster | undefined, readyPods = 3) {
  const api = new FakeApi();
  let current = cluster;
  const reconciler = new Reconciler({
    api,
    getCluster: () => current,
    observe: () => ({
      statefulSet: {
        generation: 1,
        observedGeneration: 1,
        replicas: 3,
        readyReplicas: readyPods,
        updatedReplicas: 3,
        currentRevision: 'r',
        updateRevision: 'r',
      },
      pods: [0, 1, 2].map((i) => ({
        name: `w-signer-${i}`,
        ready: i < readyPods,
        terminating: false,
      })),
    }),
    randomBytes: (n) => new Uint8Array(n).fill(7),
    now: () => new Date('2026-01-01T00:00:00Z'),
    logger: { info: () => {}, warn: () => {} },
  });
  return { api, reconciler, setCluster: (c: MpcCluster) => (current = c) };
}

describe('Reconciler', () => {
  it('generates secrets once, applies every child and writes the status with events', async () => {
    const { api, reconciler, setCluster } = setup(makeCluster());
    const result = await reconciler.reconcile('n', 'w');
    expect(result).toEqual({ outcome: 'reconciled' });
    expect([...api.created.keys()]).toEqual(['Secret/w-kek', 'Secret/w-chain-code']);
    expect(api.applied).toHaveLength(9);
    expect(api.statuses).toHaveLength(1);
    expect(api.statuses[0]?.phase).toBe('Ready');
    expect(api.events.map((e) => e.reason)).toEqual([
      'SecretGenerated',
      'SecretGenerated',
      'QuorumReached',
      'ClusterReady',
    ]);

    // Second pass with the written status: secrets kept, status not rewritten, no events.
    setCluster(makeCluster({}, { status: api.statuses[0] as MpcClusterStatus }));
    await reconciler.reconcile('n', 'w');
    expect(api.created.size).toBe(2);
    expect(api.statuses).toHaveLength(1);
    expect(api.events).toHaveLength(4);
  });

  it('does nothing for a missing or terminating cluster', async () => {
    expect((await setup(undefined).reconciler.reconcile('n', 'w')).outcome).toBe('not-found');
    const terminating = setup(
      makeCluster(
        {},
        {
          metadata: {
            name: 'w',
            namespace: 'n',
            uid: 'u',
            deletionTimestamp: '2026-01-01T00:00:00Z',
          },
        },
      ),
    );
    expect((await terminating.reconciler.reconcile('n', 'w')).outcome).toBe('deleting');
    expect(terminating.api.applied).toEqual([]);
    expect(terminating.api.created.size).toBe(0);
  });

  it('does not generate referenced secrets and reports them when missing', async () => {
    const { api, reconciler } = setup(
      makeCluster({ kekSecretRef: { name: 'mine' }, chainCodeSecretRef: { name: 'cc' } }),
    );
    api.existing.add('Secret/cc');
    const result = await reconciler.reconcile('n', 'w');
    expect(api.created.size).toBe(0);
    expect(api.statuses[0]?.conditions?.find((c) => c.type === 'Degraded')?.message).toContain(
      'mine',
    );
    expect(result.requeueAfterMs).toBe(Reconciler.UNSETTLED_REQUEUE_MS);
  });

  it('a refused apply still writes the status, reports ReconcileError and then fails', async () => {
    const { api, reconciler } = setup(makeCluster(), 1);
    api.failApplyOf = 'StatefulSet';
    await expect(reconciler.reconcile('n', 'w')).rejects.toThrow(
      /apply StatefulSet w-signer: HTTP 403: forbidden/,
    );
    // The other children were still applied.
    expect(api.applied).toContain('PodDisruptionBudget/w-signer');
    expect(api.applied).not.toContain('StatefulSet/w-signer');
    // The status tracks readiness regardless (1 of 3 ready: quorum lost).
    const status = api.statuses[0];
    expect(status?.readySigners).toBe(1);
    expect(status?.phase).toBe('Pending');
    const byType = Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c]));
    expect(byType['QuorumReady']?.status).toBe('False');
    expect(byType['Degraded']).toMatchObject({ status: 'True', reason: 'ReconcileError' });
    expect(byType['Degraded']?.message).toContain(
      'apply StatefulSet w-signer: HTTP 403: forbidden',
    );
    expect(byType['Progressing']).toMatchObject({ status: 'False', reason: 'ReconcileError' });
    expect(api.events.filter((e) => e.reason === 'ReconcileError')).toEqual([
      {
        type: 'Warning',
        reason: 'ReconcileError',
        message: 'apply StatefulSet w-signer: HTTP 403: forbidden',
      },
    ]);
  });

  it('a recreated cluster (no status) takes over the pins of the retained roster ConfigMap', async () => {
    const { api, reconciler } = setup(makeCluster());
    const pinned = 'ab'.repeat(32);
    api.configMaps.set('w-roster', {
      'roster.json': JSON.stringify({ version: 1, nodes: { 'w-signer-0': pinned, junk: 'zz' } }),
    });
    await reconciler.reconcile('n', 'w');
    expect(api.statuses[0]?.roster).toEqual({ 'w-signer-0': pinned });
    const roster = api.manifests.get('ConfigMap/w-roster') as { metadata: object } | undefined;
    expect(roster?.metadata).toBeDefined();
    expect(roster?.metadata).not.toHaveProperty('ownerReferences');
  });

  it('skips a cluster object it already wrote over until the watch delivers the new one', async () => {
    const cluster = makeCluster(
      {},
      { metadata: { name: 'w', namespace: 'n', uid: 'u', generation: 1, resourceVersion: '5' } },
    );
    const { api, reconciler, setCluster } = setup(cluster);
    await reconciler.reconcile('n', 'w');
    expect(api.statuses).toHaveLength(1);
    expect(await reconciler.reconcile('n', 'w')).toEqual({
      outcome: 'stale',
      requeueAfterMs: Reconciler.STALE_REQUEUE_MS,
    });
    expect(api.statuses).toHaveLength(1);
    setCluster({
      ...cluster,
      metadata: { ...cluster.metadata, resourceVersion: '6' },
      status: api.statuses[0] as MpcClusterStatus,
    });
    expect((await reconciler.reconcile('n', 'w')).outcome).toBe('reconciled');
  });

  it('requeues while not every signer is ready', async () => {
    const { reconciler } = setup(makeCluster(), 2);
    expect((await reconciler.reconcile('n', 'w')).requeueAfterMs).toBe(
      Reconciler.UNSETTLED_REQUEUE_MS,
    );
  });
});

describe('Reconciler rollout guard', () => {
  it('holds a pending rollout while a signer is down, and reports it', async () => {
    const api = new FakeApi();
    const reconciler = new Reconciler({
      api,
      getCluster: () => makeCluster(),
      observe: () => ({
        statefulSet: {
          generation: 2,
          observedGeneration: 2,
          replicas: 3,
          readyReplicas: 2,
          updatedReplicas: 0,
          currentRevision: 'old',
          updateRevision: 'new',
        },
        pods: [0, 1, 2].map((i) => ({
          name: `w-signer-${i}`,
          ready: i !== 0,
          terminating: false,
          revision: 'old',
        })),
      }),
      randomBytes: (n) => new Uint8Array(n).fill(7),
      now: () => new Date('2026-01-01T00:00:00Z'),
      logger: { info: () => {}, warn: () => {} },
    });
    await reconciler.reconcile('n', 'w');
    expect(api.deletedPods).toEqual([]);
    const progressing = api.statuses[0]?.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing).toMatchObject({ status: 'True', reason: 'QuorumAtRisk' });
    expect(api.events.map((e) => e.reason)).toContain('RolloutPaused');
  });
});

describe('Reconciler rollouts (OnDelete)', () => {
  it('deletes one outdated signer per reconcile while quorum + 1 are ready, never a second', async () => {
    const api = new FakeApi();
    const reconciler = new Reconciler({
      api,
      getCluster: () => makeCluster(),
      observe: () => ({
        statefulSet: {
          generation: 2,
          observedGeneration: 2,
          replicas: 3,
          readyReplicas: 3,
          updatedReplicas: 0,
          currentRevision: 'old',
          updateRevision: 'new',
        },
        // A stale pod cache: the first deletion is not visible yet.
        pods: [0, 1, 2].map((i) => ({
          name: `w-signer-${i}`,
          uid: `u${i}`,
          ready: true,
          terminating: false,
          revision: 'old',
        })),
      }),
      randomBytes: (n) => new Uint8Array(n).fill(7),
      now: () => new Date('2026-01-01T00:00:00Z'),
      logger: { info: () => {}, warn: () => {} },
    });
    await reconciler.reconcile('n', 'w');
    await reconciler.reconcile('n', 'w');
    expect(api.deletedPods).toEqual(['w-signer-2']);
    expect(api.events.map((e) => e.reason)).toContain('SignerReplaced');
    const sts = api.manifests.get('StatefulSet') as unknown as {
      spec: { updateStrategy: unknown };
    };
    expect(sts.spec.updateStrategy).toEqual({ type: 'OnDelete' });
  });
});

describe('Reconciler with Leases and pins', () => {
  const key = (c: string) => c.repeat(64);
  function leaseSetup(
    cluster: MpcCluster,
    leases: Map<string, { liveness: 'live' | 'stale'; identityPublicKey?: string }>,
    pending = false,
  ) {
    const api = new FakeApi();
    const reconciler = new Reconciler({
      api,
      getCluster: () => cluster,
      observe: () => ({
        statefulSet: {
          generation: 2,
          observedGeneration: 2,
          replicas: 3,
          readyReplicas: 3,
          updatedReplicas: pending ? 0 : 3,
          currentRevision: pending ? 'old' : 'r',
          updateRevision: pending ? 'new' : 'r',
        },
        pods: [0, 1, 2].map((i) => ({
          name: `w-signer-${i}`,
          ready: true,
          terminating: false,
          revision: pending ? 'old' : 'r',
        })),
        leases,
        nextLeaseExpiryMs: 1234,
      }),
      randomBytes: (n) => new Uint8Array(n).fill(7),
      now: () => new Date('2026-01-01T00:00:00Z'),
      logger: { info: () => {}, warn: () => {} },
    });
    return { api, reconciler };
  }

  it('a stale Lease holds a rollout although every pod is Ready; the next expiry is the requeue', async () => {
    const { api, reconciler } = leaseSetup(
      makeCluster(),
      new Map([
        ['w-signer-0', { liveness: 'stale' as const }],
        ['w-signer-1', { liveness: 'live' as const }],
        ['w-signer-2', { liveness: 'live' as const }],
      ]),
      true,
    );
    const outcome = await reconciler.reconcile('n', 'w');
    expect(api.deletedPods).toEqual([]);
    expect(api.statuses[0]?.readySigners).toBe(2);
    expect(outcome.requeueAfterMs).toBe(1334);
  });

  it('pins first keys into the roster ConfigMap and removes a processed unpin annotation', async () => {
    const cluster = makeCluster(
      {},
      {
        metadata: {
          name: 'w',
          namespace: 'n',
          uid: 'u',
          generation: 1,
          annotations: { 'mpc-platform.dev/unpin': 'w-signer-0' },
        },
        status: { roster: { 'w-signer-0': key('a'), 'w-signer-1': key('b') } },
      },
    );
    const { api, reconciler } = leaseSetup(
      cluster,
      new Map([
        ['w-signer-0', { liveness: 'live' as const, identityPublicKey: key('d') }],
        ['w-signer-1', { liveness: 'live' as const, identityPublicKey: key('b') }],
        ['w-signer-2', { liveness: 'live' as const, identityPublicKey: key('c') }],
      ]),
    );
    await reconciler.reconcile('n', 'w');
    expect(api.statuses[0]?.roster).toEqual({
      'w-signer-0': key('d'),
      'w-signer-1': key('b'),
      'w-signer-2': key('c'),
    });
    expect(api.applied).toContain('ConfigMap/w-roster');
    expect(api.removedAnnotations).toEqual(['mpc-platform.dev/unpin']);
    expect(api.events.map((e) => e.reason)).toContain('IdentityUnpinned');
  });

  it('emits IdentityUnpinned once although the cache lags behind its own writes', async () => {
    const leases = new Map([
      ['w-signer-0', { liveness: 'live' as const, identityPublicKey: key('d') }],
    ]);
    const meta = (resourceVersion: string) => ({
      name: 'w',
      namespace: 'n',
      uid: 'u',
      generation: 1,
      resourceVersion,
      annotations: { 'mpc-platform.dev/unpin': 'w-signer-0' },
    });
    let current = makeCluster(
      {},
      { metadata: meta('5'), status: { roster: { 'w-signer-0': key('a') } } },
    );
    const { api, reconciler } = leaseSetup(current, leases);
    const run = async () => {
      // leaseSetup's getCluster returns its argument: rebuild with the current object.
      Object.assign(reconciler, {
        deps: { ...(reconciler as unknown as { deps: object }).deps, getCluster: () => current },
      });
      return reconciler.reconcile('n', 'w');
    };
    await run();
    // A pod event arrives before the watch delivered the status write: same cached object.
    expect((await run()).outcome).toBe('stale');
    // The status write arrives, the annotation removal not yet: the unpin is applied again,
    // but it changes nothing, so it is not news.
    current = makeCluster({}, { metadata: meta('6'), status: api.statuses[0] as MpcClusterStatus });
    await run();
    expect(api.events.filter((e) => e.reason === 'IdentityUnpinned')).toHaveLength(1);
    expect(api.statuses.at(-1)?.roster?.['w-signer-0']).toBe(key('d'));
  });
});

describe('canonicalJson', () => {
  it('ignores key order but not values or array order', () => {
    expect(canonicalJson({ a: 1, b: { c: 2, d: 3 } })).toBe(
      canonicalJson({ b: { d: 3, c: 2 }, a: 1 }),
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});

describe('Reconciler: reshare ids and scale-down (issue 14 item 3)', () => {
  /** A StatefulSet of `size` signers, all present and ready; a fake signer query. */
  function scalingSetup(
    cluster: MpcCluster,
    size: number,
    answer: (pod: string, node: string) => SignerAnswer,
  ) {
    const api = new FakeApi();
    const asked: string[] = [];
    const metricReplicas: number[] = [];
    const reconciler = new Reconciler({
      api,
      getCluster: () => cluster,
      observe: () => ({
        statefulSet: {
          generation: 1,
          observedGeneration: 1,
          replicas: size,
          specReplicas: size,
          readyReplicas: size,
          updatedReplicas: size,
          currentRevision: 'r',
          updateRevision: 'r',
        },
        pods: Array.from({ length: size }, (_, i) => ({
          name: `w-signer-${i}`,
          ready: true,
          terminating: false,
          revision: 'r',
        })),
      }),
      randomBytes: (n) => new Uint8Array(n).fill(7),
      now: () => new Date('2026-01-01T00:00:00Z'),
      logger: { info: () => {}, warn: () => {} },
      onStatus: (running) => metricReplicas.push(running.spec.replicas),
      signerWallets: {
        walletsNeeding: async (target, node) => {
          asked.push(`${target.pod}?${node}`);
          return answer(target.pod, node);
        },
      },
    });
    const stsReplicas = () =>
      (api.manifests.get('StatefulSet') as { spec?: { replicas?: number } } | undefined)?.spec
        ?.replicas;
    const condition = (type: string) =>
      api.statuses.at(-1)?.conditions?.find((c) => c.type === type);
    return { api, reconciler, asked, stsReplicas, condition, metricReplicas };
  }
  const none: SignerAnswer = { ok: true, count: 0, wallets: [] };
  const record = { id: 'grow', replicas: 5, threshold: 2, usedIds: ['first', 'grow'] };

  it('records the first reshare id in status.reshare', async () => {
    const { api, reconciler } = scalingSetup(
      makeCluster({ replicas: 3, threshold: 1, reshare: { id: 'first' } }),
      3,
      () => none,
    );
    await reconciler.reconcile('n', 'w');
    expect(api.statuses[0]?.reshare).toEqual({
      id: 'first',
      replicas: 3,
      threshold: 1,
      usedIds: ['first'],
    });
  });

  it('refuses a reused id: keeps the accepted size and threshold, Degraded ReshareIdReused', async () => {
    const { api, reconciler, asked, stsReplicas, condition, metricReplicas } = scalingSetup(
      makeCluster(
        { replicas: 3, threshold: 1, reshare: { id: 'first' } },
        { status: { reshare: record } },
      ),
      5,
      () => none,
    );
    await reconciler.reconcile('n', 'w');
    expect(stsReplicas()).toBe(5);
    // Metrics (and the alerts on them) compare with the signers that run, not the refused n.
    expect(metricReplicas).toEqual([5]);
    expect(asked).toEqual([]);
    const config = api.manifests.get('ConfigMap/w-config') as { data?: Record<string, string> };
    expect(config.data?.['signer.yaml']).toMatch(/threshold: 2/);
    expect(condition('Degraded')).toMatchObject({ status: 'True', reason: 'ReshareIdReused' });
    expect(condition('Degraded')?.message).toContain('"first" was already used');
    expect(api.statuses.at(-1)?.reshare).toEqual(record);
    expect(api.events.map((e) => e.reason)).toContain('ReshareIdReused');
  });

  it('blocks a scale-down while a staying signer reports wallets, naming them', async () => {
    const { api, reconciler, asked, stsReplicas, condition } = scalingSetup(
      makeCluster(
        { replicas: 3, threshold: 1, reshare: { id: 'shrink' } },
        { status: { reshare: record } },
      ),
      5,
      (pod) =>
        pod === 'w-signer-1'
          ? { ok: true, count: 1, wallets: [{ walletId: 'treasury', keyType: 'secp256k1' }] }
          : none,
    );
    await reconciler.reconcile('n', 'w');
    expect(stsReplicas()).toBe(5);
    expect(asked.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `w-signer-${i}?w-signer-4`));
    expect(condition('ScaleDownBlocked')).toMatchObject({
      status: 'True',
      reason: 'WalletsNeedSigner',
    });
    expect(condition('ScaleDownBlocked')?.message).toContain('treasury/secp256k1');
    expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'ScaleDownBlocked' });
    expect(api.statuses.at(-1)?.reshare?.usedIds).toEqual(['first', 'grow', 'shrink']);
    expect(api.events.find((e) => e.reason === 'ScaleDownBlocked')?.type).toBe('Warning');
  });

  it('removes one signer at a time (5 → 4, never 5 → 3) once no wallet needs it', async () => {
    const { reconciler, stsReplicas, condition } = scalingSetup(
      makeCluster(
        { replicas: 3, threshold: 1, reshare: { id: 'shrink' } },
        { status: { reshare: record } },
      ),
      5,
      () => none,
    );
    await reconciler.reconcile('n', 'w');
    expect(stsReplicas()).toBe(4);
    expect(condition('ScaleDownBlocked')).toMatchObject({ status: 'False', reason: 'ScalingDown' });
    expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'ScalingDown' });
  });

  it('blocks when no signer query is configured or a staying signer does not answer', async () => {
    const { reconciler, stsReplicas, condition } = scalingSetup(
      makeCluster(
        { replicas: 3, threshold: 1, reshare: { id: 'shrink' } },
        { status: { reshare: record } },
      ),
      5,
      (pod) => (pod === 'w-signer-0' ? { ok: false, error: 'connect ECONNREFUSED' } : none),
    );
    await reconciler.reconcile('n', 'w');
    expect(stsReplicas()).toBe(5);
    expect(condition('ScaleDownBlocked')).toMatchObject({
      status: 'True',
      reason: 'SignersUnreachable',
    });
  });
});
