/**
 * Wires the operator: resilient watches (MpcClusters, signer StatefulSets, signer pods, signer
 * Leases; cluster-wide, or per namespace with `watchNamespaces`), a keyed work queue with one
 * worker, the reconciler, metrics and the health server.
 * `startOperator` returns once the HTTP server listens; readiness follows the watch caches.
 * `stop()` is the graceful shutdown: stop watching, finish the reconcile in progress, close
 * the HTTP server.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { MPC_API_VERSION, MPC_KIND, MPC_PLURAL, type MpcCluster } from './api/mpc-cluster.ts';
import { Reconciler, type ReconcileLogger } from './controller/reconciler.ts';
import { OperatorMetrics } from './controller/metrics.ts';
import { WorkQueue } from './controller/work-queue.ts';
import { httpSignerWalletQuery, type SignerWalletQuery } from './controller/signer-wallets.ts';
import { startHealthServer, type HealthServer } from './http/health-server.ts';
import {
  createKubeApi,
  createWatchSource,
  kubeErrorMessage,
  type CollectionRef,
  type KubeApi,
} from './kube/kube-api.ts';
import { ResilientWatch, type ListedObject } from './kube/resilient-watch.ts';
import { ScopedWatch } from './kube/scoped-watch.ts';
import type { SignerRoleRef } from './resources/children.ts';
import { clusterNames, signerPodNames } from './resources/names.ts';
import { POD_TEMPLATE_HASH_ANNOTATION } from './resources/statefulset.ts';
import type { ObservedPod, ObservedStatefulSet } from './status/compute-status.ts';
import { LeaseTracker, type SignerLeaseView } from './status/lease-tracker.ts';
import { LeaderElector, type ElectionTimings } from './leader/leader-election.ts';
import { HEARTBEAT_ANNOTATION, verifyHeartbeat } from '../signer/membership/heartbeat.ts';
import { kubeLeaseStore } from './leader/kube-lease-store.ts';
import {
  BACKUP_REPORTS_ANNOTATION,
  startBackupController,
  type BackupController,
} from './backup/backup-controller.ts';

/** Lease annotation where each signer publishes its identity public key (signer side too). */
export const IDENTITY_PUBLIC_KEY_ANNOTATION = 'mpc-platform.dev/identity-public-key';

export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: ReconcileLogger & { error(fields: object, message: string): void };
  readonly httpHost?: string;
  /** 0 = any free port. */
  readonly httpPort?: number;
  /** Every MpcCluster is re-reconciled this often even without events (default 5 min). */
  readonly resyncIntervalMs?: number;
  readonly relistIntervalMs?: number;
  readonly registry?: Registry;
  /**
   * ClusterRole (the chart's `<release>-mpc-operator-signer`) bound to each cluster's signers
   * instead of a Role with Lease rights, so the operator itself needs no Lease write rights.
   */
  readonly signerClusterRole?: string;
  /**
   * The chart's signer role in general: a ClusterRole (as `signerClusterRole`) or, in a
   * namespace-scoped install, a Role of that name in every watched namespace. Wins over
   * `signerClusterRole`.
   */
  readonly signerRole?: SignerRoleRef;
  /**
   * Namespace-scoped install: watch and reconcile only MpcClusters (and their children) in
   * these namespaces; every LIST/WATCH is namespaced, so Roles there suffice. Absent:
   * cluster-wide.
   */
  readonly watchNamespaces?: readonly string[];
  /**
   * Run the MpcBackup controller (backup/backup-controller.ts; default true). Its clock
   * (default the wall clock) is injectable so tests can step through schedules.
   */
  readonly backups?: boolean;
  readonly backupClock?: () => Date;
  /** Overrides the Kubernetes I/O (tests). */
  readonly api?: KubeApi;
  /**
   * How the operator asks signers which wallets still need a node before removing it
   * (default: HTTP to each signer pod over the headless Service; tests with kwok pods
   * replace it).
   */
  readonly signerWallets?: SignerWalletQuery;
  /**
   * Run as one of several replicas: only the holder of this Lease reconciles
   * (leader/leader-election.ts). Absent: this process always reconciles.
   */
  readonly leaderElection?: {
    readonly namespace: string;
    readonly leaseName: string;
    readonly identity: string;
    readonly timings?: ElectionTimings;
    /** Called after leadership was lost and reconciling stopped (main exits non-zero). */
    readonly onLost?: () => void;
  };
}

export interface OperatorHandle {
  readonly httpPort: number;
  readonly metrics: OperatorMetrics;
  /** Resolves when the watch caches have synced (on a standby: once it leads). */
  readonly synced: Promise<void>;
  /** Whether this replica currently leads (always true without leader election). */
  isLeader(): boolean;
  /** Resolves when no reconcile is queued or running. */
  whenIdle(): Promise<void>;
  stop(): Promise<void>;
}

interface LabelledObject extends ListedObject {
  readonly metadata?: ListedObject['metadata'] & { readonly labels?: Record<string, string> };
}

interface PodObject extends LabelledObject {
  readonly metadata?: LabelledObject['metadata'] & {
    readonly deletionTimestamp?: string;
    readonly uid?: string;
  };
  readonly status?: {
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string }>;
  };
}

interface LeaseObject extends LabelledObject {
  readonly metadata?: LabelledObject['metadata'] & {
    readonly annotations?: Record<string, string>;
  };
  readonly spec?: {
    readonly holderIdentity?: string;
    readonly renewTime?: string;
    readonly leaseDurationSeconds?: number;
  };
}

interface StatefulSetObject extends LabelledObject {
  readonly metadata?: LabelledObject['metadata'] & {
    readonly generation?: number;
    readonly annotations?: Record<string, string>;
  };
  readonly spec?: { readonly replicas?: number };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly currentRevision?: string;
    readonly updateRevision?: string;
  };
}

const SIGNER_SELECTOR =
  'app.kubernetes.io/managed-by=mpc-operator,app.kubernetes.io/name=mpc-signer';
/** Signers label their own Leases (signer/membership/create-membership.ts). */
const SIGNER_LEASE_SELECTOR = 'app.kubernetes.io/name=mpc-signer';

function ownerKey(object: LabelledObject | undefined): string | undefined {
  const instance = object?.metadata?.labels?.['app.kubernetes.io/instance'];
  const namespace = object?.metadata?.namespace;
  return instance === undefined || namespace === undefined ? undefined : `${namespace}/${instance}`;
}

export async function startOperator(options: OperatorOptions): Promise<OperatorHandle> {
  const { kubeConfig, logger } = options;
  const registry = options.registry ?? new Registry();
  const metrics = new OperatorMetrics(registry, { defaultMetrics: options.registry === undefined });
  const api = options.api ?? createKubeApi(kubeConfig);
  let stopping = false;

  const watchOptions = (resource: string) => ({
    relistIntervalMs: options.relistIntervalMs ?? 300_000,
    onRestart: (reason: string, error: unknown, delayMs: number) => {
      metrics.watchRestarts.inc({ resource });
      logger.warn({ resource, reason, error: String(error), delayMs }, 'watch restarting');
    },
    onRelist: (reason: string) => metrics.watchRelists.inc({ resource, reason }),
  });

  // Created before the watches so their callbacks can enqueue; the reconciler it calls is
  // defined below and only used once keys arrive.
  const queue: WorkQueue = new WorkQueue(
    async (key) => {
      const [namespace = '', name = ''] = key.split('/');
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        const result = await reconciler.reconcile(namespace, name);
        metrics.reconcileTotal.inc({ result: 'success' });
        return result.requeueAfterMs === undefined
          ? undefined
          : { requeueAfterMs: result.requeueAfterMs };
      } catch (error) {
        metrics.reconcileTotal.inc({ result: 'error' });
        metrics.reconcileErrors.inc({ namespace, mpccluster: name });
        throw error;
      } finally {
        stopTimer();
      }
    },
    (key, error, retryInMs) =>
      logger.warn({ key, error: describeError(error), retryInMs }, 'reconcile failed'),
  );

  const enqueue = (key: string | undefined): void => {
    if (key !== undefined) queue.add(key);
  };

  const namespaces = options.watchNamespaces;
  const scoped = <T extends ListedObject>(
    ref: Omit<CollectionRef, 'namespace'>,
    onChange: (key: string, object: T | undefined, previous: T | undefined) => void,
  ): ScopedWatch<T> =>
    new ScopedWatch<T>(
      namespaces,
      (namespace) =>
        new ResilientWatch<T>(
          createWatchSource(kubeConfig, {
            ...ref,
            ...(namespace === undefined ? {} : { namespace }),
          }),
          onChange,
          watchOptions(ref.plural),
        ),
    );

  const clusters = scoped<MpcCluster>(
    { apiVersion: MPC_API_VERSION, kind: MPC_KIND, plural: MPC_PLURAL },
    (key, object) => {
      if (object === undefined) {
        queue.forget(key);
        const [namespace = '', name = ''] = key.split('/');
        metrics.forgetCluster(namespace, name);
        reconciler.forget(namespace, name);
        return;
      }
      enqueue(key);
    },
  );
  const statefulSets = scoped<StatefulSetObject>(
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      plural: 'statefulsets',
      labelSelector: SIGNER_SELECTOR,
    },
    (_key, object, previous) => enqueue(ownerKey(object ?? previous)),
  );
  const pods = scoped<PodObject>(
    { apiVersion: 'v1', kind: 'Pod', plural: 'pods', labelSelector: SIGNER_SELECTOR },
    (_key, object, previous) => enqueue(ownerKey(object ?? previous)),
  );

  const leaseTracker = new LeaseTracker(() => performance.now(), 20, { signedHeartbeats: true });
  /**
   * The identity key a signer Lease proves (its heartbeat is signed by the presented key) and
   * the heartbeat counter when it verifies under the key pinned for that signer (before the
   * first pin: under the presented key). A Lease rewritten by another signer's token proves
   * neither.
   */
  const verifiedLease = (
    object: LeaseObject,
  ): { identityPublicKey?: string; heartbeatCounter?: number } => {
    const name = object.metadata?.name;
    const namespace = object.metadata?.namespace;
    const instance = object.metadata?.labels?.['app.kubernetes.io/instance'];
    const presented = object.metadata?.annotations?.[IDENTITY_PUBLIC_KEY_ANNOTATION]?.toLowerCase();
    if (name === undefined || namespace === undefined || instance === undefined) return {};
    if (presented === undefined) return {};
    const counter = verifyHeartbeat(object.metadata?.annotations?.[HEARTBEAT_ANNOTATION], {
      cluster: `${namespace}/${instance}`,
      nodeId: name,
      holderIdentity: object.spec?.holderIdentity ?? '',
      publicKey: presented,
    });
    if (counter === undefined) return {};
    const pinned = clusters.get(`${namespace}/${instance}`)?.status?.roster?.[name];
    return pinned === undefined || pinned === presented
      ? { identityPublicKey: presented, heartbeatCounter: counter }
      : { identityPublicKey: presented };
  };
  const leases = scoped<LeaseObject>(
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      plural: 'leases',
      labelSelector: SIGNER_LEASE_SELECTOR,
    },
    (key, object, previous) => {
      const relevant = leaseTracker.observe(
        key,
        object === undefined
          ? undefined
          : {
              ...(object.spec?.holderIdentity === undefined
                ? {}
                : { holderIdentity: object.spec.holderIdentity }),
              ...(object.spec?.renewTime === undefined
                ? {}
                : { renewTime: String(object.spec.renewTime) }),
              ...(object.spec?.leaseDurationSeconds === undefined
                ? {}
                : { leaseDurationSeconds: object.spec.leaseDurationSeconds }),
              ...verifiedLease(object),
            },
      );
      if (relevant) enqueue(ownerKey(object ?? previous));
      const before = previous?.metadata?.annotations?.[BACKUP_REPORTS_ANNOTATION];
      const after = object?.metadata?.annotations?.[BACKUP_REPORTS_ANNOTATION];
      const lease = object ?? previous;
      const instance = lease?.metadata?.labels?.['app.kubernetes.io/instance'];
      const leaseNamespace = lease?.metadata?.namespace;
      if (before !== after && instance !== undefined && leaseNamespace !== undefined) {
        backupController?.leaseChanged(leaseNamespace, instance);
      }
    },
  );

  const observe = (cluster: MpcCluster) => {
    const { namespace } = cluster.metadata;
    const sts = statefulSets.get(`${namespace}/${clusterNames(cluster).statefulSet}`);
    let statefulSet: ObservedStatefulSet | undefined;
    if (sts !== undefined) {
      const status = sts.status ?? {};
      const templateHash = sts.metadata?.annotations?.[POD_TEMPLATE_HASH_ANNOTATION];
      statefulSet = {
        generation: sts.metadata?.generation ?? 0,
        observedGeneration: status.observedGeneration ?? 0,
        replicas: status.replicas ?? 0,
        ...(sts.spec?.replicas === undefined ? {} : { specReplicas: sts.spec.replicas }),
        readyReplicas: status.readyReplicas ?? 0,
        updatedReplicas: status.updatedReplicas ?? 0,
        ...(status.currentRevision === undefined
          ? {}
          : { currentRevision: status.currentRevision }),
        ...(status.updateRevision === undefined ? {} : { updateRevision: status.updateRevision }),
        ...(templateHash === undefined ? {} : { podTemplateHash: templateHash }),
      };
    }
    const observedPods: ObservedPod[] = pods
      .list()
      .filter(
        (pod) =>
          pod.metadata?.namespace === namespace &&
          pod.metadata.labels?.['app.kubernetes.io/instance'] === cluster.metadata.name,
      )
      .map((pod) => {
        const revision = pod.metadata?.labels?.['controller-revision-hash'];
        const uid = pod.metadata?.uid;
        return {
          name: pod.metadata?.name ?? '',
          ...(uid === undefined ? {} : { uid }),
          ready:
            pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
          terminating: pod.metadata?.deletionTimestamp !== undefined,
          ...(revision === undefined ? {} : { revision }),
        };
      });
    const signerLeases = new Map<string, SignerLeaseView>();
    const leaseKeys = signerPodNames(cluster).map((pod) => `${namespace}/${pod}`);
    for (const pod of signerPodNames(cluster)) {
      signerLeases.set(pod, leaseTracker.view(`${namespace}/${pod}`));
    }
    const nextLeaseExpiryMs = leaseTracker.nextExpiryInMs(leaseKeys);
    return {
      ...(statefulSet === undefined ? {} : { statefulSet }),
      pods: observedPods,
      leases: signerLeases,
      ...(nextLeaseExpiryMs === undefined ? {} : { nextLeaseExpiryMs }),
    };
  };

  const signerRole: SignerRoleRef | undefined =
    options.signerRole ??
    (options.signerClusterRole === undefined
      ? undefined
      : { kind: 'ClusterRole', name: options.signerClusterRole });
  const reconciler = new Reconciler({
    api,
    getCluster: (namespace, name) => clusters.get(`${namespace}/${name}`),
    observe,
    randomBytes: (length) => new Uint8Array(randomBytes(length)),
    now: () => new Date(),
    logger,
    onStatus: (cluster, status) => metrics.recordStatus(cluster, status),
    signerWallets: options.signerWallets ?? httpSignerWalletQuery(),
    ...(signerRole === undefined ? {} : { signerRole }),
  });

  // Online backups (issue 14 item 6): MpcBackup status from the signers' Lease reports.
  const backupController: BackupController | undefined =
    options.backups === false
      ? undefined
      : startBackupController({
          kubeConfig,
          logger,
          now: options.backupClock ?? (() => new Date()),
          getCluster: (namespace, name) => clusters.get(`${namespace}/${name}`),
          leaseReports: (namespace, lease) =>
            leases.get(`${namespace}/${lease}`)?.metadata?.annotations?.[BACKUP_REPORTS_ANNOTATION],
          watchOptions: watchOptions('mpcbackups'),
          watchNamespaces: namespaces,
        });

  const synced = Promise.all([
    clusters.synced,
    statefulSets.synced,
    pods.synced,
    leases.synced,
  ]).then(() => undefined);
  let isSynced = false;
  void synced.then(() => {
    isSynced = true;
    logger.info({}, 'watch caches synced');
  });
  const resync = setInterval(() => {
    for (const cluster of clusters.list())
      queue.add(`${cluster.metadata.namespace}/${cluster.metadata.name}`);
  }, options.resyncIntervalMs ?? 300_000);
  resync.unref();

  let leading = false;
  const server: HealthServer = await startHealthServer({
    host: options.httpHost ?? '0.0.0.0',
    port: options.httpPort ?? 8080,
    registry,
    // A standby is healthy and ready; the leader once its caches are warm.
    isReady: () => !stopping && (!leading || isSynced),
  });
  const startWatching = async (): Promise<void> => {
    // Pods, StatefulSets and Leases first, so the first reconciles see existing children.
    statefulSets.start();
    pods.start();
    leases.start();
    await Promise.all([statefulSets.synced, pods.synced, leases.synced]);
    if (!stopping && leading) {
      clusters.start();
      // Not part of `synced`: an install without the MpcBackup CRD still reconciles clusters.
      backupController?.start();
    }
  };
  const stopWatching = async (): Promise<void> => {
    clearInterval(resync);
    clusters.stop();
    statefulSets.stop();
    pods.stop();
    leases.stop();
    await backupController?.stop();
    await queue.stop();
  };

  let elector: LeaderElector | undefined;
  const election = options.leaderElection;
  if (election === undefined) {
    leading = true;
    metrics.isLeader.set(1);
    await startWatching();
  } else {
    elector = new LeaderElector({
      store: kubeLeaseStore(kubeConfig, election.namespace, election.leaseName),
      identity: election.identity,
      ...(election.timings === undefined ? {} : { timings: election.timings }),
      log: logger,
      onStartedLeading: () => {
        leading = true;
        metrics.isLeader.set(1);
        startWatching().catch((error: unknown) =>
          logger.error({ error: String(error) }, 'watches failed to start'),
        );
      },
      onStoppedLeading: () => {
        // Stop acting at once: another replica may already reconcile.
        leading = false;
        metrics.isLeader.set(0);
        void stopWatching().then(() => election.onLost?.());
      },
    });
    elector.start();
  }

  return {
    httpPort: server.port,
    metrics,
    synced,
    isLeader: () => leading,
    whenIdle: async () => {
      await queue.whenIdle();
      await backupController?.whenIdle();
    },
    async stop() {
      stopping = true;
      await stopWatching();
      await elector?.stop();
      leading = false;
      metrics.isLeader.set(0);
      await server.close();
    },
  };
}

/** Error text for logs: client-node ApiException bodies carry the apiserver's reason. */
export function describeError(error: unknown): string {
  return kubeErrorMessage(error);
}
