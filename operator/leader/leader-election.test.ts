/**
 * Leader election with an in-memory Lease and a fake clock: every rule of the client-go
 * semantics can fail on its own (observed-time expiry, optimistic concurrency, renew deadline,
 * release on stop).
 */
import { describe, expect, it } from 'vitest';
import {
  LeaderElector,
  decide,
  observe,
  type LeaderRecord,
  type LeaseStore,
  type StoredLease,
} from './leader-election.ts';

const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };
const silent = { info: () => {}, warn: () => {} };

class MemoryLease implements LeaseStore {
  current: StoredLease | undefined;
  failing = false;
  private version = 0;
  async get() {
    if (this.failing) throw new Error('apiserver unreachable');
    return this.current;
  }
  async create(record: LeaderRecord) {
    if (this.current !== undefined) throw Object.assign(new Error('exists'), { code: 409 });
    this.current = { record, version: String(++this.version) };
    return this.current;
  }
  async update(record: LeaderRecord, version: string) {
    if (this.failing) throw new Error('apiserver unreachable');
    if (this.current?.version !== version)
      throw Object.assign(new Error('conflict'), { code: 409 });
    this.current = { record, version: String(++this.version) };
    return this.current;
  }
}

describe('decide', () => {
  it('waits out a full lease duration by its own clock after the last observed change', () => {
    const record = {
      holderIdentity: 'a',
      renewTime: '2000-01-01T00:00:00Z',
      leaseDurationSeconds: 3,
    };
    // The holder's renewTime is ancient, but we only just saw it: it counts as alive.
    let seen = observe(undefined, record, 10_000);
    expect(decide('b', seen, 12_999, timings)).toEqual({ action: 'wait', holder: 'a' });
    // Re-reading the same record does not move the observation time.
    seen = observe(seen, { ...record }, 12_000);
    expect(decide('b', seen, 13_000, timings)).toEqual({ action: 'take', transitions: 1 });
    // A renewal seen at 12 500 restarts the wait.
    seen = observe(seen, { ...record, renewTime: '2000-01-01T00:00:02Z' }, 12_500);
    expect(decide('b', seen, 15_499, timings).action).toBe('wait');
  });

  it('creates a missing Lease, renews its own, takes a released one at once', () => {
    expect(decide('a', observe(undefined, undefined, 0), 0, timings)).toEqual({ action: 'create' });
    const own = observe(undefined, { holderIdentity: 'a', renewTime: 't' }, 0);
    expect(decide('a', own, 0, timings)).toEqual({ action: 'renew' });
    const released = observe(undefined, { holderIdentity: '', leaseTransitions: 4 }, 0);
    expect(decide('b', released, 0, timings)).toEqual({ action: 'take', transitions: 5 });
  });
});

describe('LeaderElector', () => {
  function elector(store: LeaseStore, identity: string, clock: { now: number }) {
    const events: string[] = [];
    const instance = new LeaderElector({
      store,
      identity,
      timings,
      now: () => clock.now,
      wallClock: () => `t${clock.now}`,
      log: silent,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: () => events.push('stopped'),
    });
    return { instance, events };
  }
  // Drives the elector's attempts deterministically (no real timers).
  const attempt = (e: LeaderElector) => (e as unknown as { attempt(): Promise<void> }).attempt();

  it('one leader at a time; a standby takes over after the lease duration, at once after release', async () => {
    const store = new MemoryLease();
    const clock = { now: 0 };
    const a = elector(store, 'a', clock);
    const b = elector(store, 'b', clock);
    await attempt(a.instance);
    await attempt(b.instance);
    expect([a.instance.isLeader, b.instance.isLeader]).toEqual([true, false]);
    // a crashes (stops renewing): b waits a full duration from when it saw a's last renewal.
    clock.now = 2999;
    await attempt(b.instance);
    expect(b.instance.isLeader).toBe(false);
    clock.now = 3000;
    await attempt(b.instance);
    expect(b.instance.isLeader).toBe(true);
    expect(store.current?.record.leaseTransitions).toBe(1);
    // b shuts down cleanly: a new candidate c takes over on its first attempt.
    await b.instance.stop();
    expect(store.current?.record.holderIdentity).toBe('');
    const c = elector(store, 'c', clock);
    await attempt(c.instance);
    expect(c.instance.isLeader).toBe(true);
  });

  it('a leader that cannot renew for the renew deadline stops leading', async () => {
    const store = new MemoryLease();
    const clock = { now: 0 };
    const a = elector(store, 'a', clock);
    await attempt(a.instance);
    store.failing = true;
    clock.now = 1999;
    await attempt(a.instance);
    expect(a.events).toEqual(['started']);
    clock.now = 2000;
    await attempt(a.instance);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(a.instance.isLeader).toBe(false);
  });

  it('a leader whose Lease was taken stops leading', async () => {
    const store = new MemoryLease();
    const clock = { now: 0 };
    const a = elector(store, 'a', clock);
    await attempt(a.instance);
    const current = store.current as StoredLease;
    await store.update(
      { ...current.record, holderIdentity: 'intruder', renewTime: 'x' },
      current.version,
    );
    await attempt(a.instance);
    expect(a.events).toEqual(['started', 'stopped']);
  });
});

describe('takeover after a crash (the documented bound)', () => {
  // Simulates the leader renewing every retry period and a standby polling every retry period
  // at its own phase, with the defaults (lease 15 s, retry 2 s), for many crash instants and
  // phases: the standby takes over between lease - retry and lease + 2 x retry after the crash
  // (README "Leader election": 13-19 s; the 17.7 s measured in issue 14 is inside it).
  const lease = 15_000;
  const retry = 2_000;
  const defaults = { leaseDurationMs: lease, renewDeadlineMs: 10_000, retryPeriodMs: retry };

  function takeoverAfterCrash(crashAt: number, standbyPhase: number): number {
    let seen: ReturnType<typeof observe> | undefined;
    for (let t = standbyPhase; t < crashAt + 60_000; t += retry) {
      // The leader's last renewal at or before min(t, crashAt), on its own 2 s ticks.
      const lastRenewal = Math.floor(Math.min(t, crashAt) / retry) * retry;
      const record = {
        holderIdentity: 'leader',
        renewTime: String(lastRenewal),
        leaseDurationSeconds: lease / 1000,
      };
      seen = observe(seen, record, t);
      if (t > crashAt && decide('standby', seen, t, defaults).action === 'take') return t - crashAt;
    }
    throw new Error('no takeover');
  }

  it('stays within lease - retry .. lease + 2 x retry, and exceeds one lease duration', () => {
    let worst = 0;
    let best = Infinity;
    for (let crash = 100_000; crash < 104_000; crash += 100) {
      for (let phase = 1; phase < retry; phase += 97) {
        const took = takeoverAfterCrash(crash, phase);
        worst = Math.max(worst, took);
        best = Math.min(best, took);
      }
    }
    expect(worst).toBeLessThanOrEqual(lease + 2 * retry);
    expect(best).toBeGreaterThanOrEqual(lease - retry);
    // "Within one lease duration" (the old documentation) was wrong.
    expect(worst).toBeGreaterThan(lease);
  });
});
