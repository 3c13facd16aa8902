import { describe, expect, it } from 'vitest';
import type { MpcBackup, MpcBackupStatus } from '../api/mpc-backup.ts';
import {
  computeBackupStatus,
  planSchedule,
  scheduleSuffix,
  type SignerReport,
} from './backup-status.ts';

const SHA = 'ab'.repeat(32);
const NODES = ['w-signer-0', 'w-signer-1', 'w-signer-2'];

function backup(overrides: Partial<MpcBackup['spec']> = {}, status?: MpcBackupStatus): MpcBackup {
  return {
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcBackup',
    metadata: {
      name: 'b1',
      namespace: 'ns',
      uid: 'uid-1',
      generation: 1,
      creationTimestamp: '2026-12-06T21:00:00Z',
    },
    spec: { clusterName: 'w', ...overrides },
    ...(status === undefined ? {} : { status }),
  };
}

const at = (iso: string) => new Date(iso);
const ok = (extra: Partial<SignerReport> = {}): SignerReport => ({
  uid: 'uid-1',
  sha256: SHA,
  bytes: 10,
  wallets: 1,
  shares: 2,
  identity: true,
  completedAt: '2026-12-06T21:00:05Z',
  ...extra,
});

describe('computeBackupStatus', () => {
  it('Pending, then Running, then Succeeded with one archive per signer', () => {
    const reports = new Map<string, SignerReport>();
    const run = (now: string) =>
      computeBackupStatus({
        backup: backup(),
        signers: NODES,
        report: (node) => reports.get(node),
        now: at(now),
      });
    expect(run('2026-12-06T21:00:01Z').status).toMatchObject({ phase: 'Pending', summary: '0/3' });
    reports.set(NODES[0]!, ok());
    const running = run('2026-12-06T21:00:02Z');
    expect(running.status).toMatchObject({ phase: 'Running', summary: '1/3' });
    expect(running.requeueAfterMs).toBe(898_000);
    reports.set(NODES[1]!, ok());
    reports.set(NODES[2]!, ok());
    const done = run('2026-12-06T21:00:06Z').status;
    expect(done).toMatchObject({
      phase: 'Succeeded',
      summary: '3/3',
      completedAt: '2026-12-06T21:00:06.000Z',
      startedAt: '2026-12-06T21:00:00Z',
    });
    expect(done.signers?.[2]).toEqual({
      node: NODES[2],
      archive: `b1/${NODES[2]}.mpcbak`,
      sha256: SHA,
      bytes: 10,
      wallets: 1,
      shares: 2,
      identity: true,
      completedAt: '2026-12-06T21:00:05Z',
    });
    expect(done.conditions?.[0]).toMatchObject({ type: 'Complete', status: 'True' });
  });

  it('ignores reports for another object of the same name, and malformed ones fail', () => {
    const stale = computeBackupStatus({
      backup: backup(),
      signers: NODES,
      report: () => ok({ uid: 'uid-old' }),
      now: at('2026-12-06T21:00:01Z'),
    });
    expect(stale.status.phase).toBe('Pending');
    const bad = computeBackupStatus({
      backup: backup(),
      signers: NODES,
      report: () => ok({ sha256: 'zz' }),
      now: at('2026-12-06T21:00:01Z'),
    });
    expect(bad.status.phase).toBe('Failed');
  });

  it('fails on a signer error at once, and at the deadline without all reports; then freezes', () => {
    const failed = computeBackupStatus({
      backup: backup(),
      signers: NODES,
      report: (node) => (node === NODES[1] ? { uid: 'uid-1', error: 'disk full' } : undefined),
      now: at('2026-12-06T21:00:01Z'),
    }).status;
    expect(failed).toMatchObject({ phase: 'Failed', message: `${NODES[1]}: disk full` });
    const late = computeBackupStatus({
      backup: backup({ timeoutSeconds: 60 }),
      signers: NODES,
      report: (node) => (node === NODES[0] ? ok() : undefined),
      now: at('2026-12-06T21:01:00Z'),
    }).status;
    expect(late.phase).toBe('Failed');
    expect(late.message).toContain(`${NODES[1]}, ${NODES[2]}`);
    // Terminal: reports arriving later change nothing.
    const frozen = computeBackupStatus({
      backup: backup({}, late),
      signers: NODES,
      report: () => ok(),
      now: at('2026-12-06T21:02:00Z'),
    });
    expect(frozen.status).toBe(late);
  });

  it('waits for a missing MpcCluster until the deadline', () => {
    const run = (now: string) =>
      computeBackupStatus({
        backup: backup(),
        signers: undefined,
        report: () => undefined,
        now: at(now),
      }).status.phase;
    expect(run('2026-12-06T21:00:01Z')).toBe('Pending');
    expect(run('2026-12-06T21:15:00Z')).toBe('Failed');
  });
});

describe('planSchedule (every-minute schedule, injected clock)', () => {
  const schedule = (status?: MpcBackupStatus, keep?: number): MpcBackup => ({
    ...backup({ schedule: '* * * * *', ...(keep === undefined ? {} : { keep }) }, status),
    metadata: { ...backup().metadata, name: 'nightly' },
  });
  const child = (minute: number, phase: NonNullable<MpcBackupStatus['phase']>): MpcBackup => ({
    ...backup({}, { phase }),
    metadata: {
      ...backup().metadata,
      name: `nightly-2026120621${String(minute).padStart(2, '0')}`,
    },
  });

  it('creates nothing before the first scheduled minute after creation', () => {
    const plan = planSchedule({
      schedule: schedule(),
      children: [],
      now: at('2026-12-06T21:00:30Z'),
    });
    expect(plan.create).toBeUndefined();
    expect(plan.status.nextScheduleTime).toBe('2026-12-06T21:01:00.000Z');
    expect(plan.requeueAfterMs).toBe(30_000);
  });

  it('creates <name>-<yyyymmddhhmm> once per minute, only the latest missed one', () => {
    const first = planSchedule({
      schedule: schedule(),
      children: [],
      now: at('2026-12-06T21:03:10Z'),
    });
    expect(first.create).toEqual({
      name: 'nightly-202612062103',
      scheduledTime: at('2026-12-06T21:03:00Z'),
    });
    expect(first.status).toMatchObject({
      phase: 'Scheduled',
      lastScheduleTime: '2026-12-06T21:03:00.000Z',
      lastScheduledBackup: 'nightly-202612062103',
      nextScheduleTime: '2026-12-06T21:04:00.000Z',
    });
    const again = planSchedule({
      schedule: schedule(first.status),
      children: [],
      now: at('2026-12-06T21:03:50Z'),
    });
    expect(again.create).toBeUndefined();
  });

  it('keeps the newest `keep` Succeeded and `keep` Failed, never a running one', () => {
    const children = [
      child(1, 'Succeeded'),
      child(2, 'Failed'),
      child(3, 'Succeeded'),
      child(4, 'Succeeded'),
      child(5, 'Failed'),
      child(6, 'Failed'),
      child(7, 'Running'),
    ];
    const plan = planSchedule({
      schedule: schedule({ phase: 'Scheduled', lastScheduleTime: '2026-12-06T21:07:00Z' }, 2),
      children,
      now: at('2026-12-06T21:07:30Z'),
    });
    expect([...plan.prune].sort()).toEqual(['nightly-202612062101', 'nightly-202612062102']);
  });

  it('reports an invalid schedule instead of throwing', () => {
    const plan = planSchedule({
      schedule: { ...schedule(), spec: { clusterName: 'w', schedule: '99 * * * *' } },
      children: [],
      now: at('2026-12-06T21:00:00Z'),
    });
    expect(plan.status).toMatchObject({ phase: 'Failed' });
    expect(plan.status.message).toMatch(/minute/);
  });

  it('names children by UTC minute', () => {
    expect(scheduleSuffix(at('2026-01-02T03:04:59Z'))).toBe('202601020304');
  });
});
