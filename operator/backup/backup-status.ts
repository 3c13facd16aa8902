/**
 * Pure decisions of the backup controller (backup-controller.ts):
 * - `computeBackupStatus`: a one-off MpcBackup's status from the signers' reports (the
 *   `mpc-platform.dev/backups` annotation each signer writes on its own Lease, see
 *   signer/service/backup-agent.ts). Succeeded when every signer reported an archive; Failed
 *   as soon as one reported an error, or at the deadline (startedAt + timeoutSeconds) when not
 *   all reported. A report counts only when it names this object's uid (a recreated backup of
 *   the same name never inherits an old report). Terminal statuses are never changed.
 * - `planSchedule`: for a scheduled MpcBackup, the one-off owed now (the latest scheduled
 *   minute after the last one created; missed earlier runs are skipped) and the children to
 *   prune (beyond `keep` Succeeded, and beyond `keep` Failed; running ones are kept).
 */
import type { Condition } from '../api/mpc-cluster.ts';
import {
  DEFAULT_BACKUP_KEEP,
  DEFAULT_BACKUP_TIMEOUT_SECONDS,
  isTerminal,
  type MpcBackup,
  type MpcBackupPhase,
  type MpcBackupStatus,
  type SignerBackupStatus,
} from '../api/mpc-backup.ts';
import { CronError, latestRunBetween, nextRun, parseCron } from './cron.ts';

/** One signer's report, as parsed from its Lease (signer/service/backup-agent.ts). */
export interface SignerReport {
  readonly uid?: string;
  readonly completedAt?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  readonly wallets?: number;
  readonly shares?: number;
  readonly identity?: boolean;
  readonly error?: string;
}

function condition(
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: Date,
  previous: readonly Condition[] | undefined,
  generation: number | undefined,
): Condition {
  const before = previous?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      before !== undefined && before.status === status
        ? before.lastTransitionTime
        : now.toISOString(),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

const numberOr = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/** The archive's path inside the backup volume (signer/service/backup-agent.ts). */
export function archiveOf(backup: string, node: string): string {
  return `${backup}/${node}.mpcbak`;
}

export function computeBackupStatus(input: {
  readonly backup: MpcBackup;
  /** The cluster's signers (pod names), or undefined when the MpcCluster does not exist. */
  readonly signers: readonly string[] | undefined;
  readonly report: (node: string) => SignerReport | undefined;
  readonly now: Date;
}): { status: MpcBackupStatus; requeueAfterMs?: number } {
  const { backup, now } = input;
  const previous = backup.status;
  if (previous !== undefined && isTerminal(previous.phase)) return { status: previous };
  const generation = backup.metadata.generation;
  const startedAt = previous?.startedAt ?? backup.metadata.creationTimestamp ?? now.toISOString();
  const timeoutMs = (backup.spec.timeoutSeconds ?? DEFAULT_BACKUP_TIMEOUT_SECONDS) * 1000;
  const deadline = Date.parse(startedAt) + timeoutMs;
  const nodes =
    previous?.signers !== undefined && previous.signers.length > 0
      ? previous.signers.map((signer) => signer.node)
      : (input.signers ?? []);
  const signers: SignerBackupStatus[] = nodes.map((node) => {
    const report = input.report(node);
    if (report === undefined || report.uid !== backup.metadata.uid) return { node };
    const completedAt = typeof report.completedAt === 'string' ? report.completedAt : undefined;
    if (typeof report.error === 'string') {
      return {
        node,
        error: report.error.slice(0, 300),
        ...(completedAt === undefined ? {} : { completedAt }),
      };
    }
    if (typeof report.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(report.sha256)) {
      return { node, error: 'malformed report' };
    }
    const bytes = numberOr(report.bytes);
    const wallets = numberOr(report.wallets);
    const shares = numberOr(report.shares);
    return {
      node,
      archive: archiveOf(backup.metadata.name, node),
      sha256: report.sha256,
      ...(bytes === undefined ? {} : { bytes }),
      ...(wallets === undefined ? {} : { wallets }),
      ...(shares === undefined ? {} : { shares }),
      ...(report.identity === undefined ? {} : { identity: report.identity === true }),
      ...(completedAt === undefined ? {} : { completedAt }),
    };
  });
  const done = signers.filter((signer) => signer.sha256 !== undefined).length;
  const failed = signers.filter((signer) => signer.error !== undefined);
  const waiting = signers.filter(
    (signer) => signer.sha256 === undefined && signer.error === undefined,
  );
  let phase: MpcBackupPhase;
  let message: string;
  if (input.signers === undefined && signers.length === 0) {
    phase = now.getTime() >= deadline ? 'Failed' : 'Pending';
    message = `MpcCluster ${backup.spec.clusterName} not found`;
  } else if (failed.length > 0) {
    phase = 'Failed';
    message = failed.map((signer) => `${signer.node}: ${signer.error}`).join('; ');
  } else if (waiting.length === 0) {
    phase = 'Succeeded';
    message = `${done} archives written`;
  } else if (now.getTime() >= deadline) {
    phase = 'Failed';
    message = `no report within ${timeoutMs / 1000}s from ${waiting.map((s) => s.node).join(', ')}`;
  } else {
    phase = done === 0 ? 'Pending' : 'Running';
    message = `waiting for ${waiting.map((s) => s.node).join(', ')}`;
  }
  const terminal = isTerminal(phase);
  const complete = condition(
    'Complete',
    phase === 'Succeeded' ? 'True' : phase === 'Failed' ? 'False' : 'Unknown',
    phase === 'Succeeded' ? 'BackupSucceeded' : phase === 'Failed' ? 'BackupFailed' : 'InProgress',
    message,
    now,
    previous?.conditions,
    generation,
  );
  const status: MpcBackupStatus = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    phase,
    summary: `${done}/${signers.length}`,
    message,
    startedAt,
    ...(terminal ? { completedAt: now.toISOString() } : {}),
    signers,
    conditions: [complete],
  };
  return terminal
    ? { status }
    : { status, requeueAfterMs: Math.max(1000, deadline - now.getTime()) };
}

/** `yyyymmddhhmm` of a UTC minute: the suffix of a scheduled backup's name. */
export function scheduleSuffix(time: Date): string {
  return time.toISOString().slice(0, 16).replace(/[-T:]/g, '');
}

export interface SchedulePlan {
  /** The one-off to create now (idempotent by name). */
  readonly create?: { readonly name: string; readonly scheduledTime: Date };
  /** Children to delete (their signers then delete the archives). */
  readonly prune: readonly string[];
  readonly status: MpcBackupStatus;
  readonly requeueAfterMs?: number;
}

export function planSchedule(input: {
  readonly schedule: MpcBackup;
  /** One-offs this schedule owns. */
  readonly children: readonly MpcBackup[];
  readonly now: Date;
}): SchedulePlan {
  const { schedule: backup, now } = input;
  const previous = backup.status;
  const generation = backup.metadata.generation;
  let cron;
  try {
    cron = parseCron(backup.spec.schedule ?? '');
  } catch (error) {
    const message = `invalid schedule: ${error instanceof CronError ? error.message : String(error)}`;
    return {
      prune: [],
      status: {
        ...previous,
        ...(generation === undefined ? {} : { observedGeneration: generation }),
        phase: 'Failed',
        message,
      },
    };
  }
  const after = new Date(
    previous?.lastScheduleTime ?? backup.metadata.creationTimestamp ?? now.toISOString(),
  );
  const due = latestRunBetween(cron, after, now);
  const create =
    due === undefined
      ? undefined
      : { name: `${backup.metadata.name}-${scheduleSuffix(due)}`, scheduledTime: due };
  const keep = backup.spec.keep ?? DEFAULT_BACKUP_KEEP;
  const newestFirst = [...input.children].sort((a, b) =>
    a.metadata.name < b.metadata.name ? 1 : a.metadata.name > b.metadata.name ? -1 : 0,
  );
  const prune = [
    ...newestFirst.filter((child) => child.status?.phase === 'Succeeded').slice(keep),
    ...newestFirst.filter((child) => child.status?.phase === 'Failed').slice(keep),
  ].map((child) => child.metadata.name);
  const next = nextRun(cron, due !== undefined && due > now ? due : now);
  const lastScheduleTime = due?.toISOString() ?? previous?.lastScheduleTime;
  const lastScheduledBackup = create?.name ?? previous?.lastScheduledBackup;
  const status: MpcBackupStatus = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    phase: 'Scheduled',
    message:
      next === undefined ? 'the schedule never fires' : `next backup at ${next.toISOString()}`,
    ...(lastScheduleTime === undefined ? {} : { lastScheduleTime }),
    ...(lastScheduledBackup === undefined ? {} : { lastScheduledBackup }),
    ...(next === undefined ? {} : { nextScheduleTime: next.toISOString() }),
  };
  return {
    ...(create === undefined ? {} : { create }),
    prune,
    status,
    ...(next === undefined
      ? {}
      : { requeueAfterMs: Math.max(1000, next.getTime() - now.getTime()) }),
  };
}
