/**
 * Selective-abort regression (crypto.md §8.3): a cheating OT-extension receiver can make the
 * KOS check pass or fail depending on one bit of the sender's Δ, so each abort leaks one bit.
 * The test shows the leak is real (the outcome equals Δ_l) and that the ban registry refuses
 * every later session with that peer after the first failure.
 */
import { describe, expect, it } from 'vitest';
import { buildReceiverMessage, otExtensionSend } from './ot-extension.ts';
import { KAPPA, ROW_BYTES, SEED_BYTES } from './params.ts';
import { seededRandom } from './test-helpers.ts';
import { Dkls23PairBans } from './pair-bans.ts';
import { Dkls23OtExtensionCheckError, Dkls23PairBannedError } from './errors.ts';

function setup() {
  const random = seededRandom('selective-abort');
  const delta = random(KAPPA / 8).slice();
  const seeds0 = random(KAPPA * SEED_BYTES).slice();
  const seeds1 = random(KAPPA * SEED_BYTES).slice();
  const seeds = new Uint8Array(KAPPA * SEED_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const bit = ((delta[l >> 3] as number) >> (l & 7)) & 1;
    seeds.set((bit ? seeds1 : seeds0).subarray(l * 32, l * 32 + 32), l * 32);
  }
  return { sender: { delta, seeds }, receiver: { seeds0, seeds1 }, random };
}

/**
 * The attack: embed x ⊕ e in row l only (e = one bit) while computing x̃ from x. The sender's
 * check then fails exactly when Δ_l = 1, so the outcome reveals Δ_l.
 */
function guessingRun(l: number, sessionIndex: number, parts: ReturnType<typeof setup>): unknown {
  const sid = new Uint8Array(32).fill(sessionIndex);
  const x = parts.random(ROW_BYTES).slice();
  const cheatingRow = x.slice();
  cheatingRow[0] = (cheatingRow[0] as number) ^ 1;
  const { message } = buildReceiverMessage(
    parts.receiver,
    sid,
    parts.random(32).slice(),
    x,
    (row) => (row === l ? cheatingRow : x),
  );
  try {
    otExtensionSend(parts.sender, sid, message, 2);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('selective abort', () => {
  it('each abort leaks one Δ bit, so the first failure must ban the peer', () => {
    const parts = setup();
    for (let l = 0; l < 8; l++) {
      const failure = guessingRun(l, l, parts);
      const deltaBit = ((parts.sender.delta[l >> 3] as number) >> (l & 7)) & 1;
      expect(failure === undefined).toBe(deltaBit === 0);
      if (failure !== undefined) expect(failure).toBeInstanceOf(Dkls23OtExtensionCheckError);
    }
    // With the registry in front, the attacker gets exactly one failure, then nothing.
    const bans = new Dkls23PairBans();
    let firstFailure: unknown;
    let sessionsRun = 0;
    for (let l = 0; l < 32; l++) {
      try {
        bans.assertUsable([2]);
      } catch (error) {
        expect(error).toBeInstanceOf(Dkls23PairBannedError);
        continue;
      }
      sessionsRun++;
      const failure = guessingRun(l, 100 + l, parts);
      if (failure !== undefined) {
        firstFailure ??= failure;
        bans.record(failure);
      }
    }
    expect(firstFailure).toBeInstanceOf(Dkls23OtExtensionCheckError);
    expect(sessionsRun).toBeLessThan(32);
    expect(bans.record(firstFailure)).toBe(2);
    expect(bans.isBanned(2)).toBe(true);
    expect(() => bans.assertUsable([1, 2])).toThrow(Dkls23PairBannedError);
    expect(bans.list()).toEqual([2]);
    expect(new Dkls23PairBans(bans.list()).isBanned(2)).toBe(true);
    expect(bans.record(new Error('other'))).toBeUndefined();
  });
});
