/**
 * The MpcBackup controller (issue 14 item 6), run by the leading operator beside the
 * MpcCluster reconciler with its own watch and work queue:
 * - a one-off's status is aggregated from the reports the signers write on their own Leases
 *   (annotation `mpc-platform.dev/backups`, signer/service/backup-agent.ts), counted only when
 *   signed by the identity key pinned for that signer (status.roster) — signers have no write
 *   access to MpcBackups; re-evaluated on every change of a signer Lease of its cluster and at
 *   its deadline;
 * - a schedule creates its one-offs (`<name>-<yyyymmddhhmm>`, owned by it, so deleting the
 *   schedule deletes them and the signers then delete their archives) and prunes beyond `keep`.
 * Decisions are pure (backup-status.ts); the clock is injected, so tests can move it.
 *
 * RBAC (chart ClusterRole): mpcbackups get/list/watch/create/delete, mpcbackups/status
 * patch; signer Leases are read through the operator's existing Lease watch.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  MPC_API_VERSION,
  MPC_GROUP,
  MPC_VERSION,
  type MpcCluster,
} from '../api/mpc-cluster.ts';
import {
  MPC_BACKUP_KIND,
  MPC_BACKUP_PLURAL,
  isTerminal,
  type MpcBackup,
  type MpcBackupStatus,
} from '../api/mpc-backup.ts';
import { canonicalJson } from '../controller/reconciler.ts';
import { WorkQueue } from '../controller/work-queue.ts';
import { createWatchSource, kubeErrorMessage, statusCodeOf } from '../kube/kube-api.ts';
import { ResilientWatch, type ResilientWatchOptions } from '../kube/resilient-watch.ts';
import { ScopedWatch } from '../kube/scoped-watch.ts';
import { signerPodNames } from '../resources/names.ts';
import { computeBackupStatus, planSchedule, type SignerReport } from './backup-status.ts';
import { verifyReports } from '../../signer/service/backup-agent.ts';

/** Lease annotation with a signer's backup reports (signer/service/backup-agent.ts). */
export const BACKUP_REPORTS_ANNOTATION = 'mpc-platform.dev/backups';
/** Label on one-offs created by a schedule: the schedule's name. */
export const SCHEDULE_LABEL = 'mpc-platform.dev/backup-schedule';

export interface BackupControllerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface BackupControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: BackupControllerLogger;
  readonly now: () => Date;
  readonly getCluster: (namespace: string, name: string) => MpcCluster | undefined;
  /** The report annotation on a signer's Lease (from the operator's Lease watch cache). */
  readonly leaseReports: (namespace: string, lease: string) => string | undefined;
  readonly watchOptions?: ResilientWatchOptions;
  /** Namespace-scoped install: watch MpcBackups only there (undefined: cluster-wide). */
  readonly watchNamespaces?: readonly string[] | undefined;
}

export interface BackupController {
  start(): void;
  /** A signer Lease of `namespace/cluster` changed: re-evaluate that cluster's running backups. */
  leaseChanged(namespace: string, cluster: string): void;
  readonly synced: Promise<void>;
  whenIdle(): Promise<void>;
  stop(): Promise<void>;
}

/** The reports of one Lease annotation, by backup name (malformed → none). */
function reportsOf(text: string | undefined): Record<string, SignerReport> {
  if (text === undefined) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, SignerReport>)
      : {};
  } catch {
    return {};
  }
}

export function startBackupController(options: BackupControllerOptions): BackupController {
  const { logger } = options;
  const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const applyOptions = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  /** Per key: resourceVersion of the object the last status write was based on. */
  const writtenOver = new Map<string, string>();

  const queue: WorkQueue = new WorkQueue(
    async (key) => {
      const [namespace = '', name = ''] = key.split('/');
      const backup = backups.get(key);
      if (backup === undefined || backup.metadata.deletionTimestamp !== undefined) return;
      const rv = backup.metadata.resourceVersion;
      // Our own status write is not in the cache yet: wait for it (bounded) rather than act
      // on the older object (a schedule would try to create the same child again).
      if (rv !== undefined && writtenOver.get(key) === rv) return { requeueAfterMs: 500 };
      const now = options.now();
      if (backup.spec.schedule !== undefined && backup.spec.schedule !== '') {
        const children = backups
          .list()
          .filter(
            (child) =>
              child.metadata.namespace === namespace &&
              (child.metadata.ownerReferences ?? []).some((ref) => ref.uid === backup.metadata.uid),
          );
        const plan = planSchedule({ schedule: backup, children, now });
        if (plan.create !== undefined) {
          await createChild(backup, plan.create.name);
          logger.info({ namespace, schedule: name, backup: plan.create.name }, 'scheduled backup');
        }
        for (const child of plan.prune) await deleteBackup(namespace, child);
        await writeStatus(backup, plan.status);
        return plan.requeueAfterMs === undefined
          ? undefined
          : { requeueAfterMs: plan.requeueAfterMs };
      }
      const cluster = options.getCluster(namespace, backup.spec.clusterName);
      const result = computeBackupStatus({
        backup,
        signers: cluster === undefined ? undefined : signerPodNames(cluster),
        // Only reports signed by the key pinned for that signer count: every signer may write
        // every signer's Lease (shared ServiceAccount), none can sign for another.
        report: (node) =>
          reportsOf(
            verifyReports(options.leaseReports(namespace, node), {
              cluster: `${namespace}/${backup.spec.clusterName}`,
              nodeId: node,
              publicKey: cluster?.status?.roster?.[node],
            }),
          )[name],
        now,
      });
      if (isTerminal(result.status.phase) && !isTerminal(backup.status?.phase)) {
        logger.info(
          { namespace, backup: name, phase: result.status.phase, summary: result.status.summary },
          'backup finished',
        );
      }
      await writeStatus(backup, result.status);
      return result.requeueAfterMs === undefined
        ? undefined
        : { requeueAfterMs: result.requeueAfterMs };
    },
    (key, error, retryInMs) =>
      logger.warn({ key, error: kubeErrorMessage(error), retryInMs }, 'backup reconcile failed'),
  );

  const onChange = (
    key: string,
    object: MpcBackup | undefined,
    previous: MpcBackup | undefined,
  ): void => {
    if (object === undefined) {
      queue.forget(key);
      writtenOver.delete(key);
    } else queue.add(key);
    // A child changed: its schedule may prune.
    const owner = (object ?? previous)?.metadata.labels?.[SCHEDULE_LABEL];
    const namespace = (object ?? previous)?.metadata.namespace;
    if (owner !== undefined && namespace !== undefined) queue.add(`${namespace}/${owner}`);
  };
  const backups = new ScopedWatch<MpcBackup>(
    options.watchNamespaces,
    (namespace) =>
      new ResilientWatch<MpcBackup>(
        createWatchSource(options.kubeConfig, {
          apiVersion: MPC_API_VERSION,
          kind: MPC_BACKUP_KIND,
          plural: MPC_BACKUP_PLURAL,
          ...(namespace === undefined ? {} : { namespace }),
        }),
        onChange,
        options.watchOptions ?? {},
      ),
  );

  async function writeStatus(backup: MpcBackup, status: MpcBackupStatus): Promise<void> {
    if (canonicalJson(status) === canonicalJson(backup.status ?? {})) return;
    const { namespace, name } = backup.metadata;
    await custom.patchNamespacedCustomObjectStatus(
      {
        group: MPC_GROUP,
        version: MPC_VERSION,
        namespace,
        plural: MPC_BACKUP_PLURAL,
        name,
        body: {
          apiVersion: MPC_API_VERSION,
          kind: MPC_BACKUP_KIND,
          metadata: { name, namespace },
          status,
        },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      applyOptions,
    );
    const rv = backup.metadata.resourceVersion;
    if (rv !== undefined) writtenOver.set(`${namespace}/${name}`, rv);
  }

  async function createChild(schedule: MpcBackup, name: string): Promise<void> {
    const { namespace } = schedule.metadata;
    try {
      await custom.createNamespacedCustomObject({
        group: MPC_GROUP,
        version: MPC_VERSION,
        namespace,
        plural: MPC_BACKUP_PLURAL,
        body: {
          apiVersion: MPC_API_VERSION,
          kind: MPC_BACKUP_KIND,
          metadata: {
            name,
            namespace,
            labels: { [SCHEDULE_LABEL]: schedule.metadata.name },
            ownerReferences: [
              {
                apiVersion: MPC_API_VERSION,
                kind: MPC_BACKUP_KIND,
                name: schedule.metadata.name,
                uid: schedule.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          spec: {
            clusterName: schedule.spec.clusterName,
            ...(schedule.spec.timeoutSeconds === undefined
              ? {}
              : { timeoutSeconds: schedule.spec.timeoutSeconds }),
          },
        },
        fieldManager: FIELD_MANAGER,
      });
    } catch (error) {
      if (statusCodeOf(error) !== 409) throw error; // already created: idempotent by name
    }
  }

  async function deleteBackup(namespace: string, name: string): Promise<void> {
    try {
      await custom.deleteNamespacedCustomObject({
        group: MPC_GROUP,
        version: MPC_VERSION,
        namespace,
        plural: MPC_BACKUP_PLURAL,
        name,
      });
      logger.info({ namespace, backup: name }, 'pruned scheduled backup');
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  return {
    start: () => backups.start(),
    leaseChanged(namespace, cluster) {
      for (const backup of backups.list()) {
        if (
          backup.metadata.namespace === namespace &&
          backup.spec.clusterName === cluster &&
          (backup.spec.schedule === undefined || backup.spec.schedule === '') &&
          !isTerminal(backup.status?.phase)
        ) {
          queue.add(`${namespace}/${backup.metadata.name}`);
        }
      }
    },
    synced: backups.synced,
    whenIdle: () => queue.whenIdle(),
    async stop() {
      backups.stop();
      await queue.stop();
    },
  };
}
