/**
 * Generated key material Secrets: the key-encryption key (`<name>-kek`, key `kek`), the HD
 * chain code (`<name>-chain-code`, key `chain-code`) and, with spec.backup, the backup key
 * (`<name>-backup-key`, key `backup-key`), each 32 random bytes as 64 hex chars.
 *
 * Contract: created once, only when the spec does not reference a Secret, and never
 * regenerated: the operator only ever POSTs them (409 = exists = keep), they are `immutable`,
 * and they carry NO owner reference, so deleting the MpcCluster keeps them together with the
 * retained PVCs whose shares they decrypt. Recreating a cluster of the same name reuses them.
 * Pure: the random source is injected.
 */
import type { MpcCluster } from '../api/mpc-cluster.ts';
import type { Manifest } from './manifest.ts';
import {
  BACKUP_KEY_SECRET_KEY,
  CHAIN_CODE_SECRET_KEY,
  GENERATED_ANNOTATION,
  KEK_SECRET_KEY,
  clusterNames,
  commonLabels,
} from './names.ts';

export type SecretPurpose = 'kek' | 'chain-code' | 'backup-key';
export type RandomBytes = (length: number) => Uint8Array;

/** The Secrets the operator must make sure exist (those the spec does not supply). */
export function secretsToGenerate(cluster: MpcCluster): SecretPurpose[] {
  const wanted: SecretPurpose[] = [];
  if (cluster.spec.kekSecretRef === undefined) wanted.push('kek');
  if (cluster.spec.chainCodeSecretRef === undefined) wanted.push('chain-code');
  if (cluster.spec.backup !== undefined && cluster.spec.backup.keySecretRef === undefined) {
    wanted.push('backup-key');
  }
  return wanted;
}

/** Builds the Secret; the random buffer is wiped once encoded. */
export function buildGeneratedSecret(
  cluster: MpcCluster,
  purpose: SecretPurpose,
  randomBytes: RandomBytes,
): Manifest {
  const names = clusterNames(cluster);
  const bytes = randomBytes(32);
  if (bytes.length !== 32)
    throw new Error(`random source returned ${bytes.length} bytes, expected 32`);
  const hex = Buffer.from(bytes).toString('hex');
  bytes.fill(0);
  const key =
    purpose === 'kek'
      ? KEK_SECRET_KEY
      : purpose === 'chain-code'
        ? CHAIN_CODE_SECRET_KEY
        : BACKUP_KEY_SECRET_KEY;
  const name =
    purpose === 'kek'
      ? names.kekSecret
      : purpose === 'chain-code'
        ? names.chainCodeSecret
        : names.backupKeySecret;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: cluster.metadata.namespace,
      labels: { ...commonLabels(cluster), 'mpc-platform.dev/secret': purpose },
      annotations: { [GENERATED_ANNOTATION]: 'mpc-operator' },
    },
    type: 'Opaque',
    immutable: true,
    data: { [key]: Buffer.from(hex, 'utf8').toString('base64') },
  };
}
