/**
 * The signer configuration file the operator writes into the `<name>-config` ConfigMap
 * (key `signer.yaml`, mounted at /etc/mpc/config, found through env MPC_CONFIG). Its shape is
 * the signer's snake_case config (signer/config/signer-config.ts). `node_id` is not in the
 * file: each pod sets MPC_NODE_ID to its own pod name through the downward API.
 * Pure.
 */
import { stringify } from 'yaml';
import { clusterIdentity, type MpcCluster } from '../api/mpc-cluster.ts';
import {
  BACKUP_KEY_SECRET_KEY,
  CHAIN_CODE_SECRET_KEY,
  CONFIG_FILE_KEY,
  DEFAULT_NATS_CREDS_KEY,
  KEK_SECRET_KEY,
  SIGNER_HTTP_PORT,
  clusterNames,
  signerPodNames,
} from './names.ts';

/** Mount points inside the signer container. */
export const SIGNER_PATHS = {
  configDir: '/etc/mpc/config',
  configFile: `/etc/mpc/config/${CONFIG_FILE_KEY}`,
  dataDir: '/data',
  kekDir: '/etc/mpc/kek',
  kekFile: `/etc/mpc/kek/${KEK_SECRET_KEY}`,
  chainCodeDir: '/etc/mpc/chain-code',
  chainCodeFile: `/etc/mpc/chain-code/${CHAIN_CODE_SECRET_KEY}`,
  natsDir: '/etc/mpc/nats',
  backupDir: '/backups',
  backupKeyDir: '/etc/mpc/backup-key',
  backupKeyFile: `/etc/mpc/backup-key/${BACKUP_KEY_SECRET_KEY}`,
} as const;

export function natsCredsFile(cluster: MpcCluster): string | undefined {
  const ref = cluster.spec.nats.credentialsSecretRef;
  if (ref === undefined) return undefined;
  return `${SIGNER_PATHS.natsDir}/${ref.key ?? DEFAULT_NATS_CREDS_KEY}`;
}

/** The config as a plain snake_case object (what the YAML file holds). */
export function buildSignerConfig(cluster: MpcCluster): Record<string, unknown> {
  const { spec } = cluster;
  const credsFile = natsCredsFile(cluster);
  const authorizers = spec.authorizers;
  const authorizerKeys: Record<string, { public_key: string; algorithm: string }> = {};
  for (const key of authorizers?.keys ?? []) {
    authorizerKeys[key.id] = { public_key: key.publicKey, algorithm: key.algorithm };
  }
  return {
    cluster_name: clusterIdentity(cluster),
    ...(spec.administratorPublicKey === undefined
      ? {}
      : { administrator: { public_key: spec.administratorPublicKey.toLowerCase() } }),
    threshold: spec.threshold,
    peers: signerPodNames(cluster),
    data_dir: SIGNER_PATHS.dataDir,
    kek: { file: SIGNER_PATHS.kekFile },
    chain_code: { file: SIGNER_PATHS.chainCodeFile },
    nats:
      credsFile === undefined
        ? { url: spec.nats.url }
        : { url: spec.nats.url, creds_file: credsFile },
    initiator: { algorithm: spec.initiator.algorithm, public_key: spec.initiator.publicKey },
    authorization: {
      enabled: authorizers?.enabled ?? false,
      required_authorizers: [...(authorizers?.required ?? [])],
      authorizer_public_keys: authorizerKeys,
    },
    http: { host: '0.0.0.0', port: SIGNER_HTTP_PORT },
    membership: { backend: 'kubernetes', roster_config_map: clusterNames(cluster).rosterConfigMap },
    ...(spec.backup === undefined
      ? {}
      : {
          backup: {
            dir: SIGNER_PATHS.backupDir,
            key_file: SIGNER_PATHS.backupKeyFile,
            ...(spec.backup.maxArchives === undefined
              ? {}
              : { max_archives: spec.backup.maxArchives }),
          },
        }),
    log_level: spec.logLevel ?? 'info',
  };
}

export function renderSignerConfigYaml(cluster: MpcCluster): string {
  return stringify(buildSignerConfig(cluster), { sortMapEntries: false });
}

/** ConfigMap `<name>-config` (owned). */
export function buildConfigMap(
  cluster: MpcCluster,
  labels: Record<string, string>,
  ownerReference: object,
) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: clusterNames(cluster).configMap,
      namespace: cluster.metadata.namespace,
      labels,
      ownerReferences: [ownerReference],
    },
    data: { [CONFIG_FILE_KEY]: renderSignerConfigYaml(cluster) },
  };
}
