/**
 * LeaseMembership against a real kube-apiserver (test/controlplane), authenticated as a
 * ServiceAccount holding only the documented Lease Role. Lease duration 2 s (renewal every
 * 500 ms, peer timeout 2 s); every wait is bounded.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  CoordinationV1Api,
  CoreV1Api,
  V1MicroTime,
  type KubeConfig,
} from '@kubernetes/client-node';
import { generateKeyPairSync, sign } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  LeaseMembership,
  LeaseMembershipError,
  signerLeaseName,
  type LeaseMembershipOptions,
} from '../../signer/membership/lease-membership.ts';
import { HEARTBEAT_ANNOTATION, signHeartbeat } from '../../signer/membership/heartbeat.ts';
import {
  adminConfig,
  createSignerAccess,
  CuttableProxy,
  tokenConfig,
  uniqueName,
} from './signer-access.ts';

const CLUSTER = 'wallet';
const NODES = ['node0', 'node1', 'node2'];
const LEASE_NAMES = new Map(
  NODES.map((node, ordinal) => [node, signerLeaseName(CLUSTER, ordinal)]),
);
const LEASE_SECONDS = 2;
const PEER_TIMEOUT_MS = LEASE_SECONDS * 1000;
const log = pino({ level: 'silent' });

async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
) {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return;
    await delay(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

let admin: KubeConfig;
let signerConfig: KubeConfig;
let namespace: string;
const running: LeaseMembership[] = [];

function membership(
  selfNodeId: string,
  extra: Partial<LeaseMembershipOptions> = {},
): LeaseMembership {
  const instance = new LeaseMembership({
    kubeConfig: signerConfig,
    namespace,
    selfNodeId,
    leaseNames: LEASE_NAMES,
    holderIdentity: `${selfNodeId}-pod_${uniqueName('uid')}`,
    leaseDurationSeconds: LEASE_SECONDS,
    labels: { 'app.kubernetes.io/instance': CLUSTER },
    labelSelector: `app.kubernetes.io/instance=${CLUSTER}`,
    log,
    ...extra,
  });
  running.push(instance);
  return instance;
}

function leases() {
  return admin.makeApiClient(CoordinationV1Api);
}

beforeAll(async () => {
  admin = adminConfig(inject('kubeconfigPath'));
  namespace = uniqueName('lease');
  const token = await createSignerAccess(admin, namespace);
  signerConfig = tokenConfig(inject('k8sServerUrl'), token, namespace);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((instance) => instance.stop()));
  // Fresh Leases for every test (admin deletes; the signer Role has no delete). A Lease owned
  // by a Pod the test deleted may be removed by the garbage collector between the list and the
  // delete: already gone is the state wanted.
  const api = leases();
  const list = await api.listNamespacedLease({ namespace });
  for (const lease of list.items) {
    try {
      await api.deleteNamespacedLease({ name: lease.metadata?.name ?? '', namespace });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) throw error;
    }
  }
});

afterAll(async () => {
  await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('LeaseMembership on a real kube-apiserver', () => {
  it('two signers create their Leases and see each other ready; an absent one is pending, then expired', async () => {
    const pod = await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'wallet-signer-0' },
        spec: { containers: [{ name: 'signer', image: 'signer:test' }] },
      },
    });
    const a = membership('node0', {
      ownerPod: { name: 'wallet-signer-0', uid: pod.metadata?.uid ?? '' },
    });
    const b = membership('node1');
    let changes = 0;
    a.onChange(() => (changes += 1));
    await Promise.all([a.start(), b.start()]);
    expect(a.leaseState('node2')).toBe('pending');
    await eventually('both ready', () => a.isReady('node1') && b.isReady('node0'));
    expect(changes).toBeGreaterThan(0);
    expect(a.readyNodes()).toEqual(['node0', 'node1']);
    expect(b.readyNodes(['node2', 'node1', 'node0'])).toEqual(['node1', 'node0']);

    const lease = await leases().readNamespacedLease({ name: 'wallet-signer-0', namespace });
    expect(lease.spec?.holderIdentity).toMatch(/^node0-pod_/);
    expect(lease.spec?.leaseDurationSeconds).toBe(LEASE_SECONDS);
    expect(lease.spec?.leaseTransitions).toBe(0);
    expect(String(lease.spec?.acquireTime)).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+\.\d{6}Z$/);
    expect(String(lease.spec?.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+\.\d{6}Z$/);
    expect(lease.metadata?.labels?.['app.kubernetes.io/instance']).toBe(CLUSTER);
    expect(lease.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Pod', name: 'wallet-signer-0', uid: pod.metadata?.uid }),
    ]);
    // Renewals keep changing renewTime.
    const first = String(lease.spec?.renewTime);
    await eventually('a renewal', async () => {
      const now = await leases().readNamespacedLease({ name: 'wallet-signer-0', namespace });
      return String(now.spec?.renewTime) !== first;
    });

    await eventually(
      'node2 expired after the restart grace',
      () => a.leaseState('node2') === 'expired',
    );
    expect(a.isReady('node2')).toBe(false);
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ name: 'wallet-signer-0', namespace });
  });

  it('pod readiness gates a live Lease', async () => {
    let podReady = false;
    const a = membership('node0', { isPodReady: (node) => node !== 'node1' || podReady });
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('b sees a', () => b.isReady('node0'));
    await delay(3 * 500);
    expect(a.leaseState('node1')).toBe('live');
    expect(a.isReady('node1')).toBe(false);
    podReady = true;
    expect(a.isReady('node1')).toBe(true);
  });

  it('a stopped signer releases its Lease and peers drop it at once', async () => {
    const a = membership('node0');
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('both ready', () => a.isReady('node1') && b.isReady('node0'));
    const stoppedAt = performance.now();
    await b.stop();
    // Well under the 2 s peer timeout: the release is seen through the watch.
    await eventually('a drops b', () => !a.isReady('node1'), PEER_TIMEOUT_MS);
    expect(performance.now() - stoppedAt).toBeLessThan(PEER_TIMEOUT_MS);
    expect(a.leaseState('node1')).toBe('released');
    const lease = await leases().readNamespacedLease({ name: 'wallet-signer-1', namespace });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
    expect(lease.spec?.leaseDurationSeconds).toBe(1);
  });

  it('a peer that stops renewing (crash, no release) expires by the reader clock, whatever renewTime says', async () => {
    const a = membership('node0');
    await a.start();
    // A hand-driven "peer" whose holder clock is far in the future.
    const api = leases();
    const body = (renewTime: Date) => ({
      metadata: { name: 'wallet-signer-2', labels: { 'app.kubernetes.io/instance': CLUSTER } },
      spec: {
        holderIdentity: 'node2-pod',
        leaseDurationSeconds: LEASE_SECONDS,
        renewTime: new V1MicroTime(renewTime.getTime()),
      },
    });
    const created = await api.createNamespacedLease({
      namespace,
      body: body(new Date('2099-01-01T00:00:00Z')),
    });
    await eventually('a sees node2', () => a.isReady('node2'));
    await api.replaceNamespacedLease({
      name: 'wallet-signer-2',
      namespace,
      body: { ...body(new Date('2099-01-01T00:00:01Z')), metadata: created.metadata ?? {} },
    });
    const lastRenewal = performance.now();
    let expiryNotified = false;
    a.onChange(() => {
      if (!a.isReady('node2')) expiryNotified = true;
    });
    // The expiry is announced to listeners (metrics) without any Lease event.
    await eventually('node2 expiry notified', () => expiryNotified, PEER_TIMEOUT_MS + 2000);
    expect(a.isReady('node2')).toBe(false);
    expect(performance.now() - lastRenewal).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS - 100);
    expect(a.leaseState('node2')).toBe('expired');
  });

  it('a stale Lease left by a dead signer never makes it ready', async () => {
    await leases().createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'wallet-signer-2', labels: { 'app.kubernetes.io/instance': CLUSTER } },
        spec: {
          holderIdentity: 'node2-old-pod',
          leaseDurationSeconds: LEASE_SECONDS,
          renewTime: new V1MicroTime(),
        },
      },
    });
    const a = membership('node0');
    await a.start();
    const until = performance.now() + PEER_TIMEOUT_MS + 250;
    while (performance.now() < until) {
      expect(a.isReady('node2')).toBe(false);
      await delay(50);
    }
    expect(a.leaseState('node2')).toBe('expired');
  });

  it('keeps renewing when someone else writes its Lease (409 → re-read)', async () => {
    const a = membership('node0');
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('a sees b', () => a.isReady('node1'));
    // The operator (or a human) labels b's Lease: b's cached resourceVersion is now stale.
    // That writer is a well-behaved client too: when b's renewal lands between its read and
    // its write, its own write is refused (409) and it reads again (bounded).
    const api = leases();
    for (let round = 0; round < 3; round += 1) {
      for (let attempt = 0; ; attempt += 1) {
        const current = await api.readNamespacedLease({ name: 'wallet-signer-1', namespace });
        current.metadata = {
          ...current.metadata,
          labels: { ...current.metadata?.labels, touched: String(round) },
        };
        try {
          await api.replaceNamespacedLease({ name: 'wallet-signer-1', namespace, body: current });
          break;
        } catch (error) {
          if ((error as { code?: unknown }).code !== 409 || attempt >= 9) throw error;
        }
      }
      await delay(300);
    }
    const until = performance.now() + PEER_TIMEOUT_MS + 500;
    while (performance.now() < until) {
      expect(a.isReady('node1')).toBe(true);
      await delay(50);
    }
    const lease = await api.readNamespacedLease({ name: 'wallet-signer-1', namespace });
    expect(lease.metadata?.labels?.['touched']).toBe('2');
    expect(lease.spec?.holderIdentity).toMatch(/^node1-pod_/);
  });

  it('recreates its Lease when someone deletes it (stale update → 409 → re-read finds none → create)', async () => {
    const a = membership('node0');
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('a sees b', () => a.isReady('node1'));
    await leases().deleteNamespacedLease({ name: 'wallet-signer-1', namespace });
    await eventually('a saw the deletion', () => a.leaseState('node1') === 'released', 2000);
    await eventually('b recreated it and a sees b again', () => a.isReady('node1'), 2000);
    const lease = await leases().readNamespacedLease({ name: 'wallet-signer-1', namespace });
    expect(lease.spec?.holderIdentity).toMatch(/^node1-pod_/);
  });

  it('keeps seeing peers across server-side watch timeouts (re-watch from the last version)', async () => {
    const a = membership('node0', { watchTimeoutSeconds: 1 });
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('a sees b', () => a.isReady('node1'));
    const until = performance.now() + 3500;
    while (performance.now() < until) {
      expect(a.isReady('node1')).toBe(true);
      await delay(50);
    }
  });

  it('a restarted reader does not flap: peers go not-ready → ready once, never back', async () => {
    const a = membership('node0');
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('both ready', () => a.isReady('node1') && b.isReady('node0'));
    const before = await leases().readNamespacedLease({ name: 'wallet-signer-0', namespace });
    await a.stop();

    const restarted = membership('node0');
    await restarted.start();
    const seenByRestarted: boolean[] = [];
    const seenByPeer: boolean[] = [];
    const states = new Set<string>();
    let peerSawRestarted = false;
    const sampleUntil = performance.now() + 2 * PEER_TIMEOUT_MS + 500;
    while (performance.now() < sampleUntil) {
      seenByRestarted.push(restarted.isReady('node1'));
      states.add(restarted.leaseState('node1'));
      const peerView = b.isReady('node0');
      if (peerView) peerSawRestarted = true;
      if (peerSawRestarted) seenByPeer.push(peerView);
      await delay(20);
    }
    const firstReady = seenByRestarted.indexOf(true);
    expect(firstReady).toBeGreaterThanOrEqual(0);
    expect(seenByRestarted.slice(firstReady).every(Boolean)).toBe(true);
    expect(states.has('expired')).toBe(false);
    expect(peerSawRestarted).toBe(true);
    expect(seenByPeer.every(Boolean)).toBe(true);

    // The takeover is recorded on the Lease.
    const after = await leases().readNamespacedLease({ name: 'wallet-signer-0', namespace });
    expect(after.spec?.leaseTransitions).toBe((before.spec?.leaseTransitions ?? 0) + 1);
    expect(after.spec?.holderIdentity).not.toBe(before.spec?.holderIdentity);
    expect(String(after.spec?.acquireTime)).not.toBe(String(before.spec?.acquireTime));
  });

  it('markSuspect excludes a peer until its next renewal', async () => {
    const a = membership('node0');
    const b = membership('node1');
    await Promise.all([a.start(), b.start()]);
    await eventually('a sees b', () => a.isReady('node1'));
    let changes = 0;
    a.onChange(() => (changes += 1));
    a.markSuspect('node1');
    expect(a.isReady('node1')).toBe(false);
    expect(a.leaseState('node1')).toBe('suspect');
    expect(a.readyNodes()).toEqual(['node0']);
    expect(changes).toBe(1);
    const renewedBefore = String(
      (await leases().readNamespacedLease({ name: 'wallet-signer-1', namespace })).spec?.renewTime,
    );
    await eventually('b back after its next renewal', () => a.isReady('node1'), 2000);
    const renewedAfter = String(
      (await leases().readNamespacedLease({ name: 'wallet-signer-1', namespace })).spec?.renewTime,
    );
    expect(renewedAfter).not.toBe(renewedBefore);
    // Self cannot be made suspect.
    a.markSuspect('node0');
    expect(a.isReady('node0')).toBe(true);
  });

  it('survives API outages: renewals and the watch resume, peers see it ready again', async () => {
    const { proxy, url } = await CuttableProxy.start(new URL(inject('k8sServerUrl')));
    try {
      const token = signerConfig.getCurrentUser()?.token ?? '';
      const cut = membership('node1', { kubeConfig: tokenConfig(url, token, namespace) });
      const a = membership('node0');
      await Promise.all([a.start(), cut.start()]);
      await eventually('both ready', () => a.isReady('node1') && cut.isReady('node0'));
      proxy.interrupt();
      await eventually(
        'a drops the cut-off signer',
        () => !a.isReady('node1'),
        PEER_TIMEOUT_MS + 2000,
      );
      await eventually(
        'cut-off signer drops a',
        () => !cut.isReady('node0'),
        PEER_TIMEOUT_MS + 2000,
      );
      proxy.restore();
      await eventually('a sees it again', () => a.isReady('node1'), 15_000);
      await eventually('it sees a again (watch relisted)', () => cut.isReady('node0'), 15_000);
    } finally {
      await Promise.all(running.splice(0).map((instance) => instance.stop()));
      await proxy.close();
    }
  });

  it('refuses to start without Lease rights in the namespace (403 is not retried forever)', async () => {
    const other = uniqueName('other');
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: other } } });
    try {
      const outsider = membership('node0', { namespace: other });
      const started = performance.now();
      await expect(outsider.start()).rejects.toBeInstanceOf(LeaseMembershipError);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: other });
    }
  });

  it('signed heartbeats: a peer Lease renewed with another signer token but no valid signature is not live', async () => {
    const keys = new Map(NODES.map((node) => [node, generateKeyPairSync('ed25519')]));
    const raw = (node: string) =>
      new Uint8Array(
        keys.get(node)!.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32),
      );
    const signWith = (node: string) => (message: Uint8Array) =>
      new Uint8Array(sign(null, message, keys.get(node)!.privateKey));
    const heartbeat = (node: string) => ({
      cluster: `${namespace}/${CLUSTER}`,
      publicKey: raw(node),
      sign: signWith(node),
      pinnedKey: (peer: string) => (keys.has(peer) ? raw(peer) : undefined),
    });
    const a = membership('node0', { heartbeat: heartbeat('node0') });
    const b = membership('node1', { heartbeat: heartbeat('node1') });
    await Promise.all([a.start(), b.start()]);
    await eventually('a sees b (signed heartbeats verify)', () => a.isReady('node1'));
    // node2 is compromised: with the shared ServiceAccount token it keeps renewing node1's
    // Lease after node1 stopped, putting back node1's last genuine heartbeat (with its holder),
    // or one it signs with its own key.
    const asSigner = signerConfig.makeApiClient(CoordinationV1Api);
    const leaseName = LEASE_NAMES.get('node1')!;
    const last = await asSigner.readNamespacedLease({ name: leaseName, namespace });
    const genuine = last.metadata?.annotations?.[HEARTBEAT_ANNOTATION];
    const genuineHolder = last.spec?.holderIdentity ?? '';
    expect(genuine).toMatch(/^\d+\.[0-9a-f]{128}$/);
    await b.stop();
    await eventually('b released', () => !a.isReady('node1'));
    const holder = 'node1-pod_forged';
    const forge = async (annotation: string | undefined, holderIdentity = holder) => {
      const current = await asSigner.readNamespacedLease({ name: leaseName, namespace });
      const annotations = { ...current.metadata?.annotations };
      if (annotation === undefined) delete annotations[HEARTBEAT_ANNOTATION];
      else annotations[HEARTBEAT_ANNOTATION] = annotation;
      await asSigner.replaceNamespacedLease({
        name: leaseName,
        namespace,
        body: {
          ...current,
          metadata: { ...current.metadata, annotations },
          spec: {
            ...current.spec,
            holderIdentity,
            leaseDurationSeconds: LEASE_SECONDS,
            renewTime: new V1MicroTime(),
          },
        },
      });
    };
    const fields = (counter: number) => ({
      cluster: `${namespace}/${CLUSTER}`,
      nodeId: 'node1',
      holderIdentity: holder,
      publicKey: Buffer.from(raw('node1')).toString('hex'),
      counter,
    });
    let counter = Date.now() + 1_000_000;
    const attempts = [
      () => forge(genuine, genuineHolder),
      () => forge(undefined),
      () => forge(signHeartbeat(fields((counter += 1)), signWith('node2'))),
    ];
    const until = performance.now() + PEER_TIMEOUT_MS + 1000;
    let written = 0;
    while (performance.now() < until) {
      await attempts[written % attempts.length]!();
      written += 1;
      await delay(150);
      expect(a.isReady('node1')).toBe(false);
    }
    expect(written).toBeGreaterThan(6);
    expect(a.leaseState('node1')).not.toBe('live');

    // Control: the same write path with node1's own signature and a new counter is live.
    await forge(signHeartbeat(fields((counter += 1)), signWith('node1')));
    await eventually('a counts a genuinely signed renewal', () => a.isReady('node1'));
  });
});
