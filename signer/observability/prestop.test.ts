/** The preStop wait: answers at once when safe, waits while unsafe, never beyond its bound. */
import { describe, expect, it } from 'vitest';
import { waitUntilSafeToLeave } from './prestop.ts';

function fakeClock() {
  let time = 0;
  return {
    now: () => time,
    sleep: async (ms: number) => {
      time += ms;
    },
  };
}

describe('waitUntilSafeToLeave', () => {
  it('answers at once when the others keep quorum', async () => {
    const clock = fakeClock();
    const outcome = await waitUntilSafeToLeave({
      otherReadySigners: () => 2,
      quorum: 2,
      maxWaitMs: 60_000,
      pollMs: 500,
      ...clock,
    });
    expect(outcome).toEqual({ safe: true, waitedMs: 0, otherReadySigners: 2 });
  });

  it('waits until a peer is back', async () => {
    const clock = fakeClock();
    const outcome = await waitUntilSafeToLeave({
      otherReadySigners: () => (clock.now() >= 3_000 ? 2 : 1),
      quorum: 2,
      maxWaitMs: 60_000,
      pollMs: 500,
      ...clock,
    });
    expect(outcome).toEqual({ safe: true, waitedMs: 3_000, otherReadySigners: 2 });
  });

  it('gives up exactly at the bound when quorum never returns', async () => {
    const clock = fakeClock();
    const outcome = await waitUntilSafeToLeave({
      otherReadySigners: () => 1,
      quorum: 2,
      maxWaitMs: 1_700,
      pollMs: 500,
      ...clock,
    });
    expect(outcome).toEqual({ safe: false, waitedMs: 1_700, otherReadySigners: 1 });
  });
});
