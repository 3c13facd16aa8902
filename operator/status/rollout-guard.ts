/**
 * Quorum-preserving rollouts (design §11, issue 14 item 4): the signer StatefulSet uses the
 * `OnDelete` update strategy, so the StatefulSet controller never replaces a signer by itself;
 * a changed pod template (the operator's, or an external `kubectl rollout restart`) only
 * produces a new update revision. The operator then replaces signers one at a time by
 * deleting a pod, and only while the quorum guard allows:
 *
 * - nothing to do while the StatefulSet controller has not observed the latest spec, or no
 *   pod is on an older revision than the update revision;
 * - wait (in progress, not paused) while a previous replacement is under way: a pod is
 *   terminating or missing, the last pod this operator deleted is still there, or a pod
 *   already on the update revision is not ready yet;
 * - otherwise, when at least min(quorum + 1, replicas) signers count as ready, delete one
 *   outdated pod: an unready one first (it does not count towards quorum anyway), else the
 *   highest ordinal. The quorum therefore survives the replacement;
 * - otherwise the rollout is paused (reported as Progressing=True, reason QuorumAtRisk).
 *   A signer that never turns ready blocks the rollout; an administrator can delete that pod
 *   by hand (it does not count towards quorum).
 *
 * With replicas == quorum (n = t+1) every replacement interrupts signing; it proceeds only
 * while all signers are ready, one at a time. Pure.
 */
import type { ObservedPod, ObservedStatefulSet } from './compute-status.ts';

export interface RolloutDecision {
  /** The pod to delete now (the StatefulSet controller recreates it on the update revision). */
  readonly deletePod?: { readonly name: string; readonly uid: string };
  /** True when a pending rollout is held back to protect the quorum. */
  readonly paused: boolean;
}

export function ordinalOf(podName: string): number | undefined {
  const match = /-(\d+)$/.exec(podName);
  return match === null ? undefined : Number(match[1]);
}

export function nextRolloutStep(input: {
  readonly replicas: number;
  readonly quorum: number;
  readonly statefulSet: ObservedStatefulSet | undefined;
  /** Signer pods; `ready` must already be the quorum count's notion (pod, Lease, identity). */
  readonly pods: readonly ObservedPod[];
  /** uid of the pod this operator deleted last for this cluster, if any. */
  readonly lastDeletedUid?: string;
}): RolloutDecision {
  const { replicas, quorum, statefulSet, pods } = input;
  const idle: RolloutDecision = { paused: false };
  if (statefulSet === undefined) return idle;
  if (statefulSet.observedGeneration < statefulSet.generation) return idle;
  const update = statefulSet.updateRevision;
  if (update === undefined) return idle;
  const live = pods.filter((pod) => !pod.terminating);
  const outdated = live.filter((pod) => pod.revision !== undefined && pod.revision !== update);
  if (outdated.length === 0) return idle;

  const replacing =
    live.length < pods.length ||
    live.length < replicas ||
    (input.lastDeletedUid !== undefined && live.some((pod) => pod.uid === input.lastDeletedUid)) ||
    live.some((pod) => pod.revision === update && !pod.ready);
  if (replacing) return idle;

  const ready = live.filter((pod) => pod.ready).length;
  if (ready < Math.min(quorum + 1, replicas)) return { paused: true };

  const candidates = outdated
    .filter((pod) => pod.uid !== undefined)
    .sort((a, b) =>
      a.ready !== b.ready
        ? Number(a.ready) - Number(b.ready)
        : (ordinalOf(b.name) ?? -1) - (ordinalOf(a.name) ?? -1),
    );
  const next = candidates[0];
  if (next?.uid === undefined) return idle;
  return { deletePod: { name: next.name, uid: next.uid }, paused: false };
}
