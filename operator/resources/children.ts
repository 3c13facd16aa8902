/**
 * Every owned child of an MpcCluster, in apply order: identity and RBAC, configuration,
 * Services, the StatefulSet, then the PodDisruptionBudget. All carry a controller owner
 * reference, so deleting the MpcCluster deletes them (PVCs, generated Secrets and the roster
 * ConfigMap of identity pins are not owned: they hold or protect key material and are
 * retained). Pure.
 */
import { quorumOf, type MpcCluster } from '../api/mpc-cluster.ts';
import type { Manifest } from './manifest.ts';
import {
  SIGNER_HTTP_PORT,
  clusterNames,
  commonLabels,
  controllerReference,
  selectorLabels,
} from './names.ts';
import { buildConfigMap } from './signer-config.ts';
import { buildStatefulSet } from './statefulset.ts';
import { repinsDocument, rosterDocument } from '../status/roster-pins.ts';

function metadata(cluster: MpcCluster, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels: { ...commonLabels(cluster), ...extraLabels },
    ownerReferences: [controllerReference(cluster)],
  };
}

export function buildServiceAccount(cluster: MpcCluster): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadata(cluster, clusterNames(cluster).serviceAccount),
    automountServiceAccountToken: false,
  };
}

/**
 * The chart's role holding the signers' Lease and pod rules: the ClusterRole
 * `<release>-mpc-operator-signer` (cluster-wide install), or a Role of that name in every
 * watched namespace (namespace-scoped install, chart value `watchNamespaces`).
 */
export interface SignerRoleRef {
  readonly kind: 'Role' | 'ClusterRole';
  readonly name: string;
}

/**
 * The signers renew their own Leases, read peer pods' readiness (design §7), read the
 * pinned roster ConfigMap (design §8; that one object only) and, with spec.backup, read
 * MpcBackup objects (online backups; they never write them).
 *
 * With `signerRole` (the chart's signer ClusterRole, or its per-namespace Role, holding the
 * Lease and pod rules) the Role keeps only the roster rule and a second RoleBinding grants
 * the chart's role in this namespace: the operator then needs `bind` on that one role instead
 * of Lease write rights (RBAC lets one grant only what one holds, or what one may bind).
 * Without it (no chart, e.g. an admin kubeconfig) the Role carries all rules.
 */
export function buildRole(cluster: MpcCluster, signerRole?: SignerRoleRef): Manifest {
  const roster = {
    apiGroups: [''],
    resources: ['configmaps'],
    resourceNames: [clusterNames(cluster).rosterConfigMap],
    verbs: ['get'],
  };
  // With spec.backup: signers follow MpcBackup objects (read only; they report on their Leases).
  const backups =
    cluster.spec.backup === undefined
      ? []
      : [
          {
            apiGroups: ['mpc-platform.dev'],
            resources: ['mpcbackups'],
            verbs: ['get', 'list', 'watch'],
          },
        ];
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: metadata(cluster, clusterNames(cluster).role),
    rules:
      signerRole === undefined
        ? [
            {
              apiGroups: ['coordination.k8s.io'],
              resources: ['leases'],
              verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
            },
            { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
            roster,
            ...backups,
          ]
        : [roster, ...backups],
  };
}

export function buildRoleBinding(cluster: MpcCluster): Manifest {
  const names = clusterNames(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadata(cluster, names.roleBinding),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.role },
    subjects: [
      { kind: 'ServiceAccount', name: names.serviceAccount, namespace: cluster.metadata.namespace },
    ],
  };
}

/** Grants the chart's signer role (Leases, pods) to the signers, in their namespace only. */
export function buildSignerRoleBinding(cluster: MpcCluster, signerRole: SignerRoleRef): Manifest {
  const names = clusterNames(cluster);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: metadata(cluster, `${names.roleBinding}-leases`),
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: signerRole.kind,
      name: signerRole.name,
    },
    subjects: [
      { kind: 'ServiceAccount', name: names.serviceAccount, namespace: cluster.metadata.namespace },
    ],
  };
}

/** Governing Service: stable DNS per signer, including not-yet-ready ones (peers dial early). */
export function buildHeadlessService(cluster: MpcCluster): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, clusterNames(cluster).headlessService),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster),
      ports: [{ name: 'http', port: SIGNER_HTTP_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Scraped by the chart's ServiceMonitor (label mpc-platform.dev/metrics=true). */
export function buildMetricsService(cluster: MpcCluster): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(cluster, clusterNames(cluster).metricsService, {
      'mpc-platform.dev/metrics': 'true',
    }),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cluster),
      ports: [
        { name: 'http-metrics', port: SIGNER_HTTP_PORT, targetPort: 'http', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * minAvailable = quorum: a voluntary eviction may never take signing down. When
 * replicas == quorum this blocks every drain (documented). Crash-looping signers can still
 * be evicted (AlwaysAllow) so they cannot wedge node drains.
 */
export function buildPodDisruptionBudget(cluster: MpcCluster): Manifest {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(cluster, clusterNames(cluster).podDisruptionBudget),
    spec: {
      minAvailable: quorumOf(cluster.spec),
      selector: { matchLabels: selectorLabels(cluster) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}

/**
 * ConfigMap `<name>-roster`: the identity keys the operator pinned (roster-pins.ts), in the
 * signers' roster file format under key `roster.json`, and the administrator-signed repin
 * statements that authorise replaced pins under key `repins.json`. Deliberately NOT owned by
 * the MpcCluster (like the PVCs and key Secrets it outlives a deletion): a recreated
 * MpcCluster re-reads its pins from it, so deleting and recreating the resource cannot re-pin
 * whatever key a signer presents next (issue 14).
 */
export function buildRosterConfigMap(
  cluster: MpcCluster,
  pins: Readonly<Record<string, string>>,
  repins: readonly string[] = [],
): Manifest {
  const names = clusterNames(cluster);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: names.rosterConfigMap,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster),
    },
    data: { 'roster.json': rosterDocument(pins), 'repins.json': repinsDocument(repins) },
  };
}

export function buildChildren(
  cluster: MpcCluster,
  options: {
    readonly roster?: Readonly<Record<string, string>>;
    readonly repins?: readonly string[];
    readonly signerRole?: SignerRoleRef;
  } = {},
): Manifest[] {
  const { signerRole } = options;
  return [
    buildServiceAccount(cluster),
    buildRole(cluster, signerRole),
    buildRoleBinding(cluster),
    ...(signerRole === undefined ? [] : [buildSignerRoleBinding(cluster, signerRole)]),
    buildRosterConfigMap(
      cluster,
      options.roster ?? cluster.status?.roster ?? {},
      options.repins ?? cluster.status?.repinAuthorizations ?? [],
    ),
    buildConfigMap(cluster, commonLabels(cluster), controllerReference(cluster)),
    buildHeadlessService(cluster),
    buildMetricsService(cluster),
    buildStatefulSet(cluster),
    buildPodDisruptionBudget(cluster),
  ];
}
