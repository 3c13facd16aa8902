/**
 * Quorum-preserving rollouts (design §11): the signer StatefulSet uses Parallel pod
 * management, whose RollingUpdate does not wait for *other* unready pods before taking the
 * next one down. The operator therefore steers `updateStrategy.rollingUpdate.partition`:
 *
 * - no rollout pending (revisions equal and the desired pod template is the applied one)
 *   → partition 0;
 * - rollout pending and at least min(quorum + 1, replicas) signers ready → partition 0: the
 *   StatefulSet controller may take the next signer down and quorum still holds;
 * - otherwise → freeze the rollout where it is: partition = the lowest ordinal already
 *   touched by it (updated, missing or terminating), so the signer being replaced still comes
 *   back on the new revision but no further signer is taken down. Reported as paused.
 *
 * With replicas == quorum (e.g. 1-of-2) every rollout interrupts signing; it proceeds only
 * while all signers are ready, one at a time. Pure.
 */
import type { ObservedPod, ObservedStatefulSet } from './compute-status.ts';

export interface RolloutDecision {
  readonly partition: number;
  /** True when a pending rollout is held back to protect the quorum. */
  readonly paused: boolean;
}

export function ordinalOf(podName: string): number | undefined {
  const match = /-(\d+)$/.exec(podName);
  return match === null ? undefined : Number(match[1]);
}

export function rolloutPartition(
  replicas: number,
  quorum: number,
  statefulSet: ObservedStatefulSet | undefined,
  pods: readonly ObservedPod[],
  desiredPodTemplateHash?: string,
): RolloutDecision {
  if (statefulSet === undefined) return { partition: 0, paused: false };
  const rolling =
    statefulSet.updateRevision !== undefined &&
    statefulSet.currentRevision !== statefulSet.updateRevision;
  // The apply about to happen changes the template: a rollout starts with it.
  const starting =
    desiredPodTemplateHash !== undefined &&
    statefulSet.podTemplateHash !== undefined &&
    statefulSet.podTemplateHash !== desiredPodTemplateHash;
  if (!rolling && !starting) return { partition: 0, paused: false };
  const update = rolling ? statefulSet.updateRevision : undefined;
  const live = pods.filter((pod) => !pod.terminating);
  const ready = live.filter((pod) => pod.ready).length;
  if (ready >= Math.min(quorum + 1, replicas)) return { partition: 0, paused: false };

  const byOrdinal = new Map<number, ObservedPod>();
  for (const pod of pods) {
    const ordinal = ordinalOf(pod.name);
    if (ordinal !== undefined) byOrdinal.set(ordinal, pod);
  }
  let frozenAt = replicas;
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const pod = byOrdinal.get(ordinal);
    const touched =
      pod === undefined || pod.terminating || (update !== undefined && pod.revision === update);
    if (touched) {
      frozenAt = ordinal;
      break;
    }
  }
  return { partition: frozenAt, paused: true };
}
