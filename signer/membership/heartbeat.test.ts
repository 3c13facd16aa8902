/** Signed heartbeats: only the pinned key's fresh counters count as liveness. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HeartbeatCounter,
  HeartbeatLedger,
  signHeartbeat,
  verifyHeartbeat,
  type HeartbeatFields,
} from './heartbeat.ts';
import { LeaseObserver, type LeaseSnapshot } from './lease-observer.ts';

function identity() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    hex: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    sign: (message: Uint8Array) => new Uint8Array(sign(null, message, privateKey)),
  };
}

const peer = identity();
const mallory = identity(); // another signer, with the shared Lease rights
const base = { cluster: 'ns/c', nodeId: 'c-signer-1', holderIdentity: 'c-signer-1_uid1' };
const fields = (counter: number, publicKey = peer.hex): HeartbeatFields => ({
  ...base,
  publicKey,
  counter,
});

describe('heartbeat signatures', () => {
  it('verify only under the signing key, for the named cluster, node and holder', () => {
    const value = signHeartbeat(fields(5), peer.sign);
    expect(verifyHeartbeat(value, { ...base, publicKey: peer.hex })).toBe(5);
    expect(verifyHeartbeat(value, { ...base, publicKey: mallory.hex })).toBeUndefined();
    expect(
      verifyHeartbeat(value, { ...base, publicKey: peer.hex, cluster: 'other/c' }),
    ).toBeUndefined();
    expect(
      verifyHeartbeat(value, { ...base, publicKey: peer.hex, nodeId: 'c-signer-2' }),
    ).toBeUndefined();
    expect(
      verifyHeartbeat(value, { ...base, publicKey: peer.hex, holderIdentity: 'c-signer-1_uid0' }),
    ).toBeUndefined();
    // A counter edited after signing.
    expect(
      verifyHeartbeat(value.replace(/^5\./, '6.'), { ...base, publicKey: peer.hex }),
    ).toBeUndefined();
    // Mallory signs "peer's" heartbeat with her own key: not the pinned key.
    const forged = signHeartbeat(fields(9, peer.hex), mallory.sign);
    expect(verifyHeartbeat(forged, { ...base, publicKey: peer.hex })).toBeUndefined();
    expect(verifyHeartbeat('garbage', { ...base, publicKey: peer.hex })).toBeUndefined();
    expect(verifyHeartbeat(undefined, { ...base, publicKey: peer.hex })).toBeUndefined();
  });

  it('the writer counter grows strictly even when the clock stalls or steps back', () => {
    let clock = 1000;
    const counter = new HeartbeatCounter(() => clock);
    expect(counter.next()).toBe(1000);
    expect(counter.next()).toBe(1001);
    clock = 10;
    expect(counter.next()).toBe(1002);
    counter.resumeAfter(5000);
    expect(counter.next()).toBe(5001);
  });

  it('the reader ledger accepts only growing counters; a baseline is not a renewal', () => {
    const ledger = new HeartbeatLedger();
    ledger.baseline('a', 10);
    expect(ledger.accept('a', 10)).toBe(false);
    expect(ledger.accept('a', 11)).toBe(true);
    expect(ledger.accept('a', 3)).toBe(false);
  });
});

describe('LeaseObserver with signed heartbeats', () => {
  const TIMEOUT = 10_000;
  function setup() {
    let clock = 1_000_000;
    const observer = new LeaseObserver({
      selfNodeId: 'c-signer-0',
      leaseNames: new Map([
        ['c-signer-0', 'c-signer-0'],
        ['c-signer-1', 'c-signer-1'],
      ]),
      peerTimeoutMs: TIMEOUT,
      now: () => clock,
      // The pinned key of c-signer-1 is peer's.
      verifyHeartbeat: (nodeId, snapshot) =>
        verifyHeartbeat(snapshot.heartbeat, {
          cluster: 'ns/c',
          nodeId,
          holderIdentity: snapshot.holderIdentity ?? '',
          publicKey: peer.hex,
        }),
    });
    return { observer, advance: (ms: number) => (clock += ms) };
  }
  const snap = (renewTime: string, heartbeat?: string): LeaseSnapshot => ({
    name: 'c-signer-1',
    holderIdentity: base.holderIdentity,
    renewTime,
    heartbeat,
  });

  it('a renewal without a heartbeat signed by the pinned key is not counted', () => {
    const { observer } = setup();
    // Another signer's token bumps renewTime and keeps (or drops) the annotation.
    expect(observer.observe(snap('t1'), 'watch')).toBe('unverified');
    expect(observer.observe(snap('t2', signHeartbeat(fields(7), mallory.sign)), 'watch')).toBe(
      'unverified',
    );
    expect(observer.isReady('c-signer-1')).toBe(false);
    expect(observer.observe(snap('t3', signHeartbeat(fields(8), peer.sign)), 'watch')).toBe(
      'heartbeat',
    );
    expect(observer.isReady('c-signer-1')).toBe(true);
  });

  it('a replayed old heartbeat (new renewTime, old counter) does not extend liveness', () => {
    const { observer, advance } = setup();
    const old = signHeartbeat(fields(100), peer.sign);
    expect(observer.observe(snap('t1', old), 'watch')).toBe('heartbeat');
    advance(TIMEOUT - 1);
    expect(observer.observe(snap('t2', old), 'watch')).toBe('unchanged');
    advance(2);
    expect(observer.isReady('c-signer-1')).toBe(false);
    // After a clean release, writing the old heartbeat back does not revive the peer.
    expect(observer.observe({ ...snap('t3'), holderIdentity: '' }, 'watch')).toBe('departure');
    expect(observer.observe(snap('t4', old), 'watch')).toBe('unchanged');
    expect(observer.isReady('c-signer-1')).toBe(false);
  });

  it('a listed heartbeat is a baseline: only a later counter makes the peer live', () => {
    const { observer } = setup();
    expect(observer.observe(snap('t1', signHeartbeat(fields(50), peer.sign)), 'list')).toBe(
      'baseline',
    );
    expect(observer.observe(snap('t2', signHeartbeat(fields(50), peer.sign)), 'watch')).toBe(
      'unchanged',
    );
    expect(observer.isReady('c-signer-1')).toBe(false);
    expect(observer.observe(snap('t3', signHeartbeat(fields(51), peer.sign)), 'watch')).toBe(
      'heartbeat',
    );
  });
});
