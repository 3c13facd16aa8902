/**
 * Computes an MpcCluster's status from what the operator observed, and the Events worth
 * emitting for the change. Pure: the clock is an argument.
 *
 * Conditions (metav1.Condition, each with observedGeneration):
 * - QuorumReady: readySigners >= quorum (t+1): signing is possible.
 * - Available: all n signers ready: keygen and resharing (which need every signer) possible.
 * - Progressing: the StatefulSet has not yet rolled out the current spec.
 * - Degraded: not all signers ready although nothing is rolling (or the rollout is paused
 *   for them), a referenced Secret is missing, an identity mismatches its pin, or the spec
 *   cannot be applied (reason ReconcileError; then Progressing=False with the same reason).
 *   Degraded=False carries reason AllSignersReady only when all are; RollingOut while a
 *   rollout replaces a signer.
 * - IdentityMismatch: a signer presents a key other than its pin; False says how many are
 *   pinned (NoIdentityPinned before the first pin).
 * `lastTransitionTime` changes only when a condition's status changes, so an unchanged world
 * yields an identical status (no write on operator restart).
 *
 * readySigners counts signer pods that are Ready and not terminating. (Lease freshness, design
 * §7, is computed by the signers themselves; the operator reads pod readiness, which the
 * signers' /readyz ties to their membership view.)
 */
import {
  quorumOf,
  type Condition,
  type ConditionStatus,
  type MpcCluster,
  type MpcClusterPhase,
  type MpcClusterStatus,
  type SignerStatus,
} from '../api/mpc-cluster.ts';
import { clusterNames, signerPodNames } from '../resources/names.ts';
import { podTemplateHash } from '../resources/statefulset.ts';
import type { SignerLeaseView } from './lease-tracker.ts';
import type { ReshareRecord } from './scaling.ts';
import { keyFingerprint, type PinOutcome } from './roster-pins.ts';

export interface ObservedPod {
  readonly name: string;
  readonly uid?: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly revision?: string;
}

export interface ObservedStatefulSet {
  readonly generation: number;
  readonly observedGeneration: number;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly updatedReplicas: number;
  readonly currentRevision?: string;
  readonly updateRevision?: string;
  /** spec.replicas of the StatefulSet (the size the operator applied last). */
  readonly specReplicas?: number;
  /** The applied StatefulSet's pod-template-hash annotation. */
  readonly podTemplateHash?: string;
}

export interface Observation {
  /** Undefined when the StatefulSet does not exist yet. */
  readonly statefulSet?: ObservedStatefulSet;
  readonly pods: readonly ObservedPod[];
  /** Names of referenced Secrets that do not exist. */
  readonly missingSecrets: readonly string[];
  /** The rollout guard holds a pending rollout back to protect the quorum. */
  readonly rolloutPaused?: boolean;
  /** Lease view per signer name (absent map: Leases not tracked). */
  readonly leases?: ReadonlyMap<string, SignerLeaseView>;
  /** The identity pins after this round (roster-pins.ts). */
  readonly pins?: PinOutcome;
  /** When the first live signer Lease turns stale unless renewed (requeue hint). */
  readonly nextLeaseExpiryMs?: number;
  /** Why this reconcile could not apply the spec (reconciler.ts), if it could not. */
  readonly reconcileError?: string;
  /**
   * Resharing/scaling state (scaling.ts). `cluster.spec.replicas/threshold` passed to
   * computeStatus are then the ones the operator runs; `targetReplicas` the accepted n.
   */
  readonly scaling?: ScalingObservation;
}

export interface ScalingObservation {
  readonly record: ReshareRecord;
  readonly targetReplicas: number;
  /** The spec's n/t change is not applied (reason ReshareIdReused). */
  readonly refused?: string;
  /** A scale-down step is held back (ScaleDownBlocked=True). */
  readonly blocked?: { readonly reason: string; readonly message: string };
  /** A scale-down step waits for the previous removal. */
  readonly waiting?: string;
}

function rolloutPending(
  cluster: MpcCluster,
  sts: ObservedStatefulSet | undefined,
): string | undefined {
  if (sts === undefined) return 'StatefulSet not created yet';
  if (sts.observedGeneration < sts.generation)
    return 'StatefulSet controller has not observed the latest spec';
  if (sts.replicas !== cluster.spec.replicas)
    return `${sts.replicas}/${cluster.spec.replicas} signer pods exist`;
  // OnDelete: currentRevision never advances, so only updatedReplicas tells a rollout.
  if (sts.updatedReplicas < cluster.spec.replicas) {
    return `rolling update: ${sts.updatedReplicas}/${cluster.spec.replicas} signers updated`;
  }
  if (sts.podTemplateHash !== undefined && sts.podTemplateHash !== podTemplateHash(cluster)) {
    return 'the StatefulSet does not carry the current pod template yet';
  }
  return undefined;
}

function condition(
  previous: readonly Condition[] | undefined,
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  generation: number,
  now: string,
): Condition {
  const old = previous?.find((c) => c.type === type);
  const lastTransitionTime =
    old !== undefined && old.status === status ? old.lastTransitionTime : now;
  return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
}

export function computeStatus(
  cluster: MpcCluster,
  observed: Observation,
  now: string,
): MpcClusterStatus {
  const generation = cluster.metadata.generation ?? 0;
  const quorum = quorumOf(cluster.spec);
  const replicas = cluster.spec.replicas;
  const expected = new Set(signerPodNames(cluster));
  const podsByName = new Map(observed.pods.map((pod) => [pod.name, pod]));
  const mismatched = new Set(observed.pins?.mismatches.map((m) => m.signer) ?? []);
  const signers: SignerStatus[] = [...expected].map((name) => {
    const pod = podsByName.get(name);
    const podReady = pod !== undefined && pod.ready && !pod.terminating;
    const lease = observed.leases?.get(name);
    const leaseOk = lease === undefined || lease.liveness === 'live' || lease.liveness === 'absent';
    const ready = podReady && leaseOk && !mismatched.has(name);
    const identity = lease?.identityPublicKey;
    return {
      name,
      ready,
      podReady,
      ...(lease === undefined ? {} : { lease: lease.liveness }),
      ...(lease?.ageSeconds === undefined ? {} : { leaseAgeSeconds: lease.ageSeconds }),
      ...(identity === undefined || !/^[0-9a-f]{64}$/.test(identity)
        ? {}
        : { identityFingerprint: keyFingerprint(identity) }),
      ...(pod?.revision === undefined ? {} : { revision: pod.revision }),
    };
  });
  const readySigners = signers.filter((s) => s.ready).length;
  const readyReplicas = observed.statefulSet?.readyReplicas ?? 0;
  const scaling = observed.scaling;
  const shrinking =
    scaling !== undefined && scaling.targetReplicas < replicas
      ? `scaling down from ${replicas} to ${scaling.targetReplicas} signers, one at a time: ${
          scaling.blocked?.message ??
          scaling.waiting ??
          `removing ${signerPodNames(cluster).at(-1) ?? ''}`
        }`
      : undefined;
  const pending = shrinking ?? rolloutPending(cluster, observed.statefulSet);
  const previous = cluster.status?.conditions;
  const tally = `${readySigners}/${replicas} signers ready, signing needs ${quorum}`;

  const quorumReady = readySigners >= quorum;
  const allReady = readySigners === replicas;
  let degradedReason = 'AllSignersReady';
  let degradedMessage = tally;
  const reconcileError = observed.reconcileError;
  if (reconcileError !== undefined) {
    degradedReason = 'ReconcileError';
    degradedMessage = `the spec cannot be applied (${tally}): ${reconcileError}`;
  } else if (scaling?.refused !== undefined) {
    degradedReason = 'ReshareIdReused';
    degradedMessage = scaling.refused;
  } else if (observed.missingSecrets.length > 0) {
    degradedReason = 'SecretMissing';
    degradedMessage = `referenced Secret(s) not found: ${observed.missingSecrets.join(', ')}`;
  } else if (mismatched.size > 0) {
    degradedReason = 'IdentityMismatch';
    degradedMessage = `signer identity differs from its pin: ${[...mismatched].join(', ')}`;
  } else if (!allReady && (pending === undefined || observed.rolloutPaused === true)) {
    // A rollout held back because signers are down is degraded, not progressing.
    degradedReason = 'SignersUnready';
  } else if (!allReady) {
    // The signer(s) being replaced by a rollout: expected, not degraded, but not "all ready".
    degradedReason = 'RollingOut';
  }
  const degraded = degradedReason !== 'AllSignersReady' && degradedReason !== 'RollingOut';
  const pinned = signers
    .filter((s) => observed.pins?.pins[s.name] !== undefined)
    .map((s) => s.name);
  const unpinned = signers
    .filter((s) => observed.pins?.pins[s.name] === undefined)
    .map((s) => s.name);

  const conditions: Condition[] = [
    condition(
      previous,
      'QuorumReady',
      quorumReady ? 'True' : 'False',
      quorumReady ? 'QuorumReached' : 'QuorumLost',
      tally,
      generation,
      now,
    ),
    condition(
      previous,
      'Available',
      allReady ? 'True' : 'False',
      allReady ? 'AllSignersReady' : 'SignersUnready',
      tally,
      generation,
      now,
    ),
    reconcileError !== undefined
      ? // The current spec is not (fully) applied: nothing progresses towards it.
        condition(
          previous,
          'Progressing',
          'False',
          'ReconcileError',
          `the spec of generation ${generation} cannot be applied: ${reconcileError}`,
          generation,
          now,
        )
      : condition(
          previous,
          'Progressing',
          pending === undefined ? 'False' : 'True',
          pending === undefined
            ? 'RolloutComplete'
            : shrinking !== undefined
              ? scaling?.blocked !== undefined
                ? 'ScaleDownBlocked'
                : 'ScalingDown'
              : observed.rolloutPaused === true
                ? 'QuorumAtRisk'
                : 'RollingOut',
          pending === undefined
            ? `all ${replicas} signers run the current spec`
            : shrinking === undefined && observed.rolloutPaused === true
              ? `rollout paused until ${Math.min(quorum + 1, replicas)} signers are ready (${tally}); ${pending}`
              : pending,
          generation,
          now,
        ),
    condition(
      previous,
      'Degraded',
      degraded ? 'True' : 'False',
      degradedReason,
      degradedMessage,
      generation,
      now,
    ),
    condition(
      previous,
      'IdentityMismatch',
      mismatched.size > 0 ? 'True' : 'False',
      mismatched.size > 0
        ? 'IdentityKeyChanged'
        : pinned.length === 0
          ? 'NoIdentityPinned'
          : 'IdentitiesMatchPins',
      mismatched.size > 0
        ? (observed.pins?.mismatches ?? [])
            .map(
              (m) =>
                `${m.signer} presents key ${m.presentedFingerprint}, pinned ${m.pinnedFingerprint}`,
            )
            .join('; ') +
            ` — after checking the new key, replace the pin with an administrator-signed statement: kubectl annotate mpccluster ${cluster.metadata.name} mpc-platform.dev/repin=$(mpc admin sign-repin …)`
        : pinned.length === 0
          ? 'no signer identity is pinned yet (each is pinned when its Lease first presents a key)'
          : unpinned.length === 0
            ? `all ${replicas} signers present their pinned identity keys`
            : `${pinned.length}/${replicas} signers present their pinned identity keys; not pinned yet: ${unpinned.join(', ')}`,
      generation,
      now,
    ),
    ...(scaling === undefined
      ? []
      : [
          condition(
            previous,
            'ScaleDownBlocked',
            scaling.blocked === undefined ? 'False' : 'True',
            scaling.blocked?.reason ?? (shrinking === undefined ? 'NoScaleDown' : 'ScalingDown'),
            scaling.blocked?.message ?? shrinking ?? `no scale-down pending (${replicas} signers)`,
            generation,
            now,
          ),
        ]),
  ];

  let phase: MpcClusterPhase;
  const previousPhase = cluster.status?.phase;
  const firstStart = previousPhase === undefined || previousPhase === 'Pending';
  if (allReady && pending === undefined && !degraded) phase = 'Ready';
  else if (firstStart && !allReady) phase = 'Pending';
  else if (!quorumReady) phase = 'QuorumLost';
  else if (pending !== undefined) phase = 'Progressing';
  else phase = 'Degraded';

  const names = clusterNames(cluster);
  return {
    observedGeneration: generation,
    phase,
    replicas,
    readyReplicas,
    readySigners,
    quorum,
    kekSecretName: names.kekSecret,
    chainCodeSecretName: names.chainCodeSecret,
    signers,
    ...(observed.pins === undefined ? {} : { roster: observed.pins.pins }),
    ...(observed.pins === undefined || observed.pins.authorizations.length === 0
      ? {}
      : { repinAuthorizations: observed.pins.authorizations }),
    ...(scaling === undefined ? {} : { reshare: scaling.record }),
    conditions,
  };
}

export interface StatusEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

function conditionStatus(
  status: MpcClusterStatus | undefined,
  type: string,
): ConditionStatus | undefined {
  return status?.conditions?.find((c) => c.type === type)?.status;
}

/** Events for notable transitions between two statuses (none when nothing notable changed). */
export function statusTransitionEvents(
  before: MpcClusterStatus | undefined,
  after: MpcClusterStatus,
): StatusEvent[] {
  const events: StatusEvent[] = [];
  const tally = `${after.readySigners ?? 0}/${after.replicas ?? 0} signers ready, signing needs ${after.quorum ?? 0}`;
  const quorumBefore = conditionStatus(before, 'QuorumReady');
  const quorumAfter = conditionStatus(after, 'QuorumReady');
  if (quorumBefore === 'True' && quorumAfter === 'False') {
    events.push({
      type: 'Warning',
      reason: 'QuorumLost',
      message: `signing unavailable: ${tally}`,
    });
  } else if (quorumBefore !== 'True' && quorumAfter === 'True') {
    events.push({
      type: 'Normal',
      reason: 'QuorumReached',
      message: `signing available: ${tally}`,
    });
  }
  if (before?.phase !== after.phase && after.phase === 'Ready') {
    events.push({ type: 'Normal', reason: 'ClusterReady', message: `all signers ready: ${tally}` });
  }
  const progressingReason = (status: MpcClusterStatus | undefined) =>
    status?.conditions?.find((c) => c.type === 'Progressing')?.reason;
  if (progressingReason(before) !== 'QuorumAtRisk' && progressingReason(after) === 'QuorumAtRisk') {
    events.push({
      type: 'Warning',
      reason: 'RolloutPaused',
      message: `rollout paused to protect the signing quorum: ${tally}`,
    });
  }
  if (
    conditionStatus(before, 'IdentityMismatch') !== 'True' &&
    conditionStatus(after, 'IdentityMismatch') === 'True'
  ) {
    const mismatch = after.conditions?.find((c) => c.type === 'IdentityMismatch');
    events.push({
      type: 'Warning',
      reason: 'IdentityKeyChanged',
      message: mismatch?.message ?? 'a signer presents an identity key that differs from its pin',
    });
  }
  const degraded = after.conditions?.find((c) => c.type === 'Degraded');
  if (
    conditionStatus(before, 'Degraded') !== 'True' &&
    conditionStatus(after, 'Degraded') === 'True' &&
    // The reconciler emits ReconcileError itself on every failure (aggregated).
    degraded?.reason !== 'ReconcileError'
  ) {
    events.push({
      type: 'Warning',
      reason: degraded?.reason ?? 'Degraded',
      message: degraded?.message ?? tally,
    });
  }
  return events;
}
