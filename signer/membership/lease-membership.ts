/**
 * Kubernetes membership backend (design §7, k8s.md §4): each signer holds and renews its own
 * `coordination.k8s.io/v1` Lease and watches its peers' Leases.
 *
 * Writer: `start()` creates the Lease if missing, or takes it over (new holder: `acquireTime`
 * = now, `leaseTransitions` + 1, ownerReference replaced by the current Pod — a StatefulSet pod
 * keeps its name but gets a new uid, and a Lease owned by the old uid would be garbage
 * collected). Then every `renewIntervalMs` it replaces the Lease with a new `renewTime`,
 * carrying the last seen `resourceVersion` (optimistic concurrency): 409 → re-read and retry
 * once, 404 → create again, any other failure → logged, retried at the next interval (the
 * Lease simply ages in peers' eyes). `stop()` stops renewing and releases the Lease (empty
 * holder, `leaseDurationSeconds` 1), best effort and bounded in time, so peers drop us at once.
 *
 * Reader: list + watch of the namespace's Leases (optionally by label selector), fed to a
 * `LeaseObserver` (see lease-observer.ts for the exact liveness and restart rules). Watches
 * carry a server-side timeout and resume from the last resourceVersion when the server closes
 * them; any watch error, 410 Gone, or a silent watch (watchdog) leads to a full relist after a
 * jittered backoff. Missing events can only delay readiness, never fake it.
 *
 * Readiness (design §7): self is always ready; a peer is ready when its Lease renewal was
 * observed within `peerTimeoutMs` by this reader's monotonic clock, it is not suspect, and,
 * when `isPodReady` is given, its pod is Ready.
 *
 * Signed heartbeats (heartbeat.ts, when `heartbeat` is given, as `createMembership` always
 * does): every write of our Lease carries annotation `mpc-platform.dev/heartbeat`, a fresh
 * counter signed with our identity key over cluster, node id, holder identity and key; readers
 * count a peer's renewal only when that verifies under the key the roster pins for the peer
 * and the counter grew (lease-observer.ts). The identity annotation is believed only together
 * with a heartbeat it signed (proof of possession). A writer resumes its counter from the
 * heartbeat on its own Lease, so a clock stepped back across a restart does not stall it.
 *
 * RBAC (namespace-scoped Role bound to the signer's ServiceAccount):
 *   apiGroups: [coordination.k8s.io], resources: [leases],
 *   verbs: [get, list, watch, create, update]
 * (`update` can be narrowed to the signer's own Lease with `resourceNames`, `create` cannot.)
 */
import {
  ApiException,
  CoordinationV1Api,
  V1MicroTime,
  Watch,
  type KubeConfig,
  type V1Lease,
  type V1OwnerReference,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  LeaseObserver,
  renewTimeKey,
  type LeaseSnapshot,
  type PeerLeaseState,
} from './lease-observer.ts';
import type { Membership } from './membership.ts';
import {
  HEARTBEAT_ANNOTATION,
  HeartbeatCounter,
  signHeartbeat,
  verifyHeartbeat,
} from './heartbeat.ts';

/** What a signer needs to write and check signed heartbeats (heartbeat.ts). */
export interface HeartbeatIdentity {
  /** The cluster name bound into heartbeats (`cluster_name`; empty when not configured). */
  readonly cluster: string;
  /** Our identity public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Signs with our identity key. */
  readonly sign: (message: Uint8Array) => Uint8Array;
  /** The key pinned for a node (the live roster), undefined when not pinned. */
  readonly pinnedKey: (nodeId: string) => Uint8Array | undefined;
  /** Wall clock for the counter (default Date.now). */
  readonly clock?: () => number;
}

export interface LeaseMembershipOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly selfNodeId: string;
  /**
   * Node id → Lease name for every node of the cluster, self included; by convention
   * `<cluster>-signer-<ordinal>` (see `signerLeaseName`).
   */
  readonly leaseNames: ReadonlyMap<string, string>;
  /** Written to `holderIdentity`; pod name + pod uid distinguishes a restarted pod. */
  readonly holderIdentity: string;
  /** Written to `leaseDurationSeconds`; also the default peer timeout. Integer ≥ 1. */
  readonly leaseDurationSeconds: number;
  /** Default: leaseDurationSeconds × 1000 / 4 (the kubelet ratio). */
  readonly renewIntervalMs?: number;
  /** A peer not renewed for this long (reader's clock) is not ready. Default: lease duration. */
  readonly peerTimeoutMs?: number;
  /** The signer's Pod, made the Lease's owner so it is garbage collected with the Pod. */
  readonly ownerPod?: { readonly name: string; readonly uid: string };
  /** Labels written on our Lease. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Annotations written on our Lease at every create and renewal, e.g. the signer's identity
   * public key (`IDENTITY_PUBLIC_KEY_ANNOTATION`) that the operator pins into the roster.
   */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Restricts list/watch to matching Leases (e.g. `app.kubernetes.io/instance=<cluster>`). */
  readonly labelSelector?: string;
  /**
   * Kubernetes pod readiness of a peer; when given, ready = pod Ready AND Lease live.
   * Caution: must not be the pod's Ready condition while the signer's readiness probe itself
   * requires quorum (/readyz: readySigners >= quorum) — that is circular and no signer would
   * ever become Ready at bootstrap. Use a quorum-independent signal (pod Running and not
   * terminating) or a probe that does not count peers.
   */
  readonly isPodReady?: (nodeId: string) => boolean;
  /** Server-side watch timeout; the watch then resumes from the last resourceVersion. */
  readonly watchTimeoutSeconds?: number;
  readonly log: Logger;
  /** Monotonic milliseconds; injected for tests. */
  readonly now?: () => number;
  /** Sign our heartbeats and count only peers' signed ones. Absent: unauthenticated (tests). */
  readonly heartbeat?: HeartbeatIdentity;
}

/** Lease annotation carrying the signer's Ed25519 identity public key (64 lowercase hex). */
export const IDENTITY_PUBLIC_KEY_ANNOTATION = 'mpc-platform.dev/identity-public-key';

/** Lease name convention of the operator: `<cluster>-signer-<ordinal>`. */
export function signerLeaseName(cluster: string, ordinal: number): string {
  return `${cluster}-signer-${ordinal}`;
}

/** The signer could not create, take over or read Leases when starting. */
export class LeaseMembershipError extends Error {
  readonly code = 'MEMBERSHIP_LEASE_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LeaseMembershipError';
  }
}

const RELIST_BACKOFF_MIN_MS = 250;
const RELIST_BACKOFF_MAX_MS = 5_000;

function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  if (typeof error === 'object' && error !== null) {
    const code = (error as { statusCode?: unknown; code?: unknown }).statusCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** Errors that retrying cannot fix: authentication, authorization, invalid object. */
function isPermanent(error: unknown): boolean {
  const status = statusOf(error);
  return status === 401 || status === 403 || status === 422 || status === 400;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function snapshotOf(lease: V1Lease): LeaseSnapshot | undefined {
  const name = lease.metadata?.name;
  if (name === undefined) return undefined;
  return {
    name,
    holderIdentity: lease.spec?.holderIdentity,
    renewTime: renewTimeKey(lease.spec?.renewTime),
    heartbeat: lease.metadata?.annotations?.[HEARTBEAT_ANNOTATION],
  };
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function requirePositiveInteger(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${field} must be a positive integer, got ${value}`);
  }
}

export class LeaseMembership implements Membership {
  private readonly options: LeaseMembershipOptions;
  private readonly api: CoordinationV1Api;
  private readonly observer: LeaseObserver;
  private readonly leaseName: string;
  private readonly renewIntervalMs: number;
  private readonly operationTimeoutMs: number;
  private readonly watchTimeoutSeconds: number;
  /** Pending sleeps (backoffs); `stop()` ends them early. */
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  private readonly listeners: (() => void)[] = [];
  /** Our Lease as last written or read (carries the resourceVersion for the next update). */
  private ownLease: V1Lease | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private renewTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private watchAbort: AbortController | undefined;
  private watchLoop: Promise<void> | undefined;
  private lastReadySet = '';
  /** Lease name → identity key its annotation presents. */
  private readonly presentedKeys = new Map<string, string>();
  private started = false;
  private stopped = false;
  private readonly counter: HeartbeatCounter;
  /** Annotations published at run time (`publishAnnotation`), written with every renewal. */
  private readonly published = new Map<string, string>();

  constructor(options: LeaseMembershipOptions) {
    requirePositiveInteger('leaseDurationSeconds', options.leaseDurationSeconds);
    const leaseName = options.leaseNames.get(options.selfNodeId);
    if (leaseName === undefined) throw new RangeError('leaseNames must include selfNodeId');
    if (options.namespace === '') throw new RangeError('namespace must not be empty');
    if (options.holderIdentity === '') throw new RangeError('holderIdentity must not be empty');
    this.renewIntervalMs = options.renewIntervalMs ?? (options.leaseDurationSeconds * 1000) / 4;
    requirePositiveInteger('renewIntervalMs', Math.ceil(this.renewIntervalMs));
    const peerTimeoutMs = options.peerTimeoutMs ?? options.leaseDurationSeconds * 1000;
    requirePositiveInteger('peerTimeoutMs', peerTimeoutMs);
    if (this.renewIntervalMs >= Math.min(peerTimeoutMs, options.leaseDurationSeconds * 1000)) {
      throw new RangeError(
        'renewIntervalMs must be shorter than the lease duration and peer timeout',
      );
    }
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 60;
    requirePositiveInteger('watchTimeoutSeconds', this.watchTimeoutSeconds);
    this.operationTimeoutMs = Math.max(this.renewIntervalMs, 1_000);
    this.options = options;
    this.leaseName = leaseName;
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.counter = new HeartbeatCounter(options.heartbeat?.clock);
    const heartbeat = options.heartbeat;
    this.observer = new LeaseObserver({
      selfNodeId: options.selfNodeId,
      leaseNames: options.leaseNames,
      peerTimeoutMs,
      now: options.now ?? (() => performance.now()),
      ...(heartbeat === undefined
        ? {}
        : {
            verifyHeartbeat: (nodeId: string, lease: LeaseSnapshot) => {
              const pinned = heartbeat.pinnedKey(nodeId);
              if (pinned === undefined) return undefined;
              return verifyHeartbeat(lease.heartbeat, {
                cluster: heartbeat.cluster,
                nodeId,
                holderIdentity: lease.holderIdentity ?? '',
                publicKey: hexOf(pinned),
              });
            },
          }),
    });
  }

  /** Annotations for a write of our Lease: the configured ones plus a fresh heartbeat. */
  private ownAnnotations(): Record<string, string> | undefined {
    const heartbeat = this.options.heartbeat;
    const published = Object.fromEntries(this.published);
    if (heartbeat === undefined) {
      return this.published.size === 0
        ? this.options.annotations
        : { ...this.options.annotations, ...published };
    }
    const signed = signHeartbeat(
      {
        cluster: heartbeat.cluster,
        nodeId: this.options.selfNodeId,
        holderIdentity: this.options.holderIdentity,
        publicKey: hexOf(heartbeat.publicKey),
        counter: this.counter.next(),
      },
      heartbeat.sign,
    );
    return { ...this.options.annotations, ...published, [HEARTBEAT_ANNOTATION]: signed };
  }

  /** Continues after the counter on our own Lease if it is ours (clock stepped back). */
  private resumeCounter(lease: V1Lease): void {
    const heartbeat = this.options.heartbeat;
    if (heartbeat === undefined) return;
    const previous = verifyHeartbeat(lease.metadata?.annotations?.[HEARTBEAT_ANNOTATION], {
      cluster: heartbeat.cluster,
      nodeId: this.options.selfNodeId,
      holderIdentity: lease.spec?.holderIdentity ?? '',
      publicKey: hexOf(heartbeat.publicKey),
    });
    if (previous !== undefined) this.counter.resumeAfter(previous);
  }

  /**
   * Lists peers' Leases, starts watching them, and writes our Lease once; rejects with
   * `LeaseMembershipError` if either keeps failing (three attempts). Not restartable.
   */
  async start(): Promise<void> {
    if (this.started) throw new LeaseMembershipError('LeaseMembership cannot be started twice');
    this.started = true;
    try {
      const resourceVersion = await this.retrying('list leases', () => this.relist());
      this.watchLoop = this.runWatchLoop(resourceVersion);
      await this.retrying('write own lease', () => this.acquire());
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.stopped) return; // stop() raced with start()
    this.scheduleRenewal();
    this.tickTimer = setInterval(
      () => this.notifyIfChanged(),
      Math.max(this.renewIntervalMs / 2, 100),
    );
    this.tickTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearInterval(this.tickTimer);
    for (const [timer, wake] of this.sleeps) {
      clearTimeout(timer);
      wake();
    }
    this.sleeps.clear();
    this.watchAbort?.abort();
    await this.renewing;
    // A watch request still connecting cannot be aborted; do not wait for it forever.
    if (this.watchLoop !== undefined) {
      await withTimeout(this.watchLoop, this.operationTimeoutMs, 'watch stop').catch(() => {});
    }
    if (this.ownLease !== undefined) {
      try {
        await withTimeout(this.release(), this.operationTimeoutMs, 'lease release');
      } catch (error) {
        this.options.log.debug({ err: error }, 'lease not released; peers time it out');
      }
    }
  }

  /**
   * Publishes an annotation on our Lease besides the configured ones (e.g. backup reports,
   * backup-agent.ts): set now, written by a renewal this call brings forward and by every
   * renewal after it, so a failed write is repeated. Resolves once that write was attempted
   * (failures are logged like any renewal's). The key must not be one the signer sets itself.
   */
  async publishAnnotation(key: string, value: string): Promise<void> {
    if (key === HEARTBEAT_ANNOTATION || key === IDENTITY_PUBLIC_KEY_ANNOTATION) {
      throw new RangeError(`annotation ${key} is the signer's own`);
    }
    this.published.set(key, value);
    if (!this.started || this.stopped) return;
    const write = this.renewing.then(() => this.renew());
    this.renewing = write;
    await write;
  }

  /** An annotation of our Lease as last written or read (undefined before `start`). */
  ownAnnotation(key: string): string | undefined {
    return this.published.get(key) ?? this.ownLease?.metadata?.annotations?.[key];
  }

  isReady(nodeId: string): boolean {
    if (nodeId === this.options.selfNodeId) return true;
    if (!this.observer.isReady(nodeId)) return false;
    return this.options.isPodReady?.(nodeId) ?? true;
  }

  readyNodes(candidates: readonly string[] = [...this.options.leaseNames.keys()]): string[] {
    return candidates.filter((node) => this.isReady(node));
  }

  markSuspect(nodeId: string): void {
    this.observer.markSuspect(nodeId);
    this.notifyIfChanged(true);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  presentedIdentity(nodeId: string): string | undefined {
    const leaseName = this.options.leaseNames.get(nodeId);
    return leaseName === undefined ? undefined : this.presentedKeys.get(leaseName);
  }

  private notePresentedKey(leaseName: string, lease: V1Lease): void {
    const key = lease.metadata?.annotations?.[IDENTITY_PUBLIC_KEY_ANNOTATION]?.toLowerCase();
    const heartbeat = this.options.heartbeat;
    const node = this.observer.peerOfLease(leaseName);
    // With signed heartbeats a presented key counts only with proof of possession: a
    // heartbeat on the same Lease that it signed.
    const proven =
      key !== undefined &&
      (heartbeat === undefined ||
        (node !== undefined &&
          verifyHeartbeat(lease.metadata?.annotations?.[HEARTBEAT_ANNOTATION], {
            cluster: heartbeat.cluster,
            nodeId: node,
            holderIdentity: lease.spec?.holderIdentity ?? '',
            publicKey: key,
          }) !== undefined));
    if (key === undefined || !proven) this.presentedKeys.delete(leaseName);
    else this.presentedKeys.set(leaseName, key);
  }

  /** Lease view of a node (for status and logs): distinguishes pending (restart grace) from expired. */
  leaseState(nodeId: string): PeerLeaseState {
    return this.observer.state(nodeId);
  }

  // ---- writer ------------------------------------------------------------------------------

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeps.delete(timer);
        resolve();
      }, ms);
      this.sleeps.set(timer, resolve);
    });
  }

  private async retrying<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (attempt > 0) await this.sleep(500 * attempt);
      try {
        return await withTimeout(operation(), this.operationTimeoutMs * 2, what);
      } catch (error) {
        lastError = error;
        if (isPermanent(error)) break;
      }
    }
    throw new LeaseMembershipError(`${what} failed (status ${statusOf(lastError) ?? 'n/a'})`, {
      cause: lastError,
    });
  }

  private ownerReferences(): V1OwnerReference[] | undefined {
    const pod = this.options.ownerPod;
    if (pod === undefined) return undefined;
    return [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid }];
  }

  /** Creates our Lease, or takes over an existing one (a previous incarnation of us). */
  private async acquire(): Promise<void> {
    const { namespace, holderIdentity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime();
    const existing = await this.readOwn();
    if (existing === undefined) {
      const { labels } = this.options;
      const annotations = this.ownAnnotations();
      const ownerReferences = this.ownerReferences();
      this.ownLease = await this.api.createNamespacedLease({
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.leaseName,
            namespace,
            ...(labels === undefined ? {} : { labels: { ...labels } }),
            ...(annotations === undefined ? {} : { annotations: { ...annotations } }),
            ...(ownerReferences === undefined ? {} : { ownerReferences }),
          },
          spec: {
            holderIdentity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return;
    }
    this.resumeCounter(existing);
    const spec = existing.spec ?? {};
    const newHolder = spec.holderIdentity !== holderIdentity;
    if (newHolder && spec.holderIdentity !== undefined && spec.holderIdentity !== '') {
      this.options.log.info({ lease: this.leaseName }, 'taking over lease from a previous holder');
    }
    const ownerReferences = this.ownerReferences();
    const labels = this.options.labels;
    const annotations = this.ownAnnotations();
    const metadata = {
      ...existing.metadata,
      ...(labels === undefined ? {} : { labels: { ...existing.metadata?.labels, ...labels } }),
      ...(annotations === undefined
        ? {}
        : { annotations: { ...existing.metadata?.annotations, ...annotations } }),
      ...(ownerReferences === undefined ? {} : { ownerReferences }),
    };
    this.ownLease = await this.replace({
      ...existing,
      metadata,
      spec: {
        ...spec,
        holderIdentity,
        leaseDurationSeconds,
        renewTime: now,
        ...(newHolder
          ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    });
  }

  private async readOwn(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({
        name: this.leaseName,
        namespace: this.options.namespace,
      });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private replace(body: V1Lease): Promise<V1Lease> {
    return this.api.replaceNamespacedLease({
      name: this.leaseName,
      namespace: this.options.namespace,
      body,
    });
  }

  private scheduleRenewal(): void {
    if (this.stopped) return;
    this.renewTimer = setTimeout(() => {
      this.renewing = this.renew().finally(() => this.scheduleRenewal());
    }, this.renewIntervalMs);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      await withTimeout(this.renewOnce(), this.operationTimeoutMs, 'lease renewal');
    } catch (error) {
      this.options.log.warn(
        { err: error, lease: this.leaseName, status: statusOf(error) },
        'lease renewal failed; retrying next interval',
      );
    }
  }

  private async renewOnce(): Promise<void> {
    const current = this.ownLease;
    if (current === undefined || current.spec?.holderIdentity !== this.options.holderIdentity) {
      await this.acquire();
      return;
    }
    const renewed = (lease: V1Lease): V1Lease => {
      const annotations = this.ownAnnotations();
      return {
        ...lease,
        ...(annotations === undefined
          ? {}
          : {
              metadata: {
                ...lease.metadata,
                annotations: { ...lease.metadata?.annotations, ...annotations },
              },
            }),
        spec: { ...lease.spec, renewTime: new V1MicroTime() },
      };
    };
    try {
      this.ownLease = await this.replace(renewed(current));
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) {
        // Defensive: kube-apiserver answers a deleted Lease's stale update with 409 (Leases
        // allow create-on-update, the resourceVersion precondition fails); handled below.
        this.ownLease = undefined;
        await this.acquire();
      } else if (status === 409) {
        // Someone else wrote it (operator labels, or our own timed-out write that landed), or
        // deleted it (then the read finds nothing and acquire() creates it again).
        const fresh = await this.readOwn();
        if (fresh?.spec?.holderIdentity === this.options.holderIdentity) {
          this.ownLease = await this.replace(renewed(fresh));
        } else {
          // Only one process per ordinal should exist (StatefulSet); two renewing the same
          // Lease would hide each other's death from peers. Taken back like kubelet does, but
          // said loudly.
          this.options.log.error(
            { lease: this.leaseName, holder: fresh?.spec?.holderIdentity },
            'own lease held by another holder; taking it back',
          );
          this.ownLease = fresh;
          await this.acquire();
        }
      } else {
        throw error;
      }
    }
  }

  /** Clears the holder and shortens the duration so every reader drops us now. */
  private async release(): Promise<void> {
    const released = (lease: V1Lease): V1Lease => {
      const spec = { ...lease.spec };
      delete spec.holderIdentity;
      return { ...lease, spec: { ...spec, leaseDurationSeconds: 1, renewTime: new V1MicroTime() } };
    };
    const current = this.ownLease;
    if (current === undefined) return;
    try {
      await this.replace(released(current));
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const fresh = await this.readOwn();
      if (fresh?.spec?.holderIdentity === this.options.holderIdentity)
        await this.replace(released(fresh));
    }
  }

  // ---- reader ------------------------------------------------------------------------------

  /** Lists Leases, feeds them as list observations; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const list = await this.api.listNamespacedLease({
      namespace: this.options.namespace,
      ...(this.options.labelSelector === undefined
        ? {}
        : { labelSelector: this.options.labelSelector }),
    });
    const present = new Set<string>();
    for (const lease of list.items) {
      const snapshot = snapshotOf(lease);
      if (snapshot === undefined) continue;
      this.notePresentedKey(snapshot.name, lease);
      present.add(snapshot.name);
      this.observer.observe(snapshot, 'list');
    }
    for (const name of this.observer.knownLeaseNames()) {
      if (!present.has(name)) this.observer.observeDeleted(name);
    }
    this.notifyIfChanged();
    return list.metadata?.resourceVersion ?? '';
  }

  private async runWatchLoop(initialResourceVersion: string): Promise<void> {
    let resourceVersion: string | undefined = initialResourceVersion;
    let backoffMs = RELIST_BACKOFF_MIN_MS;
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await withTimeout(this.relist(), this.operationTimeoutMs * 2, 'relist');
          backoffMs = RELIST_BACKOFF_MIN_MS;
        }
        const outcome = await this.watchOnce(resourceVersion);
        if (outcome.resumeFrom === undefined) {
          resourceVersion = undefined;
          if (!this.stopped && outcome.error !== undefined) {
            this.options.log.debug({ err: outcome.error }, 'lease watch failed; relisting');
          }
        } else {
          resourceVersion = outcome.resumeFrom;
          backoffMs = RELIST_BACKOFF_MIN_MS;
          continue;
        }
      } catch (error) {
        resourceVersion = undefined;
        if (!this.stopped) this.options.log.warn({ err: error }, 'lease list failed; retrying');
      }
      if (this.stopped) break;
      await this.sleep(backoffMs / 2 + Math.random() * (backoffMs / 2));
      backoffMs = Math.min(backoffMs * 2, RELIST_BACKOFF_MAX_MS);
    }
  }

  /**
   * One watch request. Resolves with `resumeFrom` when the server closed it cleanly (re-watch
   * from there), or without it after an error, 410 Gone or a silent connection (relist).
   */
  private watchOnce(resourceVersion: string): Promise<{ resumeFrom?: string; error?: unknown }> {
    return new Promise((resolve) => {
      let latest = resourceVersion;
      let needsRelist = false;
      let settled = false;
      const finish = (outcome: { resumeFrom?: string; error?: unknown }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.watchAbort?.abort();
        this.watchAbort = undefined;
        resolve(outcome);
      };
      // The server closes the watch after timeoutSeconds; silence beyond that means a dead
      // connection (client-node 1.4.0 has no client-side watch timeout).
      const watchdog = setTimeout(
        () => finish({ error: new Error('lease watch silent') }),
        (this.watchTimeoutSeconds + 10) * 1000,
      );
      watchdog.unref();
      const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.options.namespace)}/leases`;
      new Watch(this.options.kubeConfig)
        .watch(
          path,
          {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.watchTimeoutSeconds,
            labelSelector: this.options.labelSelector,
          },
          (type: string, object: unknown) => {
            if (settled) return;
            if (type === 'ERROR') {
              needsRelist = true;
              finish({
                error: new Error(`watch error status ${(object as { code?: number }).code}`),
              });
              return;
            }
            const lease = object as V1Lease;
            const version = lease.metadata?.resourceVersion;
            if (version !== undefined) latest = version;
            if (type === 'BOOKMARK') return;
            const snapshot = snapshotOf(lease);
            if (snapshot === undefined) return;
            if (type === 'DELETED') this.presentedKeys.delete(snapshot.name);
            else this.notePresentedKey(snapshot.name, lease);
            if (type === 'DELETED') this.observer.observeDeleted(snapshot.name);
            else this.observer.observe(snapshot, 'watch');
            this.notifyIfChanged();
          },
          (error: unknown) => {
            if (error === null || error === undefined) {
              finish(needsRelist ? {} : { resumeFrom: latest });
            } else finish({ error });
          },
        )
        .then((controller) => {
          if (settled || this.stopped) controller.abort();
          else this.watchAbort = controller;
          if (this.stopped) finish({});
        })
        .catch((error: unknown) => finish({ error }));
      if (this.stopped) finish({});
    });
  }

  /** Fires listeners when the ready set changed (or always, when `force`). */
  private notifyIfChanged(force = false): void {
    const readySet = this.readyNodes().join('\n');
    if (!force && readySet === this.lastReadySet) return;
    this.lastReadySet = readySet;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.options.log.warn({ err: error }, 'membership listener threw');
      }
    }
  }
}
