import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  LeaseMembership,
  signerLeaseName,
  type LeaseMembershipOptions,
} from './lease-membership.ts';

// No request is ever sent: these tests never call start().
function kubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return config;
}

function options(extra: Partial<LeaseMembershipOptions> = {}): LeaseMembershipOptions {
  return {
    kubeConfig: kubeConfig(),
    namespace: 'ns',
    selfNodeId: 'node0',
    leaseNames: new Map([
      ['node0', signerLeaseName('wallet', 0)],
      ['node1', signerLeaseName('wallet', 1)],
    ]),
    holderIdentity: 'wallet-signer-0_uid',
    leaseDurationSeconds: 20,
    log: pino({ level: 'silent' }),
    ...extra,
  };
}

describe('LeaseMembership (no API calls)', () => {
  it('names Leases <cluster>-signer-<ordinal>', () => {
    expect(signerLeaseName('wallet', 2)).toBe('wallet-signer-2');
  });

  it('self is always ready, peers never before a renewal is observed, pod Ready or not', () => {
    const membership = new LeaseMembership(options({ isPodReady: () => true }));
    expect(membership.isReady('node0')).toBe(true);
    expect(membership.isReady('node1')).toBe(false);
    expect(membership.readyNodes()).toEqual(['node0']);
    expect(membership.leaseState('node1')).toBe('pending');
    membership.markSuspect('node0');
    expect(membership.isReady('node0')).toBe(true);
  });

  it('markSuspect notifies listeners', () => {
    const membership = new LeaseMembership(options());
    let calls = 0;
    membership.onChange(() => (calls += 1));
    membership.markSuspect('node1');
    expect(calls).toBe(1);
    expect(membership.leaseState('node1')).toBe('suspect');
  });

  it('validates its options and names the bad one', () => {
    expect(() => new LeaseMembership(options({ leaseDurationSeconds: 0 }))).toThrow(
      /leaseDurationSeconds/,
    );
    expect(() => new LeaseMembership(options({ leaseDurationSeconds: 1.5 }))).toThrow(
      /leaseDurationSeconds/,
    );
    expect(() => new LeaseMembership(options({ peerTimeoutMs: -1 }))).toThrow(/peerTimeoutMs/);
    expect(() => new LeaseMembership(options({ renewIntervalMs: 0 }))).toThrow(/renewIntervalMs/);
    expect(() => new LeaseMembership(options({ watchTimeoutSeconds: 0 }))).toThrow(
      /watchTimeoutSeconds/,
    );
    expect(() => new LeaseMembership(options({ namespace: '' }))).toThrow(/namespace/);
    expect(() => new LeaseMembership(options({ holderIdentity: '' }))).toThrow(/holderIdentity/);
    expect(() => new LeaseMembership(options({ selfNodeId: 'node9' }))).toThrow(/selfNodeId/);
  });

  it('renews before the lease would expire in peers eyes', () => {
    expect(
      () => new LeaseMembership(options({ renewIntervalMs: 20_000, leaseDurationSeconds: 20 })),
    ).toThrow(/renewIntervalMs/);
  });

  it('stop() before start() is harmless', async () => {
    const membership = new LeaseMembership(options());
    await membership.stop();
    await membership.stop();
  });
});
