import { describe, expect, it } from 'vitest';
import type { MpcCluster, MpcClusterStatus } from '../api/mpc-cluster.ts';
import {
  computeStatus,
  statusTransitionEvents,
  type Observation,
  type ObservedPod,
} from './compute-status.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';

function cluster(status?: MpcClusterStatus, generation = 1): MpcCluster {
  return {
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcCluster',
    metadata: { name: 'w', namespace: 'n', uid: 'u', generation },
    spec: {
      replicas: 3,
      threshold: 1,
      image: 'i',
      nats: { url: 'nats://x:1' },
      initiator: { algorithm: 'ed25519', publicKey: 'k' },
    },
    ...(status === undefined ? {} : { status }),
  };
}

const pod = (ordinal: number, ready: boolean, terminating = false): ObservedPod => ({
  name: `w-signer-${ordinal}`,
  ready,
  terminating,
  revision: 'r1',
});

function observed(
  readyFlags: boolean[],
  sts: Partial<NonNullable<Observation['statefulSet']>> = {},
): Observation {
  return {
    statefulSet: {
      generation: 1,
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: readyFlags.filter(Boolean).length,
      updatedReplicas: 3,
      currentRevision: 'r1',
      updateRevision: 'r1',
      ...sts,
    },
    pods: readyFlags.map((ready, i) => pod(i, ready)),
    missingSecrets: [],
  };
}

const conditionMap = (status: MpcClusterStatus) =>
  Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('computeStatus', () => {
  it('is Ready with all conditions settled when every signer is ready', () => {
    const status = computeStatus(cluster(), observed([true, true, true]), T0);
    expect(status).toMatchObject({
      phase: 'Ready',
      readySigners: 3,
      quorum: 2,
      replicas: 3,
      observedGeneration: 1,
    });
    expect(conditionMap(status)).toEqual({
      QuorumReady: 'True/QuorumReached',
      Available: 'True/AllSignersReady',
      Progressing: 'False/RolloutComplete',
      Degraded: 'False/AllSignersReady',
      IdentityMismatch: 'False/NoIdentityPinned',
    });
  });

  it('a stale or released Lease takes a Ready pod out of the quorum', () => {
    const leases = new Map([
      ['w-signer-0', { liveness: 'live' as const, ageSeconds: 1 }],
      ['w-signer-1', { liveness: 'stale' as const, ageSeconds: 30 }],
      ['w-signer-2', { liveness: 'released' as const, ageSeconds: 2 }],
    ]);
    const status = computeStatus(cluster(), { ...observed([true, true, true]), leases }, T0);
    expect(status.readySigners).toBe(1);
    expect(conditionMap(status)['QuorumReady']).toBe('False/QuorumLost');
    expect(status.signers?.[1]).toMatchObject({
      name: 'w-signer-1',
      ready: false,
      podReady: true,
      lease: 'stale',
      leaseAgeSeconds: 30,
    });
  });

  it('an identity mismatch keeps the signer out and raises IdentityMismatch with the fix', () => {
    const key = 'a'.repeat(64);
    const pins = {
      pins: { 'w-signer-0': key },
      newlyPinned: [],
      unpinned: [],
      repinned: [],
      rejectedRepins: [],
      authorizations: [],
      mismatches: [{ signer: 'w-signer-0', pinnedFingerprint: 'p', presentedFingerprint: 'q' }],
    };
    const status = computeStatus(cluster(), { ...observed([true, true, true]), pins }, T0);
    expect(status.readySigners).toBe(2);
    expect(status.roster).toEqual({ 'w-signer-0': key });
    expect(conditionMap(status)['IdentityMismatch']).toBe('True/IdentityKeyChanged');
    expect(conditionMap(status)['Degraded']).toBe('True/IdentityMismatch');
    const message = status.conditions?.find((c) => c.type === 'IdentityMismatch')?.message;
    expect(message).toContain('w-signer-0 presents key q, pinned p');
    expect(message).toContain('mpc-platform.dev/repin=');
    expect(statusTransitionEvents(undefined, status).map((e) => e.reason)).toContain(
      'IdentityKeyChanged',
    );
  });

  it('is Pending on first start until every signer is ready', () => {
    expect(computeStatus(cluster(), { pods: [], missingSecrets: [] }, T0).phase).toBe('Pending');
    expect(computeStatus(cluster(), observed([true, true, false]), T0).phase).toBe('Pending');
  });

  it('after having been Ready: Degraded with quorum, QuorumLost below it', () => {
    const ready = computeStatus(cluster(), observed([true, true, true]), T0);
    const degraded = computeStatus(cluster(ready), observed([true, true, false]), T1);
    expect(degraded.phase).toBe('Degraded');
    expect(conditionMap(degraded)['Degraded']).toBe('True/SignersUnready');
    expect(conditionMap(degraded)['QuorumReady']).toBe('True/QuorumReached');
    const lost = computeStatus(cluster(degraded), observed([true, false, false]), T1);
    expect(lost.phase).toBe('QuorumLost');
    expect(conditionMap(lost)['QuorumReady']).toBe('False/QuorumLost');
  });

  it('does not count terminating pods towards quorum', () => {
    const obs = observed([true, true, true]);
    const status = computeStatus(
      cluster(),
      { ...obs, pods: [pod(0, true, true), pod(1, true), pod(2, true)] },
      T0,
    );
    expect(status.readySigners).toBe(2);
  });

  it('ignores pods that are not signers of this spec (e.g. left over after a reshare)', () => {
    const obs = observed([true, true, true]);
    const status = computeStatus(
      cluster(),
      { ...obs, pods: [...obs.pods, { name: 'w-signer-7', ready: true, terminating: false }] },
      T0,
    );
    expect(status.readySigners).toBe(3);
    expect(status.signers?.map((s) => s.name)).toEqual(['w-signer-0', 'w-signer-1', 'w-signer-2']);
  });

  it('is Progressing during a rolling update that keeps quorum', () => {
    const ready = computeStatus(cluster(), observed([true, true, true]), T0);
    const rolling = computeStatus(
      cluster(ready, 2),
      observed([true, true, false], {
        generation: 2,
        observedGeneration: 2,
        updateRevision: 'r2',
        updatedReplicas: 1,
      }),
      T1,
    );
    expect(rolling.phase).toBe('Progressing');
    expect(conditionMap(rolling)['Progressing']).toBe('True/RollingOut');
    expect(conditionMap(rolling)['Degraded']).toBe('False/RollingOut');
    expect(rolling.observedGeneration).toBe(2);
  });

  it('reports missing referenced secrets as Degraded', () => {
    const status = computeStatus(
      cluster(),
      { ...observed([true, true, true]), missingSecrets: ['my-kek'] },
      T0,
    );
    expect(conditionMap(status)['Degraded']).toBe('True/SecretMissing');
    expect(status.phase).not.toBe('Ready');
  });

  it('keeps lastTransitionTime while a condition does not change, so a recompute is identical', () => {
    const first = computeStatus(cluster(), observed([true, true, true]), T0);
    const again = computeStatus(cluster(first), observed([true, true, true]), T1);
    expect(again).toEqual(first);
    const changed = computeStatus(cluster(first), observed([true, true, false]), T1);
    const available = changed.conditions?.find((c) => c.type === 'Available');
    const quorum = changed.conditions?.find((c) => c.type === 'QuorumReady');
    expect(available?.lastTransitionTime).toBe(T1);
    expect(quorum?.lastTransitionTime).toBe(T0);
  });
});

describe('statusTransitionEvents', () => {
  it('emits QuorumReached and ClusterReady on the way up, QuorumLost on the way down, nothing when unchanged', () => {
    const ready = computeStatus(cluster(), observed([true, true, true]), T0);
    expect(statusTransitionEvents(undefined, ready).map((e) => e.reason)).toEqual([
      'QuorumReached',
      'ClusterReady',
    ]);
    expect(
      statusTransitionEvents(
        ready,
        computeStatus(cluster(ready), observed([true, true, true]), T1),
      ),
    ).toEqual([]);
    const lost = computeStatus(cluster(ready), observed([true, false, false]), T1);
    const events = statusTransitionEvents(ready, lost);
    expect(events.map((e) => `${e.type}/${e.reason}`)).toEqual([
      'Warning/QuorumLost',
      'Warning/SignersUnready',
    ]);
    expect(events[0]?.message).toContain('1/3 signers ready, signing needs 2');
  });
});

describe('computeStatus (issue 14 fixes)', () => {
  it('a paused rollout with a signer down is Degraded=True SignersUnready, never AllSignersReady', () => {
    const ready = computeStatus(cluster(), observed([true, true, true]), T0);
    const paused = computeStatus(
      cluster(ready, 2),
      {
        ...observed([false, true, true], {
          generation: 2,
          observedGeneration: 2,
          updateRevision: 'r2',
          updatedReplicas: 0,
        }),
        rolloutPaused: true,
      },
      T1,
    );
    expect(conditionMap(paused)['Progressing']).toBe('True/QuorumAtRisk');
    expect(conditionMap(paused)['Degraded']).toBe('True/SignersUnready');
  });

  it('IdentityMismatch=False says what is pinned instead of claiming every key matches', () => {
    const none = computeStatus(cluster(), observed([true, true, true]), T0);
    const noneCondition = none.conditions?.find((c) => c.type === 'IdentityMismatch');
    expect(noneCondition).toMatchObject({ status: 'False', reason: 'NoIdentityPinned' });
    const pins = {
      pins: { 'w-signer-0': 'ab'.repeat(32) },
      newlyPinned: [],
      mismatches: [],
      unpinned: [],
      repinned: [],
      rejectedRepins: [],
      authorizations: [],
    };
    const some = computeStatus(cluster(), { ...observed([true, true, true]), pins }, T0);
    const someCondition = some.conditions?.find((c) => c.type === 'IdentityMismatch');
    expect(someCondition).toMatchObject({ status: 'False', reason: 'IdentitiesMatchPins' });
    expect(someCondition?.message).toBe(
      '1/3 signers present their pinned identity keys; not pinned yet: w-signer-1, w-signer-2',
    );
  });

  it('a reconcile error is Degraded and stops Progressing claiming the spec is rolled out', () => {
    const status = computeStatus(
      cluster(),
      {
        ...observed([true, false, false]),
        reconcileError: 'apply StatefulSet w-signer: HTTP 422: x',
      },
      T0,
    );
    expect(conditionMap(status)['Degraded']).toBe('True/ReconcileError');
    expect(conditionMap(status)['Progressing']).toBe('False/ReconcileError');
    expect(status.readySigners).toBe(1);
    expect(conditionMap(status)['QuorumReady']).toBe('False/QuorumLost');
  });
});
