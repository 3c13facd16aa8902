/**
 * The MpcCluster custom resource (crds/mpccluster.yaml) as TypeScript types, plus the names
 * the operator shares with the CRD and the chart. Field docs live in the CRD schema.
 *
 * Threshold semantics (design §4): `threshold` is t; signing needs quorum = t + 1 ready
 * signers; keygen needs all n = `replicas`.
 */

export const MPC_GROUP = 'mpc-platform.dev';
export const MPC_VERSION = 'v1alpha1';
export const MPC_API_VERSION = `${MPC_GROUP}/${MPC_VERSION}`;
export const MPC_KIND = 'MpcCluster';
export const MPC_PLURAL = 'mpcclusters';

/** Server-side-apply field manager of every object the operator writes. Never change it. */
export const FIELD_MANAGER = 'mpc-operator';

export type InitiatorAlgorithm = 'ed25519' | 'p256';

export interface SecretRef {
  readonly name: string;
}

export interface AuthorizerKey {
  readonly id: string;
  readonly algorithm: InitiatorAlgorithm;
  readonly publicKey: string;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly tolerationSeconds?: number;
}

export interface MpcClusterSpec {
  readonly replicas: number;
  readonly threshold: number;
  /** Required (true) when replicas == threshold + 1. */
  readonly acknowledgeNoFaultTolerance?: boolean;
  readonly reshare?: { readonly id: string };
  readonly image: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  readonly nats: {
    readonly url: string;
    readonly credentialsSecretRef?: { readonly name: string; readonly key?: string };
  };
  readonly initiator: { readonly algorithm: InitiatorAlgorithm; readonly publicKey: string };
  /** Ed25519 key (hex) whose repin statements may replace pinned signer identity keys. */
  readonly administratorPublicKey?: string;
  readonly authorizers?: {
    readonly enabled?: boolean;
    readonly required?: readonly string[];
    readonly keys?: readonly AuthorizerKey[];
  };
  readonly kekSecretRef?: SecretRef;
  readonly chainCodeSecretRef?: SecretRef;
  readonly storage?: { readonly size?: string | number; readonly storageClassName?: string };
  /** Online backups (MpcBackup objects); see crds/mpcbackup.yaml. */
  readonly backup?: {
    readonly volume: {
      readonly claimName?: string;
      readonly size?: string | number;
      readonly storageClassName?: string;
    };
    readonly keySecretRef?: SecretRef;
    readonly maxArchives?: number;
  };
  readonly resources?: {
    readonly limits?: Readonly<Record<string, string | number>>;
    readonly requests?: Readonly<Record<string, string | number>>;
  };
  readonly podTemplate?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly priorityClassName?: string;
    readonly tolerations?: readonly Toleration[];
    readonly affinity?: Readonly<Record<string, unknown>>;
    readonly topologySpreadConstraints?: ReadonlyArray<Readonly<Record<string, unknown>>>;
    readonly imagePullSecrets?: ReadonlyArray<{ readonly name: string }>;
  };
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export type MpcClusterPhase = 'Pending' | 'Progressing' | 'Ready' | 'Degraded' | 'QuorumLost';

export interface SignerStatus {
  /** Pod name = the signer's node id. */
  readonly name: string;
  /**
   * Counts towards quorum: pod Ready and not terminating, its Lease live (renewed within
   * 1.25 × lease duration by the operator's clock; a signer whose Lease was never seen is
   * judged by pod readiness alone), and no identity mismatch.
   */
  readonly ready: boolean;
  /** The pod's Ready condition (and not terminating). */
  readonly podReady?: boolean;
  /** live | stale | released | absent. */
  readonly lease?: string;
  /** Seconds since the operator last saw the signer's Lease renewed (as of this status). */
  readonly leaseAgeSeconds?: number;
  /** Fingerprint of the identity key the signer's Lease presents. */
  readonly identityFingerprint?: string;
  /** controller-revision-hash of the pod. */
  readonly revision?: string;
}

export interface ReshareStatus {
  /** The id that authorised `replicas`/`threshold` (absent for an initial spec without one). */
  readonly id?: string;
  readonly replicas: number;
  readonly threshold: number;
  /** Ids already used, oldest first (bounded). */
  readonly usedIds: readonly string[];
}

export interface MpcClusterStatus {
  readonly observedGeneration?: number;
  readonly phase?: MpcClusterPhase;
  readonly replicas?: number;
  readonly readyReplicas?: number;
  /** Signers that count towards quorum (pod Ready). */
  readonly readySigners?: number;
  /** threshold + 1. */
  readonly quorum?: number;
  readonly kekSecretName?: string;
  readonly chainCodeSecretName?: string;
  readonly signers?: readonly SignerStatus[];
  /** Pinned identity keys: signer name → Ed25519 public key (hex). Also ConfigMap <name>-roster. */
  readonly roster?: Readonly<Record<string, string>>;
  /** The n/t the operator accepted last and the reshare ids already used (status/scaling.ts). */
  readonly reshare?: ReshareStatus;
  /** Repin tokens (signer/identity/repin.ts) authorising current pins; ConfigMap repins.json. */
  readonly repinAuthorizations?: readonly string[];
  readonly conditions?: readonly Condition[];
}

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface MpcCluster {
  readonly apiVersion: typeof MPC_API_VERSION;
  readonly kind: typeof MPC_KIND;
  readonly metadata: ObjectMeta;
  readonly spec: MpcClusterSpec;
  readonly status?: MpcClusterStatus;
}

/** The cluster name signers bind into repin statements and heartbeats: `<namespace>/<name>`. */
export function clusterIdentity(cluster: Pick<MpcCluster, 'metadata'>): string {
  return `${cluster.metadata.namespace}/${cluster.metadata.name}`;
}

/** t + 1: the number of ready signers a signature needs. */
export function quorumOf(spec: Pick<MpcClusterSpec, 'threshold'>): number {
  return spec.threshold + 1;
}
