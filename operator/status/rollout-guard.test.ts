import { describe, expect, it } from 'vitest';
import type { ObservedPod, ObservedStatefulSet } from './compute-status.ts';
import { ordinalOf, rolloutPartition } from './rollout-guard.ts';

const sts = (rolling: boolean): ObservedStatefulSet => ({
  generation: 2,
  observedGeneration: 2,
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
  ready,
  terminating,
  revision,
});

describe('rolloutPartition (3 signers, quorum 2)', () => {
  it('does not interfere without a rollout', () => {
    expect(
      rolloutPartition(3, 2, sts(false), [pod(0, false), pod(1, false), pod(2, false)]),
    ).toEqual({ partition: 0, paused: false });
    expect(rolloutPartition(3, 2, undefined, [])).toEqual({ partition: 0, paused: false });
  });

  it('lets the rollout proceed while quorum + 1 signers are ready', () => {
    expect(rolloutPartition(3, 2, sts(true), [pod(0, true), pod(1, true), pod(2, true)])).toEqual({
      partition: 0,
      paused: false,
    });
  });

  it('freezes at the signer being replaced, so it still comes back on the new revision', () => {
    // pod-2 is being replaced (terminating): only 2 ready, quorum would be at risk by another.
    expect(
      rolloutPartition(3, 2, sts(true), [pod(0, true), pod(1, true), pod(2, true, 'old', true)]),
    ).toEqual({ partition: 2, paused: true });
    // pod-2 recreated on the new revision, not ready yet.
    expect(
      rolloutPartition(3, 2, sts(true), [pod(0, true), pod(1, true), pod(2, false, 'new')]),
    ).toEqual({ partition: 2, paused: true });
    // pod-2 missing.
    expect(rolloutPartition(3, 2, sts(true), [pod(0, true), pod(1, true)])).toEqual({
      partition: 2,
      paused: true,
    });
  });

  it('does not start the rollout when a signer is already down', () => {
    expect(rolloutPartition(3, 2, sts(true), [pod(0, false), pod(1, true), pod(2, true)])).toEqual({
      partition: 3,
      paused: true,
    });
  });

  it('with replicas == quorum proceeds only while every signer is ready', () => {
    expect(rolloutPartition(2, 2, sts(true), [pod(0, true), pod(1, true)])).toEqual({
      partition: 0,
      paused: false,
    });
    expect(rolloutPartition(2, 2, sts(true), [pod(0, true), pod(1, false, 'new')])).toEqual({
      partition: 1,
      paused: true,
    });
  });

  it('holds a rollout that the next apply would start while a signer is down', () => {
    const settled = { ...sts(false), podTemplateHash: 'h1' };
    const down = [pod(0, false), pod(1, true), pod(2, true)];
    expect(rolloutPartition(3, 2, settled, down, 'h2')).toEqual({ partition: 3, paused: true });
    expect(rolloutPartition(3, 2, settled, down, 'h1')).toEqual({ partition: 0, paused: false });
    expect(
      rolloutPartition(3, 2, settled, [pod(0, true), pod(1, true), pod(2, true)], 'h2'),
    ).toEqual({ partition: 0, paused: false });
  });

  it('reads ordinals from pod names', () => {
    expect(ordinalOf('wallet-signer-12')).toBe(12);
    expect(ordinalOf('wallet')).toBeUndefined();
  });
});
