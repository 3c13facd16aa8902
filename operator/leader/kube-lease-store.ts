/** `LeaseStore` on a real Lease through @kubernetes/client-node (coordination.k8s.io/v1). */
import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import type { LeaderRecord, LeaseStore, StoredLease } from './leader-election.ts';

function toStored(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  const time = (value: unknown): string | undefined =>
    value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : undefined;
  const acquireTime = time(spec.acquireTime);
  const renewTime = time(spec.renewTime);
  return {
    version: lease.metadata?.resourceVersion ?? '',
    record: {
      ...(spec.holderIdentity === undefined ? {} : { holderIdentity: spec.holderIdentity }),
      ...(spec.leaseDurationSeconds === undefined
        ? {}
        : { leaseDurationSeconds: spec.leaseDurationSeconds }),
      ...(acquireTime === undefined ? {} : { acquireTime }),
      ...(renewTime === undefined ? {} : { renewTime }),
      ...(spec.leaseTransitions === undefined ? {} : { leaseTransitions: spec.leaseTransitions }),
    },
  };
}

function toSpec(record: LeaderRecord): V1LeaseSpec {
  return {
    holderIdentity: record.holderIdentity ?? '',
    ...(record.leaseDurationSeconds === undefined
      ? {}
      : { leaseDurationSeconds: record.leaseDurationSeconds }),
    ...(record.acquireTime === undefined
      ? {}
      : { acquireTime: new V1MicroTime(record.acquireTime) }),
    ...(record.renewTime === undefined ? {} : { renewTime: new V1MicroTime(record.renewTime) }),
    ...(record.leaseTransitions === undefined ? {} : { leaseTransitions: record.leaseTransitions }),
  };
}

export function kubeLeaseStore(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
): LeaseStore {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    async get() {
      try {
        return toStored(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return undefined;
        throw error;
      }
    },
    async create(record) {
      return toStored(
        await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: toSpec(record),
          },
        }),
      );
    },
    async update(record, version) {
      return toStored(
        await api.replaceNamespacedLease({
          name,
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace, resourceVersion: version },
            spec: toSpec(record),
          },
        }),
      );
    },
  };
}
