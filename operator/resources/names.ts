/**
 * Names, labels and owner references of everything the operator creates for an MpcCluster.
 * Pure. Selector labels are part of the StatefulSet's immutable selector: never change them.
 */
import { MPC_API_VERSION, MPC_KIND, type MpcCluster } from '../api/mpc-cluster.ts';

export const SIGNER_HTTP_PORT = 8080;
export const CONFIG_FILE_KEY = 'signer.yaml';
export const KEK_SECRET_KEY = 'kek';
export const CHAIN_CODE_SECRET_KEY = 'chain-code';
export const BACKUP_KEY_SECRET_KEY = 'backup-key';
export const DEFAULT_NATS_CREDS_KEY = 'nats.creds';
/** Pod template annotation holding the hash of everything that must roll the signers. */
export const CONFIG_HASH_ANNOTATION = 'mpc-platform.dev/config-hash';
/** Marks Secrets the operator generated; they outlive the MpcCluster (like the PVCs). */
export const GENERATED_ANNOTATION = 'mpc-platform.dev/generated-by';

export interface ClusterNames {
  readonly statefulSet: string;
  /** Headless governing Service; pods resolve as <pod>.<headlessService>. */
  readonly headlessService: string;
  readonly metricsService: string;
  readonly configMap: string;
  /** The pinned identity roster the signers read (key roster.json). */
  readonly rosterConfigMap: string;
  readonly serviceAccount: string;
  readonly role: string;
  readonly roleBinding: string;
  readonly podDisruptionBudget: string;
  readonly kekSecret: string;
  readonly chainCodeSecret: string;
  /** The backup key Secret (spec.backup; generated `<name>-backup-key` unless referenced). */
  readonly backupKeySecret: string;
  /** Volume (and per-signer PVC template) name of the backup volume. */
  readonly backupVolume: string;
  /** PVC template name; PVCs are data-<statefulSet>-<ordinal>. */
  readonly dataVolume: string;
}

export function clusterNames(cluster: Pick<MpcCluster, 'metadata' | 'spec'>): ClusterNames {
  const name = cluster.metadata.name;
  return {
    statefulSet: `${name}-signer`,
    headlessService: `${name}-signer`,
    metricsService: `${name}-metrics`,
    configMap: `${name}-config`,
    rosterConfigMap: `${name}-roster`,
    serviceAccount: `${name}-signer`,
    role: `${name}-signer`,
    roleBinding: `${name}-signer`,
    podDisruptionBudget: `${name}-signer`,
    kekSecret: cluster.spec.kekSecretRef?.name ?? `${name}-kek`,
    chainCodeSecret: cluster.spec.chainCodeSecretRef?.name ?? `${name}-chain-code`,
    backupKeySecret: cluster.spec.backup?.keySecretRef?.name ?? `${name}-backup-key`,
    backupVolume: 'backup',
    dataVolume: 'data',
  };
}

/** Pod names = signer node ids, in ordinal order. */
export function signerPodNames(cluster: Pick<MpcCluster, 'metadata' | 'spec'>): string[] {
  const base = clusterNames(cluster).statefulSet;
  return Array.from({ length: cluster.spec.replicas }, (_, ordinal) => `${base}-${ordinal}`);
}

/** The immutable selector of the signer pods. */
export function selectorLabels(cluster: Pick<MpcCluster, 'metadata'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mpc-signer',
    'app.kubernetes.io/instance': cluster.metadata.name,
  };
}

/** Labels on every child object. */
export function commonLabels(cluster: Pick<MpcCluster, 'metadata'>): Record<string, string> {
  return {
    ...selectorLabels(cluster),
    'app.kubernetes.io/component': 'signer',
    'app.kubernetes.io/part-of': 'mpc-platform',
    'app.kubernetes.io/managed-by': 'mpc-operator',
  };
}

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller: true;
  readonly blockOwnerDeletion: true;
}

/** The controller reference every owned child carries; the garbage collector cascades on it. */
export function controllerReference(cluster: Pick<MpcCluster, 'metadata'>): OwnerReference {
  return {
    apiVersion: MPC_API_VERSION,
    kind: MPC_KIND,
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
