/**
 * Safe changes of n and t (issue 14 item 3). Pure decisions; the reconciler does the I/O.
 *
 * Reshare ids. `spec.reshare.id` authorises one change of replicas/threshold. The CRD's
 * transition rule already refuses a change that keeps the previous id; this module refuses
 * the rest of "reuse": the operator records in `status.reshare` the replicas/threshold it
 * accepted last, the id that authorised them and the ids used before (the most recent
 * MAX_USED_RESHARE_IDS). A spec whose replicas/threshold differ from the accepted ones is
 * accepted only with an id not in that list; otherwise the operator keeps running the
 * accepted n/t and reports Degraded=True, reason ReshareIdReused. An id alone (no n/t change)
 * consumes nothing. A status without `reshare` (new cluster, or one created by an older
 * operator) accepts the spec as it is and records its id.
 *
 * Scale-down. Growing applies at once (new signers hold no share of any existing wallet).
 * Shrinking removes one signer at a time, the highest ordinal first, and only after every
 * signer that stays confirmed that none of its wallet records (current or share-less
 * tombstone, both name the wallet's current committee) lists the leaving signer's node id.
 * The leaving signer is asked too when it answers (its own records are the most direct
 * evidence), but a signer that stays and does not answer blocks the step: the operator
 * cannot confirm, so it does not remove. Until confirmed the StatefulSet keeps its current
 * size and the status says ScaleDownBlocked=True naming up to MAX_NAMED_WALLETS wallets.
 * The next step starts only once the previous removal is complete (no pod at or beyond the
 * StatefulSet's size, none terminating), so two signers are never removed together.
 */
import type { ReshareStatus } from '../api/mpc-cluster.ts';
import { ordinalOf } from './rollout-guard.ts';
import type { ObservedPod } from './compute-status.ts';

export const MAX_USED_RESHARE_IDS = 32;
export const MAX_NAMED_WALLETS = 10;

/** `status.reshare`: the n/t the operator accepted last and the ids already used. */
export type ReshareRecord = ReshareStatus;

export interface ReshareDecision {
  /** The n/t the operator runs. */
  readonly replicas: number;
  readonly threshold: number;
  readonly record: ReshareRecord;
  /** Why the spec's n/t change is not applied (Degraded reason ReshareIdReused). */
  readonly refused?: string;
}

export function decideReshare(
  spec: {
    readonly replicas: number;
    readonly threshold: number;
    readonly reshare?: { readonly id: string };
  },
  previous: ReshareRecord | undefined,
): ReshareDecision {
  const id = spec.reshare?.id;
  if (previous === undefined) {
    const record: ReshareRecord = {
      ...(id === undefined ? {} : { id }),
      replicas: spec.replicas,
      threshold: spec.threshold,
      usedIds: id === undefined ? [] : [id],
    };
    return { replicas: spec.replicas, threshold: spec.threshold, record };
  }
  if (spec.replicas === previous.replicas && spec.threshold === previous.threshold) {
    return { replicas: previous.replicas, threshold: previous.threshold, record: previous };
  }
  const change = `replicas ${previous.replicas} → ${spec.replicas}, threshold ${previous.threshold} → ${spec.threshold}`;
  if (id === undefined || previous.usedIds.includes(id) || id === previous.id) {
    return {
      replicas: previous.replicas,
      threshold: previous.threshold,
      record: previous,
      refused:
        id === undefined
          ? `${change} needs a new spec.reshare.id; still running ${previous.replicas} signers, threshold ${previous.threshold}`
          : `spec.reshare.id "${id}" was already used for this cluster; ${change} needs an id never used before (still running ${previous.replicas} signers, threshold ${previous.threshold})`,
    };
  }
  const usedIds = [...previous.usedIds, id].slice(-MAX_USED_RESHARE_IDS);
  return {
    replicas: spec.replicas,
    threshold: spec.threshold,
    record: { id, replicas: spec.replicas, threshold: spec.threshold, usedIds },
  };
}

/** What to do about the StatefulSet's size this round. */
export type ScaleStep =
  /** Apply `replicas` (no shrink pending, or growing). */
  | { readonly kind: 'apply'; readonly replicas: number }
  /** A previous removal is still under way: keep `replicas`. */
  | { readonly kind: 'wait'; readonly replicas: number; readonly message: string }
  /** Shrinking: ask `ask` about `remove` before going from `replicas` to `replicas - 1`. */
  | {
      readonly kind: 'check';
      readonly replicas: number;
      readonly remove: string;
      /** Signers that stay; each must answer. */
      readonly stay: readonly string[];
    };

export function planScaleStep(input: {
  /** The accepted n (decideReshare). */
  readonly target: number;
  /** spec.replicas of the existing StatefulSet; undefined before it exists. */
  readonly current: number | undefined;
  readonly pods: readonly ObservedPod[];
  /** Pod name of an ordinal. */
  readonly podName: (ordinal: number) => string;
}): ScaleStep {
  const { target, current, pods } = input;
  if (current === undefined || target >= current) return { kind: 'apply', replicas: target };
  const beyond = pods.filter((pod) => (ordinalOf(pod.name) ?? -1) >= current);
  const terminating = pods.filter((pod) => pod.terminating);
  if (beyond.length > 0 || terminating.length > 0) {
    return {
      kind: 'wait',
      replicas: current,
      message: `scaling down to ${target}: waiting for ${[...beyond, ...terminating]
        .map((pod) => pod.name)
        .filter((name, index, all) => all.indexOf(name) === index)
        .join(', ')} to go before removing the next signer`,
    };
  }
  const stay: string[] = [];
  for (let ordinal = 0; ordinal < current - 1; ordinal += 1) stay.push(input.podName(ordinal));
  return { kind: 'check', replicas: current, remove: input.podName(current - 1), stay };
}

export interface WalletRef {
  readonly walletId: string;
  readonly keyType: string;
}

/** One signer's answer to "which wallets' committees include node X" (or why none came). */
export type SignerAnswer =
  | { readonly ok: true; readonly count: number; readonly wallets: readonly WalletRef[] }
  | { readonly ok: false; readonly error: string };

export interface ScaleDownVerdict {
  readonly replicas: number;
  /** Set when the removal is held back: ScaleDownBlocked=True with this reason/message. */
  readonly blocked?: { readonly reason: string; readonly message: string };
}

/**
 * Decides a `check` step from the answers (signer name → answer; the leaving signer's own
 * answer is optional). Removes the signer only when every staying signer answered and no
 * answer lists a wallet.
 */
export function decideScaleDown(
  step: Extract<ScaleStep, { kind: 'check' }>,
  answers: ReadonlyMap<string, SignerAnswer>,
): ScaleDownVerdict {
  const wallets = new Map<string, WalletRef>();
  let reported = 0;
  for (const answer of answers.values()) {
    if (!answer.ok) continue;
    reported = Math.max(reported, answer.count);
    for (const wallet of answer.wallets)
      wallets.set(`${wallet.walletId}/${wallet.keyType}`, wallet);
  }
  const total = Math.max(reported, wallets.size);
  if (total > 0) {
    const named = [...wallets.keys()].sort().slice(0, MAX_NAMED_WALLETS);
    return {
      replicas: step.replicas,
      blocked: {
        reason: 'WalletsNeedSigner',
        message: `${step.remove} is not removed: at least ${total} wallet key(s) still have it in their committee (${named.join(', ')}${total > named.length ? ', …' : ''}); reshare them to the signers that stay (examples/reshare.md)`,
      },
    };
  }
  const unanswered = step.stay.filter((signer) => answers.get(signer)?.ok !== true);
  if (unanswered.length > 0) {
    const errors = unanswered.map((signer) => {
      const answer = answers.get(signer);
      return `${signer} (${answer !== undefined && !answer.ok ? answer.error : 'not asked'})`;
    });
    return {
      replicas: step.replicas,
      blocked: {
        reason: 'SignersUnreachable',
        message: `${step.remove} is not removed: cannot confirm that no wallet needs it; no answer from ${errors.join(', ')}`,
      },
    };
  }
  return { replicas: step.replicas - 1 };
}
