import { describe, expect, it } from 'vitest';
import type { MpcCluster } from '../api/mpc-cluster.ts';
import { keyFingerprint } from '../status/roster-pins.ts';
import { drainVerdict } from './drain.ts';
import {
  formatDrain,
  formatStatus,
  freshReshareId,
  repinSteps,
  reshareSteps,
  table,
} from './format.ts';

const KEY_A = 'aa'.repeat(32);
const KEY_B = 'bb'.repeat(32);
const KEY_C = 'cc'.repeat(32);

const cluster = (overrides: Partial<MpcCluster['spec']> = {}, status?: MpcCluster['status']) =>
  ({
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcCluster',
    metadata: { name: 'wallet', namespace: 'prod', uid: 'u', generation: 2 },
    spec: {
      replicas: 3,
      threshold: 1,
      image: 'img',
      nats: { url: 'nats://nats:4222' },
      initiator: { algorithm: 'ed25519', publicKey: KEY_A },
      ...overrides,
    },
    ...(status === undefined ? {} : { status }),
  }) as MpcCluster;

describe('table', () => {
  it('pads every column but the last', () => {
    expect(
      table([
        ['A', 'BB', 'C'],
        ['ccc', 'd', 'eeee'],
      ]),
    ).toBe('A    BB  C\nccc  d   eeee');
  });
});

describe('formatStatus', () => {
  it('one row per signer: pod, counted, lease, age, holder, fingerprint, pin state', () => {
    const out = formatStatus(
      cluster(
        {},
        {
          observedGeneration: 2,
          phase: 'Degraded',
          readySigners: 1,
          quorum: 2,
          roster: { 'wallet-signer-0': KEY_A, 'wallet-signer-1': KEY_B },
          signers: [
            {
              name: 'wallet-signer-0',
              ready: true,
              podReady: true,
              lease: 'live',
              leaseAgeSeconds: 3,
              identityFingerprint: keyFingerprint(KEY_A),
            },
            { name: 'wallet-signer-1', ready: false, podReady: true, lease: 'live' },
            { name: 'wallet-signer-2', ready: false, podReady: false, lease: 'stale' },
          ],
          conditions: [
            {
              type: 'IdentityMismatch',
              status: 'True',
              reason: 'KeyChanged',
              message: 'wallet-signer-1 differs',
              lastTransitionTime: 't',
            },
          ],
        },
      ),
      [
        { name: 'wallet-signer-0', node: 'n1', ready: true, terminating: false },
        { name: 'wallet-signer-1', node: 'n2', ready: true, terminating: false },
        { name: 'wallet-signer-2', node: 'n3', ready: false, terminating: false, phase: 'Running' },
      ],
      [
        { name: 'wallet-signer-0', holder: 'wallet-signer-0', identityPublicKey: KEY_A },
        { name: 'wallet-signer-1', holder: 'wallet-signer-1', identityPublicKey: KEY_C },
      ],
    );
    const lines = out.split('\n');
    expect(lines[0]).toBe(
      'MpcCluster prod/wallet: 3 signers, threshold 1 (quorum 2), 1/3 ready, phase Degraded',
    );
    expect(lines[1]).toBe('  IdentityMismatch=True KeyChanged: wallet-signer-1 differs');
    const row = (signer: string) =>
      lines.find((line) => line.startsWith(signer))?.split(/\s{2,}/) ?? [];
    expect(row('wallet-signer-0')).toEqual([
      'wallet-signer-0',
      'n1',
      'Ready',
      'yes',
      'live',
      '3s',
      'wallet-signer-0',
      keyFingerprint(KEY_A),
      'yes',
    ]);
    expect(row('wallet-signer-1')).toEqual([
      'wallet-signer-1',
      'n2',
      'Ready',
      'no',
      'live',
      '-',
      'wallet-signer-1',
      `${keyFingerprint(KEY_C)}?`,
      `MISMATCH (pinned ${keyFingerprint(KEY_B)})`,
    ]);
    expect(row('wallet-signer-2')).toEqual([
      'wallet-signer-2',
      'n3',
      'NotReady/Running',
      'no',
      'stale',
      '-',
      '-',
      '-',
      'no',
    ]);
  });

  it('says when the status lags the spec, and lists absent pods', () => {
    const out = formatStatus(cluster({}, { observedGeneration: 1 }), [], []);
    expect(out).toContain('status is from generation 1, spec is generation 2');
    expect(out).toMatch(/wallet-signer-2\s+-\s+absent\s+-\s+absent/);
  });
});

describe('formatDrain', () => {
  it('names the clusters that would lose quorum', () => {
    const verdict = drainVerdict('n1', [
      {
        namespace: 'a',
        name: 'w',
        quorum: 2,
        signers: [
          { name: 'w-0', node: 'n1', podReady: true },
          { name: 'w-1', node: 'n1', podReady: true },
          { name: 'w-2', node: 'n2', podReady: true },
        ],
      },
    ]);
    const out = formatDrain(verdict);
    expect(out).toContain('a/w      2       3      2        1      1       NO');
    expect(out).toContain('NOT safe to drain n1: a/w would keep 1 ready signer(s), quorum is 2');
    expect(formatDrain(drainVerdict('n1', []))).toBe(
      'no MpcClusters found\nsafe to drain n1: no cluster loses its quorum of ready signers\n',
    );
    const down = formatDrain(
      drainVerdict('n2', [
        {
          namespace: 'a',
          name: 'd',
          quorum: 2,
          signers: [{ name: 'd-0', node: 'n1', podReady: true }],
        },
      ]),
    );
    expect(down).toContain('yes (below quorum already)');
    expect(down).toContain(
      'warning: already below quorum, not affected by this drain: a/d (1 of 2 ready)',
    );
    expect(down).toContain('safe to drain n2');
  });
});

describe('repinSteps', () => {
  it('fills the sign-repin command with the cluster, signer and keys', () => {
    const out = repinSteps({
      cluster: cluster({ administratorPublicKey: KEY_C }),
      signer: 'wallet-signer-1',
      oldKey: KEY_A,
      newKey: KEY_B,
    });
    expect(out).toContain(
      `mpc admin sign-repin --key admin.key --cluster prod/wallet --node wallet-signer-1 \\`,
    );
    expect(out).toContain(`--old ${KEY_A} --new ${KEY_B} --valid-for 3600`);
    expect(out).toContain(
      'kubectl -n prod annotate mpccluster wallet mpc-platform.dev/repin="$TOKEN"',
    );
    expect(out).toContain(
      'kubectl -n prod exec wallet-signer-1 -- node dist/signer/main.js identity',
    );
  });

  it('without an administrator key says that no pin can be replaced on the signers', () => {
    const out = repinSteps({
      cluster: cluster(),
      signer: 'wallet-signer-1',
      oldKey: KEY_A,
      newKey: undefined,
    });
    expect(out).toContain('spec.administratorPublicKey is not set');
    expect(out).not.toContain('sign-repin');
  });
});

describe('freshReshareId', () => {
  const now = new Date('2026-12-06T21:37:05.123Z');
  it('is a DNS label with n, t and the UTC time', () => {
    expect(freshReshareId(5, 2, now, () => 'A1B2C3', [])).toBe('n5-t2-20261206213705-a1b2c3');
  });
  it('never returns a used id', () => {
    const values = ['aaaaaa', 'bbbbbb'];
    expect(
      freshReshareId(5, 2, now, () => values.shift() ?? 'x', ['n5-t2-20261206213705-aaaaaa']),
    ).toBe('n5-t2-20261206213705-bbbbbb');
    expect(() =>
      freshReshareId(5, 2, now, () => 'aaaaaa', ['n5-t2-20261206213705-aaaaaa']),
    ).toThrow(/fresh reshare id/);
  });
});

describe('reshareSteps', () => {
  it('growing: wait for the new signers, then reshare every wallet onto all of them', () => {
    const out = reshareSteps({
      cluster: cluster(),
      fromReplicas: 3,
      replicas: 5,
      threshold: 2,
      id: 'x',
    });
    expect(out).toContain(
      'spec.replicas=5 spec.threshold=2 set with spec.reshare.id=x on prod/wallet',
    );
    expect(out).toContain('READY 5, PHASE Ready');
    expect(out).toContain(
      '--node-ids wallet-signer-0,wallet-signer-1,wallet-signer-2,wallet-signer-3,wallet-signer-4 --threshold 2',
    );
    expect(out).toContain('mpc reshare --nats nats://nats:4222');
  });

  it('shrinking: reshare off the leaving (highest) signers, which the operator then removes', () => {
    const out = reshareSteps({
      cluster: cluster({ replicas: 5, threshold: 2 }),
      fromReplicas: 5,
      replicas: 3,
      threshold: 1,
      id: 'y',
    });
    expect(out).toContain('off wallet-signer-3, wallet-signer-4 onto the signers that stay');
    expect(out).toContain(
      '--node-ids wallet-signer-0,wallet-signer-1,wallet-signer-2 --threshold 1',
    );
    expect(out).toContain('ScaleDownBlocked');
    expect(out).toContain('delete pvc data-wallet-signer-3 data-wallet-signer-4');
  });
});
