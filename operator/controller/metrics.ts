/**
 * The operator's Prometheus metrics, on an injected registry (no global state).
 * Cluster gauges carry labels {namespace, mpccluster}; they feed the chart's alerts
 * (MpcQuorumLost: ready_signers < quorum, MpcSignerDown: ready_signers < replicas, ...), and
 * so does mpc_operator_reconcile_errors_total{namespace, mpccluster} (MpcReconcileFailing).
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { quorumOf, type MpcCluster, type MpcClusterStatus } from '../api/mpc-cluster.ts';

export class OperatorMetrics {
  readonly reconcileTotal: Counter<'result'>;
  /** Failed reconciles per MpcCluster (alert MpcReconcileFailing). */
  readonly reconcileErrors: Counter<'namespace' | 'mpccluster'>;
  readonly reconcileDuration: Histogram;
  readonly watchRestarts: Counter<'resource'>;
  readonly watchRelists: Counter<'resource' | 'reason'>;
  private readonly replicas: Gauge<'namespace' | 'mpccluster'>;
  private readonly readySigners: Gauge<'namespace' | 'mpccluster'>;
  private readonly quorum: Gauge<'namespace' | 'mpccluster'>;
  private readonly signingEnabled: Gauge<'namespace' | 'mpccluster'>;
  /** 1 on the replica holding the leader Lease (or running without leader election). */
  readonly isLeader: Gauge;

  constructor(
    readonly registry: Registry,
    options: { defaultMetrics?: boolean } = {},
  ) {
    const registers = [registry];
    this.reconcileTotal = new Counter({
      name: 'mpc_operator_reconcile_total',
      help: 'Reconciles by result',
      labelNames: ['result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'mpc_operator_reconcile_errors_total',
      help: 'Reconciles of an MpcCluster that failed (the status carries reason ReconcileError)',
      labelNames: ['namespace', 'mpccluster'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'mpc_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'mpc_operator_watch_restarts_total',
      help: 'Watch restarts after errors',
      labelNames: ['resource'],
      registers,
    });
    this.watchRelists = new Counter({
      name: 'mpc_operator_watch_relists_total',
      help: 'Full relists',
      labelNames: ['resource', 'reason'],
      registers,
    });
    const labelNames = ['namespace', 'mpccluster'] as const;
    this.replicas = new Gauge({
      name: 'mpc_cluster_replicas',
      help: 'n: signers in the spec',
      labelNames,
      registers,
    });
    this.readySigners = new Gauge({
      name: 'mpc_cluster_ready_signers',
      help: 'Signers that count towards quorum',
      labelNames,
      registers,
    });
    this.quorum = new Gauge({
      name: 'mpc_cluster_quorum',
      help: 'threshold + 1: signers a signature needs',
      labelNames,
      registers,
    });
    this.signingEnabled = new Gauge({
      name: 'mpc_cluster_signing_enabled',
      help: '1 when ready signers >= quorum',
      labelNames,
      registers,
    });
    this.isLeader = new Gauge({
      name: 'mpc_operator_is_leader',
      help: '1 when this operator replica is the leader and reconciles',
      registers,
    });
    this.isLeader.set(0);
    if (options.defaultMetrics === true)
      collectDefaultMetrics({ register: registry, prefix: 'mpc_operator_' });
  }

  recordStatus(cluster: MpcCluster, status: MpcClusterStatus): void {
    const labels = { namespace: cluster.metadata.namespace, mpccluster: cluster.metadata.name };
    const quorum = quorumOf(cluster.spec);
    const ready = status.readySigners ?? 0;
    this.replicas.set(labels, cluster.spec.replicas);
    this.readySigners.set(labels, ready);
    this.quorum.set(labels, quorum);
    this.signingEnabled.set(labels, ready >= quorum ? 1 : 0);
  }

  forgetCluster(namespace: string, name: string): void {
    for (const gauge of [this.replicas, this.readySigners, this.quorum, this.signingEnabled]) {
      gauge.remove({ namespace, mpccluster: name });
    }
    this.reconcileErrors.remove({ namespace, mpccluster: name });
  }
}
