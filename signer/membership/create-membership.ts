/**
 * Picks the membership backend from the configuration (design §7): NATS-KV heartbeats for
 * local clusters, Kubernetes Leases when `membership.backend: kubernetes` (the operator's
 * choice). In Kubernetes the signer's node id is its pod name, which is also its Lease name
 * (`<cluster>-signer-<ordinal>`); the namespace and pod uid come from the downward API
 * (`POD_NAMESPACE`, `POD_UID`).
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { SignerConfig } from '../config/index.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import { IDENTITY_PUBLIC_KEY_ANNOTATION, LeaseMembership } from './lease-membership.ts';
import type { Membership } from './membership.ts';
import { NatsKvMembership } from './nats-kv-membership.ts';

export function createMembership(options: {
  config: SignerConfig;
  nc: NatsConnection;
  log: Logger;
  env: Record<string, string | undefined>;
  /** Published on the signer's Lease for the operator to pin (Kubernetes backend). */
  identityPublicKey: Uint8Array;
  /** Signs heartbeats with the identity key (heartbeat.ts). */
  sign: (message: Uint8Array) => Uint8Array;
  /** The pinned roster: peers' heartbeats must verify under their pinned key. */
  roster: ReadonlyMap<string, Uint8Array>;
  /** Kubernetes API access (default: the pod's in-cluster service account). */
  kubeConfig?: KubeConfig;
}): Membership {
  const { config, nc, log, env } = options;
  const { membership } = config;
  const heartbeat = {
    cluster: config.clusterName ?? '',
    publicKey: options.identityPublicKey,
    sign: options.sign,
    pinnedKey: (nodeId: string) => options.roster.get(nodeId),
  };
  if (membership.backend === 'nats-kv') {
    return new NatsKvMembership({
      nc,
      selfNodeId: config.nodeId,
      nodes: config.peers,
      heartbeatIntervalMs: membership.heartbeatIntervalMs,
      peerTimeoutMs: membership.peerTimeoutMs,
      log,
      heartbeat,
    });
  }
  const namespace = env['POD_NAMESPACE'];
  if (namespace === undefined || namespace === '') {
    throw new MpcError(
      ErrorCode.InvalidConfiguration,
      'membership.backend kubernetes needs POD_NAMESPACE (downward API)',
    );
  }
  const podUid = env['POD_UID'];
  const kubeConfig = options.kubeConfig ?? inClusterKubeConfig();
  return new LeaseMembership({
    kubeConfig,
    namespace,
    selfNodeId: config.nodeId,
    leaseNames: new Map(config.peers.map((peer) => [peer, peer])),
    holderIdentity: podUid === undefined ? config.nodeId : `${config.nodeId}_${podUid}`,
    annotations: {
      [IDENTITY_PUBLIC_KEY_ANNOTATION]: Buffer.from(options.identityPublicKey).toString('hex'),
    },
    labels: signerLeaseLabels(config.nodeId),
    leaseDurationSeconds: Math.max(1, Math.ceil(membership.peerTimeoutMs / 1000)),
    renewIntervalMs: membership.heartbeatIntervalMs,
    peerTimeoutMs: membership.peerTimeoutMs,
    ...(podUid === undefined || podUid === ''
      ? {}
      : { ownerPod: { name: config.nodeId, uid: podUid } }),
    log,
    heartbeat,
  });
}

/** The pod's service-account credentials (in-cluster), or the KUBECONFIG file when set. */
export function inClusterKubeConfig(
  env: Record<string, string | undefined> = process.env,
): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (env['KUBECONFIG'] !== undefined && env['KUBECONFIG'] !== '')
    kubeConfig.loadFromFile(env['KUBECONFIG']);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

/**
 * Labels on a signer's Lease, which the operator watches by `app.kubernetes.io/name`; the
 * instance (the MpcCluster) is the node id without its `-signer-<ordinal>` suffix.
 */
export function signerLeaseLabels(nodeId: string): Record<string, string> {
  const instance = /^(.+)-signer-\d+$/.exec(nodeId)?.[1];
  return {
    'app.kubernetes.io/name': 'mpc-signer',
    ...(instance === undefined ? {} : { 'app.kubernetes.io/instance': instance }),
  };
}
