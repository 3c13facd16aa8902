import { describe, expect, it } from 'vitest';
import { LivenessTracker } from './liveness.ts';

function tracker() {
  let now = 1000;
  const live = new LivenessTracker({
    nodes: ['a', 'b', 'c'],
    selfNodeId: 'a',
    peerTimeoutMs: 3000,
    now: () => now,
  });
  return { live, advance: (ms: number) => (now += ms) };
}

describe('LivenessTracker', () => {
  it('counts self as ready and peers only after a heartbeat', () => {
    const { live } = tracker();
    expect(live.readyNodes()).toEqual(['a']);
    live.observeHeartbeat('b');
    expect(live.readyNodes()).toEqual(['a', 'b']);
  });

  it('expires peers whose heartbeat is older than the timeout by the local clock', () => {
    const { live, advance } = tracker();
    live.observeHeartbeat('b');
    advance(3000);
    expect(live.isReady('b')).toBe(true);
    advance(1);
    expect(live.isReady('b')).toBe(false);
  });

  it('keeps a suspect out until a heartbeat is observed after the mark', () => {
    const { live, advance } = tracker();
    live.observeHeartbeat('b');
    live.markSuspect('b');
    expect(live.isReady('b')).toBe(false);
    live.observeHeartbeat('b'); // same instant: not after the mark
    expect(live.isReady('b')).toBe(false);
    advance(1);
    live.observeHeartbeat('b');
    expect(live.isReady('b')).toBe(true);
  });

  it('ignores unknown nodes and departures clear liveness', () => {
    const { live } = tracker();
    live.observeHeartbeat('mallory');
    live.markSuspect('a');
    expect(live.readyNodes()).toEqual(['a']);
    live.observeHeartbeat('c');
    live.observeDeparture('c');
    expect(live.isReady('c')).toBe(false);
  });
});
