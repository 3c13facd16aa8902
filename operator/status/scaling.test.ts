import { describe, expect, it } from 'vitest';
import {
  MAX_USED_RESHARE_IDS,
  decideReshare,
  decideScaleDown,
  planScaleStep,
  type ReshareRecord,
  type ScaleStep,
  type SignerAnswer,
} from './scaling.ts';

const accepted: ReshareRecord = {
  id: 'grow',
  replicas: 5,
  threshold: 2,
  usedIds: ['first', 'grow'],
};
const podName = (ordinal: number) => `w-signer-${ordinal}`;
const pods = (count: number, extra: { terminating?: number } = {}) =>
  Array.from({ length: count }, (_, ordinal) => ({
    name: podName(ordinal),
    ready: true,
    terminating: extra.terminating === ordinal,
  }));
const none: SignerAnswer = { ok: true, count: 0, wallets: [] };

describe('decideReshare', () => {
  it('accepts the initial spec and records its id', () => {
    const decision = decideReshare({ replicas: 3, threshold: 1, reshare: { id: 'a' } }, undefined);
    expect(decision).toEqual({
      replicas: 3,
      threshold: 1,
      record: { id: 'a', replicas: 3, threshold: 1, usedIds: ['a'] },
    });
  });

  it('keeps the record when n/t are unchanged, whatever the id', () => {
    const decision = decideReshare(
      { replicas: 5, threshold: 2, reshare: { id: 'other' } },
      accepted,
    );
    expect(decision).toEqual({ replicas: 5, threshold: 2, record: accepted });
  });

  it('accepts a change with a fresh id and appends it', () => {
    const decision = decideReshare(
      { replicas: 3, threshold: 1, reshare: { id: 'shrink' } },
      accepted,
    );
    expect(decision.refused).toBeUndefined();
    expect(decision.record).toEqual({
      id: 'shrink',
      replicas: 3,
      threshold: 1,
      usedIds: ['first', 'grow', 'shrink'],
    });
    expect([decision.replicas, decision.threshold]).toEqual([3, 1]);
  });

  it('refuses a change with an id used before (A → B → A) and keeps running the accepted n/t', () => {
    const decision = decideReshare(
      { replicas: 3, threshold: 1, reshare: { id: 'first' } },
      accepted,
    );
    expect([decision.replicas, decision.threshold]).toEqual([5, 2]);
    expect(decision.record).toBe(accepted);
    expect(decision.refused).toContain('"first" was already used');
  });

  it('refuses a change with the current id or without an id', () => {
    expect(
      decideReshare({ replicas: 4, threshold: 2, reshare: { id: 'grow' } }, accepted).refused,
    ).toBeDefined();
    const noId = decideReshare({ replicas: 4, threshold: 2 }, accepted);
    expect(noId.refused).toContain('needs a new spec.reshare.id');
    expect(noId.replicas).toBe(5);
  });

  it('bounds the used ids, dropping the oldest', () => {
    const full: ReshareRecord = {
      id: `id-${MAX_USED_RESHARE_IDS - 1}`,
      replicas: 5,
      threshold: 2,
      usedIds: Array.from({ length: MAX_USED_RESHARE_IDS }, (_, i) => `id-${i}`),
    };
    const decision = decideReshare({ replicas: 4, threshold: 2, reshare: { id: 'new' } }, full);
    expect(decision.record.usedIds).toHaveLength(MAX_USED_RESHARE_IDS);
    expect(decision.record.usedIds[0]).toBe('id-1');
    expect(decision.record.usedIds.at(-1)).toBe('new');
  });
});

describe('planScaleStep', () => {
  it('applies growth and the first size at once', () => {
    expect(planScaleStep({ target: 5, current: 3, pods: pods(3), podName })).toEqual({
      kind: 'apply',
      replicas: 5,
    });
    expect(planScaleStep({ target: 3, current: undefined, pods: [], podName })).toEqual({
      kind: 'apply',
      replicas: 3,
    });
  });

  it('checks only the highest ordinal when shrinking by more than one', () => {
    expect(planScaleStep({ target: 3, current: 5, pods: pods(5), podName })).toEqual({
      kind: 'check',
      replicas: 5,
      remove: 'w-signer-4',
      stay: ['w-signer-0', 'w-signer-1', 'w-signer-2', 'w-signer-3'],
    });
  });

  it('waits while the previous removal is under way (pod beyond the size, or terminating)', () => {
    const beyond = planScaleStep({ target: 3, current: 4, pods: pods(5), podName });
    expect(beyond).toMatchObject({ kind: 'wait', replicas: 4 });
    expect(beyond.kind === 'wait' && beyond.message).toContain('w-signer-4');
    const terminating = planScaleStep({
      target: 3,
      current: 4,
      pods: pods(4, { terminating: 1 }),
      podName,
    });
    expect(terminating).toMatchObject({ kind: 'wait', replicas: 4 });
  });
});

describe('decideScaleDown', () => {
  const step = planScaleStep({ target: 3, current: 5, pods: pods(5), podName }) as Extract<
    ScaleStep,
    { kind: 'check' }
  >;
  const allStay = (answer: SignerAnswer) => new Map(step.stay.map((pod) => [pod, answer]));

  it('removes exactly one signer when every staying signer confirms no wallet needs it', () => {
    expect(decideScaleDown(step, allStay(none))).toEqual({ replicas: 4 });
  });

  it('does not need the leaving signer to answer, but counts its wallets when it does', () => {
    const answers = allStay(none);
    answers.set('w-signer-4', { ok: false, error: 'timeout' });
    expect(decideScaleDown(step, answers)).toEqual({ replicas: 4 });
    answers.set('w-signer-4', {
      ok: true,
      count: 1,
      wallets: [{ walletId: 'w9', keyType: 'ed25519' }],
    });
    expect(decideScaleDown(step, answers).blocked?.message).toContain('w9/ed25519');
  });

  it('blocks and names wallets (at most 10, deduplicated) when any signer reports one', () => {
    const answers = allStay(none);
    const wallets = Array.from({ length: 12 }, (_, i) => ({
      walletId: `w${String(i).padStart(2, '0')}`,
      keyType: 'secp256k1',
    }));
    answers.set('w-signer-0', { ok: true, count: 12, wallets });
    answers.set('w-signer-1', { ok: true, count: 1, wallets: [wallets[0]!] });
    const verdict = decideScaleDown(step, answers);
    expect(verdict.replicas).toBe(5);
    expect(verdict.blocked?.reason).toBe('WalletsNeedSigner');
    expect(verdict.blocked?.message).toContain('at least 12 wallet key(s)');
    expect(verdict.blocked?.message).toContain('w09/secp256k1');
    expect(verdict.blocked?.message).not.toContain('w10/');
  });

  it('blocks on a count alone (a signer that names fewer than it counts)', () => {
    const answers = allStay(none);
    answers.set('w-signer-2', { ok: true, count: 3, wallets: [] });
    expect(decideScaleDown(step, answers).blocked?.reason).toBe('WalletsNeedSigner');
  });

  it('blocks when a staying signer does not answer', () => {
    const answers = allStay(none);
    answers.set('w-signer-3', { ok: false, error: 'HTTP 503' });
    const verdict = decideScaleDown(step, answers);
    expect(verdict).toMatchObject({ replicas: 5, blocked: { reason: 'SignersUnreachable' } });
    expect(verdict.blocked?.message).toContain('w-signer-3 (HTTP 503)');
    answers.delete('w-signer-3');
    expect(decideScaleDown(step, answers).blocked?.message).toContain('w-signer-3 (not asked)');
  });
});
