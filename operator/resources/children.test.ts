import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { MpcCluster } from '../api/mpc-cluster.ts';
import { buildChildren, buildPodDisruptionBudget } from './children.ts';
import { CONFIG_HASH_ANNOTATION, clusterNames, signerPodNames } from './names.ts';
import { buildGeneratedSecret, secretsToGenerate } from './secrets.ts';
import { buildSignerConfig } from './signer-config.ts';
import { buildStatefulSet, signerConfigHash } from './statefulset.ts';

function sampleCluster(spec: Partial<MpcCluster['spec']> = {}): MpcCluster {
  return {
    apiVersion: 'mpc-platform.dev/v1alpha1',
    kind: 'MpcCluster',
    metadata: { name: 'wallet', namespace: 'prod', uid: 'uid-1', generation: 1 },
    spec: {
      replicas: 3,
      threshold: 1,
      image: 'signer:1',
      nats: { url: 'nats://nats:4222' },
      initiator: { algorithm: 'ed25519', publicKey: 'ab'.repeat(32) },
      ...spec,
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are loose JSON
type Json = any;

describe('buildChildren', () => {
  it('gives every child but the roster the controller owner reference and the common labels', () => {
    const children = buildChildren(sampleCluster());
    expect(children.map((c) => `${c.kind}/${c.metadata.name}`)).toEqual([
      'ServiceAccount/wallet-signer',
      'Role/wallet-signer',
      'RoleBinding/wallet-signer',
      'ConfigMap/wallet-roster',
      'ConfigMap/wallet-config',
      'Service/wallet-signer',
      'Service/wallet-metrics',
      'StatefulSet/wallet-signer',
      'PodDisruptionBudget/wallet-signer',
    ]);
    for (const child of children) {
      expect(child.metadata.namespace).toBe('prod');
      // The identity pins outlive the MpcCluster (a recreated one takes them over).
      if (child.metadata.name === 'wallet-roster') {
        expect(child.metadata.ownerReferences).toBeUndefined();
        continue;
      }
      expect(child.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'mpc-platform.dev/v1alpha1',
          kind: 'MpcCluster',
          name: 'wallet',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(child.metadata.labels?.['app.kubernetes.io/instance']).toBe('wallet');
    }
  });

  it('sets the PDB to the quorum (threshold + 1)', () => {
    expect(
      (buildPodDisruptionBudget(sampleCluster({ replicas: 5, threshold: 2 })) as Json).spec
        .minAvailable,
    ).toBe(3);
    expect(
      (buildPodDisruptionBudget(sampleCluster({ replicas: 2, threshold: 1 })) as Json).spec
        .minAvailable,
    ).toBe(2);
  });

  it('is deterministic (same spec, same manifests)', () => {
    expect(JSON.stringify(buildChildren(sampleCluster()))).toBe(
      JSON.stringify(buildChildren(sampleCluster())),
    );
  });
});

describe('buildStatefulSet', () => {
  it('retains PVCs, runs pods in parallel and leaves replacing pods to the operator', () => {
    const sts = buildStatefulSet(
      sampleCluster({ storage: { size: '5Gi', storageClassName: 'ssd' } }),
    ) as Json;
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    // Only the operator replaces signers (quorum guard); external rollouts cannot.
    expect(sts.spec.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '5Gi' } },
      storageClassName: 'ssd',
    });
    expect(sts.spec.serviceName).toBe('wallet-signer');
  });

  it('runs the signer non-root with a read-only root filesystem and its node id from the pod name', () => {
    const pod = (buildStatefulSet(sampleCluster()) as Json).spec.template.spec;
    const container = pod.containers[0];
    expect(container.command).toEqual(['node', 'dist/signer/main.js']);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.env).toContainEqual({
      name: 'MPC_NODE_ID',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    expect(container.env).toContainEqual({
      name: 'MPC_CONFIG',
      value: '/etc/mpc/config/signer.yaml',
    });
    expect(pod.serviceAccountName).toBe('wallet-signer');
    expect(pod.volumes.map((v: Json) => v.name)).toEqual(['config', 'kek', 'chain-code', 'tmp']);
  });

  it('mounts NATS credentials only when referenced', () => {
    const pod = (
      buildStatefulSet(
        sampleCluster({ nats: { url: 'nats://n:4222', credentialsSecretRef: { name: 'creds' } } }),
      ) as Json
    ).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'nats-credentials',
      secret: {
        secretName: 'creds',
        defaultMode: 0o400,
        items: [{ key: 'nats.creds', path: 'nats.creds' }],
      },
    });
  });

  it('changes the config hash (and so rolls the pods) when the signer config changes, not otherwise', () => {
    const base = signerConfigHash(sampleCluster());
    expect(signerConfigHash(sampleCluster())).toBe(base);
    expect(signerConfigHash(sampleCluster({ logLevel: 'debug' }))).not.toBe(base);
    expect(signerConfigHash(sampleCluster({ kekSecretRef: { name: 'other' } }))).not.toBe(base);
    const annotations = (buildStatefulSet(sampleCluster()) as Json).spec.template.metadata
      .annotations;
    expect(annotations[CONFIG_HASH_ANNOTATION]).toBe(base);
  });

  it('keeps the selector labels even when overrides try to replace them', () => {
    const sts = buildStatefulSet(
      sampleCluster({
        podTemplate: { labels: { 'app.kubernetes.io/instance': 'evil', team: 'a' } },
      }),
    ) as Json;
    expect(sts.spec.template.metadata.labels['app.kubernetes.io/instance']).toBe('wallet');
    expect(sts.spec.template.metadata.labels.team).toBe('a');
    expect(sts.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'mpc-signer',
      'app.kubernetes.io/instance': 'wallet',
    });
  });
});

describe('signer config', () => {
  it('lists peers as pod names and points at the mounted secrets', () => {
    const config = buildSignerConfig(
      sampleCluster({
        authorizers: {
          enabled: true,
          required: ['risk'],
          keys: [{ id: 'risk', algorithm: 'ed25519', publicKey: 'cd'.repeat(32) }],
        },
        administratorPublicKey: 'EF'.repeat(32),
      }),
    );
    expect(config).toEqual({
      cluster_name: 'prod/wallet',
      administrator: { public_key: 'ef'.repeat(32) },
      threshold: 1,
      peers: ['wallet-signer-0', 'wallet-signer-1', 'wallet-signer-2'],
      data_dir: '/data',
      kek: { file: '/etc/mpc/kek/kek' },
      chain_code: { file: '/etc/mpc/chain-code/chain-code' },
      nats: { url: 'nats://nats:4222' },
      initiator: { algorithm: 'ed25519', public_key: 'ab'.repeat(32) },
      authorization: {
        enabled: true,
        required_authorizers: ['risk'],
        authorizer_public_keys: { risk: { public_key: 'cd'.repeat(32), algorithm: 'ed25519' } },
      },
      http: { host: '0.0.0.0', port: 8080 },
      membership: { backend: 'kubernetes', roster_config_map: 'wallet-roster' },
      log_level: 'info',
    });
    expect(signerPodNames(sampleCluster({ replicas: 2 }))).toEqual([
      'wallet-signer-0',
      'wallet-signer-1',
    ]);
  });

  it('renders YAML that parses back to the same object', () => {
    const cluster = sampleCluster({
      nats: { url: 'nats://n:4222', credentialsSecretRef: { name: 'c', key: 'my.creds' } },
    });
    const configMap = buildChildren(cluster).find(
      (c) => c.kind === 'ConfigMap' && c.metadata.name.endsWith('-config'),
    ) as Json;
    expect(parse(configMap.data['signer.yaml'])).toEqual(buildSignerConfig(cluster));
    expect(buildSignerConfig(cluster)['nats']).toEqual({
      url: 'nats://n:4222',
      creds_file: '/etc/mpc/nats/my.creds',
    });
  });
});

describe('generated secrets', () => {
  it('generates only what the spec does not reference', () => {
    expect(secretsToGenerate(sampleCluster())).toEqual(['kek', 'chain-code']);
    expect(secretsToGenerate(sampleCluster({ kekSecretRef: { name: 'k' } }))).toEqual([
      'chain-code',
    ]);
    expect(
      secretsToGenerate(
        sampleCluster({ kekSecretRef: { name: 'k' }, chainCodeSecretRef: { name: 'c' } }),
      ),
    ).toEqual([]);
    expect(clusterNames(sampleCluster({ kekSecretRef: { name: 'k' } })).kekSecret).toBe('k');
  });

  it('builds an immutable, unowned Secret with 64 hex characters and wipes the random buffer', () => {
    let buffer: Uint8Array | undefined;
    const secret = buildGeneratedSecret(
      sampleCluster(),
      'kek',
      (n) => (buffer = new Uint8Array(n).fill(0xab)),
    ) as Json;
    expect(secret.immutable).toBe(true);
    expect(secret.metadata.ownerReferences).toBeUndefined();
    expect(secret.metadata.name).toBe('wallet-kek');
    expect(Buffer.from(secret.data.kek, 'base64').toString()).toBe('ab'.repeat(32));
    expect(buffer?.every((b) => b === 0)).toBe(true);
  });

  it('refuses a short random source', () => {
    expect(() =>
      buildGeneratedSecret(sampleCluster(), 'chain-code', () => new Uint8Array(16)),
    ).toThrow(/16 bytes/);
  });
});

describe('signer RBAC with the chart ClusterRole (issue 14 item 2)', () => {
  it('keeps only the roster rule in the Role and binds the ClusterRole in the namespace', () => {
    const children = buildChildren(sampleCluster(), {
      signerRole: { kind: 'ClusterRole', name: 'mpc-signer' },
    }) as Json[];
    const role = children.find((c) => c.kind === 'Role');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['wallet-roster'],
        verbs: ['get'],
      },
    ]);
    const binding = children.find((c) => c.metadata.name === 'wallet-signer-leases');
    expect(binding.kind).toBe('RoleBinding');
    expect(binding.metadata.namespace).toBe('prod');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'mpc-signer',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'wallet-signer', namespace: 'prod' },
    ]);
    // Namespace-scoped install: the chart's per-namespace Role of that name is bound instead.
    const scoped = buildChildren(sampleCluster(), {
      signerRole: { kind: 'Role', name: 'mpc-signer' },
    }) as Json[];
    expect(scoped.find((c) => c.metadata.name === 'wallet-signer-leases').roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'mpc-signer',
    });
    expect(scoped.find((c) => c.kind === 'Role').rules).toHaveLength(1);
    // Without it (admin kubeconfig, no chart) the Role carries the Lease rules itself.
    const plain = buildChildren(sampleCluster()) as Json[];
    expect(plain.find((c) => c.kind === 'Role').rules).toHaveLength(3);
    expect(plain.some((c) => c.metadata.name === 'wallet-signer-leases')).toBe(false);
  });
});

describe('scheduling and resource defaults (issue 14)', () => {
  const selector = {
    matchLabels: {
      'app.kubernetes.io/name': 'mpc-signer',
      'app.kubernetes.io/instance': 'wallet',
    },
  };

  it('spreads signers over nodes (preferred) and zones (ScheduleAnyway), with Burstable resources', () => {
    const pod = (buildStatefulSet(sampleCluster()) as Json).spec.template.spec;
    expect(pod.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: selector },
          },
        ],
      },
    });
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: selector,
      },
    ]);
    expect(pod.containers[0].resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    });
    expect(pod.imagePullSecrets).toBeUndefined();
  });

  it('podTemplate overrides replace the defaults; imagePullSecrets and resources pass through', () => {
    const affinity = { nodeAffinity: { x: 1 } };
    const pod = (
      buildStatefulSet(
        sampleCluster({
          resources: { requests: { cpu: '1' } },
          podTemplate: {
            affinity,
            topologySpreadConstraints: [],
            imagePullSecrets: [{ name: 'regcred' }],
          },
        }),
      ) as Json
    ).spec.template.spec;
    expect(pod.affinity).toEqual(affinity);
    expect(pod.topologySpreadConstraints).toBeUndefined();
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.containers[0].resources).toEqual({ requests: { cpu: '1' } });
  });
});

describe('spec.backup (issue 14 item 6)', () => {
  const withClaim = sampleCluster({ backup: { volume: { claimName: 'backups' } } });
  const perSigner = sampleCluster({
    backup: {
      volume: { size: '2Gi', storageClassName: 'fast' },
      keySecretRef: { name: 'my-backup-key' },
      maxArchives: 5,
    },
  });

  it('changes nothing for a cluster without it', () => {
    const sts = buildStatefulSet(sampleCluster()) as Json;
    expect(sts.spec.template.spec.initContainers).toBeUndefined();
    expect(JSON.stringify(sts)).not.toContain('backup');
    expect(secretsToGenerate(sampleCluster())).not.toContain('backup-key');
    expect(buildSignerConfig(sampleCluster())['backup']).toBeUndefined();
  });

  it('mounts an existing claim and the generated key, and restores fresh volumes in an init container', () => {
    const sts = buildStatefulSet(withClaim) as Json;
    const pod = sts.spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'backup',
      persistentVolumeClaim: { claimName: 'backups' },
    });
    expect(pod.volumes).toContainEqual({
      name: 'backup-key',
      secret: {
        secretName: 'wallet-backup-key',
        defaultMode: 0o400,
        items: [{ key: 'backup-key', path: 'backup-key' }],
      },
    });
    const [init] = pod.initContainers;
    expect(init.command).toEqual(['node', 'dist/signer/main.js', 'restore', '--from-request']);
    expect(init.volumeMounts).toEqual(pod.containers[0].volumeMounts);
    expect(init.env).toEqual(pod.containers[0].env);
    expect(init.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(sts.spec.volumeClaimTemplates).toHaveLength(1);
    expect(buildSignerConfig(withClaim)['backup']).toEqual({
      dir: '/backups',
      key_file: '/etc/mpc/backup-key/backup-key',
    });
    expect(secretsToGenerate(withClaim)).toContain('backup-key');
    const secret = buildGeneratedSecret(withClaim, 'backup-key', () => new Uint8Array(32).fill(7));
    expect(secret.metadata.name).toBe('wallet-backup-key');
    expect(Object.keys(secret['data'] as object)).toEqual(['backup-key']);
  });

  it('adds a per-signer claim template with size, and uses a referenced key Secret', () => {
    const sts = buildStatefulSet(perSigner) as Json;
    expect(sts.spec.volumeClaimTemplates[1]).toMatchObject({
      metadata: { name: 'backup' },
      spec: { resources: { requests: { storage: '2Gi' } }, storageClassName: 'fast' },
    });
    expect(secretsToGenerate(perSigner)).not.toContain('backup-key');
    expect(JSON.stringify(sts)).toContain('my-backup-key');
    expect(buildSignerConfig(perSigner)['backup']).toMatchObject({ max_archives: 5 });
    // Swapping the key Secret rolls the signers (it is read at each export, but mounted).
    expect(signerConfigHash(perSigner)).not.toBe(
      signerConfigHash(
        sampleCluster({ backup: { ...perSigner.spec.backup!, keySecretRef: { name: 'k2' } } }),
      ),
    );
  });

  it('lets the signers read MpcBackups only when backups are on', () => {
    const role = (cluster: MpcCluster) =>
      (buildChildren(cluster, { signerRole: { kind: 'ClusterRole', name: 'r' } }) as Json[]).find(
        (c) => c.kind === 'Role',
      );
    expect(JSON.stringify(role(sampleCluster()))).not.toContain('mpcbackups');
    expect(role(withClaim).rules).toContainEqual({
      apiGroups: ['mpc-platform.dev'],
      resources: ['mpcbackups'],
      verbs: ['get', 'list', 'watch'],
    });
  });
});
