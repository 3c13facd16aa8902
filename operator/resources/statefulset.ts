/**
 * The signer StatefulSet: one pod and one PVC per signer.
 * - podManagementPolicy Parallel: a signer only turns Ready once a quorum of peers is up, so
 *   OrderedReady would deadlock the first start.
 * - OnDelete update strategy: the StatefulSet controller never replaces a signer by itself,
 *   not even for an external `kubectl rollout restart`; the operator deletes one outdated pod
 *   at a time while the quorum guard allows (status/rollout-guard.ts). Config changes reach
 *   the template through an annotation carrying the hash of the signer config and secret names.
 * - Scheduling defaults that protect shares (issue 14): preferred per-node pod anti-affinity
 *   (preferred, not required: required leaves signers Pending when nodes < replicas; set
 *   podTemplate.affinity to require it) and a zone spread with whenUnsatisfiable
 *   ScheduleAnyway (no effect where nodes carry no zone label). podTemplate.affinity and
 *   podTemplate.topologySpreadConstraints replace the defaults when set.
 * - Default resources when spec.resources is absent, so signers are never BestEffort.
 * - PVCs are retained when the StatefulSet is deleted or scaled: they hold key shares.
 * - spec.backup: the backup volume at /backups (an existing claim, or a per-signer claim
 *   template `backup`), the backup key Secret, and an init container that restores an empty
 *   data volume from a requested MpcBackup (signer/service/backup-agent.ts).
 * Pure.
 */
import { createHash } from 'node:crypto';
import type { MpcCluster } from '../api/mpc-cluster.ts';
import type { Manifest } from './manifest.ts';
import {
  BACKUP_KEY_SECRET_KEY,
  CHAIN_CODE_SECRET_KEY,
  CONFIG_HASH_ANNOTATION,
  DEFAULT_NATS_CREDS_KEY,
  KEK_SECRET_KEY,
  SIGNER_HTTP_PORT,
  clusterNames,
  commonLabels,
  controllerReference,
  selectorLabels,
} from './names.ts';
import { SIGNER_PATHS, renderSignerConfigYaml } from './signer-config.ts';

/** The signer's default preStop bound (http.prestop_max_wait_ms); the grace period exceeds it. */
export const PRESTOP_MAX_WAIT_SECONDS = 60;

export const SIGNER_UID = 10001;
export const DEFAULT_STORAGE_SIZE = '1Gi';
/** Container resources when spec.resources is absent (Burstable QoS; no CPU limit to throttle). */
export const DEFAULT_RESOURCES = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { memory: '1Gi' },
} as const;

/** Default scheduling: spread signers over nodes (preferred) and zones (when labelled). */
export function defaultScheduling(cluster: MpcCluster): {
  affinity: Record<string, unknown>;
  topologySpreadConstraints: Record<string, unknown>[];
} {
  const selector = { matchLabels: selectorLabels(cluster) };
  return {
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: selector },
          },
        ],
      },
    },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: selector,
      },
    ],
  };
}

/** Hash of everything outside the pod template that the signers read at start. */
export function signerConfigHash(cluster: MpcCluster): string {
  const names = clusterNames(cluster);
  const hash = createHash('sha256');
  hash.update(renderSignerConfigYaml(cluster));
  hash.update(
    `\0${names.kekSecret}\0${names.chainCodeSecret}\0${cluster.spec.nats.credentialsSecretRef?.name ?? ''}`,
  );
  // Only with spec.backup, so clusters without it keep their hash (no rollout on upgrade).
  if (cluster.spec.backup !== undefined) {
    hash.update(`\0${names.backupKeySecret}\0${cluster.spec.backup.volume.claimName ?? ''}`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** StatefulSet annotation: hash of the desired pod template, to see a rollout coming. */
export const POD_TEMPLATE_HASH_ANNOTATION = 'mpc-platform.dev/pod-template-hash';

/** Hash of the pod template the operator wants; differs from the applied one => rollout. */
export function podTemplateHash(cluster: MpcCluster): string {
  const template = (buildStatefulSet(cluster)['spec'] as { template: unknown }).template;
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
}

export function buildStatefulSet(cluster: MpcCluster): Manifest {
  const { spec } = cluster;
  const names = clusterNames(cluster);
  const labels = commonLabels(cluster);
  const overrides = spec.podTemplate ?? {};
  const creds = spec.nats.credentialsSecretRef;

  const volumeMounts: object[] = [
    { name: names.dataVolume, mountPath: SIGNER_PATHS.dataDir },
    { name: 'config', mountPath: SIGNER_PATHS.configDir, readOnly: true },
    { name: 'kek', mountPath: SIGNER_PATHS.kekDir, readOnly: true },
    { name: 'chain-code', mountPath: SIGNER_PATHS.chainCodeDir, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const volumes: object[] = [
    { name: 'config', configMap: { name: names.configMap } },
    {
      name: 'kek',
      secret: {
        secretName: names.kekSecret,
        defaultMode: 0o400,
        items: [{ key: KEK_SECRET_KEY, path: KEK_SECRET_KEY }],
      },
    },
    {
      name: 'chain-code',
      secret: {
        secretName: names.chainCodeSecret,
        defaultMode: 0o400,
        items: [{ key: CHAIN_CODE_SECRET_KEY, path: CHAIN_CODE_SECRET_KEY }],
      },
    },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const backup = spec.backup;
  if (backup !== undefined) {
    volumeMounts.push(
      { name: names.backupVolume, mountPath: SIGNER_PATHS.backupDir },
      { name: 'backup-key', mountPath: SIGNER_PATHS.backupKeyDir, readOnly: true },
    );
    volumes.push({
      name: 'backup-key',
      secret: {
        secretName: names.backupKeySecret,
        defaultMode: 0o400,
        items: [{ key: BACKUP_KEY_SECRET_KEY, path: BACKUP_KEY_SECRET_KEY }],
      },
    });
    if (backup.volume.claimName !== undefined) {
      volumes.push({
        name: names.backupVolume,
        persistentVolumeClaim: { claimName: backup.volume.claimName },
      });
    }
  }
  if (creds !== undefined) {
    const key = creds.key ?? DEFAULT_NATS_CREDS_KEY;
    volumeMounts.push({
      name: 'nats-credentials',
      mountPath: SIGNER_PATHS.natsDir,
      readOnly: true,
    });
    volumes.push({
      name: 'nats-credentials',
      secret: { secretName: creds.name, defaultMode: 0o400, items: [{ key, path: key }] },
    });
  }

  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });

  const container: Record<string, unknown> = {
    name: 'signer',
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
    command: ['node', 'dist/signer/main.js'],
    env: [
      { name: 'MPC_CONFIG', value: SIGNER_PATHS.configFile },
      { name: 'MPC_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    ],
    ports: [{ name: 'http', containerPort: SIGNER_HTTP_PORT, protocol: 'TCP' }],
    startupProbe: probe('/livez', 2, 60),
    livenessProbe: probe('/livez', 10, 3),
    readinessProbe: probe('/readyz', 5, 2),
    // Waits (bounded by the signer's http.prestop_max_wait_ms, 60 s) while this signer
    // leaving would break quorum; see signer/observability/prestop.ts.
    lifecycle: { preStop: { httpGet: { path: '/prestop', port: 'http' } } },
    volumeMounts,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
  };
  container['resources'] = spec.resources ?? DEFAULT_RESOURCES;
  // With backups: on an empty data volume only, restore from the MpcBackup annotated
  // mpc-platform.dev/restore=<this pod> before the signer creates a new identity (a no-op
  // otherwise; signer/main.ts `restore --from-request`). Same image, config, mounts, env.
  const initContainers =
    backup === undefined
      ? []
      : [
          {
            name: 'restore',
            image: spec.image,
            imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
            command: ['node', 'dist/signer/main.js', 'restore', '--from-request'],
            env: container['env'],
            volumeMounts,
            securityContext: container['securityContext'],
            resources: container['resources'],
          },
        ];

  const podSpec: Record<string, unknown> = {
    serviceAccountName: names.serviceAccount,
    automountServiceAccountToken: true,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: PRESTOP_MAX_WAIT_SECONDS + 10,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIGNER_UID,
      runAsGroup: SIGNER_UID,
      fsGroup: SIGNER_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(initContainers.length === 0 ? {} : { initContainers }),
    containers: [container],
    volumes,
  };
  if (overrides.nodeSelector !== undefined) podSpec['nodeSelector'] = overrides.nodeSelector;
  if (overrides.tolerations !== undefined) podSpec['tolerations'] = overrides.tolerations;
  const scheduling = defaultScheduling(cluster);
  podSpec['affinity'] = overrides.affinity ?? scheduling.affinity;
  const spread = overrides.topologySpreadConstraints ?? scheduling.topologySpreadConstraints;
  if (spread.length > 0) podSpec['topologySpreadConstraints'] = spread;
  if (overrides.imagePullSecrets !== undefined && overrides.imagePullSecrets.length > 0)
    podSpec['imagePullSecrets'] = overrides.imagePullSecrets.map(({ name }) => ({ name }));
  if (overrides.priorityClassName !== undefined)
    podSpec['priorityClassName'] = overrides.priorityClassName;

  const storageSize = spec.storage?.size ?? DEFAULT_STORAGE_SIZE;
  const claimSpec: Record<string, unknown> = {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: String(storageSize) } },
  };
  if (spec.storage?.storageClassName !== undefined)
    claimSpec['storageClassName'] = spec.storage.storageClassName;

  const template = {
    metadata: {
      // User labels first: ours win, so the selector can never be broken by an override.
      labels: { ...(overrides.labels ?? {}), ...labels },
      annotations: {
        ...(overrides.annotations ?? {}),
        [CONFIG_HASH_ANNOTATION]: signerConfigHash(cluster),
      },
    },
    spec: podSpec,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: names.statefulSet,
      namespace: cluster.metadata.namespace,
      labels,
      annotations: {
        [POD_TEMPLATE_HASH_ANNOTATION]: createHash('sha256')
          .update(JSON.stringify(template))
          .digest('hex')
          .slice(0, 16),
      },
      ownerReferences: [controllerReference(cluster)],
    },
    spec: {
      replicas: spec.replicas,
      serviceName: names.headlessService,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      selector: { matchLabels: selectorLabels(cluster) },
      template,
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: names.dataVolume, labels: selectorLabels(cluster) },
          spec: claimSpec,
        },
        ...(backup?.volume.size === undefined
          ? []
          : [
              {
                apiVersion: 'v1',
                kind: 'PersistentVolumeClaim',
                metadata: { name: names.backupVolume, labels: selectorLabels(cluster) },
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  resources: { requests: { storage: String(backup.volume.size) } },
                  ...(backup.volume.storageClassName === undefined
                    ? {}
                    : { storageClassName: backup.volume.storageClassName }),
                },
              },
            ]),
      ],
    },
  };
}
