/** Lease liveness by the operator's own clock: every rule can fail on its own. */
import { describe, expect, it } from 'vitest';
import { LeaseTracker } from './lease-tracker.ts';

function tracker() {
  let now = 0;
  const leases = new LeaseTracker(() => now, 20);
  return { leases, advance: (ms: number) => (now += ms) };
}
const lease = (renewTime: string, holder = 'pod_uid', key?: string) => ({
  holderIdentity: holder,
  renewTime,
  leaseDurationSeconds: 4,
  ...(key === undefined ? {} : { identityPublicKey: key }),
});

describe('LeaseTracker', () => {
  it('a first-seen Lease is live for one grace (1.25 × duration), then stale unless renewed', () => {
    const { leases, advance } = tracker();
    expect(leases.observe('ns/a', lease('t1'))).toBe(true);
    expect(leases.view('ns/a').liveness).toBe('live');
    expect(leases.nextExpiryInMs(['ns/a'])).toBe(5000);
    advance(4999);
    expect(leases.view('ns/a').liveness).toBe('live');
    advance(1);
    expect(leases.view('ns/a')).toMatchObject({ liveness: 'stale', ageSeconds: 5 });
    expect(leases.nextExpiryInMs(['ns/a'])).toBeUndefined();
  });

  it('judges by observed renewTime changes, not by what renewTime says', () => {
    const { leases, advance } = tracker();
    leases.observe('ns/a', lease('2000-01-01T00:00:00Z'));
    advance(3000);
    // Same renewTime re-delivered (relist): no renewal.
    expect(leases.observe('ns/a', lease('2000-01-01T00:00:00Z'))).toBe(false);
    advance(2500);
    expect(leases.view('ns/a').liveness).toBe('stale');
    // A renewal of a stale Lease matters; a routine renewal of a live one does not.
    expect(leases.observe('ns/a', lease('2000-01-01T00:00:01Z'))).toBe(true);
    expect(leases.view('ns/a').liveness).toBe('live');
    advance(1000);
    expect(leases.observe('ns/a', lease('2000-01-01T00:00:02Z'))).toBe(false);
  });

  it('a released Lease is not live at once; holder and identity changes matter', () => {
    const { leases } = tracker();
    leases.observe('ns/a', lease('t1', 'pod_1', 'aa'));
    expect(leases.observe('ns/a', lease('t2', 'pod_1', 'bb'))).toBe(true);
    expect(leases.view('ns/a').identityPublicKey).toBe('bb');
    expect(leases.observe('ns/a', lease('t3', ''))).toBe(true);
    expect(leases.view('ns/a').liveness).toBe('released');
    expect(leases.observe('ns/a', undefined)).toBe(true);
    expect(leases.view('ns/a').liveness).toBe('absent');
  });
});

describe('LeaseTracker with signed heartbeats', () => {
  function signedTracker() {
    let now = 0;
    const leases = new LeaseTracker(() => now, 20, { signedHeartbeats: true });
    return { leases, advance: (ms: number) => (now += ms) };
  }
  const signed = (renewTime: string, heartbeatCounter?: number) => ({
    ...lease(renewTime),
    ...(heartbeatCounter === undefined ? {} : { heartbeatCounter }),
  });

  it('renewals without a verified heartbeat, or with a replayed counter, do not keep a Lease live', () => {
    const { leases, advance } = signedTracker();
    leases.observe('ns/a', signed('t1', 10));
    expect(leases.view('ns/a').liveness).toBe('live');
    advance(4000);
    // Another signer's token renews it: new renewTime, no valid heartbeat / the old counter.
    leases.observe('ns/a', signed('t2'));
    leases.observe('ns/a', signed('t3', 10));
    advance(1000);
    expect(leases.view('ns/a').liveness).toBe('stale');
    leases.observe('ns/a', signed('t4', 11));
    expect(leases.view('ns/a').liveness).toBe('live');
  });

  it('a Lease first seen without a verified heartbeat is stale at once', () => {
    const { leases } = signedTracker();
    leases.observe('ns/b', signed('t1'));
    expect(leases.view('ns/b').liveness).toBe('stale');
  });
});
