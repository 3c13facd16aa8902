import { describe, expect, it } from 'vitest';
import { LeaseObserver, renewTimeKey, type LeaseSnapshot } from './lease-observer.ts';

const TIMEOUT = 10_000;

function setup() {
  let clock = 1_000_000;
  const observer = new LeaseObserver({
    selfNodeId: 'node0',
    leaseNames: new Map([
      ['node0', 'c-signer-0'],
      ['node1', 'c-signer-1'],
      ['node2', 'c-signer-2'],
    ]),
    peerTimeoutMs: TIMEOUT,
    now: () => clock,
  });
  return {
    observer,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

function lease(name: string, renewTime: string | undefined, holder = `${name}-pod`): LeaseSnapshot {
  return { name, holderIdentity: holder, renewTime };
}

const T1 = '2026-11-23T10:00:00.000000Z';
const T2 = '2026-11-23T10:00:05.000000Z';
const T3 = '2026-11-23T10:00:10.000000Z';

describe('LeaseObserver', () => {
  it('treats a listed Lease as a baseline and its next change as a heartbeat', () => {
    const { observer, advance } = setup();
    expect(observer.observe(lease('c-signer-1', T1), 'list')).toBe('baseline');
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.state('node1')).toBe('pending');
    advance(1000);
    expect(observer.observe(lease('c-signer-1', T1), 'watch')).toBe('unchanged');
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.observe(lease('c-signer-1', T2), 'watch')).toBe('heartbeat');
    expect(observer.isReady('node1')).toBe(true);
    expect(observer.state('node1')).toBe('live');
  });

  it('counts a first sight in a watch event (created after our list) as a heartbeat', () => {
    const { observer } = setup();
    expect(observer.observe(lease('c-signer-2', T1), 'watch')).toBe('heartbeat');
    expect(observer.isReady('node2')).toBe(true);
  });

  it('expires a peer by the reader clock only, whatever renewTime says', () => {
    const { observer, advance } = setup();
    observer.observe(lease('c-signer-1', T1), 'list');
    // A renewTime far in the future (holder clock skew) buys nothing.
    observer.observe(lease('c-signer-1', '2099-01-01T00:00:00.000000Z'), 'watch');
    advance(TIMEOUT);
    expect(observer.isReady('node1')).toBe(true);
    advance(1);
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.state('node1')).toBe('expired');
    // A renewTime going backwards is still a change, hence a heartbeat.
    expect(observer.observe(lease('c-signer-1', T1), 'watch')).toBe('heartbeat');
    expect(observer.isReady('node1')).toBe(true);
  });

  it('restart grace: pending, never expired, before one timeout; expired after', () => {
    const { observer, advance } = setup();
    observer.observe(lease('c-signer-1', T1), 'list');
    expect(observer.state('node2')).toBe('pending');
    advance(TIMEOUT - 1);
    expect(observer.state('node1')).toBe('pending');
    expect(observer.state('node2')).toBe('pending');
    expect(observer.isReady('node1')).toBe(false);
    advance(1);
    expect(observer.state('node1')).toBe('expired');
    expect(observer.state('node2')).toBe('expired');
  });

  it('a relist keeps earlier knowledge: unchanged stays live until its own timeout', () => {
    const { observer, advance } = setup();
    observer.observe(lease('c-signer-1', T1), 'list');
    advance(100);
    observer.observe(lease('c-signer-1', T2), 'watch');
    advance(TIMEOUT / 2);
    expect(observer.observe(lease('c-signer-1', T2), 'list')).toBe('unchanged');
    expect(observer.isReady('node1')).toBe(true);
    advance(TIMEOUT / 2 + 1);
    expect(observer.isReady('node1')).toBe(false);
    // Renewed while we were not watching: the relist shows the change.
    expect(observer.observe(lease('c-signer-1', T3), 'list')).toBe('heartbeat');
    expect(observer.isReady('node1')).toBe(true);
  });

  it('a released Lease (empty holder or no renewTime) is a departure', () => {
    const { observer, advance } = setup();
    observer.observe(lease('c-signer-1', T1), 'watch');
    expect(observer.isReady('node1')).toBe(true);
    expect(observer.observe(lease('c-signer-1', T2, ''), 'watch')).toBe('departure');
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.state('node1')).toBe('released');
    expect(observer.observe(lease('c-signer-1', T2, ''), 'watch')).toBe('unchanged');
    advance(10);
    expect(observer.observe(lease('c-signer-1', T3), 'watch')).toBe('heartbeat');
    expect(observer.isReady('node1')).toBe(true);
    expect(
      observer.observe({ name: 'c-signer-1', holderIdentity: 'p', renewTime: undefined }, 'list'),
    ).toBe('departure');
    expect(observer.isReady('node1')).toBe(false);
  });

  it('a new holder (pod restarted) with the same renewTime string is a heartbeat', () => {
    const { observer } = setup();
    observer.observe(lease('c-signer-1', T1, 'pod-a'), 'list');
    expect(observer.observe(lease('c-signer-1', T1, 'pod-b'), 'watch')).toBe('heartbeat');
  });

  it('a deleted Lease is a departure; a deletion of an unseen Lease too', () => {
    const { observer } = setup();
    observer.observe(lease('c-signer-1', T1), 'watch');
    expect(observer.observeDeleted('c-signer-1')).toBe('departure');
    expect(observer.observeDeleted('c-signer-1')).toBe('unchanged');
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.knownLeaseNames()).toEqual([]);
    observer.observe(lease('c-signer-2', T1), 'list');
    expect(observer.knownLeaseNames()).toEqual(['c-signer-2']);
  });

  it('ignores its own Lease and Leases of unknown nodes', () => {
    const { observer } = setup();
    expect(observer.observe(lease('c-signer-0', T1), 'watch')).toBe('ignored');
    expect(observer.observe(lease('other-signer-1', T1), 'watch')).toBe('ignored');
    expect(observer.observeDeleted('c-signer-0')).toBe('ignored');
    expect(observer.isReady('node0')).toBe(true);
    expect(observer.state('node0')).toBe('self');
    expect(observer.isReady('stranger')).toBe(false);
  });

  it('a suspect peer is excluded until its next renewal, not by an unchanged relist', () => {
    const { observer, advance } = setup();
    observer.observe(lease('c-signer-1', T1), 'watch');
    advance(10);
    observer.markSuspect('node1');
    expect(observer.isReady('node1')).toBe(false);
    expect(observer.state('node1')).toBe('suspect');
    advance(10);
    observer.observe(lease('c-signer-1', T1), 'list');
    expect(observer.isReady('node1')).toBe(false);
    observer.observe(lease('c-signer-1', T2), 'watch');
    expect(observer.isReady('node1')).toBe(true);
  });

  it('rejects a lease map without self or with a duplicated name', () => {
    const base = { selfNodeId: 'a', peerTimeoutMs: 1, now: () => 0 };
    expect(() => new LeaseObserver({ ...base, leaseNames: new Map([['b', 'x']]) })).toThrow(
      RangeError,
    );
    expect(
      () =>
        new LeaseObserver({
          ...base,
          leaseNames: new Map([
            ['a', 'x'],
            ['b', 'x'],
          ]),
        }),
    ).toThrow(/used twice/);
  });

  it('renewTimeKey accepts Date and MicroTime strings', () => {
    expect(renewTimeKey(new Date(Date.UTC(2026, 0, 1)))).toBe('2026-01-01T00:00:00.000Z');
    expect(renewTimeKey(T1)).toBe(T1);
    expect(renewTimeKey('')).toBeUndefined();
    expect(renewTimeKey(undefined)).toBeUndefined();
    expect(renewTimeKey(new Date(Number.NaN))).toBeUndefined();
  });
});
