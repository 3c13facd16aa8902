/**
 * The MpcBackup custom resource (crds/mpcbackup.yaml) as TypeScript types. Field docs live in
 * the CRD schema; the signer side of the contract is signer/service/backup-agent.ts.
 */
import type { Condition, MPC_API_VERSION, ObjectMeta } from './mpc-cluster.ts';

export const MPC_BACKUP_KIND = 'MpcBackup';
export const MPC_BACKUP_PLURAL = 'mpcbackups';
export const DEFAULT_BACKUP_KEEP = 7;
export const DEFAULT_BACKUP_TIMEOUT_SECONDS = 900;

export interface MpcBackupSpec {
  readonly clusterName: string;
  readonly schedule?: string;
  readonly keep?: number;
  readonly timeoutSeconds?: number;
}

export type MpcBackupPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Scheduled';

export interface SignerBackupStatus {
  readonly node: string;
  readonly archive?: string;
  readonly sha256?: string;
  readonly bytes?: number;
  readonly wallets?: number;
  readonly shares?: number;
  readonly identity?: boolean;
  readonly completedAt?: string;
  readonly error?: string;
}

export interface MpcBackupStatus {
  readonly observedGeneration?: number;
  readonly phase?: MpcBackupPhase;
  readonly summary?: string;
  readonly message?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly signers?: readonly SignerBackupStatus[];
  readonly lastScheduleTime?: string;
  readonly lastScheduledBackup?: string;
  readonly nextScheduleTime?: string;
  readonly conditions?: readonly Condition[];
}

export interface MpcBackup {
  readonly apiVersion: typeof MPC_API_VERSION;
  readonly kind: typeof MPC_BACKUP_KIND;
  readonly metadata: ObjectMeta & {
    readonly creationTimestamp?: string;
    readonly ownerReferences?: ReadonlyArray<{ readonly uid: string; readonly kind: string }>;
  };
  readonly spec: MpcBackupSpec;
  readonly status?: MpcBackupStatus;
}

export function isTerminal(phase: MpcBackupPhase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}
