/**
 * The Kubernetes reads and writes of `kubectl mpc`, on @kubernetes/client-node with the user's
 * kubeconfig (whatever `kubectl` would use: $KUBECONFIG, ~/.kube/config, or in-cluster). The
 * plugin acts with the user's own rights: it never asks for more than the command needs
 * (status: get mpcclusters, list pods and leases in one namespace; drain-check: list
 * mpcclusters and pods in all namespaces, or in one with -n; unpin/reshare: patch mpcclusters;
 * backup: create mpcbackups).
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { MPC_GROUP, MPC_PLURAL, MPC_VERSION, type MpcCluster } from '../api/mpc-cluster.ts';
import { statusCodeOf } from '../kube/kube-api.ts';
import { IDENTITY_PUBLIC_KEY_ANNOTATION } from '../operator.ts';
import type { LeaseView, PodView } from './format.ts';

export const MPC_BACKUP_KIND = 'MpcBackup';
export const MPC_BACKUP_PLURAL = 'mpcbackups';

/** Signer pods and Leases carry these labels (operator/resources/names.ts). */
const SIGNER_LABELS = 'app.kubernetes.io/name=mpc-signer';

export interface SignerPod extends PodView {
  readonly namespace: string;
  /** app.kubernetes.io/instance: the MpcCluster's name. */
  readonly instance?: string;
}

export interface PluginKube {
  getCluster(namespace: string, name: string): Promise<MpcCluster | undefined>;
  /** Every MpcCluster (namespace undefined = all namespaces). */
  listClusters(namespace: string | undefined): Promise<MpcCluster[]>;
  /** Signer pods, of one cluster (instance) or all. */
  listSignerPods(namespace: string | undefined, instance?: string): Promise<SignerPod[]>;
  listSignerLeases(namespace: string, instance: string): Promise<LeaseView[]>;
  /** JSON merge patch of an MpcCluster (spec or metadata). */
  patchCluster(namespace: string, name: string, patch: object): Promise<MpcCluster>;
  /** Creates an MpcBackup; returns its name (generateName resolved by the apiserver). */
  createBackup(namespace: string, body: object): Promise<string>;
  /** Whether the node exists; undefined when the user may not read nodes. */
  nodeExists(name: string): Promise<boolean | undefined>;
}

function podView(pod: V1Pod): SignerPod {
  const meta = pod.metadata ?? {};
  const instance = meta.labels?.['app.kubernetes.io/instance'];
  return {
    name: meta.name ?? '',
    namespace: meta.namespace ?? '',
    ...(instance === undefined ? {} : { instance }),
    ...(pod.spec?.nodeName === undefined ? {} : { node: pod.spec.nodeName }),
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: meta.deletionTimestamp !== undefined,
    ...(pod.status?.phase === undefined ? {} : { phase: pod.status.phase }),
  };
}

export function createPluginKube(kubeConfig: KubeConfig): PluginKube {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const mergeOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    async getCluster(namespace, name) {
      try {
        return (await custom.getNamespacedCustomObject({
          group: MPC_GROUP,
          version: MPC_VERSION,
          namespace,
          plural: MPC_PLURAL,
          name,
        })) as MpcCluster;
      } catch (error) {
        if (statusCodeOf(error) === 404) return undefined;
        throw error;
      }
    },
    async listClusters(namespace) {
      const list = (
        namespace === undefined
          ? await custom.listClusterCustomObject({
              group: MPC_GROUP,
              version: MPC_VERSION,
              plural: MPC_PLURAL,
            })
          : await custom.listNamespacedCustomObject({
              group: MPC_GROUP,
              version: MPC_VERSION,
              namespace,
              plural: MPC_PLURAL,
            })
      ) as { items?: MpcCluster[] };
      return list.items ?? [];
    },
    async listSignerPods(namespace, instance) {
      const labelSelector =
        instance === undefined
          ? SIGNER_LABELS
          : `${SIGNER_LABELS},app.kubernetes.io/instance=${instance}`;
      const list =
        namespace === undefined
          ? await core.listPodForAllNamespaces({ labelSelector })
          : await core.listNamespacedPod({ namespace, labelSelector });
      return list.items.map(podView);
    },
    async listSignerLeases(namespace, instance) {
      const list = await coordination.listNamespacedLease({
        namespace,
        labelSelector: `${SIGNER_LABELS},app.kubernetes.io/instance=${instance}`,
      });
      return list.items.map((lease): LeaseView => {
        const key = lease.metadata?.annotations?.[IDENTITY_PUBLIC_KEY_ANNOTATION]?.toLowerCase();
        return {
          name: lease.metadata?.name ?? '',
          ...(lease.spec?.holderIdentity === undefined
            ? {}
            : { holder: lease.spec.holderIdentity }),
          ...(key === undefined ? {} : { identityPublicKey: key }),
        };
      });
    },
    async patchCluster(namespace, name, patch) {
      return (await custom.patchNamespacedCustomObject(
        {
          group: MPC_GROUP,
          version: MPC_VERSION,
          namespace,
          plural: MPC_PLURAL,
          name,
          body: patch,
        },
        mergeOptions,
      )) as MpcCluster;
    },
    async createBackup(namespace, body) {
      const created = (await custom.createNamespacedCustomObject({
        group: MPC_GROUP,
        version: MPC_VERSION,
        namespace,
        plural: MPC_BACKUP_PLURAL,
        body,
      })) as { metadata?: { name?: string } };
      return created.metadata?.name ?? '';
    },
    async nodeExists(name) {
      try {
        await core.readNode({ name });
        return true;
      } catch (error) {
        const code = statusCodeOf(error);
        if (code === 404) return false;
        if (code === 403) return undefined;
        throw error;
      }
    },
  };
}

/**
 * The user's kubeconfig as kubectl reads it: `--kubeconfig`, else $KUBECONFIG / ~/.kube/config
 * / in-cluster; `--context` must name a context of it. The namespace is the context's, else
 * "default".
 */
export function connectKubeconfig(options: { kubeconfig?: string; context?: string }): {
  kube: PluginKube;
  namespace: string;
} {
  const config = new KubeConfig();
  if (options.kubeconfig === undefined) config.loadFromDefault();
  else config.loadFromFile(options.kubeconfig);
  if (options.context !== undefined) {
    if (!config.getContexts().some((c) => c.name === options.context))
      throw new Error(`context ${options.context} not found in the kubeconfig`);
    config.setCurrentContext(options.context);
  }
  const namespace = config.getContextObject(config.getCurrentContext())?.namespace;
  return {
    kube: createPluginKube(config),
    namespace: namespace === undefined || namespace === '' ? 'default' : namespace,
  };
}
