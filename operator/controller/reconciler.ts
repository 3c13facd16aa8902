/**
 * Level-based reconcile of one MpcCluster: read the current state, make the world match the
 * spec, write the status. Safe to run any number of times; a run that finds nothing to change
 * writes nothing (server-side apply of identical content is a no-op, and the status is only
 * written when it differs).
 *
 * Order: skip when being deleted (the garbage collector removes children) → generated Secrets
 * (create-if-absent, never regenerated) → owned children via server-side apply → status from
 * the StatefulSet and pods (watch caches) → Events for notable transitions. A failing step
 * does not stop the status: it is reported in it (ReconcileError) and the reconcile throws
 * ReconcileFailedError afterwards.
 */
import { quorumOf, type MpcCluster, type MpcClusterStatus } from '../api/mpc-cluster.ts';
import { nextRolloutStep } from '../status/rollout-guard.ts';
import { buildChildren, type SignerRoleRef } from '../resources/children.ts';
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
import { kubeErrorMessage, type KubeApi } from '../kube/kube-api.ts';
import {
  decideReshare,
  decideScaleDown,
  planScaleStep,
  type SignerAnswer,
} from '../status/scaling.ts';
import type { ScalingObservation } from '../status/compute-status.ts';
import type { SignerWalletQuery } from './signer-wallets.ts';

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
  ) => Omit<Observation, 'missingSecrets' | 'pins' | 'rolloutPaused' | 'reconcileError'>;
  readonly randomBytes: RandomBytes;
  readonly now: () => Date;
  readonly logger: ReconcileLogger;
  /** The chart's signer role to bind instead of granting Lease rights (children.ts). */
  readonly signerRole?: SignerRoleRef;
  /**
   * Asks a signer which wallets still need a node, before a scale-down removes it
   * (signer-wallets.ts). Without it no signer is ever removed (ScaleDownBlocked).
   */
  readonly signerWallets?: SignerWalletQuery;
  /** Called with every status the reconciler computed (metrics). */
  readonly onStatus?: (cluster: MpcCluster, status: MpcClusterStatus) => void;
}

/** `stale`: the watch cache has not yet caught up with this reconciler's own last write. */
export type ReconcileOutcome = 'not-found' | 'deleting' | 'stale' | 'reconciled';

/**
 * A reconcile that could not make the world match the spec. The status was still written (it
 * carries the message in Degraded/Progressing, reason ReconcileError); thrown so the work
 * queue retries with backoff and the failure is counted.
 */
export class ReconcileFailedError extends Error {
  readonly code = 'ERROR_RECONCILE_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ReconcileFailedError';
  }
}

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
  /** Per cluster key: resourceVersion of the object the last status/annotation write was based on. */
  private readonly writtenOver = new Map<string, string>();
  /** Per cluster key: uid of the signer pod last deleted for a rollout. */
  private readonly lastDeleted = new Map<string, string>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Re-check interval while the cluster is not settled (pods starting, rolling). */
  static readonly UNSETTLED_REQUEUE_MS = 15_000;
  /** Bound on waiting for the watch to deliver this reconciler's own write. */
  static readonly STALE_REQUEUE_MS = 1_000;

  async reconcile(
    namespace: string,
    name: string,
  ): Promise<{ outcome: ReconcileOutcome; requeueAfterMs?: number }> {
    const { api, logger } = this.deps;
    const cluster = this.deps.getCluster(namespace, name);
    if (cluster === undefined) return { outcome: 'not-found' };
    if (cluster.metadata.deletionTimestamp !== undefined) return { outcome: 'deleting' };
    const log = { namespace, mpccluster: name };
    const key = `${namespace}/${name}`;
    // The watch cache still holds the object this reconciler last wrote over (status or
    // annotation): acting on it again would repeat work and Events (issue 14: IdentityUnpinned
    // twice). Every such write moved the object to a newer resourceVersion, so the watch
    // delivers it shortly; the requeue only bounds the wait.
    const rv = cluster.metadata.resourceVersion;
    if (rv !== undefined && this.writtenOver.get(key) === rv) {
      return { outcome: 'stale', requeueAfterMs: Reconciler.STALE_REQUEUE_MS };
    }

    // Never silent (issue 14): a failing step is recorded and the reconcile goes on to compute
    // and publish the status from what is observed, so readiness, quorum metrics and alerts
    // stay true while a child cannot be applied. The failure then surfaces as Degraded=True /
    // Progressing=False (reason ReconcileError), an aggregated Warning Event, the metric
    // mpc_operator_reconcile_errors_total (operator.ts) and a retry with backoff.
    const failures: string[] = [];
    let missingSecrets: string[] = [];
    try {
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
      missingSecrets = await this.missingReferencedSecrets(cluster);
    } catch (error) {
      failures.push(`Secrets: ${kubeErrorMessage(error)}`);
    }

    // n/t changes (issue 14 item 3): the operator runs `effective`, which differs from the
    // spec while a reshare id is refused or a scale-down proceeds one signer at a time.
    const { effective, scaling } = await this.scaling(cluster);
    const observed = this.deps.observe(effective);
    const unpin = parseUnpin(cluster.metadata.annotations?.[UNPIN_ANNOTATION]);
    const presented = new Map<string, string>();
    for (const [signer, lease] of observed.leases ?? new Map()) {
      if (lease.identityPublicKey !== undefined && lease.liveness !== 'released') {
        presented.set(signer, lease.identityPublicKey);
      }
    }
    // A new MpcCluster object (no status yet) takes over the pins a previous one with the same
    // name left in the retained roster ConfigMap.
    let previousPins = cluster.status?.roster;
    if (previousPins === undefined) {
      try {
        previousPins = await this.retainedPins(cluster);
      } catch (error) {
        failures.push(`read roster ConfigMap: ${kubeErrorMessage(error)}`);
      }
    }
    const pins = computePins({
      previous: previousPins,
      presented,
      signers: signerPodNames(effective),
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
    // Every child is attempted even when an earlier one fails: they are independent enough
    // (a refused StatefulSet must not keep the PodDisruptionBudget or roster stale).
    for (const child of buildChildren(effective, {
      roster: pins.pins,
      repins: pins.authorizations,
      ...(this.deps.signerRole === undefined ? {} : { signerRole: this.deps.signerRole }),
    })) {
      try {
        await api.apply(child);
      } catch (error) {
        logger.warn({ ...log, object: manifestKey(child) }, 'apply failed');
        failures.push(`apply ${child.kind} ${child.metadata.name}: ${kubeErrorMessage(error)}`);
      }
    }

    // Only the operator replaces signers (OnDelete): one outdated pod at a time, while
    // min(quorum + 1, replicas) signers count as ready (status/rollout-guard.ts).
    const rollout = nextRolloutStep({
      replicas: effective.spec.replicas,
      quorum: quorumOf(effective.spec),
      statefulSet: observed.statefulSet,
      pods: countedPods,
      ...(this.lastDeleted.has(key) ? { lastDeletedUid: this.lastDeleted.get(key) ?? '' } : {}),
    });
    if (rollout.deletePod !== undefined && failures.length === 0) {
      const { name: pod, uid } = rollout.deletePod;
      const ready = countedPods.filter((p) => p.ready && !p.terminating).length;
      try {
        if (await api.deletePod(namespace, pod, uid)) {
          this.lastDeleted.set(key, uid);
          logger.info({ ...log, pod }, 'replacing signer for rollout');
          await this.event(cluster, {
            type: 'Normal',
            reason: 'SignerReplaced',
            message: `deleted ${pod} to roll it onto the current spec (${ready}/${effective.spec.replicas} signers ready)`,
          });
        }
      } catch (error) {
        failures.push(`delete pod ${pod}: ${kubeErrorMessage(error)}`);
      }
    }
    const reconcileError = failures.length === 0 ? undefined : failures.join('; ');

    // Re-read: the watches may already have seen effects of the applies above.
    const latest = this.deps.observe(effective);
    const status = computeStatus(
      effective,
      {
        ...latest,
        scaling,
        missingSecrets,
        rolloutPaused: rollout.paused,
        pins,
        ...(reconcileError === undefined ? {} : { reconcileError }),
      },
      this.deps.now().toISOString(),
    );
    // The running n (not a refused or still-shrinking spec) is what the alerts compare with.
    this.deps.onStatus?.(effective, status);
    // Lease ages alone do not warrant a write (they change every second).
    if (canonicalJson(withoutAges(status)) !== canonicalJson(withoutAges(cluster.status ?? {}))) {
      await api.applyStatus(cluster, status);
      if (rv !== undefined) this.writtenOver.set(key, rv);
      for (const event of statusTransitionEvents(cluster.status, status))
        await this.event(cluster, event);
    }
    // Only an unpin that changed the pin is news (a repeat of the same unpin is not).
    const changedByUnpin = pins.unpinned.filter(
      (signer) => cluster.status?.roster?.[signer] !== pins.pins[signer],
    );
    if (changedByUnpin.length > 0) {
      await this.event(cluster, {
        type: 'Normal',
        reason: 'IdentityUnpinned',
        message: `identity pin cleared for ${changedByUnpin.join(', ')}; the next key seen is pinned`,
      });
    }
    if (cluster.metadata.annotations?.[UNPIN_ANNOTATION] !== undefined) {
      await api.removeAnnotation(cluster, UNPIN_ANNOTATION);
      if (rv !== undefined) this.writtenOver.set(key, rv);
    }
    if (reconcileError !== undefined) {
      // Identical repeats aggregate into one Event with a count (kube/event-recorder.ts).
      await this.event(cluster, {
        type: 'Warning',
        reason: 'ReconcileError',
        message: reconcileError,
      });
      throw new ReconcileFailedError(reconcileError);
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

  /**
   * The cluster as the operator runs it this round: replicas/threshold accepted by
   * decideReshare, and replicas shrunk by at most one, only once the signers confirmed that no
   * wallet needs the leaving one (status/scaling.ts).
   */
  private async scaling(
    cluster: MpcCluster,
  ): Promise<{ effective: MpcCluster; scaling: ScalingObservation }> {
    const reshare = decideReshare(cluster.spec, cluster.status?.reshare);
    const names = clusterNames(cluster);
    const observed = this.deps.observe(cluster);
    const sts = observed.statefulSet;
    const step = planScaleStep({
      target: reshare.replicas,
      current: sts === undefined ? undefined : (sts.specReplicas ?? sts.replicas),
      pods: observed.pods,
      podName: (ordinal) => `${names.statefulSet}-${ordinal}`,
    });
    let replicas = step.replicas;
    let blocked: ScalingObservation['blocked'];
    if (step.kind === 'check') {
      const query = this.deps.signerWallets;
      const answers = new Map<string, SignerAnswer>();
      await Promise.all(
        [...step.stay, step.remove].map(async (pod) => {
          answers.set(
            pod,
            query === undefined
              ? { ok: false, error: 'no signer query configured' }
              : await query.walletsNeeding(
                  { namespace: cluster.metadata.namespace, service: names.headlessService, pod },
                  step.remove,
                ),
          );
        }),
      );
      const verdict = decideScaleDown(step, answers);
      replicas = verdict.replicas;
      blocked = verdict.blocked;
      const log = { namespace: cluster.metadata.namespace, mpccluster: cluster.metadata.name };
      if (blocked === undefined) {
        this.deps.logger.info({ ...log, signer: step.remove }, 'removing signer (scale-down)');
        await this.event(cluster, {
          type: 'Normal',
          reason: 'SignerRemoved',
          message: `removing ${step.remove}: the ${step.stay.length} signers that stay confirmed no wallet needs it (${step.replicas} → ${replicas} signers, target ${reshare.replicas})`,
        });
      } else {
        this.deps.logger.warn(
          { ...log, signer: step.remove, reason: blocked.reason },
          'scale-down blocked',
        );
        await this.event(cluster, {
          type: 'Warning',
          reason: 'ScaleDownBlocked',
          message: blocked.message,
        });
      }
    }
    const effective: MpcCluster = {
      ...cluster,
      spec: { ...cluster.spec, replicas, threshold: reshare.threshold },
    };
    return {
      effective,
      scaling: {
        record: reshare.record,
        targetReplicas: reshare.replicas,
        ...(reshare.refused === undefined ? {} : { refused: reshare.refused }),
        ...(blocked === undefined ? {} : { blocked }),
        ...(step.kind === 'wait' ? { waiting: step.message } : {}),
      },
    };
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

  /** Drops per-cluster memory when the MpcCluster is deleted. */
  forget(namespace: string, name: string): void {
    this.writtenOver.delete(`${namespace}/${name}`);
    this.lastDeleted.delete(`${namespace}/${name}`);
  }

  private async retainedPins(cluster: MpcCluster): Promise<Record<string, string> | undefined> {
    const data = await this.deps.api.readConfigMap(
      cluster.metadata.namespace,
      clusterNames(cluster).rosterConfigMap,
    );
    const document = data?.['roster.json'];
    if (document === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch {
      return undefined;
    }
    const nodes = (parsed as { nodes?: unknown } | null)?.nodes;
    if (typeof nodes !== 'object' || nodes === null) return undefined;
    const pins: Record<string, string> = {};
    // computePins keeps only well-formed keys.
    for (const [signer, key] of Object.entries(nodes))
      if (typeof key === 'string') pins[signer] = key;
    if (Object.keys(pins).length > 0) {
      this.deps.logger.info(
        {
          namespace: cluster.metadata.namespace,
          mpccluster: cluster.metadata.name,
          signers: Object.keys(pins),
        },
        'identity pins taken over from the retained roster ConfigMap',
      );
    }
    return pins;
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
      if (!(await this.deps.api.secretExists(cluster.metadata.namespace, secret)))
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
