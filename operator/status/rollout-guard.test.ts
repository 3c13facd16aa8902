import { describe, expect, it } from 'vitest';
import type { ObservedPod, ObservedStatefulSet } from './compute-status.ts';
import { nextRolloutStep, ordinalOf } from './rollout-guard.ts';

const sts = (rolling: boolean, observed = true): ObservedStatefulSet => ({
  generation: 2,
  observedGeneration: observed ? 2 : 1,
  replicas: 3,
  readyReplicas: 3,
  updatedReplicas: 0,
  currentRevision: 'old',
  updateRevision: rolling ? 'new' : 'old',
});
const pod = (
  ordinal: number,
  ready: boolean,
  revision = 'old',
  terminating = false,
): ObservedPod => ({
  name: `w-signer-${ordinal}`,
  uid: `uid-${ordinal}-${revision}`,
  ready,
  terminating,
  revision,
});
const step = (
  statefulSet: ObservedStatefulSet | undefined,
  pods: ObservedPod[],
  extra: { replicas?: number; quorum?: number; lastDeletedUid?: string } = {},
) =>
  nextRolloutStep({
    replicas: extra.replicas ?? 3,
    quorum: extra.quorum ?? 2,
    statefulSet,
    pods,
    ...(extra.lastDeletedUid === undefined ? {} : { lastDeletedUid: extra.lastDeletedUid }),
  });

describe('nextRolloutStep (OnDelete; 3 signers, quorum 2)', () => {
  it('does nothing without a rollout or before the controller observed the spec', () => {
    expect(step(sts(false), [pod(0, false), pod(1, false), pod(2, false)])).toEqual({
      paused: false,
    });
    expect(step(undefined, [])).toEqual({ paused: false });
    expect(step(sts(true, false), [pod(0, true), pod(1, true), pod(2, true)])).toEqual({
      paused: false,
    });
  });

  it('deletes the highest outdated ordinal while quorum + 1 signers are ready', () => {
    expect(step(sts(true), [pod(0, true), pod(1, true), pod(2, true)])).toEqual({
      deletePod: { name: 'w-signer-2', uid: 'uid-2-old' },
      paused: false,
    });
    expect(step(sts(true), [pod(0, true), pod(1, true), pod(2, true, 'new')])).toEqual({
      deletePod: { name: 'w-signer-1', uid: 'uid-1-old' },
      paused: false,
    });
  });

  it('waits while a replacement is under way: terminating, missing, not yet deleted, not ready', () => {
    const waiting = { paused: false };
    expect(step(sts(true), [pod(0, true), pod(1, true), pod(2, true, 'old', true)])).toEqual(
      waiting,
    );
    expect(step(sts(true), [pod(0, true), pod(1, true)])).toEqual(waiting);
    expect(step(sts(true), [pod(0, true), pod(1, true), pod(2, false, 'new')])).toEqual(waiting);
    // The watch cache has not seen the last deletion yet: never a second pod.
    expect(
      step(sts(true), [pod(0, true), pod(1, true), pod(2, true)], { lastDeletedUid: 'uid-2-old' }),
    ).toEqual(waiting);
  });

  it('pauses (and deletes nothing) when a signer is down: an external restart cannot bypass it', () => {
    expect(step(sts(true), [pod(0, false), pod(1, true), pod(2, true)])).toEqual({
      paused: true,
    });
    expect(step(sts(true), [pod(0, true), pod(1, false, 'new'), pod(2, false)])).toEqual({
      paused: false,
    });
  });

  it('replaces an unready outdated signer first when the quorum allows (5 signers, quorum 3)', () => {
    const pods = [0, 1, 2, 3, 4].map((i) => pod(i, i !== 1));
    expect(step({ ...sts(true), replicas: 5 }, pods, { replicas: 5, quorum: 3 })).toEqual({
      deletePod: { name: 'w-signer-1', uid: 'uid-1-old' },
      paused: false,
    });
  });

  it('n = t + 1 rolls only while every signer is ready', () => {
    expect(step(sts(true), [pod(0, true), pod(1, true)], { replicas: 2, quorum: 2 })).toEqual({
      deletePod: { name: 'w-signer-1', uid: 'uid-1-old' },
      paused: false,
    });
    expect(step(sts(true), [pod(0, true), pod(1, false)], { replicas: 2, quorum: 2 })).toEqual({
      paused: true,
    });
  });

  it('ordinalOf reads the trailing ordinal', () => {
    expect(ordinalOf('wallet-signer-12')).toBe(12);
    expect(ordinalOf('nope')).toBeUndefined();
  });
});
