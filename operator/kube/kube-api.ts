/**
 * The operator's Kubernetes I/O, on @kubernetes/client-node 1.4 (the last line that runs on
 * Node 20). Everything the controller needs is behind `KubeApi`, so the reconciler can be
 * exercised against a fake in unit tests and against a real apiserver in test/operator.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  MPC_GROUP,
  MPC_PLURAL,
  MPC_VERSION,
  type MpcCluster,
  type MpcClusterStatus,
} from '../api/mpc-cluster.ts';
import type { Manifest } from '../resources/manifest.ts';
import type { ListedObject, ListResult, WatchEventType, WatchSource } from './resilient-watch.ts';
import { EventRecorder } from './event-recorder.ts';

export interface EventRecord {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface KubeApi {
  /** Server-side apply with the operator's field manager, taking ownership of its fields. */
  apply(manifest: Manifest): Promise<void>;
  /** POST; false when it already exists (never overwritten). */
  createIfAbsent(manifest: Manifest): Promise<boolean>;
  /**
   * Whether a Secret of this name exists, learnt WITHOUT reading it: a dry-run POST of an
   * empty Secret under that name (409 AlreadyExists = it exists; created = it does not, and
   * nothing was stored). The operator holds no Secret `get`, so a stolen operator token
   * cannot read key material or any other Secret; it learns only whether a name is taken.
   */
  secretExists(namespace: string, name: string): Promise<boolean>;
  applyStatus(cluster: MpcCluster, status: MpcClusterStatus): Promise<void>;
  /** Records an Event on the MpcCluster; identical repeats aggregate (event-recorder.ts). */
  recordEvent(cluster: MpcCluster, event: EventRecord): Promise<void>;
  /**
   * Deletes a pod only if it is still the one observed (uid precondition); false when it is
   * already gone or was replaced.
   */
  deletePod(namespace: string, name: string, uid: string): Promise<boolean>;
  /** The data of a ConfigMap, or undefined when it does not exist. */
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Removes one annotation from the MpcCluster (JSON merge patch). */
  removeAnnotation(cluster: MpcCluster, key: string): Promise<void>;
}

/**
 * One line for a failed Kubernetes call: the apiserver's Status message when there is one
 * (client-node ApiException bodies are the Status JSON), else the error's message. Never
 * includes request bodies, so Secret data cannot leak through it.
 */
export function kubeErrorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const record = error as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof record.code === 'number') {
      let body: unknown = record.body;
      if (typeof body === 'string') {
        try {
          body = JSON.parse(body) as unknown;
        } catch {
          // not JSON: used as is below
        }
      }
      let message =
        typeof body === 'object' &&
        body !== null &&
        typeof (body as { message?: unknown }).message === 'string'
          ? (body as { message: string }).message
          : typeof body === 'string'
            ? body
            : '';
      if (message === '' && typeof record.message === 'string') message = record.message;
      return `HTTP ${record.code}: ${message.slice(0, 800)}`;
    }
    if (typeof record.message === 'string') return record.message;
  }
  return String(error);
}

/** HTTP status of a client-node error, if any. */
export function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export function createKubeApi(kubeConfig: KubeConfig, component = 'mpc-operator'): KubeApi {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const applyOptions = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const mergeOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const events = new EventRecorder(
    {
      async create({ involvedObject, record, component: source, timestamp }) {
        const created = await objects.create({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: {
            generateName: `${involvedObject.name}.`,
            namespace: involvedObject.namespace,
          },
          involvedObject,
          type: record.type,
          reason: record.reason,
          message: record.message,
          source: { component: source },
          reportingComponent: source,
          reportingInstance: source,
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        } as KubernetesObject);
        return created.metadata?.name ?? '';
      },
      async increment(namespace, name, count, timestamp) {
        try {
          await core.patchNamespacedEvent(
            { namespace, name, body: { count, lastTimestamp: timestamp } },
            mergeOptions,
          );
          return true;
        } catch (error) {
          if (statusCodeOf(error) === 404) return false;
          throw error;
        }
      },
    },
    component,
  );
  return {
    async apply(manifest) {
      await objects.patch(
        manifest as unknown as KubernetesObject,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    },
    async createIfAbsent(manifest) {
      try {
        await objects.create(
          manifest as unknown as KubernetesObject,
          undefined,
          undefined,
          FIELD_MANAGER,
        );
        return true;
      } catch (error) {
        if (statusCodeOf(error) === 409) return false;
        throw error;
      }
    },
    async secretExists(namespace, name) {
      try {
        await objects.create(
          { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque' },
          undefined,
          'All',
          FIELD_MANAGER,
        );
        return false;
      } catch (error) {
        if (statusCodeOf(error) === 409) return true;
        throw error;
      }
    },
    async applyStatus(cluster, status) {
      await custom.patchNamespacedCustomObjectStatus(
        {
          group: MPC_GROUP,
          version: MPC_VERSION,
          namespace: cluster.metadata.namespace,
          plural: MPC_PLURAL,
          name: cluster.metadata.name,
          body: {
            apiVersion: cluster.apiVersion,
            kind: cluster.kind,
            metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace },
            status,
          },
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        applyOptions,
      );
    },
    async removeAnnotation(cluster, key) {
      await custom.patchNamespacedCustomObject(
        {
          group: MPC_GROUP,
          version: MPC_VERSION,
          namespace: cluster.metadata.namespace,
          plural: MPC_PLURAL,
          name: cluster.metadata.name,
          body: { metadata: { annotations: { [key]: null } } },
        },
        mergeOptions,
      );
    },
    async recordEvent(cluster, event) {
      await events.record(
        {
          apiVersion: cluster.apiVersion,
          kind: cluster.kind,
          name: cluster.metadata.name,
          namespace: cluster.metadata.namespace,
          uid: cluster.metadata.uid,
        },
        event,
      );
    },
    async readConfigMap(namespace, name) {
      try {
        const configMap = await core.readNamespacedConfigMap({ namespace, name });
        return configMap.data ?? {};
      } catch (error) {
        if (statusCodeOf(error) === 404) return undefined;
        throw error;
      }
    },
    async deletePod(namespace, name, uid) {
      try {
        await core.deleteNamespacedPod({
          namespace,
          name,
          body: { preconditions: { uid } },
        });
        return true;
      } catch (error) {
        const code = statusCodeOf(error);
        // 404: already gone; 409: the uid precondition failed (a new pod took the name).
        if (code === 404 || code === 409) return false;
        throw error;
      }
    },
  };
}

export interface CollectionRef {
  /** "apps/v1", "v1", "mpc-platform.dev/v1alpha1". */
  readonly apiVersion: string;
  readonly kind: string;
  /** Lower-case plural used in the watch URL. */
  readonly plural: string;
  readonly labelSelector?: string;
  /** Only this namespace (namespace-scoped install); absent: all namespaces. */
  readonly namespace?: string;
}

/** LIST + WATCH of one resource in one namespace or across all, for ResilientWatch. */
export function createWatchSource<T extends ListedObject>(
  kubeConfig: KubeConfig,
  ref: CollectionRef,
): WatchSource<T> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const watcher = new Watch(kubeConfig);
  const scope =
    ref.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(ref.namespace)}`;
  const path = ref.apiVersion.includes('/')
    ? `/apis/${ref.apiVersion}${scope}/${ref.plural}`
    : `/api/${ref.apiVersion}${scope}/${ref.plural}`;
  return {
    async list(): Promise<ListResult<T>> {
      const items: T[] = [];
      let continueToken: string | undefined;
      let resourceVersion = '';
      do {
        const page = await objects.list(
          ref.apiVersion,
          ref.kind,
          ref.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          ref.labelSelector,
          500,
          continueToken,
        );
        for (const item of page.items) items.push(item as unknown as T);
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        continueToken = page.metadata?._continue;
      } while (continueToken !== undefined && continueToken !== '');
      return { items, resourceVersion };
    },
    async watch(resourceVersion, timeoutSeconds, onEvent, onDone) {
      const query: Record<string, string | number | boolean | undefined> = {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: ref.labelSelector,
      };
      const controller = await watcher.watch(
        path,
        query,
        (phase, object) => onEvent(phase as WatchEventType, object),
        (error) => onDone(error),
      );
      return { abort: () => controller.abort() };
    },
  };
}
