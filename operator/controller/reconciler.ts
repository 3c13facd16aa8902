/**
 * Level-based reconcile of one MpcCluster: read the current state, make the world match the
 * spec, write the status. Safe to run any number of times; a run that finds nothing to change
 * writes nothing (server-side apply of identical content is a no-op, and the status is only
 * written when it differs).
 *
 * Order: skip when being deleted (the garbage collector removes children) → generated Secrets
 * (create-if-absent, never regenerated) → owned children via server-side apply → status from
 * the StatefulSet and pods (watch caches) → Events for notable transitions.
 */
import { quorumOf, type MpcCluster, type MpcClusterStatus } from '../api/mpc-cluster.ts';
import { rolloutPartition } from '../status/rollout-guard.ts';
import { podTemplateHash } from '../resources/statefulset.ts';
import { buildChildren } from '../resources/children.ts';
import { manifestKey } from '../resources/manifest.ts';
import { clusterNames, signerPodNames } from '../resources/names.ts';
import {
  REPIN_ANNOTATION,
  UNPIN_ANNOTATION,
  computePins,
  parseUnpin,
} from '../status/roster-pins.ts';
import { clusterIdentity } from '../api/mpc-cluster.ts';
import { buildGeneratedSecret, secretsToGenerate, type RandomBytes } from '../resources/secrets.ts';
import {
  computeStatus,
  statusTransitionEvents,
  type Observation,
} from '../status/compute-status.ts';
import type { KubeApi } from '../kube/kube-api.ts';

export interface ReconcileLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ReconcilerDeps {
  readonly api: KubeApi;
  /** Current MpcCluster from the watch cache. */
  readonly getCluster: (namespace: string, name: string) => MpcCluster | undefined;
  /** StatefulSet + pods of the cluster, from the watch caches. */
  readonly observe: (
    cluster: MpcCluster,
  ) => Omit<Observation, 'missingSecrets' | 'pins' | 'rolloutPaused'>;
  readonly randomBytes: RandomBytes;
  readonly now: () => Date;
  readonly logger: ReconcileLogger;
  /** Called with every status the reconciler computed (metrics). */
  readonly onStatus?: (cluster: MpcCluster, status: MpcClusterStatus) => void;
}

export type ReconcileOutcome = 'not-found' | 'deleting' | 'reconciled';

/** Stable JSON (sorted keys) for comparing statuses regardless of key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

/** The status without per-signer lease ages (for change detection). */
function withoutAges(status: MpcClusterStatus): MpcClusterStatus {
  if (status.signers === undefined) return status;
  return {
    ...status,
    signers: status.signers.map(({ leaseAgeSeconds: _age, ...rest }) => rest),
  };
}

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  /** Re-check interval while the cluster is not settled (pods starting, rolling). */
  static readonly UNSETTLED_REQUEUE_MS = 15_000;

  async reconcile(
    namespace: string,
    name: string,
  ): Promise<{ outcome: ReconcileOutcome; requeueAfterMs?: number }> {
    const { api, logger } = this.deps;
    const cluster = this.deps.getCluster(namespace, name);
    if (cluster === undefined) return { outcome: 'not-found' };
    if (cluster.metadata.deletionTimestamp !== undefined) return { outcome: 'deleting' };
    const log = { namespace, mpccluster: name };

    for (const purpose of secretsToGenerate(cluster)) {
      const secret = buildGeneratedSecret(cluster, purpose, this.deps.randomBytes);
      if (await api.createIfAbsent(secret)) {
        logger.info({ ...log, secret: secret.metadata.name }, 'generated secret');
        await this.event(cluster, {
          type: 'Normal',
          reason: 'SecretGenerated',
          message: `generated ${purpose} Secret ${secret.metadata.name}`,
        });
      }
    }
    const missingSecrets = await this.missingReferencedSecrets(cluster);

    const observed = this.deps.observe(cluster);
    const unpin = parseUnpin(cluster.metadata.annotations?.[UNPIN_ANNOTATION]);
    const presented = new Map<string, string>();
    for (const [signer, lease] of observed.leases ?? new Map()) {
      if (lease.identityPublicKey !== undefined && lease.liveness !== 'released') {
        presented.set(signer, lease.identityPublicKey);
      }
    }
    const pins = computePins({
      previous: cluster.status?.roster,
      presented,
      signers: signerPodNames(cluster),
      unpin,
      repin: {
        tokens: parseUnpin(cluster.metadata.annotations?.[REPIN_ANNOTATION]),
        previous: cluster.status?.repinAuthorizations,
        administratorKey: cluster.spec.administratorPublicKey,
        cluster: clusterIdentity(cluster),
        nowMs: this.deps.now().getTime(),
      },
    });
    for (const signer of pins.newlyPinned) {
      logger.info({ ...log, signer }, 'pinned signer identity');
    }
    // The rollout guard counts signers the way the status does: pod Ready, Lease live (or
    // never seen), identity matching its pin.
    const mismatched = new Set(pins.mismatches.map((mismatch) => mismatch.signer));
    const countedPods = observed.pods.map((pod) => {
      const lease = observed.leases?.get(pod.name)?.liveness;
      const leaseOk = lease === undefined || lease === 'live' || lease === 'absent';
      return { ...pod, ready: pod.ready && leaseOk && !mismatched.has(pod.name) };
    });
    const rollout = rolloutPartition(
      cluster.spec.replicas,
      quorumOf(cluster.spec),
      observed.statefulSet,
      countedPods,
      podTemplateHash(cluster),
    );
    for (const child of buildChildren(cluster, {
      partition: rollout.partition,
      roster: pins.pins,
      repins: pins.authorizations,
    })) {
      try {
        await api.apply(child);
      } catch (error) {
        logger.warn({ ...log, object: manifestKey(child) }, 'apply failed');
        throw error;
      }
    }

    // Re-read: the watches may already have seen effects of the applies above.
    const latest = this.deps.observe(cluster);
    const status = computeStatus(
      cluster,
      { ...latest, missingSecrets, rolloutPaused: rollout.paused, pins },
      this.deps.now().toISOString(),
    );
    this.deps.onStatus?.(cluster, status);
    // Lease ages alone do not warrant a write (they change every second).
    if (canonicalJson(withoutAges(status)) !== canonicalJson(withoutAges(cluster.status ?? {}))) {
      await api.applyStatus(cluster, status);
      for (const event of statusTransitionEvents(cluster.status, status))
        await this.event(cluster, event);
    }
    if (pins.unpinned.length > 0) {
      await this.event(cluster, {
        type: 'Normal',
        reason: 'IdentityUnpinned',
        message: `identity pin cleared for ${pins.unpinned.join(', ')}; the next key seen is pinned`,
      });
    }
    if (cluster.metadata.annotations?.[UNPIN_ANNOTATION] !== undefined) {
      await api.removeAnnotation(cluster, UNPIN_ANNOTATION);
    }
    await this.repinEvents(cluster, pins);
    const settled = status.phase === 'Ready';
    const requeues = [
      settled ? undefined : Reconciler.UNSETTLED_REQUEUE_MS,
      // Notice a Lease going stale at the moment it does, without any event.
      latest.nextLeaseExpiryMs === undefined ? undefined : latest.nextLeaseExpiryMs + 100,
    ].filter((value): value is number => value !== undefined);
    return requeues.length === 0
      ? { outcome: 'reconciled' }
      : { outcome: 'reconciled', requeueAfterMs: Math.max(100, Math.min(...requeues)) };
  }

  /** Events for the repin annotation's outcome; removes the annotation once processed. */
  private async repinEvents(
    cluster: MpcCluster,
    pins: { readonly repinned: readonly string[]; readonly rejectedRepins: readonly string[] },
  ): Promise<void> {
    if (pins.repinned.length > 0) {
      await this.event(cluster, {
        type: 'Normal',
        reason: 'IdentityRepinned',
        message: `administrator-signed repin applied for ${pins.repinned.join(', ')}`,
      });
    }
    for (const reason of pins.rejectedRepins) {
      await this.event(cluster, { type: 'Warning', reason: 'RepinRejected', message: reason });
    }
    if (cluster.metadata.annotations?.[REPIN_ANNOTATION] !== undefined) {
      await this.deps.api.removeAnnotation(cluster, REPIN_ANNOTATION);
    }
  }

  private async missingReferencedSecrets(cluster: MpcCluster): Promise<string[]> {
    const names = clusterNames(cluster);
    const referenced: string[] = [];
    if (cluster.spec.kekSecretRef !== undefined) referenced.push(names.kekSecret);
    if (cluster.spec.chainCodeSecretRef !== undefined) referenced.push(names.chainCodeSecret);
    const creds = cluster.spec.nats.credentialsSecretRef;
    if (creds !== undefined) referenced.push(creds.name);
    const missing: string[] = [];
    for (const secret of referenced) {
      if (!(await this.deps.api.exists('v1', 'Secret', cluster.metadata.namespace, secret)))
        missing.push(secret);
    }
    return missing;
  }

  private async event(
    cluster: MpcCluster,
    event: { type: 'Normal' | 'Warning'; reason: string; message: string },
  ): Promise<void> {
    try {
      await this.deps.api.recordEvent(cluster, event);
    } catch (error) {
      // Events are best effort: never fail a reconcile because one could not be recorded.
      this.deps.logger.warn(
        {
          namespace: cluster.metadata.namespace,
          mpccluster: cluster.metadata.name,
          reason: event.reason,
          error: String(error),
        },
        'event not recorded',
      );
    }
  }
}
